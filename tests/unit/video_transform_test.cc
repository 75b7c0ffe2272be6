#include "lssd/video_transform.h"

#include <gtest/gtest.h>

#include <random>

#include "lssd/error.h"

namespace lssd {
namespace {

TEST(VideoTransform, ShortSideSize) {
  EXPECT_EQ(short_side_size(240, 320, 256), std::make_pair(256, 341));  // floor(341.33)
  EXPECT_EQ(short_side_size(320, 240, 256), std::make_pair(341, 256));  // portrait
  EXPECT_EQ(short_side_size(360, 640, 256), std::make_pair(256, 455));
  EXPECT_EQ(short_side_size(256, 256, 256), std::make_pair(256, 256));
}

TEST(VideoTransform, FiveCropOffsetsRoundHalfToEven) {
  // torchvision order: tl, tr, bl, br, center; center = int(round((h - 224) / 2.0)).
  const auto a = five_crop_offsets(256, 341, 224, 224);
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(a[0], std::make_pair(0, 0));
  EXPECT_EQ(a[1], std::make_pair(0, 117));
  EXPECT_EQ(a[2], std::make_pair(32, 0));
  EXPECT_EQ(a[3], std::make_pair(32, 117));
  EXPECT_EQ(a[4], std::make_pair(16, 58));                                       // round(58.5) = 58
  EXPECT_EQ(five_crop_offsets(256, 455, 224, 224)[4], std::make_pair(16, 116));  // round(115.5) = 116
  EXPECT_THROW(five_crop_offsets(200, 300, 224, 224), Error);
}

TEST(VideoTransform, LinearTapsIdentityAndBounds) {
  const auto id = linear_taps(10, 10);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(id.i0[static_cast<size_t>(i)], i);
    EXPECT_EQ(id.w0[static_cast<size_t>(i)], 1.0f);
    EXPECT_EQ(id.w1[static_cast<size_t>(i)], 0.0f);
  }
  const auto up = linear_taps(240, 256);
  EXPECT_EQ(up.i0.front(), 0);
  EXPECT_EQ(up.w1.front(), 0.0f);  // source index clamped at 0
  EXPECT_EQ(up.i1.back(), 239);    // last index does not run past the input
}

TEST(VideoTransform, ConstantFramesGiveConstantCrops) {
  VideoOptions o;
  const int w = 320, h = 240;
  std::vector<std::vector<uint8_t>> frames(16, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3));
  for (auto& f : frames) {
    for (size_t i = 0; i < f.size(); i += 3) {
      f[i] = 255;
      f[i + 1] = 51;
      f[i + 2] = 0;
    }
  }
  const FloatArray t = video_clip_tensor(frames, w, h, o);
  ASSERT_EQ(t.shape, (std::vector<int64_t>{5, 3, 16, 224, 224}));
  const size_t plane = 16u * 224 * 224;
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_FLOAT_EQ(t.data[(k * 3 + 0) * plane + 123], 1.0f);
    EXPECT_FLOAT_EQ(t.data[(k * 3 + 1) * plane + 4567], 0.2f);
    EXPECT_FLOAT_EQ(t.data[(k * 3 + 2) * plane + 89], 0.0f);
  }
  EXPECT_THROW(video_clip_tensor(frames, w + 1, h, o), Error);
}

// The transform computes only the scaled rows/columns the crops cover; it must equal a plain
// full-frame resize (the linear_taps tables, every pixel) followed by the crops, bit for bit,
// also for extreme aspect ratios (where the full scaled frame would be huge).
FloatArray naive_transform(const std::vector<std::vector<uint8_t>>& frames, int w, int h, const VideoOptions& o) {
  const auto hw = short_side_size(h, w, o.short_side);
  const int nh = hw.first, nw = hw.second;
  const auto th = linear_taps(h, nh), tw = linear_taps(w, nw);
  const auto crops = five_crop_offsets(nh, nw, o.crop_h, o.crop_w);
  const auto T = static_cast<int64_t>(frames.size());
  FloatArray out({5, 3, T, o.crop_h, o.crop_w});
  std::vector<float> rows(static_cast<size_t>(h) * nw), full(static_cast<size_t>(nh) * nw);
  for (int64_t t = 0; t < T; ++t)
    for (int c = 0; c < 3; ++c) {
      const uint8_t* src = frames[static_cast<size_t>(t)].data();
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < nw; ++x) {
          const auto k = static_cast<size_t>(x);
          const uint8_t* row = src + static_cast<size_t>(y) * w * 3 + c;
          rows[static_cast<size_t>(y) * nw + k] = static_cast<float>(row[3 * tw.i0[k]]) / 255.0f * tw.w0[k] +
                                                  static_cast<float>(row[3 * tw.i1[k]]) / 255.0f * tw.w1[k];
        }
      for (int y = 0; y < nh; ++y)
        for (int x = 0; x < nw; ++x) {
          const auto k = static_cast<size_t>(y);
          full[k * nw + x] = rows[static_cast<size_t>(th.i0[k]) * nw + x] * th.w0[k] +
                             rows[static_cast<size_t>(th.i1[k]) * nw + x] * th.w1[k];
        }
      for (size_t k = 0; k < 5; ++k)
        for (int y = 0; y < o.crop_h; ++y)
          for (int x = 0; x < o.crop_w; ++x)
            out.data[(((k * 3 + c) * T + t) * o.crop_h + y) * o.crop_w + x] =
                full[static_cast<size_t>(crops[k].first + y) * nw + crops[k].second + x];
    }
  return out;
}

TEST(VideoTransform, EqualsFullFrameResizeForAnyAspectRatio) {
  VideoOptions o;
  std::mt19937 rng(7);
  VideoTransform tf(o);  // one instance across sizes: its per-size cache must follow
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{
           {320, 240}, {240, 320}, {224, 224}, {1280, 720}, {2000, 10}, {10, 1500}, {3, 900}}) {
    std::vector<std::vector<uint8_t>> frames(2, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3));
    for (auto& f : frames)
      for (auto& b : f) b = static_cast<uint8_t>(rng());
    const FloatArray got = tf(frames, w, h);
    const FloatArray want = naive_transform(frames, w, h, o);
    ASSERT_EQ(got.shape, want.shape) << w << "x" << h;
    size_t diff = 0;
    for (size_t i = 0; i < got.data.size(); ++i) diff += got.data[i] != want.data[i];
    EXPECT_EQ(diff, 0u) << w << "x" << h;
  }
}

}  // namespace
}  // namespace lssd
