#include "lssd/search/index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/index_io.h>
#include <faiss/utils/distances.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "lssd/error.h"

namespace fs = std::filesystem;

namespace lssd::search {
namespace {

// FAISS's float inner products of unit vectors are within ~dim * 2^-24 of the exact value;
// candidates this close to the k-th exact score are fetched before the top-k is decided.
constexpr double kCandidateMargin = 1e-4;
constexpr int64_t kExtraCandidates = 16;
// IVF k-means trains on at most this many vectors (3 GiB of 768-d floats).
constexpr int64_t kMaxTrainPoints = int64_t{1} << 20;

double dot(const float* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// FAISS's OpenMP loops on one thread when the work is small: on a loaded machine, threads that
// wait at OpenMP barriers cost more than such work (a 5 ms unit test took 4 s at load 12).
class OmpThreads {
 public:
  explicit OmpThreads(double flops) : saved_(omp_get_max_threads()) {
    if (flops < 5e7) omp_set_num_threads(1);
  }
  ~OmpThreads() { omp_set_num_threads(saved_); }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int saved_;
};

// Runs a FAISS call, turning its exceptions into lssd::Error.
template <class F>
auto faiss_call(const char* what, const std::string& file, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const faiss::FaissException& e) {
    throw Error("search", std::string(what) + ": " + e.what(), file);
  }
}

}  // namespace

void sort_hits(std::vector<Hit>& hits, size_t k) {
  std::sort(hits.begin(), hits.end(),
            [](const Hit& a, const Hit& b) { return a.score != b.score ? a.score > b.score : a.row < b.row; });
  if (hits.size() > k) hits.resize(k);
}

// ---- exact ----

struct ExactIndex::Selector : faiss::IDSelector {
  explicit Selector(const uint8_t* p) : present(p) {}
  bool is_member(int64_t id) const override { return present[id] != 0; }
  const uint8_t* present;
};

ExactIndex::ExactIndex(const float* data, int64_t rows, int64_t dim, const uint8_t* present)
    : data_(data), rows_(rows), dim_(dim), present_rows_(rows), present_(present) {
  if (present_) {
    present_rows_ = std::count_if(present, present + rows, [](uint8_t p) { return p != 0; });
    selector_ = std::make_unique<Selector>(present_);
  }
}
ExactIndex::~ExactIndex() = default;

// The exact top-k among FAISS's `n` candidates of query q. *complete is false when rows outside
// the candidates could still belong to the top-k (the worst candidate is within the margin of
// the k-th exact score and more rows exist).
std::vector<Hit> ExactIndex::rescore(const float* q, const int64_t* ids, const float* scores, int64_t n, int k,
                                     bool* complete) const {
  std::vector<Hit> hits;
  float worst = std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0) continue;
    hits.push_back({ids[i], static_cast<float>(dot(q, data_ + ids[i] * dim_, dim_))});
    worst = std::min(worst, scores[i]);
  }
  sort_hits(hits, static_cast<size_t>(k));
  *complete = static_cast<int64_t>(hits.size()) >= present_rows_ || n >= present_rows_ ||
              (static_cast<int64_t>(hits.size()) == k && worst < hits.back().score - kCandidateMargin);
  return hits;
}

std::vector<std::vector<Hit>> ExactIndex::search(const float* queries, int64_t nq, int k) const {
  std::vector<std::vector<Hit>> out(static_cast<size_t>(nq));
  if (k <= 0 || present_rows_ == 0) return out;
  int64_t kk = std::min<int64_t>(present_rows_, k + kExtraCandidates);
  std::vector<float> d(static_cast<size_t>(nq * kk));
  std::vector<int64_t> ids(static_cast<size_t>(nq * kk));
  OmpThreads threads(static_cast<double>(nq) * static_cast<double>(rows_) * static_cast<double>(dim_));
  faiss_call("exact search", "", [&] {
    faiss::knn_inner_product(queries, data_, static_cast<size_t>(dim_), static_cast<size_t>(nq),
                             static_cast<size_t>(rows_), static_cast<size_t>(kk), d.data(), ids.data(),
                             selector_.get());
  });
  for (int64_t i = 0; i < nq; ++i) {
    const float* q = queries + i * dim_;
    bool complete = false;
    out[i] = rescore(q, ids.data() + i * kk, d.data() + i * kk, kk, k, &complete);
    // Near-ties at the boundary: widen this query's candidates until the top-k is settled.
    for (int64_t wide = kk * 4; !complete; wide *= 4) {
      wide = std::min(wide, present_rows_);
      std::vector<float> dw(static_cast<size_t>(wide));
      std::vector<int64_t> iw(static_cast<size_t>(wide));
      faiss_call("exact search", "", [&] {
        faiss::knn_inner_product(q, data_, static_cast<size_t>(dim_), 1, static_cast<size_t>(rows_),
                                 static_cast<size_t>(wide), dw.data(), iw.data(), selector_.get());
      });
      out[i] = rescore(q, iw.data(), dw.data(), wide, k, &complete);
    }
  }
  return out;
}

// ---- IVF ----

IvfParams ivf_params_for(int64_t rows) {
  IvfParams p;
  p.nlist = std::max<int64_t>(1, std::min<int64_t>(std::llround(std::sqrt(static_cast<double>(rows)) / 2), rows / 39));
  p.nprobe = std::max<int64_t>(1, std::llround(static_cast<double>(p.nlist) / 128));
  return p;
}

struct IvfIndex::Impl {
  std::unique_ptr<faiss::IndexIVFFlat> index;
};

IvfIndex::IvfIndex() : impl_(std::make_unique<Impl>()) {}
IvfIndex::~IvfIndex() = default;

namespace {

// Trains the coarse quantizer on every kept row up to kMaxTrainPoints (evenly spaced beyond).
// k-means needs many points of each cluster of the data, not only per cell: with FAISS's usual
// 256 points per cell, catalogues of many small clusters (clips of many videos) end up split
// over cells (benchmark: 1M vectors in 10,000 clusters, recall@10 0.30 at nprobe 1, not 0.96).
void train_ivf(faiss::IndexIVFFlat& ix, const float* data, int64_t rows, const std::vector<int64_t>& keep) {
  const int64_t dim = ix.d, n = static_cast<int64_t>(keep.size()), sample = std::min(n, kMaxTrainPoints);
  ix.cp.spherical = true;  // unit vectors: normalised centroids
  ix.cp.niter = 10;
  ix.cp.min_points_per_centroid = 1;  // nlist <= rows / 39 already; no warning on stderr
  ix.cp.max_points_per_centroid =
      static_cast<int>(sample / static_cast<int64_t>(ix.nlist) + 1);  // no further subsampling
  std::vector<float> train;
  const float* x = data;
  if (sample != rows) {  // rows left out, or more than kMaxTrainPoints
    train.resize(static_cast<size_t>(sample * dim));
    for (int64_t i = 0; i < sample; ++i)
      std::copy_n(data + keep[static_cast<size_t>(i * n / sample)] * dim, dim, train.begin() + i * dim);
    x = train.data();
  }
  OmpThreads threads(static_cast<double>(sample) * static_cast<double>(ix.nlist) * static_cast<double>(dim) *
                     ix.cp.niter);
  faiss_call("IVF training", "", [&] { ix.train(sample, x); });
}

// Adds the kept rows with their row numbers as ids, in chunks.
void add_ivf(faiss::IndexIVFFlat& ix, const float* data, const std::vector<int64_t>& keep) {
  const int64_t dim = ix.d;
  OmpThreads threads(static_cast<double>(keep.size()) * static_cast<double>(ix.nlist) * static_cast<double>(dim));
  constexpr size_t kChunk = 65536;
  std::vector<float> buf;
  for (size_t s = 0; s < keep.size(); s += kChunk) {
    const size_t n = std::min(kChunk, keep.size() - s);
    const float* x = data + keep[s] * dim;
    if (keep[s + n - 1] - keep[s] != static_cast<int64_t>(n - 1)) {  // not contiguous: gather
      buf.resize(n * static_cast<size_t>(dim));
      for (size_t i = 0; i < n; ++i)
        std::copy_n(data + keep[s + i] * dim, dim, buf.begin() + static_cast<int64_t>(i) * dim);
      x = buf.data();
    }
    faiss_call("IVF add", "", [&] { ix.add_with_ids(static_cast<int64_t>(n), x, keep.data() + s); });
  }
}

}  // namespace

std::unique_ptr<IvfIndex> IvfIndex::build(const float* data, int64_t rows, int64_t dim, const uint8_t* present,
                                          IvfParams params) {
  std::vector<int64_t> keep;
  for (int64_t r = 0; r < rows; ++r)
    if (!present || present[r]) keep.push_back(r);
  if (keep.empty()) throw Error("search", "no vectors to index");
  if (params.nlist < 1 || params.nprobe < 1 || params.nlist > static_cast<int64_t>(keep.size()))
    throw Error("search", "invalid IVF parameters: nlist " + std::to_string(params.nlist) + ", nprobe " +
                              std::to_string(params.nprobe) + " for " + std::to_string(keep.size()) + " vectors");
  std::unique_ptr<IvfIndex> self(new IvfIndex());
  auto* quantizer = new faiss::IndexFlatIP(dim);
  self->impl_->index = std::make_unique<faiss::IndexIVFFlat>(quantizer, dim, params.nlist, faiss::METRIC_INNER_PRODUCT);
  faiss::IndexIVFFlat& ix = *self->impl_->index;
  ix.own_fields = true;
  ix.nprobe = static_cast<size_t>(std::min(params.nprobe, params.nlist));
  train_ivf(ix, data, rows, keep);
  add_ivf(ix, data, keep);
  return self;
}

std::unique_ptr<IvfIndex> IvfIndex::load(const std::string& path) {
  std::unique_ptr<faiss::Index> raw(
      faiss_call("cannot read the index", path, [&] { return faiss::read_index(path.c_str()); }));
  auto* ivf = dynamic_cast<faiss::IndexIVFFlat*>(raw.get());
  if (!ivf || ivf->metric_type != faiss::METRIC_INNER_PRODUCT)
    throw Error("search", "not an IVF-Flat inner-product index", path);
  raw.release();
  std::unique_ptr<IvfIndex> self(new IvfIndex());
  self->impl_->index.reset(ivf);
  return self;
}

void IvfIndex::save(const std::string& path) const {
  fs::path p(path);
  std::string tmp = (p.parent_path() / (".tmp." + p.filename().string() + "." + std::to_string(::getpid()))).string();
  faiss_call("cannot write the index", path, [&] { faiss::write_index(impl_->index.get(), tmp.c_str()); });
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error("search", "cannot write the index: " + ec.message(), path);
  }
}

std::vector<std::vector<Hit>> IvfIndex::search(const float* queries, int64_t nq, int k) const {
  std::vector<std::vector<Hit>> out(static_cast<size_t>(nq));
  if (k <= 0 || nq <= 0) return out;
  faiss::IndexIVFFlat& ix = *impl_->index;
  // One query: scan its cells in parallel; several: one query per thread.
  ix.parallel_mode = nq < omp_get_max_threads() ? 1 : 0;
  const int64_t kk = k + kExtraCandidates;  // ties at the boundary are ordered by row below
  std::vector<float> d(static_cast<size_t>(nq * kk));
  std::vector<int64_t> ids(static_cast<size_t>(nq * kk));
  const double scanned = static_cast<double>(ix.ntotal) * static_cast<double>(std::min(ix.nprobe, ix.nlist)) /
                         static_cast<double>(ix.nlist);
  OmpThreads threads(static_cast<double>(nq) * (scanned + static_cast<double>(ix.nlist)) * static_cast<double>(ix.d));
  faiss_call("IVF search", "", [&] { ix.search(nq, queries, kk, d.data(), ids.data()); });
  for (int64_t i = 0; i < nq; ++i) {
    auto& hits = out[static_cast<size_t>(i)];
    for (int64_t j = 0; j < kk; ++j)
      if (ids[i * kk + j] >= 0) hits.push_back({ids[i * kk + j], d[i * kk + j]});
    sort_hits(hits, static_cast<size_t>(k));
  }
  return out;
}

int64_t IvfIndex::dim() const { return impl_->index->d; }
int64_t IvfIndex::size() const { return impl_->index->ntotal; }
IvfParams IvfIndex::params() const {
  return {static_cast<int64_t>(impl_->index->nlist), static_cast<int64_t>(impl_->index->nprobe)};
}
void IvfIndex::set_nprobe(int64_t nprobe) {
  impl_->index->nprobe = static_cast<size_t>(std::clamp<int64_t>(nprobe, 1, static_cast<int64_t>(impl_->index->nlist)));
}

}  // namespace lssd::search
