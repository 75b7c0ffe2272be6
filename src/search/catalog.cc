#include "lssd/search/catalog.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "lssd/error.h"
#include "lssd/sha256.h"

namespace fs = std::filesystem;

namespace lssd::search {
namespace {

// Bumped when the clip vector definition changes: saved indexes then no longer match.
constexpr const char* kVectorDefinition = "lssd-clip-vectors-1: video mean of 5 crops, L2; audio L2";

std::string join(const std::set<std::string>& s) {
  std::string r;
  for (const auto& x : s) r += (r.empty() ? "" : ", ") + (x.empty() ? std::string("(none)") : x);
  return r;
}

// "size:mtime_ns" of a file, or "missing".
std::string file_state(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return "missing";
  return std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

// Refuses records of more than one value of `what` (model id or dtype).
void require_one(const std::set<std::string>& values, const char* what, const char* option, const std::string& dir) {
  if (values.size() > 1)
    throw Error("search",
                "records from more than one " + std::string(what) + " (" + join(values) + "); pick one with " + option,
                dir);
}

void add_field(Sha256& h, const std::string& s) {
  h.update(std::to_string(s.size()) + ":");
  h.update(s);
}

}  // namespace

Catalog::Catalog(const ModalityReader& mr, const CatalogOptions& opts) : modality_(mr.modality()), mtype_(mr.mtype()) {
  std::set<std::string> models, dtypes, all_models, all_dtypes;
  const auto& recs = mr.records();
  for (size_t i = 0; i < recs.size(); ++i) {
    const Record& r = recs[i];
    if (r.status != RecordStatus::Ok) continue;
    all_models.insert(r.model_id);
    all_dtypes.insert(r.dtype);
    if (!opts.model_id.empty() && r.model_id != opts.model_id) continue;
    if (!opts.dtype.empty() && r.dtype != opts.dtype) continue;
    models.insert(r.model_id);
    dtypes.insert(r.dtype);
    files_.push_back({r, i, rows_});
    rows_ += r.num_clips;
  }
  if (files_.empty()) {
    std::string why = "no embedded " + mtype_ + " files";
    if (!opts.model_id.empty() || !opts.dtype.empty())
      why += " with model id '" + opts.model_id + "' / dtype '" + opts.dtype + "' (present: model ids " +
             join(all_models) + "; dtypes " + join(all_dtypes) + ")";
    throw Error("search", why, mr.dir());
  }
  require_one(models, "model id", "--model-id", mr.dir());
  require_one(dtypes, "dtype", "--dtype", mr.dir());
  model_id_ = *models.begin();
  dtype_ = *dtypes.begin();

  Sha256 h;
  add_field(h, kVectorDefinition);
  add_field(h, mtype_);
  add_field(h, opts.model_id);
  add_field(h, opts.dtype);
  const bool release = mr.layout() == OutputLayout::Release;
  if (release) {
    add_field(h, file_state((fs::path(mr.dir()) / (mtype_ + ".pt")).string()));
    add_field(h, file_state((fs::path(mr.dir()) / "metadata.json").string()));
  }
  for (const auto& f : files_) {
    const Record& r = f.record;
    for (const std::string& s : {r.rel_path, r.path, std::to_string(r.track_index), r.output,
                                 std::to_string(r.num_clips), r.model_id, r.dtype})
      add_field(h, s);
    for (int64_t d : r.shape) add_field(h, std::to_string(d));
    if (!release) add_field(h, file_state(mr.npy_path(r)));
  }
  fingerprint_ = h.hex_digest();
}

std::pair<size_t, int64_t> Catalog::locate(int64_t row) const {
  if (row < 0 || row >= rows_) throw Error("search", "row " + std::to_string(row) + " out of range");
  auto it = std::upper_bound(files_.begin(), files_.end(), row,
                             [](int64_t r, const CatalogFile& f) { return r < f.first_row; });
  size_t i = static_cast<size_t>(it - files_.begin()) - 1;
  // Files with no clips share a first_row with the next one: skip to the one that holds the row.
  while (row - files_[i].first_row >= files_[i].clips()) ++i;
  return {i, row - files_[i].first_row};
}

const ClipRange& Catalog::range(int64_t row) const {
  auto [fi, clip] = locate(row);
  const auto& rs = files_[fi].record.ranges;
  if (clip >= static_cast<int64_t>(rs.size()))
    throw Error("search",
                "the manifest lists " + std::to_string(rs.size()) + " clip ranges for " +
                    std::to_string(files_[fi].clips()) + " clips",
                files_[fi].record.rel_path);
  return rs[static_cast<size_t>(clip)];
}

std::vector<size_t> Catalog::find(const std::string& name, int track) const {
  std::vector<size_t> r;
  for (size_t i = 0; i < files_.size(); ++i) {
    const Record& rec = files_[i].record;
    if ((rec.rel_path == name || rec.path == name) && (track == -2 || rec.track_index == track)) r.push_back(i);
  }
  return r;
}

void l2_normalise(float* v, int64_t n, int64_t dim) {
  for (int64_t i = 0; i < n; ++i) {
    float* x = v + i * dim;
    double s = 0;
    for (int64_t k = 0; k < dim; ++k) s += static_cast<double>(x[k]) * x[k];
    if (s == 0) continue;
    const double inv = std::sqrt(s);
    for (int64_t k = 0; k < dim; ++k) x[k] = static_cast<float>(x[k] / inv);
  }
}

FloatArray clip_vectors(const FloatArray& e) {
  if (e.shape.size() == 2) {
    FloatArray v = e;
    l2_normalise(v.ptr(), v.shape[0], v.shape[1]);
    return v;
  }
  if (e.shape.size() != 3) throw Error("search", "expected an embedding [M,D] or [M,crops,D], got " + e.shape_str());
  const int64_t m = e.shape[0], crops = e.shape[1], dim = e.shape[2];
  FloatArray v({m, dim});
  std::vector<double> acc(static_cast<size_t>(dim));
  for (int64_t i = 0; i < m; ++i) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t c = 0; c < crops; ++c) {
      const float* x = e.ptr() + (i * crops + c) * dim;
      for (int64_t k = 0; k < dim; ++k) acc[static_cast<size_t>(k)] += x[k];
    }
    double s = 0;
    for (double& a : acc) {
      a /= static_cast<double>(crops);
      s += a * a;
    }
    const double norm = std::sqrt(s);
    float* out = v.ptr() + i * dim;
    for (int64_t k = 0; k < dim; ++k)
      out[k] = norm == 0 ? 0.0f : static_cast<float>(acc[static_cast<size_t>(k)] / norm);
  }
  return v;
}

FloatArray load_file_vectors(const ModalityReader& mr, const CatalogFile& f) {
  const Record& r = mr.records().at(f.record_index);
  FloatArray v = clip_vectors(mr.load(r));
  const std::string name = mr.npy_path(r).empty() ? r.path : mr.npy_path(r);
  for (float x : v.data)
    if (!std::isfinite(x)) throw Error("search", "NaN or Inf in the embedding", name);
  if (v.shape[0] != f.clips())
    throw Error("search",
                "has " + std::to_string(v.shape[0]) + " clips, the manifest says " + std::to_string(f.clips()), name);
  return v;
}

ClipMatrix load_clip_matrix(const ModalityReader& mr, const Catalog& cat) {
  ClipMatrix m;
  m.rows = cat.rows();
  for (const auto& f : cat.files()) {
    FloatArray v;
    try {
      v = load_file_vectors(mr, f);
    } catch (const Error& e) {
      m.problems.push_back(e.what());
      continue;
    }
    if (m.dim == 0) {
      m.dim = v.shape[1];
      m.data.assign(static_cast<size_t>(m.rows * m.dim), 0.0f);
      m.present.assign(static_cast<size_t>(m.rows), 0);
    } else if (v.shape[1] != m.dim) {
      m.problems.push_back(f.record.rel_path + ": [search] vectors of " + std::to_string(v.shape[1]) +
                           " dimensions, others have " + std::to_string(m.dim));
      continue;
    }
    std::copy(v.data.begin(), v.data.end(), m.data.begin() + f.first_row * m.dim);
    std::fill_n(m.present.begin() + f.first_row, f.clips(), uint8_t{1});
  }
  if (m.dim == 0)
    throw Error("search", "no " + cat.mtype() + " embedding could be loaded (first: " +
                              (m.problems.empty() ? std::string("none") : m.problems.front()) + ")");
  return m;
}

}  // namespace lssd::search
