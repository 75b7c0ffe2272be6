// Reading embeddings back: an output directory written by lssd-infer (our layout: per-file .npy
// or rows of shard parts (OUTPUT.LAYOUT shards; each record says which, so a directory may mix
// both), plus manifest*.jsonl, any number of manifest parts) or by the Python release
// (metadata.json plus one <mtype>.pt tensor per modality). The layout is detected per modality. LibTorch stays out
// of this header: the release's .pt is read and written in src/reader/release_export.cc.
//
// Order: every list this module returns is in "reader order": the manifest's records (for one
// key the last record wins) stably sorted by rel_path (byte-wise) and then track index (-1, i.e.
// no track, first). The release layout keeps the order of its metadata.json. The numpy reader
// tools/lssd_postprocess.py uses the same order.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lssd/array.h"
#include "lssd/output.h"
#include "lssd/shards.h"

namespace lssd {

enum class OutputLayout { None, Ours, Release };
const char* to_string(OutputLayout l);

// One modality of an output directory.
class ModalityReader {
 public:
  ModalityReader(std::string output_dir, Modality modality);
  // mtype: "video" | "audio" (else ConfigError).
  ModalityReader(std::string output_dir, std::string mtype);
  ModalityReader(ModalityReader&&) noexcept;
  ModalityReader& operator=(ModalityReader&&) noexcept;
  ~ModalityReader();

  const std::string& mtype() const { return mtype_; }
  Modality modality() const { return modality_; }
  bool video() const { return modality_ == Modality::Video; }
  OutputLayout layout() const { return layout_; }
  // OUTPUT_DIR/<mtype>
  const std::string& dir() const { return dir_; }
  // Every record (all statuses) in reader order. Release layout: one "ok" record per file, with
  // path = rel_path = the release's filepath and output = "".
  const std::vector<Record>& records() const { return records_; }
  // Warnings from reading the manifest (a torn last line, ...).
  const std::vector<std::string>& warnings() const { return warnings_; }
  // The .npy of an ok record (our layout): its own, or the shard part holding its rows; or "".
  std::string npy_path(const Record& r) const;
  // The record's embedding, [M,5,768] (video) or [M,768] (audio): the whole .npy, or the rows
  // [row, row + M) of its part. Throws lssd::Error("read") naming the file for a missing,
  // corrupt or truncated .npy, a non-ok record, rows outside the part, or a shape that
  // disagrees with the manifest. `dtype` gets "float32" or "float16" (the stored type).
  FloatArray load(const Record& r, std::string* dtype = nullptr) const;

 private:
  std::string output_dir_, mtype_, dir_;
  Modality modality_ = Modality::Video;
  OutputLayout layout_ = OutputLayout::None;
  std::vector<Record> records_;
  std::vector<std::string> warnings_;
  std::vector<int64_t> release_offsets_;                // first row of each release record
  mutable std::shared_ptr<FloatArray> release_tensor_;  // loaded on first use
};

// An output directory: the modalities present ("video" first, then "audio").
class OutputReader {
 public:
  explicit OutputReader(const std::string& output_dir);
  const std::string& root() const { return root_; }
  std::vector<Modality> present() const;
  bool has(Modality m) const { return mods_[m] != nullptr; }
  const ModalityReader& modality(Modality m) const;  // throws lssd::Error("read") if absent
  // The same by name ("video" | "audio").
  std::vector<std::string> modalities() const;
  bool has(const std::string& mtype) const;
  const ModalityReader& modality(const std::string& mtype) const;

 private:
  std::string root_;
  PerModality<std::shared_ptr<const ModalityReader>> mods_;
};

// Which layout OUTPUT_DIR/<modality> holds: manifest*.jsonl -> Ours, metadata.json -> Release.
OutputLayout detect_layout(const std::string& output_dir, Modality modality);
OutputLayout detect_layout(const std::string& output_dir, const std::string& mtype);

// The release's postprocess(): (filepath, embedding) of every ok record, in reader order.
// filepath is the input path as discovered (the data dir joined with the relative path).
std::vector<std::pair<std::string, FloatArray>> postprocess(const std::string& output_dir, Modality modality);
std::vector<std::pair<std::string, FloatArray>> postprocess(const std::string& output_dir, const std::string& mtype);

// Stable "reader order" sort (rel_path byte-wise, then track index).
void sort_reader_order(std::vector<Record>& records);

// The release's layout, written from `mr` (ok records, reader order) to OUT/<mtype>/:
// metadata.json (range: float seconds for video, int native-rate sample indices for audio;
// filepath; sample_rate: fps float / rate int) and <mtype>.pt (a torch.save-compatible float32
// tensor [sum M,5,768] / [sum M,768]). Returns the number of files written.
size_t export_release(const ModalityReader& mr, const std::string& out_dir);

// What convert_output() did, per modality.
struct ConvertSummary {
  PerModality<int64_t> records{0, 0};     // manifest records written (every status)
  PerModality<int64_t> embeddings{0, 0};  // ok records, their embeddings copied
  PerModality<int64_t> parts{0, 0};       // parts written (to shards)
};
// Copies the lssd-layout output directory `src` to `dest` (which must not exist or be empty) in
// the other layout: `to_shards` true writes parts (ShardWriter, `limits`, writer id
// "converted"), false one .npy per input. Every record (all statuses, the latest of each input)
// goes to dest/<mtype>/manifest.jsonl in reader order, each embedding with its bytes unchanged
// (the stored dtype kept), each ok record naming its new place; config.yaml and errors*.jsonl are
// copied as they are. Throws lssd::Error naming the file for an unreadable input or a dest that
// cannot be written, lssd::ConfigError for a dest that is not empty or a src in the release's
// layout (see export_release).
ConvertSummary convert_output(const std::string& src, const std::string& dest, bool to_shards,
                              const ShardLimits& limits);

// Implemented with LibTorch in src/reader/release_export.cc.
namespace release_io {
// Reads a torch.save'd tensor (any float dtype, converted to float32).
FloatArray load_pt_tensor(const std::string& path);
// Writes `a` as a float32 tensor with torch::pickle_save (loadable with Python torch.load).
void save_pt_tensor(const std::string& path, const FloatArray& a);
}  // namespace release_io

// The release's metadata.json with the lists, paths as bytes (a Python surrogate escape
// \udcXX, written for a byte that is not UTF-8, reads back as that byte).
struct ReleaseMetadata {
  std::vector<std::vector<std::pair<double, double>>> range;  // audio: exact integer values
  std::vector<std::string> filepath;
  std::vector<double> sample_rate;
};
ReleaseMetadata read_release_metadata(const std::string& path);
std::string release_metadata_json(const ReleaseMetadata& m, bool integer_ranges, bool integer_rates);

// Torch-style printing, as Python's print(tensor) shows it with the default print options
// (precision 4, threshold 1000, edgeitems 3, linewidth 80): "tensor([[[-0.4841,  0.0313, ...".
std::string torch_style_str(const FloatArray& a);

}  // namespace lssd
