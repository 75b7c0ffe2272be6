// The clips of one modality of an output directory as the rows of a matrix, for similarity
// search (lssd-read search / dedup / tracks). Part of the lssd_search library (not the core
// lssd library: FAISS stays out of lssd-infer).
//
// A clip's vector: audio, its 768-d embedding L2-normalised; video, the mean of its five crop
// embeddings, then L2-normalised. Computed in double (crops summed in order, divided by 5; the
// norm summed in order), stored as float32. A zero vector stays zero (it scores 0 with
// everything). The inner product of two clip vectors is their cosine similarity. Video and
// audio vectors do not share a space (the release drops the projection heads): search within
// one modality only.
//
// Rows: the ok records in reader order (rel_path byte-wise, then track; see lssd/reader.h),
// each record's clips in order. Row order is the tie rule of every search: equal scores are
// ordered by file, track, clip.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lssd/array.h"
#include "lssd/modality.h"
#include "lssd/output.h"
#include "lssd/reader.h"

namespace lssd::search {

struct CatalogOptions {
  // Keep only records of this model id / stored dtype ("": every record). Records of more than
  // one model id or dtype (after filtering) are refused.
  std::string model_id, dtype;
};

struct CatalogFile {
  Record record;            // the ok manifest record (a copy)
  size_t record_index = 0;  // its index in ModalityReader::records()
  int64_t first_row = 0;    // the row of its clip 0
  int64_t clips() const { return record.num_clips; }
};

class Catalog {
 public:
  // The ok records of `mr`. Throws lssd::Error("search", ..., dir) when there are none (after
  // the filters), or when they come from more than one model id or dtype (the message names
  // them and the option that picks one).
  explicit Catalog(const ModalityReader& mr, const CatalogOptions& opts = {});

  Modality modality() const { return modality_; }
  // The modality's name, for text (messages, file names, JSON).
  const std::string& mtype() const { return mtype_; }
  const std::vector<CatalogFile>& files() const { return files_; }
  int64_t rows() const { return rows_; }
  // The model id and dtype shared by the records ("" when the layout has none: release).
  const std::string& model_id() const { return model_id_; }
  const std::string& dtype() const { return dtype_; }
  // (file index, clip index) of a row. Throws lssd::Error("search") when out of range.
  std::pair<size_t, int64_t> locate(int64_t row) const;
  // The clip's time range in seconds.
  const ClipRange& range(int64_t row) const;
  // Files whose rel_path or input path is `name`, with track `track` (-2: any track).
  std::vector<size_t> find(const std::string& name, int track = -2) const;
  // A digest of what the rows are made of: the vector definition, the modality, the filters,
  // each file's identity (rel_path, track, output, clips, shape, model id, dtype) and its
  // array's size and modification time on disk. A saved index is valid while it matches.
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  Modality modality_ = Modality::Video;
  std::string mtype_, model_id_, dtype_, fingerprint_;
  std::vector<CatalogFile> files_;
  int64_t rows_ = 0;
};

// The clip vectors of one embedding: [M,5,D] (video) or [M,D] (audio) -> [M,D], as above.
// Throws lssd::Error("search") for another rank.
FloatArray clip_vectors(const FloatArray& embedding);
// Normalises `n` vectors of `dim` floats in place (double accumulation; zero stays zero).
void l2_normalise(float* v, int64_t n, int64_t dim);

// Every row's vector. A file that cannot be loaded or holds NaN/Inf is left out: its rows stay
// zero, present[row] is 0 and `problems` names the file and the cause.
struct ClipMatrix {
  int64_t rows = 0, dim = 0;
  std::vector<float> data;       // rows x dim
  std::vector<uint8_t> present;  // 1: the row holds its clip's vector
  std::vector<std::string> problems;
  const float* row(int64_t r) const { return data.data() + r * dim; }
};
ClipMatrix load_clip_matrix(const ModalityReader& mr, const Catalog& cat);
// One file's clip vectors [M,D]; throws lssd::Error naming the file (unreadable, NaN/Inf).
FloatArray load_file_vectors(const ModalityReader& mr, const CatalogFile& f);

}  // namespace lssd::search
