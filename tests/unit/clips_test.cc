#include "clips/clips.h"

#include <gtest/gtest.h>

#include <numeric>

namespace lssd {
namespace {

std::vector<int64_t> frames(int64_t n, int64_t step = 1) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i * step;
  return v;
}

TEST(Clips, ExampleFromReference_4_64s_29_97fps) {
  // 140 frames at 30000/1001 fps in a 1/30000 time base: end = 139*1001/30000 = 4.63797 s.
  const auto plan = plan_video_clips(frames(140, 1001), TimeBase{1, 30000}, 3.0);
  ASSERT_FALSE(plan.skipped);
  ASSERT_EQ(plan.clips.size(), 2u);
  EXPECT_EQ(plan.clips[0].start_s, 0.0);
  EXPECT_EQ(plan.clips[0].stop_s, 3.0);
  EXPECT_EQ(plan.clips[0].lo, 0);
  EXPECT_EQ(plan.clips[0].hi, 90000);
  EXPECT_NEAR(plan.clips[1].start_s, 1.638, 1e-3);
  EXPECT_NEAR(plan.clips[1].stop_s, 4.638, 1e-3);
  EXPECT_EQ(plan.clips[1].stop_s, 139139.0 / 30000.0);
  EXPECT_EQ(plan.clips[1].start_s, 139139.0 / 30000.0 - 3.0);
  EXPECT_EQ(plan.clips[1].hi, 139139);
  EXPECT_EQ(plan.clips[1].lo, 49138);  // floor(1.6379666666666663 * 30000.0), as Python
  // The same video with the 1001/30000 time base.
  const auto plan2 = plan_video_clips(frames(140), TimeBase{1001, 30000}, 3.0);
  ASSERT_EQ(plan2.clips.size(), 2u);
  EXPECT_EQ(plan2.clips[1].hi, 139);
  EXPECT_EQ(plan2.clips[0].hi, 90);  // ceil(3 * 29.97002997) = ceil(89.91)
}

TEST(Clips, ExactlyHalfLeftHasNoTail_7_5s) {
  const auto plan = plan_video_clips(frames(226), TimeBase{1, 30}, 3.0);  // end = 7.5
  ASSERT_EQ(plan.clips.size(), 2u);
  EXPECT_EQ(plan.clips[1].start_s, 3.0);
  EXPECT_EQ(plan.clips[1].stop_s, 6.0);
  EXPECT_EQ(plan.clips[1].lo, 90);
  EXPECT_EQ(plan.clips[1].hi, 180);
}

TEST(Clips, MoreThanHalfLeftHasTail_7_6s) {
  const auto plan = plan_video_clips(frames(191), TimeBase{1, 25}, 3.0);  // end = 7.6
  ASSERT_EQ(plan.clips.size(), 3u);
  EXPECT_EQ(plan.clips[2].start_s, 7.6 - 3.0);
  EXPECT_EQ(plan.clips[2].stop_s, 7.6);
  // floor(4.6 * 25.0) in doubles is floor(114.99999999999999) = 114, as in Python.
  EXPECT_EQ(plan.clips[2].lo, 114);
  EXPECT_EQ(plan.clips[2].hi, 190);
  EXPECT_EQ(plan.clips[2].index, 2);
}

TEST(Clips, ShorterThanClipGivesOneClip) {
  const auto plan = plan_video_clips(frames(50), TimeBase{1, 25}, 3.0);  // end = 1.96
  ASSERT_EQ(plan.clips.size(), 1u);
  EXPECT_EQ(plan.clips[0].start_s, 0.0);
  EXPECT_EQ(plan.clips[0].stop_s, 1.96);
  EXPECT_EQ(plan.clips[0].lo, 0);
  EXPECT_EQ(plan.clips[0].hi, 49);
}

TEST(Clips, EndExactlyTIsNotAFullClip) {
  // start + T < end is strict: end = 3.0 gives the single clip [0, end].
  const auto plan = plan_video_clips(frames(76), TimeBase{1, 25}, 3.0);
  ASSERT_EQ(plan.clips.size(), 1u);
  EXPECT_EQ(plan.clips[0].stop_s, 3.0);
  // One pts unit past 3 s in a fine time base: a full clip, then the tail [end-3, end].
  const auto plan2 = plan_video_clips(std::vector<int64_t>{0, 3 * 90000 + 1}, TimeBase{1, 90000}, 3.0);
  ASSERT_EQ(plan2.clips.size(), 1u);
  EXPECT_EQ(plan2.clips[0].stop_s, 3.0);
}

TEST(Clips, FewerThanTwoTimestampsIsSkipped) {
  EXPECT_TRUE(plan_video_clips(std::vector<int64_t>{}, TimeBase{1, 25}, 3.0).skipped);
  EXPECT_TRUE(plan_video_clips(std::vector<int64_t>{7}, TimeBase{1, 25}, 3.0).skipped);
  EXPECT_FALSE(plan_video_clips(std::vector<int64_t>{0, 1}, TimeBase{1, 25}, 3.0).skipped);
}

TEST(Clips, UnsortedTimestampsUseTheLargest) {
  const auto plan = plan_video_clips(std::vector<int64_t>{100, 3, 190, 5}, TimeBase{1, 25}, 3.0);
  EXPECT_EQ(plan.end_pts, 190);
  EXPECT_EQ(plan.clips.size(), 3u);
}

TEST(Clips, CompareDoubleRationalIsExact) {
  EXPECT_EQ(compare_double_rational(3.0, 3, 1), 0);
  EXPECT_EQ(compare_double_rational(0.1, 1, 10), 1);   // 0.1 is slightly above 1/10
  EXPECT_EQ(compare_double_rational(0.3, 3, 10), -1);  // 0.3 is slightly below 3/10
  EXPECT_EQ(compare_double_rational(-0.5, -1, 2), 0);
  EXPECT_EQ(compare_double_rational(-0.5, -2, 3), 1);
  EXPECT_EQ(compare_double_rational(2.0, 1, 3), 1);
  EXPECT_EQ(compare_double_rational(1e-300, 0, 7), 1);
  EXPECT_EQ(compare_double_rational(6.0, 180181, 30030), -1);  // 6.0000333
  EXPECT_EQ(rational_to_double(139139, 30000), 139139.0 / 30000.0);
}

TEST(Clips, TorchLinspace) {
  // Values checked against torch 1.13.1 (AVX2 kernels).
  const auto a = torch_linspace_f32(0.0f, 1.0f, 15);
  EXPECT_EQ(a[7], 0.49999997f);
  const auto b = torch_linspace_f32(0.0f, 74.0f, 16);
  EXPECT_EQ(b[15], 74.0f);
  EXPECT_EQ(uniform_subsample_indices(75, 16),
            (std::vector<int64_t>{0, 4, 9, 14, 19, 24, 29, 34, 39, 44, 49, 54, 59, 64, 69, 74}));
  EXPECT_EQ(uniform_subsample_indices(1, 16), std::vector<int64_t>(16, 0));
  EXPECT_EQ(torch_linspace_f32(3.0f, 5.0f, 1), std::vector<float>{3.0f});
  EXPECT_TRUE(torch_linspace_f32(3.0f, 5.0f, 0).empty());
}

TEST(Clips, SelectFrames) {
  // 25 fps: no resampling, 16 of 76 frames.
  const auto s25 = select_clip_frames(76, 25.0, 25.0, 16);
  ASSERT_EQ(s25.size(), 16u);
  EXPECT_EQ(s25.front(), 0);
  EXPECT_EQ(s25.back(), 75);
  // 30 fps: 91 frames -> ceil(91/30*25) = 76 -> 16 of those.
  const auto r = uniform_subsample_indices(91, 76);
  const auto s30 = select_clip_frames(91, 30.0, 25.0, 16);
  const auto inner = uniform_subsample_indices(76, 16);
  ASSERT_EQ(s30.size(), 16u);
  for (size_t j = 0; j < 16; ++j) EXPECT_EQ(s30[j], r[static_cast<size_t>(inner[j])]);
  EXPECT_TRUE(select_clip_frames(0, 25.0, 25.0, 16).empty());
}

TEST(Clips, AudioRule) {
  // 7.6 s at 44.1 kHz: two clips and a tail.
  auto p = plan_audio_clips(335160, 44100, 3.0);
  ASSERT_EQ(p.clips.size(), 3u);
  EXPECT_EQ(p.clips[0].start, 0);
  EXPECT_EQ(p.clips[0].stop, 132300);
  EXPECT_EQ(p.clips[1].start, 132300);
  EXPECT_EQ(p.clips[1].stop, 264600);
  EXPECT_EQ(p.clips[2].start, 335160 - 132300);
  EXPECT_EQ(p.clips[2].stop, 335160);
  // 7.5 s at 16 kHz: exactly T/2 left, no tail.
  p = plan_audio_clips(120000, 16000, 3.0);
  ASSERT_EQ(p.clips.size(), 2u);
  EXPECT_EQ(p.clips[1].stop, 96000);
  // Shorter than T, and exactly T (strict <): one clip [0, n).
  p = plan_audio_clips(96000, 48000, 3.0);
  ASSERT_EQ(p.clips.size(), 1u);
  EXPECT_EQ(p.clips[0].stop, 96000);
  p = plan_audio_clips(144000, 48000, 3.0);
  ASSERT_EQ(p.clips.size(), 1u);
  EXPECT_EQ(p.clips[0].start, 0);
  EXPECT_EQ(p.clips[0].stop, 144000);
  // One sample more: a full clip, 1 sample left, no tail.
  p = plan_audio_clips(144001, 48000, 3.0);
  ASSERT_EQ(p.clips.size(), 1u);
  // Fewer than 2 samples: skipped.
  EXPECT_TRUE(plan_audio_clips(1, 16000, 3.0).skipped);
  EXPECT_TRUE(plan_audio_clips(0, 16000, 3.0).skipped);
  EXPECT_FALSE(plan_audio_clips(2, 16000, 3.0).skipped);
}

}  // namespace
}  // namespace lssd
