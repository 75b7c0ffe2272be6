// The fuzz target's stand-in for src/media/nvdec_cuda.cc, which needs LibTorch: the fuzz build
// (tools/fuzz.sh: clang, libFuzzer, FFmpeg only) fuzzes the CPU decoding path, where
// MEDIA.HWACCEL is none and none of these is reached; each says so if it ever is.
#include <string>

#include "lssd/error.h"
#include "media/nvdec_cuda.h"

namespace lssd::media {

namespace {
constexpr const char* kWhy = "the fuzz build has no LibTorch, hence no NVDEC";
}  // namespace

bool cuda_hwaccel_available(std::string* why) {
  if (why) *why = kWhy;
  return false;
}

std::string nvdec_refuses(const AVCodecParameters*) { return kWhy; }

void attach_cuda_hwaccel(AVCodecContext*, CudaDecode*) { throw Error("decode", kWhy); }

bool is_cuda_nv12(const AVFrame*) { return false; }

std::shared_ptr<const DeviceTensor> copy_cuda_nv12(const AVFrame*, const std::string& path) {
  throw Error("decode", kWhy, path);
}

}  // namespace lssd::media
