#include "pipeline/clip_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace lssd {
namespace {

ClipItem item(int clip) {
  ClipItem it;
  it.clip = clip;
  return it;
}

// Waits (up to 5 s) for a condition set by another thread.
template <class F>
bool eventually(F f) {
  for (int i = 0; i < 500 && !f(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return f();
}

TEST(ClipQueue, PushBlocksWhileFullUntilAPop) {
  ClipQueue q(2, 8, /*greedy=*/false);
  ASSERT_TRUE(q.push(Modality::Video, item(0)));
  ASSERT_TRUE(q.push(Modality::Video, item(1)));
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    q.push(Modality::Video, item(2));  // the queue is full: blocks
    pushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(pushed.load());
  Modality m;
  std::vector<ClipItem> out;
  ASSERT_TRUE(q.pop_batch(2, &m, &out));  // a full batch at once
  EXPECT_EQ(m, Modality::Video);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].clip, 0);
  EXPECT_EQ(out[1].clip, 1);
  EXPECT_TRUE(eventually([&] { return pushed.load(); }));
  producer.join();
  // The other modality has its own capacity: audio pushes do not wait on video.
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(q.push(Modality::Audio, item(i)));
}

TEST(ClipQueue, DrainsAfterProducersFinishThenEnds) {
  ClipQueue q(4, 4, false);
  q.push(Modality::Audio, item(7));
  q.producers_finished();
  Modality m;
  std::vector<ClipItem> out;
  ASSERT_TRUE(q.pop_batch(8, &m, &out));  // a partial batch: nothing more will come
  EXPECT_EQ(m, Modality::Audio);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_FALSE(q.pop_batch(8, &m, &out));
}

TEST(ClipQueue, PartialBatchAfterAStall) {
  ClipQueue q(4, 4, false);
  q.push(Modality::Video, item(0));
  Modality m;
  std::vector<ClipItem> out;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(q.pop_batch(4, &m, &out));  // no full batch ever comes: ~200 ms, then 1 clip
  EXPECT_EQ(out.size(), 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(150));
}

TEST(ClipQueue, AbortWakesBlockedPushAndPop) {
  ClipQueue q(1, 1, false);
  q.push(Modality::Video, item(0));
  std::atomic<int> push_result{-1}, pop_result{-1};
  std::thread producer([&] { push_result = q.push(Modality::Video, item(1)) ? 1 : 0; });
  ClipQueue empty(1, 1, false);
  std::thread consumer([&] {
    Modality m;
    std::vector<ClipItem> out;
    pop_result = empty.pop_batch(4, &m, &out) ? 1 : 0;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  q.abort();
  empty.abort();
  producer.join();
  consumer.join();
  EXPECT_EQ(push_result.load(), 0);
  EXPECT_EQ(pop_result.load(), 0);
  Modality m;
  std::vector<ClipItem> out;
  EXPECT_FALSE(q.pop_batch(1, &m, &out));  // aborted: nothing handed out any more
}

TEST(ClipQueue, GreedyHandsOutWhatIsThereFullerQueueFirst) {
  ClipQueue q(2, 8, /*greedy=*/true);
  q.push(Modality::Audio, item(0));
  q.push(Modality::Video, item(0));
  q.push(Modality::Video, item(1));  // video 2/2 full, audio 1/8
  Modality m;
  std::vector<ClipItem> out;
  ASSERT_TRUE(q.pop_batch(1, &m, &out));
  EXPECT_EQ(m, Modality::Video);
  EXPECT_EQ(out.size(), 1u);
  ASSERT_TRUE(q.pop_batch(8, &m, &out));  // 1/2 video vs 1/8 audio: video again
  EXPECT_EQ(m, Modality::Video);
  ASSERT_TRUE(q.pop_batch(8, &m, &out));
  EXPECT_EQ(m, Modality::Audio);
}

}  // namespace
}  // namespace lssd
