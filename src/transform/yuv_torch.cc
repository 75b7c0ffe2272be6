// YUV 4:2:0 -> RGB24 as PyAV's to_rgb() (swscale) gives it, and the release's resize + FiveCrop,
// as LibTorch ops on any device (src/transform/yuv_torch.h); the host wrappers of
// include/lssd/video_transform.h.
#include "transform/yuv_torch.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "common/device_tensor.h"
#include "lssd/error.h"

namespace lssd::transform {
namespace {

// swscale's fixed-point YUV -> RGB (its x86 converter, libswscale/x86/yuv_2_rgb.asm, with the
// coefficients of ff_yuv2rgb_c_init_tables): each input is scaled by 8 and offset (Y by 8 * 16
// in limited range, U and V by 8 * 128), each product keeps its high 16 bits (pmulhw: floor of
// x * c / 65536), the terms add and saturate to 0..255:
//   R = yy + (V' vr >> 16), G = yy + (U' ug >> 16) + (V' vg >> 16), B = yy + (U' ub >> 16),
//   yy = (Y' y >> 16).
// The coefficients are 2^13 times the real ones, rounded as swscale rounds them (from its 16.16
// matrix table, scaled by 224/255 in full range with C's truncating division).
struct FixedPoint {
  int64_t y, vr, ub, ug, vg, y_offset;
};

int64_t round_to_int16(int64_t f) { return (f + (int64_t{1} << 15)) >> 16; }  // swscale's roundToInt16

FixedPoint fixed_point(YuvMatrix m, bool full_range) {
  const double kr = m == YuvMatrix::kBt709 ? 0.2126 : 0.299;
  const double kb = m == YuvMatrix::kBt709 ? 0.0722 : 0.114;
  const double kg = 1.0 - kr - kb;
  // ff_yuv2rgb_coeffs: crv, cbu, cgu, cgv for limited-range chroma in 16.16 (BT.601: 104597,
  // 132201, 25675, 53279; BT.709: 117489, 138438, 13975, 34925).
  auto table = [](double v) { return static_cast<int64_t>(std::lround(v * 255.0 / 224.0 * 65536.0)); };
  int64_t crv = table(2.0 * (1.0 - kr)), cbu = table(2.0 * (1.0 - kb));
  int64_t cgu = -table(2.0 * kb * (1.0 - kb) / kg), cgv = -table(2.0 * kr * (1.0 - kr) / kg);
  int64_t cy = int64_t{1} << 16, oy = 0;
  if (!full_range) {
    cy = cy * 255 / 219;
    oy = int64_t{16} << 16;
  } else {
    crv = crv * 224 / 255;
    cbu = cbu * 224 / 255;
    cgu = cgu * 224 / 255;
    cgv = cgv * 224 / 255;
  }
  return {round_to_int16(cy * (1 << 13)),  round_to_int16(crv * (1 << 13)), round_to_int16(cbu * (1 << 13)),
          round_to_int16(cgu * (1 << 13)), round_to_int16(cgv * (1 << 13)), round_to_int16(oy * (1 << 3))};
}

// A chroma plane [(H + 1) / 2, (W + 1) / 2] as int32 at full size [H, W]: each sample over its
// 2x2 block (swscale's unscaled converter), or (to show the mismatch) interpolated.
at::Tensor upsample_chroma(const at::Tensor& c, int64_t h, int64_t w, ChromaUpsampling how) {
  if (how == ChromaUpsampling::kBilinear) {
    namespace F = torch::nn::functional;
    return F::interpolate(
               c.to(at::kFloat).unsqueeze(0).unsqueeze(0),
               F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false))
        .squeeze(0)
        .squeeze(0)
        .round()
        .to(at::kInt);
  }
  return c.to(at::kInt).repeat_interleave(2, 0).repeat_interleave(2, 1).slice(0, 0, h).slice(1, 0, w);
}

// pmulhw: the high 16 bits of the 32-bit product (an arithmetic shift: floor).
at::Tensor mulhi(const at::Tensor& x, int64_t c) { return (x * c).__rshift__(16); }

void check_plane(const at::Tensor& t, int64_t h, int64_t w, const char* name) {
  if (t.scalar_type() != at::kByte || t.dim() != 2 || t.size(0) != h || t.size(1) != w)
    throw Error("transform", std::string("YUV plane ") + name + " is not uint8 [" + std::to_string(h) + ", " +
                                 std::to_string(w) + "]");
}

}  // namespace

at::Tensor yuv420_to_rgb(const at::Tensor& y, const at::Tensor& u, const at::Tensor& v, bool full_range,
                         const YuvToRgb& how) {
  if (y.dim() != 2) throw Error("transform", "YUV plane y is not 2-D");
  const int64_t h = y.size(0), w = y.size(1);
  check_plane(y, h, w, "y");
  check_plane(u, (h + 1) / 2, (w + 1) / 2, "u");
  check_plane(v, (h + 1) / 2, (w + 1) / 2, "v");
  const FixedPoint k = fixed_point(how.matrix, full_range);
  const at::Tensor yy = mulhi(y.to(at::kInt) * 8 - k.y_offset, k.y);
  const at::Tensor cu = upsample_chroma(u, h, w, how.chroma) * 8 - 1024;
  const at::Tensor cv = upsample_chroma(v, h, w, how.chroma) * 8 - 1024;
  const at::Tensor r = yy + mulhi(cv, k.vr);
  const at::Tensor g = yy + mulhi(cu, k.ug) + mulhi(cv, k.vg);
  const at::Tensor b = yy + mulhi(cu, k.ub);
  return at::stack({r, g, b}, 2).clamp(0, 255).to(at::kByte);
}

at::Tensor nv12_to_rgb(const at::Tensor& y, const at::Tensor& uv, bool full_range, const YuvToRgb& how) {
  if (uv.dim() != 3 || uv.size(2) != 2) throw Error("transform", "NV12 plane uv is not [h, w, 2]");
  return yuv420_to_rgb(y, uv.select(2, 0), uv.select(2, 1), full_range, how);
}

at::Tensor five_crop_clip(const at::Tensor& rgb, const VideoOptions& opts) {
  if (rgb.dim() != 4 || rgb.size(3) != 3 || rgb.scalar_type() != at::kByte)
    throw Error("transform", "RGB frames are not uint8 [T, H, W, 3]");
  const auto height = static_cast<int>(rgb.size(1)), width = static_cast<int>(rgb.size(2));
  const auto hw = short_side_size(height, width, opts.short_side);
  const auto crops = five_crop_offsets(hw.first, hw.second, opts.crop_h, opts.crop_w);
  namespace F = torch::nn::functional;
  // [3, T, H, W]: the release's permute(3, 0, 1, 2).float() / 255.0, then interpolate over T as channels.
  const at::Tensor x = rgb.permute({3, 0, 1, 2}).to(at::kFloat) / 255.0;
  const at::Tensor scaled = F::interpolate(x, F::InterpolateFuncOptions()
                                                  .size(std::vector<int64_t>{hw.first, hw.second})
                                                  .mode(torch::kBilinear)
                                                  .align_corners(false));
  std::vector<at::Tensor> out;
  for (const auto& c : crops)
    out.push_back(scaled.slice(2, c.first, c.first + opts.crop_h).slice(3, c.second, c.second + opts.crop_w));
  return at::stack(out, 0);
}

}  // namespace lssd::transform

namespace lssd {
namespace {

at::Tensor plane(const std::vector<uint8_t>& bytes, int64_t h, int64_t w, const char* name) {
  if (bytes.size() != static_cast<size_t>(h * w))
    throw Error("transform", std::string("YUV plane ") + name + " does not fit the frame size");
  return torch::from_blob(const_cast<uint8_t*>(bytes.data()), {h, w}, at::kByte);
}

at::Tensor rgb_of(const YuvFrame420& f, const YuvToRgb& how) {
  if (f.width <= 0 || f.height <= 0) throw Error("transform", "invalid frame size");
  const int64_t h = f.height, w = f.width, ch = (h + 1) / 2, cw = (w + 1) / 2;
  return transform::yuv420_to_rgb(plane(f.y, h, w, "y"), plane(f.u, ch, cw, "u"), plane(f.v, ch, cw, "v"), f.full_range,
                                  how);
}

}  // namespace

std::vector<uint8_t> yuv420_to_rgb24(const YuvFrame420& frame, const YuvToRgb& how) {
  const at::Tensor rgb = rgb_of(frame, how).contiguous();
  const auto* p = rgb.data_ptr<uint8_t>();
  return std::vector<uint8_t>(p, p + rgb.numel());
}

FloatArray yuv420_clip_tensor(const std::vector<YuvFrame420>& frames, const VideoOptions& opts, const YuvToRgb& how) {
  if (frames.empty()) throw Error("transform", "no frames");
  std::vector<at::Tensor> rgb;
  for (const auto& f : frames) {
    if (f.width != frames.front().width || f.height != frames.front().height)
      throw Error("transform", "frame size changes within a clip");
    rgb.push_back(rgb_of(f, how));
  }
  const at::Tensor out = transform::five_crop_clip(at::stack(rgb, 0), opts).contiguous();
  std::vector<int64_t> shape(out.sizes().begin(), out.sizes().end());
  FloatArray a(shape);
  std::copy(out.data_ptr<float>(), out.data_ptr<float>() + out.numel(), a.ptr());
  return a;
}

FloatArray nv12_clip_tensor(const VideoClipFrames& clip, const VideoOptions& opts) {
  if (clip.nv12.empty()) throw Error("transform", "no device frames");
  const int64_t h = clip.height, w = clip.width;
  std::vector<at::Tensor> rgb;
  for (const auto& f : clip.nv12) {
    if (!f || f->tensor.dim() != 2 || f->tensor.size(0) != h + h / 2 || f->tensor.size(1) != w)
      throw Error("transform", "a device frame does not match the clip's size");
    const at::Tensor& t = f->tensor;
    rgb.push_back(transform::nv12_to_rgb(t.slice(0, 0, h), t.slice(0, h, h + h / 2).view({h / 2, w / 2, 2}),
                                         clip.nv12_full_range));
  }
  FloatArray out;
  auto d = std::make_shared<DeviceTensor>();
  d->tensor = transform::five_crop_clip(at::stack(rgb, 0), opts).contiguous();
  out.shape.assign(d->tensor.sizes().begin(), d->tensor.sizes().end());
  out.device = std::move(d);
  return out;
}

FloatArray to_host(const FloatArray& a) {
  if (!a.device) return a;
  const at::Tensor t = a.device->tensor.to(at::kCPU, at::kFloat).contiguous();
  FloatArray out(a.shape);
  if (static_cast<size_t>(t.numel()) != out.numel())
    throw Error("transform", "a device tensor does not hold its shape");
  std::copy(t.data_ptr<float>(), t.data_ptr<float>() + t.numel(), out.ptr());
  return out;
}

}  // namespace lssd
