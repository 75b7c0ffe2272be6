// Nearest-neighbour search over clip vectors (unit vectors: inner product = cosine), with FAISS
// (CPU) behind this header. Two indexes with one interface:
//   ExactIndex  brute force over the whole matrix (FAISS's BLAS/SIMD inner products), the
//               candidates rescored in double: exact top-k;
//   IvfIndex    an inverted-file index (IVF-Flat: k-means coarse cells, vectors stored as they
//               are; a query scans the nprobe nearest cells): approximate, much faster on large
//               catalogues; can be saved and loaded.
// Both order hits by score (descending) and equal scores by row (ascending): the tie rule.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lssd::search {

struct Hit {
  int64_t row = -1;
  float score = 0;
};

class KnnIndex {
 public:
  virtual ~KnnIndex() = default;
  // The k best rows for each of `nq` queries (nq x dim floats). Fewer than k hits when the
  // index holds fewer rows (or, approximate, when the cells scanned hold fewer).
  virtual std::vector<std::vector<Hit>> search(const float* queries, int64_t nq, int k) const = 0;
  virtual int64_t dim() const = 0;
};

// Exact search over a row-major matrix that the caller keeps alive (not copied). Rows whose
// `present` flag is 0 are never returned (present may be null: every row). Scores are the
// inner products computed in double and rounded to float, so equal vectors tie exactly.
class ExactIndex : public KnnIndex {
 public:
  ExactIndex(const float* data, int64_t rows, int64_t dim, const uint8_t* present = nullptr);
  ~ExactIndex() override;
  std::vector<std::vector<Hit>> search(const float* queries, int64_t nq, int k) const override;
  int64_t dim() const override { return dim_; }

 private:
  std::vector<Hit> rescore(const float* q, const int64_t* ids, const float* scores, int64_t n, int k,
                           bool* complete) const;
  const float* data_;
  int64_t rows_, dim_, present_rows_;
  const uint8_t* present_;
  struct Selector;
  std::unique_ptr<Selector> selector_;
};

struct IvfParams {
  int64_t nlist = 0;   // coarse cells (k-means centroids)
  int64_t nprobe = 0;  // cells scanned per query
};
// The defaults for `rows` vectors: nlist = clamp(round(sqrt(rows) / 2), 1, rows / 39) (FAISS
// wants >= 39 training points per centroid), nprobe = max(1, round(nlist / 128)). Measured in
// tools/bench/search.md (1M vectors: nlist 500, nprobe 4).
IvfParams ivf_params_for(int64_t rows);

class IvfIndex : public KnnIndex {
 public:
  // Trains the coarse quantizer (spherical k-means, 10 iterations) on the present rows (at most
  // 2^20 of them, evenly spaced) and adds them with their row numbers as ids. Throws
  // lssd::Error("search") on invalid parameters or no rows.
  static std::unique_ptr<IvfIndex> build(const float* data, int64_t rows, int64_t dim, const uint8_t* present,
                                         IvfParams params);
  // FAISS's own file format. Throws lssd::Error("search", ..., path) when it cannot be read or
  // is not an IVF-Flat inner-product index.
  static std::unique_ptr<IvfIndex> load(const std::string& path);
  // Writes atomically (a temporary file in the same directory, then rename). Throws
  // lssd::Error("search", ..., path).
  void save(const std::string& path) const;
  ~IvfIndex() override;

  std::vector<std::vector<Hit>> search(const float* queries, int64_t nq, int k) const override;
  int64_t dim() const override;
  int64_t size() const;  // vectors held
  IvfParams params() const;
  void set_nprobe(int64_t nprobe);

 private:
  IvfIndex();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Sorts hits by the tie rule (score descending, row ascending) and keeps the first k.
void sort_hits(std::vector<Hit>& hits, size_t k);

}  // namespace lssd::search
