#include "lssd/search/projection.h"

#include <faiss/VectorTransform.h>
#include <faiss/impl/FaissException.h>

#include <cmath>
#include <numeric>

#include "lssd/error.h"

namespace lssd::search {

std::vector<int64_t> sample_evenly(int64_t total, int64_t n) {
  std::vector<int64_t> out;
  if (total <= 0 || n <= 0) return out;
  if (total <= n) {
    out.resize(static_cast<size_t>(total));
    std::iota(out.begin(), out.end(), int64_t{0});
    return out;
  }
  out.reserve(static_cast<size_t>(n));
  // i * total / n without overflow for any int64 sizes a catalogue has (< 2^31 rows each).
  for (int64_t i = 0; i < n; ++i)
    out.push_back(static_cast<int64_t>(static_cast<long double>(i) * total / static_cast<long double>(n)));
  return out;
}

Pca2d pca_2d(const float* train, int64_t n_train, int64_t dim, const float* points, int64_t n) {
  if (dim < 1) throw Error("search", "PCA of vectors with no dimension");
  Pca2d out;
  out.xy.assign(static_cast<size_t>(std::max<int64_t>(n, 0)) * 2, 0.0f);
  if (n_train < 2 || dim < 2) return out;
  faiss::PCAMatrix pca(static_cast<int>(dim), 2);
  pca.max_points_per_d = static_cast<size_t>(n_train);  // train on every vector given (the caller samples)
  try {
    pca.train(n_train, train);
  } catch (const faiss::FaissException& e) {
    throw Error("search", std::string("PCA: ") + e.what());
  }
  double total = 0;
  for (float e : pca.eigenvalues) total += std::max(0.0, static_cast<double>(e));
  if (!(total > 0) || !std::isfinite(total)) return out;
  for (int a = 0; a < 2 && a < static_cast<int>(pca.eigenvalues.size()); ++a)
    out.explained[a] = std::max(0.0, static_cast<double>(pca.eigenvalues[a])) / total;
  // Signs: the training vectors' largest absolute coordinate on each axis is positive.
  std::vector<float> t(static_cast<size_t>(n_train) * 2);
  pca.apply_noalloc(n_train, train, t.data());
  float sign[2] = {1, 1};
  for (int a = 0; a < 2; ++a) {
    float best = 0;
    for (int64_t i = 0; i < n_train; ++i)
      if (std::abs(t[i * 2 + a]) > std::abs(best)) best = t[i * 2 + a];
    if (best < 0) sign[a] = -1;
  }
  if (n > 0) pca.apply_noalloc(n, points, out.xy.data());
  for (int64_t i = 0; i < n; ++i)
    for (int a = 0; a < 2; ++a) out.xy[i * 2 + a] *= sign[a];
  return out;
}

}  // namespace lssd::search
