// A 2-D picture of clip embeddings: an even sample of rows and their principal-component
// projection (FAISS's PCAMatrix), for lssd-read report's scatter plots.
#pragma once
#include <cstdint>
#include <vector>

namespace lssd::search {

// min(n, total) indices out of [0, total) spread evenly, in increasing order: floor(i * total / n)
// for i < n (every index when total <= n; none when n <= 0).
std::vector<int64_t> sample_evenly(int64_t total, int64_t n);

struct Pca2d {
  std::vector<float> xy;         // the points' coordinates, n x 2 (x0, y0, x1, y1, ...)
  double explained[2] = {0, 0};  // share of the training vectors' total variance on each axis
};

// Fits a 2-D PCA on `n_train` vectors of `dim` floats (centred on their mean; FAISS PCAMatrix)
// and projects `n` vectors onto its two leading components. Fewer than 2 training vectors, or no
// variance: every point at (0, 0). Each axis's sign is fixed so that the projected training
// vectors' largest absolute coordinate is positive (the picture does not flip with FAISS's
// eigen solver). Throws lssd::Error("search") for dim < 1.
Pca2d pca_2d(const float* train, int64_t n_train, int64_t dim, const float* points, int64_t n);

}  // namespace lssd::search
