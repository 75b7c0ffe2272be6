// Private to src/transform/ (and the device decoders that hand it tensors): YUV 4:2:0 -> RGB24 as
// PyAV 10's VideoFrame.to_rgb() gives it, and the release's resize + FiveCrop, as LibTorch ops
// on tensors of any device (CPU, CUDA). include/lssd/video_transform.h wraps them for host
// frames without a torch type.
//
// to_rgb() is sws_getCachedContext(w, h, fmt -> w, h, rgb24, SWS_BILINEAR) with no
// sws_setColorspaceDetails: swscale's default matrix (BT.601) whatever the stream's tags, the
// range the pixel format implies (yuvj420p full, yuv420p limited), and for 4:2:0 of even height
// its unscaled converter, which takes each 2x2 block's chroma sample as it is (no chroma
// interpolation). These ops do the same in swscale's x86 fixed-point arithmetic (int32 tensors):
// bit-exact with it on x86 (tests/unit/yuv_transform_test.cc), whatever device runs them.
#pragma once
#include <torch/torch.h>

#include "lssd/options.h"
#include "lssd/video_transform.h"

namespace lssd::transform {

// y: uint8 [H, W]; u, v: uint8 [(H + 1) / 2, (W + 1) / 2] (views are fine, e.g. the two
// channels of an NV12 plane), all on one device. Returns uint8 [H, W, 3] (RGB) on that device.
// Throws lssd::Error("transform") on a shape or dtype that does not fit.
at::Tensor yuv420_to_rgb(const at::Tensor& y, const at::Tensor& u, const at::Tensor& v, bool full_range,
                         const YuvToRgb& how = {});

// NV12: y uint8 [H, W], uv uint8 [(H + 1) / 2, (W + 1) / 2, 2] (U, V interleaved). As above.
at::Tensor nv12_to_rgb(const at::Tensor& y, const at::Tensor& uv, bool full_range, const YuvToRgb& how = {});

// The release's clip transform on RGB frames: uint8 [T, H, W, 3] -> float / 255 -> short side to
// opts.short_side (interpolate, bilinear, align_corners=False) -> FiveCrop -> float32
// [5, 3, T, crop_h, crop_w], on the frames' device.
at::Tensor five_crop_clip(const at::Tensor& rgb, const VideoOptions& opts);

}  // namespace lssd::transform
