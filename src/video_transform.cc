#include "lssd/video_transform.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "lssd/error.h"

namespace lssd {

std::pair<int, int> short_side_size(int height, int width, int short_side) {
  // pytorchvideo short_side_scale: int(math.floor((float(h) / w) * size)) in doubles.
  if (width < height) {
    return {static_cast<int>(std::floor(static_cast<double>(height) / width * short_side)), short_side};
  }
  return {short_side, static_cast<int>(std::floor(static_cast<double>(width) / height * short_side))};
}

std::vector<std::pair<int, int>> five_crop_offsets(int height, int width, int crop_h, int crop_w) {
  if (crop_h > height || crop_w > width) {
    throw Error("transform", "crop " + std::to_string(crop_h) + "x" + std::to_string(crop_w) +
                                 " is larger than the scaled frame " + std::to_string(height) + "x" +
                                 std::to_string(width));
  }
  // int(round((h - ch) / 2.0)): Python rounds half to even, as nearbyint does by default.
  const int ct = static_cast<int>(std::nearbyint((height - crop_h) / 2.0));
  const int cl = static_cast<int>(std::nearbyint((width - crop_w) / 2.0));
  return {{0, 0}, {0, width - crop_w}, {height - crop_h, 0}, {height - crop_h, width - crop_w}, {ct, cl}};
}

LinearTaps linear_taps(int input_size, int output_size) {
  LinearTaps t;
  t.i0.resize(static_cast<size_t>(output_size));
  t.i1.resize(static_cast<size_t>(output_size));
  t.w0.resize(static_cast<size_t>(output_size));
  t.w1.resize(static_cast<size_t>(output_size));
  // area_pixel_compute_scale<float>: (float)input_size / output_size.
  const float scale = static_cast<float>(input_size) / static_cast<float>(output_size);
  for (int i = 0; i < output_size; ++i) {
    const auto k = static_cast<size_t>(i);
    if (input_size == output_size) {
      t.i0[k] = t.i1[k] = i;
      t.w0[k] = 1.0f;
      t.w1[k] = 0.0f;
      continue;
    }
    // area_pixel_compute_source_index with the float scale: the source index and lambda1 come
    // out as torch 1.13 computes them (checked weight by weight against interpolate): in
    // double, then lambda1 rounded to float and lambda0 = 1 - lambda1 in float.
    double src = static_cast<double>(scale) * (i + 0.5) - 0.5;
    if (src < 0.0) src = 0.0;
    const int i0 = static_cast<int>(src);
    const int i1 = i0 + (i0 < input_size - 1 ? 1 : 0);
    const auto l1 = static_cast<float>(std::min(std::max(src - i0, 0.0), 1.0));
    t.i0[k] = i0;
    t.i1[k] = i1;
    t.w1[k] = l1;
    t.w0[k] = 1.0f - l1;
  }
  return t;
}

FloatArray VideoTransform::operator()(const std::vector<std::vector<uint8_t>>& frames, int width, int height) {
  if (frames.empty()) throw Error("transform", "no frames");
  if (width <= 0 || height <= 0) throw Error("transform", "invalid frame size");
  const size_t frame_bytes = static_cast<size_t>(width) * height * 3;
  for (const auto& f : frames) {
    if (f.size() != frame_bytes) throw Error("transform", "frame buffer size does not match its dimensions");
  }
  if (width != cached_w_ || height != cached_h_) {
    const auto hw = short_side_size(height, width, opts_.short_side);
    new_h_ = hw.first;
    new_w_ = hw.second;
    taps_h_ = linear_taps(height, new_h_);
    taps_w_ = linear_taps(width, new_w_);
    cached_w_ = width;
    cached_h_ = height;
  }
  const int nh = new_h_, nw = new_w_;
  const int ch = opts_.crop_h, cw = opts_.crop_w;
  const auto crops = five_crop_offsets(nh, nw, ch, cw);
  const auto T = static_cast<int64_t>(frames.size());
  FloatArray out({5, 3, T, ch, cw});
  rows_.resize(static_cast<size_t>(height) * nw);
  resized_.resize(static_cast<size_t>(nh) * nw);

  // x / 255 in float32 for every byte value.
  float lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = static_cast<float>(v) / 255.0f;

  const size_t crop_plane = static_cast<size_t>(ch) * cw;
  for (int64_t t = 0; t < T; ++t) {
    const uint8_t* src = frames[static_cast<size_t>(t)].data();
    for (int c = 0; c < 3; ++c) {
      // Horizontal pass over every source row: x0*w0 + x1*w1.
      for (int y = 0; y < height; ++y) {
        const uint8_t* row = src + static_cast<size_t>(y) * width * 3 + c;
        float* dst = rows_.data() + static_cast<size_t>(y) * nw;
        for (int x = 0; x < nw; ++x) {
          const auto k = static_cast<size_t>(x);
          dst[x] = lut[row[3 * taps_w_.i0[k]]] * taps_w_.w0[k] + lut[row[3 * taps_w_.i1[k]]] * taps_w_.w1[k];
        }
      }
      // Vertical pass: t0*h0 + t1*h1.
      for (int y = 0; y < nh; ++y) {
        const auto k = static_cast<size_t>(y);
        const float* r0 = rows_.data() + static_cast<size_t>(taps_h_.i0[k]) * nw;
        const float* r1 = rows_.data() + static_cast<size_t>(taps_h_.i1[k]) * nw;
        const float a = taps_h_.w0[k], b = taps_h_.w1[k];
        float* dst = resized_.data() + static_cast<size_t>(y) * nw;
        for (int x = 0; x < nw; ++x) dst[x] = r0[x] * a + r1[x] * b;
      }
      // The five crops: out[k][c][t].
      for (size_t k = 0; k < crops.size(); ++k) {
        float* dst = out.ptr() + ((k * 3 + static_cast<size_t>(c)) * static_cast<size_t>(T) + static_cast<size_t>(t)) * crop_plane;
        const int top = crops[k].first, left = crops[k].second;
        for (int y = 0; y < ch; ++y) {
          std::memcpy(dst + static_cast<size_t>(y) * cw, resized_.data() + static_cast<size_t>(top + y) * nw + left,
                      sizeof(float) * static_cast<size_t>(cw));
        }
      }
    }
  }
  return out;
}

FloatArray video_clip_tensor(const std::vector<std::vector<uint8_t>>& frames, int width, int height,
                             const VideoOptions& opts) {
  VideoTransform t(opts);
  return t(frames, width, height);
}

}  // namespace lssd
