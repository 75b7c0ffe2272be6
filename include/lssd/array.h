// A plain owning float array with a shape: the type that carries tensors between stages, so
// that LibTorch types stay inside the encoder/transform implementation files.
#pragma once
#include <cstdint>
#include <memory>
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

// A tensor on a device (a CUDA clip tensor of MEDIA.HWACCEL cuda), opaque outside the modules
// that make and read it (its LibTorch definition: src/common/device_tensor.h).
struct DeviceTensor;

struct FloatArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
  // When set, the values live on a device instead (data is empty; shape still holds).
  std::shared_ptr<const DeviceTensor> device;

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
