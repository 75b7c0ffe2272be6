// Seeded random unit vectors for the search and report tests.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "lssd/search/catalog.h"

namespace lssd::test {

// A unit vector of `dim` values drawn from N(0, 1) with the seed, then L2-normalised.
inline std::vector<float> random_unit(uint64_t seed, int64_t dim) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd;
  std::vector<float> v(static_cast<size_t>(dim));
  for (auto& x : v) x = static_cast<float>(nd(rng));
  lssd::search::l2_normalise(v.data(), 1, dim);
  return v;
}

}  // namespace lssd::test
