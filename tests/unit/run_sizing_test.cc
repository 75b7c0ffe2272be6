#include "pipeline/run_sizing.h"

#include <gtest/gtest.h>

namespace lssd {
namespace {

TEST(RunSizing, CpuRunsCapWorkersAtTheCpusAndShareThemAsDecoderThreads) {
  PipelineOptions o;  // DIST.NUM_WORKERS 8, MEDIA.DECODE_THREADS 0, micro-batches of 1, lanes = threads
  RunSizing s = size_run(o, {100, false, 1, 2});
  EXPECT_EQ(s.decode_workers, 2u);
  EXPECT_EQ(s.decode_threads, 1);
  EXPECT_TRUE(s.greedy_queue);
  EXPECT_EQ(s.queue_capacity.video, 2u);  // two rounds of 2 lanes: 2 * ceil(2 / 5)
  EXPECT_EQ(s.queue_capacity.audio, 32u);
  // A lone long file on 16 CPUs: one worker decoding with 16 frame threads; 16 lanes.
  s = size_run(o, {1, false, 1, 16});
  EXPECT_EQ(s.decode_workers, 1u);
  EXPECT_EQ(s.decode_threads, 16);
  EXPECT_EQ(s.queue_capacity.video, 8u);  // 2 * ceil(16 / 5)
  o.media.decode_threads = 3;
  EXPECT_EQ(size_run(o, {1, false, 1, 16}).decode_threads, 3);
  // CPU pseudo-devices (a test hook): each replica gets the allowance.
  EXPECT_EQ(size_run(o, {100, false, 3, 2}).queue_capacity.video, 6u);
}

TEST(RunSizing, CudaRunsKeepTheWorkersAndWholeBatchesPerReplica) {
  PipelineOptions o;
  o.num_workers = 12;
  o.encoder.batch_size = 8;
  RunSizing s = size_run(o, {1000, true, 2, 4});
  EXPECT_EQ(s.decode_workers, 12u);  // not capped at the CPUs: the GPU waits for decoding
  EXPECT_EQ(s.decode_threads, 1);
  EXPECT_FALSE(s.greedy_queue);
  EXPECT_EQ(s.queue_capacity.video, 16u);  // a batch per replica
  EXPECT_EQ(s.queue_capacity.audio, 64u);
  EXPECT_EQ(size_run(o, {3, true, 2, 4}).decode_workers, 3u);  // no more workers than jobs
  EXPECT_EQ(size_run(o, {0, true, 2, 4}).decode_workers, 1u);
}

TEST(RunSizing, WholeBatchCpuRunsAndExplicitLanes) {
  PipelineOptions o;
  o.encoder.cpu_micro_batch = 0;  // one forward per TEST.BATCH_SIZE batch
  RunSizing s = size_run(o, {10, false, 1, 8});
  EXPECT_FALSE(s.greedy_queue);
  EXPECT_EQ(s.queue_capacity.video, 8u);
  o.encoder.cpu_micro_batch = 1;
  o.encoder.cpu_lanes = 12;  // more lanes than threads: capped at the threads (8)
  EXPECT_EQ(size_run(o, {10, false, 1, 8}).queue_capacity.video, 4u);
  o.encoder.threads = 3;
  o.encoder.cpu_lanes = 0;
  EXPECT_EQ(size_run(o, {10, false, 1, 8}).queue_capacity.video, 2u);
}

}  // namespace
}  // namespace lssd
