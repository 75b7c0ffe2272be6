// Video clip -> encoder input, as the release computes it (README.md, "The Python release's
// behaviour", "Video clip -> tensor" steps 3-4): RGB24 frames -> float /255 -> short side to VideoOptions::short_side
// (bilinear, align_corners=False, no antialias: torch.nn.functional.interpolate in float32) -> FiveCrop (top-left,
// top-right, bottom-left, bottom-right, center) -> [5, 3, T, crop_h, crop_w]. No torch: a separable float32
// implementation of the same arithmetic.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "lssd/array.h"
#include "lssd/media.h"
#include "lssd/options.h"

namespace lssd {

// Output size of the short-side scale: if w < h, (floor(h/w*s), s), else (s, floor(w/h*s)),
// with the release's double arithmetic. Returns {new_h, new_w}.
std::pair<int, int> short_side_size(int height, int width, int short_side);

// Top-left offsets of the five crops in torchvision order; the center one rounds half to even
// (Python's round) as torchvision's center_crop does. Each entry is {top, left}.
std::vector<std::pair<int, int>> five_crop_offsets(int height, int width, int crop_h, int crop_w);

// torch's linear interpolation table for one axis (input_size -> output_size,
// align_corners=False, no scale given): per output index, the two source indices and weights.
struct LinearTaps {
  std::vector<int> i0, i1;
  std::vector<float> w0, w1;
};
LinearTaps linear_taps(int input_size, int output_size);

// Reusable transform (keeps its scratch buffers between clips; not thread-safe, use one per
// thread).
class VideoTransform {
 public:
  explicit VideoTransform(const VideoOptions& opts) : opts_(opts) {}
  // frames: T frames of height*width*3 bytes (RGB24, packed rows). Returns [5,3,T,crop_h,crop_w].
  FloatArray operator()(const std::vector<std::vector<uint8_t>>& frames, int width, int height);

 private:
  VideoOptions opts_;
  int cached_w_ = -1, cached_h_ = -1;
  std::vector<std::pair<int, int>> crops_;  // five_crop_offsets in the scaled frame
  std::vector<int> ys_, xs_;                // scaled rows / columns some crop covers (sorted)
  std::vector<int> src_rows_;               // source rows the vertical taps of ys_ read (sorted)
  LinearTaps taps_h_;                       // per ys_ entry; i0/i1 index src_rows_
  LinearTaps taps_w_;                       // per xs_ entry
  std::vector<float> rows_;                 // horizontal pass: [src_rows_][xs_] for one channel
  std::vector<float> resized_;              // [ys_][xs_] for one channel
};

// ---- from YUV planes (LibTorch ops, src/transform/yuv_torch.h: the same code runs on a GPU) ----

// The colour matrix and chroma upsampling of a YUV -> RGB conversion. The defaults are what the
// release's PyAV to_rgb() does (swscale's BT.601, each chroma sample replicated over its 2x2
// block); the others exist to show that a mismatch is caught (tests).
enum class YuvMatrix { kBt601, kBt709 };
enum class ChromaUpsampling { kReplicate, kBilinear };
struct YuvToRgb {
  YuvMatrix matrix = YuvMatrix::kBt601;
  ChromaUpsampling chroma = ChromaUpsampling::kReplicate;
};

// One frame's planes -> RGB24 packed (height*width*3), on the CPU. Within 1 (of 255) of
// swscale's to_rgb() for the frames MediaOptions::yuv_planes delivers. Throws lssd::Error
// ("transform") when the planes do not fit the frame size.
std::vector<uint8_t> yuv420_to_rgb24(const YuvFrame420& frame, const YuvToRgb& how = {});

// A clip's planes (one size) -> [5, 3, T, crop_h, crop_w] as VideoTransform gives from RGB, on
// the CPU. Throws lssd::Error("transform") on mixed sizes or planes that do not fit.
FloatArray yuv420_clip_tensor(const std::vector<YuvFrame420>& frames, const VideoOptions& opts,
                              const YuvToRgb& how = {});

// A clip NVDEC decoded (VideoClipFrames::nv12: NV12 on the GPU) -> [5, 3, T, crop_h, crop_w]
// float32 on that GPU (FloatArray::device; data empty), through the same ops as
// yuv420_clip_tensor. Throws lssd::Error("transform") when the clip has no device frames or
// their sizes differ.
FloatArray nv12_clip_tensor(const VideoClipFrames& clip, const VideoOptions& opts);

// a with its values on the host: a itself, or a copy from the device when FloatArray::device is
// set (tests and probes; the pipeline feeds device tensors to the encoder as they are).
FloatArray to_host(const FloatArray& a);

// One-shot convenience wrapper.
FloatArray video_clip_tensor(const std::vector<std::vector<uint8_t>>& frames, int width, int height,
                             const VideoOptions& opts);

}  // namespace lssd
