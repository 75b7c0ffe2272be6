// NVDEC through FFmpeg's cuda hwaccel (media/nvdec_cuda.h). Runs only where a GPU is: on a
// machine without one, cuda_hwaccel_available() is false and MEDIA.HWACCEL resolves to none (or
// is refused), so the rest is compiled everywhere and run by the GPU check (tools/gpu/check.sh).
#include "media/nvdec_cuda.h"

#include <torch/cuda.h>
#include <torch/torch.h>

#include <mutex>

extern "C" {
#include <libavutil/hwcontext.h>
#include <libavutil/pixdesc.h>
}

#include "common/device_tensor.h"
#include "lssd/error.h"

namespace lssd::media {
namespace {

struct BufferUnref {
  void operator()(AVBufferRef* b) const { av_buffer_unref(&b); }
};
using BufferPtr = std::unique_ptr<AVBufferRef, BufferUnref>;

constexpr int kCudaDevice = 0;  // FFmpeg's CUDA device: cuda:0 (its frames' tensors live there)

// FFmpeg's CUDA device on cuda:0's primary context, made once; null with `why` when it cannot be.
struct SharedDevice {
  BufferPtr ref;
  std::string why;
};

const SharedDevice& shared_device() {
  static SharedDevice d;
  static std::once_flag once;
  std::call_once(once, [] {
    if (!torch::cuda::is_available()) {
      d.why = "LibTorch sees no CUDA device (a CPU-only LibTorch, or no GPU or driver)";
      return;
    }
    AVDictionary* opts = nullptr;
    av_dict_set(&opts, "primary_ctx", "1", 0);
    AVBufferRef* ref = nullptr;
    const int r = av_hwdevice_ctx_create(&ref, AV_HWDEVICE_TYPE_CUDA, std::to_string(kCudaDevice).c_str(), opts, 0);
    av_dict_free(&opts);
    if (r < 0) {
      d.why = "FFmpeg cannot create its CUDA device: " + av_error_string(r);
      return;
    }
    d.ref.reset(ref);
  });
  return d;
}

AVPixelFormat choose_format(AVCodecContext* cc, const AVPixelFormat* formats) {
  auto* state = static_cast<CudaDecode*>(cc->opaque);
  // Called again without AV_PIX_FMT_CUDA when the hwaccel failed to start: the software format.
  bool cuda = false;
  AVPixelFormat software = AV_PIX_FMT_NONE;
  for (const AVPixelFormat* p = formats; *p != AV_PIX_FMT_NONE; ++p) {
    if (*p == AV_PIX_FMT_CUDA)
      cuda = true;
    else if (software == AV_PIX_FMT_NONE)
      software = *p;
  }
  state->offered = cuda;
  state->full_range = software == AV_PIX_FMT_YUVJ420P;
  return cuda ? AV_PIX_FMT_CUDA : software;
}

}  // namespace

bool cuda_hwaccel_available(std::string* why) {
  const SharedDevice& d = shared_device();
  if (!d.ref && why) *why = d.why;
  return d.ref != nullptr;
}

std::string nvdec_refuses(const AVCodecParameters* par) {
  switch (par->codec_id) {
    case AV_CODEC_ID_H264:
    case AV_CODEC_ID_HEVC:
    case AV_CODEC_ID_VP9: break;
    default: return std::string("codec ") + avcodec_get_name(par->codec_id) + ": NVDEC takes only H.264, HEVC and VP9";
  }
  const auto fmt = static_cast<AVPixelFormat>(par->format);
  if (fmt != AV_PIX_FMT_YUV420P && fmt != AV_PIX_FMT_YUVJ420P) {
    const char* name = av_get_pix_fmt_name(fmt);
    return std::string("pixel format ") + (name ? name : "unknown") + " is not 8-bit 4:2:0";
  }
  if (par->width <= 0 || par->height <= 0 || par->width % 2 || par->height % 2)
    return "frame size " + std::to_string(par->width) + "x" + std::to_string(par->height) + " is not even";
  return "";
}

void attach_cuda_hwaccel(AVCodecContext* cc, CudaDecode* state) {
  const SharedDevice& d = shared_device();
  if (!d.ref) throw Error("decode", "NVDEC unavailable: " + d.why);
  cc->hw_device_ctx = av_buffer_ref(d.ref.get());
  if (!cc->hw_device_ctx) throw Error("decode", "out of memory");
  cc->opaque = state;
  cc->get_format = choose_format;
  cc->thread_count = 1;
}

bool is_cuda_nv12(const AVFrame* f) {
  if (f->format != AV_PIX_FMT_CUDA || !f->hw_frames_ctx || f->crop_top || f->crop_left) return false;
  const auto* frames = reinterpret_cast<const AVHWFramesContext*>(f->hw_frames_ctx->data);
  return frames->sw_format == AV_PIX_FMT_NV12 && f->width % 2 == 0 && f->height % 2 == 0;
}

std::shared_ptr<const DeviceTensor> copy_cuda_nv12(const AVFrame* f, const std::string& path) {
  if (!is_cuda_nv12(f)) throw Error("decode", "a frame is not an NV12 surface on the GPU", path);
  const int64_t h = f->height, w = f->width;
  const auto opts = torch::TensorOptions().dtype(torch::kUInt8).device(torch::kCUDA, kCudaDevice);
  auto out = std::make_shared<DeviceTensor>();
  out->tensor = torch::empty({h + h / 2, w}, opts);
  // The surface's planes: pitched rows in device memory (FFmpeg owns them until the frame goes).
  const at::Tensor y = torch::from_blob(f->data[0], {h, w}, {f->linesize[0], 1}, opts);
  const at::Tensor uv = torch::from_blob(f->data[1], {h / 2, w}, {f->linesize[1], 1}, opts);
  out->tensor.slice(0, 0, h).copy_(y);
  out->tensor.slice(0, h, h + h / 2).copy_(uv);
  return out;
}

}  // namespace lssd::media

namespace lssd {

std::string resolve_hwaccel(const std::string& spec) {
  if (spec == "none") return "none";
  std::string why;
  const bool available = media::cuda_hwaccel_available(&why);
  if (spec == "auto") return available ? "cuda" : "none";
  if (spec != "cuda") throw ConfigError("MEDIA.HWACCEL must be none, cuda or auto (got " + spec + ")");
  if (!available) throw ConfigError("MEDIA.HWACCEL cuda: " + why);
  return "cuda";
}

}  // namespace lssd
