// Private (the stages that make or read device tensors: media's NVDEC decoder, transform,
// encoder): what lssd::DeviceTensor (include/lssd/array.h, opaque there) holds.
#pragma once
#include <ATen/ATen.h>

namespace lssd {

struct DeviceTensor {
  at::Tensor tensor;
};

}  // namespace lssd
