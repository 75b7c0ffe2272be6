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

namespace {

// One output index of torch's linear interpolation (align_corners=False, no scale given).
void linear_tap(int input_size, int output_size, int i, int* i0, int* i1, float* w0, float* w1) {
  if (input_size == output_size) {
    *i0 = *i1 = i;
    *w0 = 1.0f;
    *w1 = 0.0f;
    return;
  }
  // area_pixel_compute_scale<float>: (float)input_size / output_size. area_pixel_compute_source_index
  // with that float scale: the source index and lambda1 come out as torch 1.13 computes them
  // (checked weight by weight against interpolate): in double, then lambda1 rounded to float and
  // lambda0 = 1 - lambda1 in float.
  const float scale = static_cast<float>(input_size) / static_cast<float>(output_size);
  double src = static_cast<double>(scale) * (i + 0.5) - 0.5;
  if (src < 0.0) src = 0.0;
  *i0 = static_cast<int>(src);
  *i1 = *i0 + (*i0 < input_size - 1 ? 1 : 0);
  const auto l1 = static_cast<float>(std::min(std::max(src - *i0, 0.0), 1.0));
  *w1 = l1;
  *w0 = 1.0f - l1;
}

// Taps for the given output indices only.
LinearTaps taps_at(int input_size, int output_size, const std::vector<int>& indices) {
  LinearTaps t;
  const size_t n = indices.size();
  t.i0.resize(n);
  t.i1.resize(n);
  t.w0.resize(n);
  t.w1.resize(n);
  for (size_t k = 0; k < n; ++k)
    linear_tap(input_size, output_size, indices[k], &t.i0[k], &t.i1[k], &t.w0[k], &t.w1[k]);
  return t;
}

// The sorted union of the intervals [start, start + len).
std::vector<int> interval_union(std::vector<int> starts, int len) {
  std::sort(starts.begin(), starts.end());
  std::vector<int> out;
  for (int s0 : starts)
    for (int v = std::max(s0, out.empty() ? s0 : out.back() + 1); v < s0 + len; ++v) out.push_back(v);
  return out;
}

int position_in(const std::vector<int>& sorted, int value) {
  return static_cast<int>(std::lower_bound(sorted.begin(), sorted.end(), value) - sorted.begin());
}

}  // namespace

LinearTaps linear_taps(int input_size, int output_size) {
  std::vector<int> all(static_cast<size_t>(std::max(output_size, 0)));
  for (int i = 0; i < output_size; ++i) all[static_cast<size_t>(i)] = i;
  return taps_at(input_size, output_size, all);
}

FloatArray VideoTransform::operator()(const std::vector<std::vector<uint8_t>>& frames, int width, int height) {
  if (frames.empty()) throw Error("transform", "no frames");
  if (width <= 0 || height <= 0) throw Error("transform", "invalid frame size");
  const size_t frame_bytes = static_cast<size_t>(width) * height * 3;
  for (const auto& f : frames) {
    if (f.size() != frame_bytes) throw Error("transform", "frame buffer size does not match its dimensions");
  }
  const int ch = opts_.crop_h, cw = opts_.crop_w;
  if (width != cached_w_ || height != cached_h_) {
    const auto hw = short_side_size(height, width, opts_.short_side);
    crops_ = five_crop_offsets(hw.first, hw.second, ch, cw);
    // Only the scaled rows and columns that some crop covers are computed (at most 3 crop sizes
    // each way): the work and memory stay bounded for any aspect ratio (a 16384x1 video would
    // otherwise scale to 256 x 4,194,304 floats per channel).
    std::vector<int> tops, lefts;
    for (const auto& c : crops_) {
      tops.push_back(c.first);
      lefts.push_back(c.second);
    }
    ys_ = interval_union(tops, ch);
    xs_ = interval_union(lefts, cw);
    taps_h_ = taps_at(height, hw.first, ys_);
    taps_w_ = taps_at(width, hw.second, xs_);
    // The source rows the vertical taps read, and each tap's index among them.
    src_rows_.clear();
    for (size_t k = 0; k < ys_.size(); ++k) {
      src_rows_.push_back(taps_h_.i0[k]);
      src_rows_.push_back(taps_h_.i1[k]);
    }
    std::sort(src_rows_.begin(), src_rows_.end());
    src_rows_.erase(std::unique(src_rows_.begin(), src_rows_.end()), src_rows_.end());
    for (size_t k = 0; k < ys_.size(); ++k) {
      taps_h_.i0[k] = position_in(src_rows_, taps_h_.i0[k]);
      taps_h_.i1[k] = position_in(src_rows_, taps_h_.i1[k]);
    }
    cached_w_ = width;
    cached_h_ = height;
  }
  const int nx = static_cast<int>(xs_.size()), ny = static_cast<int>(ys_.size());
  const int nsrc = static_cast<int>(src_rows_.size());
  const auto T = static_cast<int64_t>(frames.size());
  FloatArray out({5, 3, T, ch, cw});
  rows_.resize(static_cast<size_t>(nsrc) * nx);
  resized_.resize(static_cast<size_t>(ny) * nx);

  // x / 255 in float32 for every byte value.
  float lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = static_cast<float>(v) / 255.0f;

  const size_t crop_plane = static_cast<size_t>(ch) * cw;
  for (int64_t t = 0; t < T; ++t) {
    const uint8_t* src = frames[static_cast<size_t>(t)].data();
    for (int c = 0; c < 3; ++c) {
      // Horizontal pass over the source rows in use: x0*w0 + x1*w1.
      for (int r = 0; r < nsrc; ++r) {
        const uint8_t* row = src + static_cast<size_t>(src_rows_[static_cast<size_t>(r)]) * width * 3 + c;
        float* dst = rows_.data() + static_cast<size_t>(r) * nx;
        for (int x = 0; x < nx; ++x) {
          const auto k = static_cast<size_t>(x);
          dst[x] = lut[row[3 * taps_w_.i0[k]]] * taps_w_.w0[k] + lut[row[3 * taps_w_.i1[k]]] * taps_w_.w1[k];
        }
      }
      // Vertical pass: t0*h0 + t1*h1.
      for (int y = 0; y < ny; ++y) {
        const auto k = static_cast<size_t>(y);
        const float* r0 = rows_.data() + static_cast<size_t>(taps_h_.i0[k]) * nx;
        const float* r1 = rows_.data() + static_cast<size_t>(taps_h_.i1[k]) * nx;
        const float a = taps_h_.w0[k], b = taps_h_.w1[k];
        float* dst = resized_.data() + static_cast<size_t>(y) * nx;
        for (int x = 0; x < nx; ++x) dst[x] = r0[x] * a + r1[x] * b;
      }
      // The five crops: out[k][c][t]. A crop's rows and columns are consecutive in ys_/xs_.
      for (size_t k = 0; k < crops_.size(); ++k) {
        float* dst = out.ptr() +
                     ((k * 3 + static_cast<size_t>(c)) * static_cast<size_t>(T) + static_cast<size_t>(t)) * crop_plane;
        const int top = position_in(ys_, crops_[k].first), left = position_in(xs_, crops_[k].second);
        for (int y = 0; y < ch; ++y) {
          std::memcpy(dst + static_cast<size_t>(y) * cw, resized_.data() + static_cast<size_t>(top + y) * nx + left,
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
