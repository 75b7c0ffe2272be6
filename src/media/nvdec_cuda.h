// Private to src/media/: video decoding on NVDEC through FFmpeg's cuda hwaccel on the regular
// decoders (not the *_cuvid ones), as torchcodec's CUDA device interface does. FFmpeg's CUDA
// device is made on cuda:0's primary context, the one LibTorch's runtime uses, so decoded
// surfaces and LibTorch tensors share one context. Decoded frames are copied out of the
// decoder's small surface pool at once, into LibTorch CUDA tensors (NV12).
//
// Needs no CUDA header: FFmpeg's hwcontext API and LibTorch's device tensors. On a CPU-only
// LibTorch, or where FFmpeg cannot create a CUDA device (no driver, no GPU, an FFmpeg built
// without it), cuda_hwaccel_available() says why and nothing else here is called.
#pragma once
#include <memory>
#include <string>

#include "lssd/array.h"
#include "media/ffmpeg.h"

namespace lssd::media {

// Whether NVDEC can run: a CUDA device seen by LibTorch and FFmpeg's CUDA device created on its
// primary context. Checked once per process; `why` gets the reason when not.
bool cuda_hwaccel_available(std::string* why);

// Why NVDEC does not take this stream, "" when it does: H.264, HEVC and VP9 only (their
// decoding is bit-exact by the standards, so NVDEC's frames are libavcodec's; MPEG-2/MPEG-4 Part
// 2's IDCT is not), in 8-bit 4:2:0 (yuv420p / yuvj420p: NV12 surfaces) of even width and height.
std::string nvdec_refuses(const AVCodecParameters* par);

// The state of one decoder context on the hwaccel (cc->opaque points at it while it lives).
struct CudaDecode {
  bool full_range = false;  // the software format the decoder offered was yuvj420p
  bool offered = false;     // get_format's last call offered AV_PIX_FMT_CUDA (the hwaccel started)
};

// Sets up cc (allocated, not yet opened) for the cuda hwaccel: the shared CUDA device, one
// decoder thread, get_format choosing AV_PIX_FMT_CUDA (else the software format: FFmpeg then
// decodes on the CPU, which the caller sees as frames not in AV_PIX_FMT_CUDA). state must outlive
// cc. Throws Error("decode") when the device is unavailable.
void attach_cuda_hwaccel(AVCodecContext* cc, CudaDecode* state);

// Whether a frame in AV_PIX_FMT_CUDA is one copy_cuda_nv12 takes: NV12 surfaces (8-bit 4:2:0; a
// stream that turns 10-bit or 4:4:4 midway gives P010/YUV444 ones), no crop at the top or left.
bool is_cuda_nv12(const AVFrame* f);

// A frame in AV_PIX_FMT_CUDA (NV12 surface) copied to a new LibTorch CUDA tensor, uint8
// [H * 3 / 2, W] (Y rows, then the interleaved UV rows), on LibTorch's current stream (FFmpeg's
// copies run on the legacy default stream, with which that stream is ordered). Throws
// Error("decode") for another format.
std::shared_ptr<const DeviceTensor> copy_cuda_nv12(const AVFrame* f, const std::string& path);

}  // namespace lssd::media
