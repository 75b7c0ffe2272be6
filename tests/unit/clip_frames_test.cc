#include "clips/clip_frames.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace lssd {
namespace {

VideoClip clip(int index, int64_t lo, int64_t hi) {
  VideoClip c;
  c.index = index;
  c.lo = lo;
  c.hi = hi;
  return c;
}

// Feeds pts in decode order (ids 0, 1, 2, ...) and returns the pts of every clip, popping as
// soon as a clip is complete; checks that no id is used after it was released.
std::vector<std::vector<int64_t>> collect(const std::vector<VideoClip>& clips, const std::vector<int64_t>& decode_order,
                                          bool should_buffer = true,
                                          std::vector<std::vector<uint64_t>>* ids = nullptr) {
  ClipFrameCollector c(clips, should_buffer);
  std::set<uint64_t> released;
  std::vector<std::vector<int64_t>> out;
  auto drain = [&] {
    CollectedClip cc;
    while (c.pop_complete(&cc)) {
      EXPECT_EQ(cc.index, clips[out.size()].index);
      for (uint64_t id : cc.ids) EXPECT_EQ(released.count(id), 0u) << "frame " << id << " used after release";
      out.push_back(cc.pts);
      if (ids) ids->push_back(cc.ids);
    }
    for (uint64_t id : c.take_released()) EXPECT_TRUE(released.insert(id).second) << "released twice: " << id;
  };
  for (size_t i = 0; i < decode_order.size(); ++i) {
    c.add(decode_order[i], i);
    drain();
  }
  c.finish();
  drain();
  EXPECT_EQ(c.held(), 0u);
  EXPECT_EQ(released.size(), decode_order.size());  // every frame released exactly once
  return out;
}

TEST(ClipFrames, MonotonicPtsWithPrecedingFrame) {
  const std::vector<int64_t> pts{0, 10, 20, 30, 40, 50};
  using V = std::vector<int64_t>;
  EXPECT_EQ(collect({clip(0, 0, 25)}, pts)[0], (V{0, 10, 20}));
  EXPECT_EQ(collect({clip(0, 20, 40)}, pts)[0], (V{20, 30, 40}));  // a frame at lo: no preceding one
  EXPECT_EQ(collect({clip(0, 25, 40)}, pts)[0], (V{20, 30, 40}));  // 20 put first
  EXPECT_EQ(collect({clip(0, 45, 100)}, pts)[0], (V{40, 50}));
  EXPECT_EQ(collect({clip(0, 41, 44)}, pts)[0], (V{40}));  // only the preceding one
  EXPECT_EQ(collect({clip(0, 0, 25), clip(1, 25, 40), clip(2, 45, 100)}, pts),
            (std::vector<V>{{0, 10, 20}, {20, 30, 40}, {40, 50}}));
}

TEST(ClipFrames, OutOfOrderPtsAsDivXPackedFramesComeOut) {
  // Packed B-frames: frames come out 1, 3, 2, 5, 4, ... The read of [4, 7] starts at the
  // first frame >= 4 (5); frame 3 was decoded before it and frame 4 after: both are candidates,
  // 4 is in range, so the clip is 4..7 in pts order.
  const std::vector<int64_t> order{1, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14};
  using V = std::vector<int64_t>;
  EXPECT_EQ(collect({clip(0, 4, 7)}, order)[0], (V{4, 5, 6, 7}));
  // lo = 5 has a frame but 4 came out after 5 (pts < lo: only a preceding candidate).
  EXPECT_EQ(collect({clip(0, 5, 8)}, order)[0], (V{5, 6, 7, 8}));
  // No frame at lo = 16 (beyond the stream): the largest pts below, decoded anywhere before.
  EXPECT_EQ(collect({clip(0, 16, 20)}, order)[0], (V{15}));
}

TEST(ClipFrames, PrecedingFrameMayBeDecodedAfterTheStart) {
  // lo = 25, no frame at 25: frame 24 is decoded after 30 (the start), within the read.
  const std::vector<int64_t> order{0, 10, 20, 30, 24, 40, 50};
  EXPECT_EQ(collect({clip(0, 25, 40)}, order)[0], (std::vector<int64_t>{24, 30, 40}));
}

TEST(ClipFrames, RepeatedPtsKeepsTheLastFrameDecoded) {
  std::vector<std::vector<uint64_t>> ids;
  const auto got = collect({clip(0, 10, 30)}, {0, 10, 20, 20, 30, 40}, true, &ids);
  EXPECT_EQ(got[0], (std::vector<int64_t>{10, 20, 30}));
  EXPECT_EQ(ids[0], (std::vector<uint64_t>{1, 3, 4}));  // the second frame with pts 20
  // The preceding frame too: two frames at 5, lo = 8.
  ids.clear();
  collect({clip(0, 8, 30)}, {0, 5, 5, 10, 40}, true, &ids);
  EXPECT_EQ(ids[0], (std::vector<uint64_t>{2, 3}));
}

TEST(ClipFrames, ReadStopsFiveFramesAfterTheEndUnlessDivXSaysUnpacked) {
  // Frame 12 (in [lo, hi]) comes out after three frames >= hi = 14.
  const std::vector<int64_t> order{10, 11, 14, 15, 16, 12, 17, 18, 19, 20, 21, 13};
  // Buffered: the read stops at the 6th frame >= hi (19): 12 is in, 13 (after it) is not.
  EXPECT_EQ(collect({clip(0, 10, 14)}, order, true)[0], (std::vector<int64_t>{10, 11, 12, 14}));
  // Not buffered: the read stops at the first frame >= hi (14): 12 is not read.
  EXPECT_EQ(collect({clip(0, 10, 14)}, order, false)[0], (std::vector<int64_t>{10, 11, 14}));
}

TEST(ClipFrames, ClipsCompleteInOrderAndHoldOnlyFramesInFlight) {
  // 30 clips of 10 frames each over 300 frames: at no time more than two clips' frames held.
  std::vector<VideoClip> clips;
  for (int i = 0; i < 30; ++i) clips.push_back(clip(i, i * 10, i * 10 + 10));
  ClipFrameCollector c(clips, true);
  size_t most = 0, popped = 0;
  CollectedClip cc;
  for (uint64_t i = 0; i < 300; ++i) {
    c.add(static_cast<int64_t>(i), i);
    while (c.pop_complete(&cc)) EXPECT_EQ(cc.index, static_cast<int>(popped++));
    c.take_released();
    most = std::max(most, c.held());
  }
  c.finish();
  while (c.pop_complete(&cc)) EXPECT_EQ(cc.index, static_cast<int>(popped++));
  EXPECT_EQ(popped, 30u);
  EXPECT_LE(most, 20u);
}

TEST(ClipFrames, ClipWithoutFramesAtTheEnd) {
  // The stream ends before lo: only the preceding frame (the release's tail clip of a stream
  // whose last frames were dropped).
  EXPECT_EQ(collect({clip(0, 0, 10), clip(1, 50, 60)}, {0, 5, 10, 20}),
            (std::vector<std::vector<int64_t>>{{0, 5, 10}, {20}}));
}

TEST(ClipFrames, ShouldBufferFollowsTorchvisionsRegex) {
  EXPECT_TRUE(release_should_buffer(""));
  EXPECT_TRUE(release_should_buffer(std::string("\x00\x00\x01\xb2Lavc58.134.100", 18)));
  EXPECT_TRUE(release_should_buffer("DivX503b1393p"));
  EXPECT_FALSE(release_should_buffer("DivX503b1393X"));
  // \d+ gives back its last digit to (\w) when a non-word byte follows, as Python's regex does.
  EXPECT_FALSE(release_should_buffer(std::string("DivX503b1393\0", 13)));
  EXPECT_TRUE(release_should_buffer(std::string("DivX5b1\0", 8)));  // no match: buffered
  EXPECT_TRUE(release_should_buffer("DivX999Build1234p"));
  EXPECT_FALSE(release_should_buffer("DivX999Build1234_"));
  // The Build form is searched first, anywhere after the first "DivX".
  EXPECT_TRUE(release_should_buffer("DivX503b1393 DivX501Build12p"));
  EXPECT_TRUE(release_should_buffer(std::string("\x00\x00\x01\xb2xxDivXyyDivX503b1393p", 25)));
}

}  // namespace
}  // namespace lssd
