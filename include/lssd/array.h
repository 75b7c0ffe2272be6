// A plain owning float array with a shape: the type that carries tensors between stages, so
// that LibTorch types stay inside the encoder/transform implementation files.
#pragma once
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace lssd {

// "[2,5,768]": a shape as lssd's messages and tables write it.
inline std::string shape_str(const std::vector<int64_t>& shape) {
  std::string r = "[";
  for (size_t i = 0; i < shape.size(); ++i) r += (i ? "," : "") + std::to_string(shape[i]);
  return r + "]";
}

struct FloatArray {
  std::vector<int64_t> shape;
  std::vector<float> data;

  FloatArray() = default;
  explicit FloatArray(std::vector<int64_t> s) : shape(std::move(s)), data(numel_of(shape), 0.0f) {}

  static size_t numel_of(const std::vector<int64_t>& s) {
    return static_cast<size_t>(
        std::accumulate(s.begin(), s.end(), int64_t{1}, [](int64_t a, int64_t b) { return a * b; }));
  }
  size_t numel() const { return data.size(); }
  float* ptr() { return data.data(); }
  const float* ptr() const { return data.data(); }
  std::string shape_str() const { return lssd::shape_str(shape); }
};

}  // namespace lssd
