// plan_replicas (DIST.NUM_GPUS with RUNTIME.DEVICE) for every visible-device count, and the
// run summary's per-device line. The scheduling itself (several replicas sharing the decode
// workers) runs in tests/e2e/test_replicas.py on CPU pseudo-devices.
#include "pipeline/replicas.h"

#include <gtest/gtest.h>

#include "lssd/config.h"
#include "lssd/error.h"
#include "lssd/pipeline.h"

using lssd::ConfigError;
using lssd::EncoderOptions;
using lssd::plan_replicas;
using lssd::ReplicaPlan;

namespace {
EncoderOptions with(const std::string& device, const std::string& num_gpus) {
  lssd::Config c;
  c.set("RUNTIME.DEVICE", device);
  c.set("DIST.NUM_GPUS", num_gpus);
  return c.encoder_options();
}
std::vector<std::string> labels(const ReplicaPlan& p) { return p.label; }
using V = std::vector<std::string>;
}  // namespace

TEST(Replicas, AllVisibleDevicesByDefault) {
  const EncoderOptions o = lssd::Config().encoder_options();
  EXPECT_EQ(o.num_gpus, EncoderOptions::kAllGpus);
  for (int visible : {1, 2, 3, 8}) {
    ReplicaPlan p = plan_replicas(o, visible);
    EXPECT_TRUE(p.cuda);
    ASSERT_EQ(p.size(), static_cast<size_t>(visible));
    for (int d = 0; d < visible; ++d) {
      EXPECT_EQ(p.device_index[d], std::optional<int>(d));
      EXPECT_EQ(p.label[d], "cuda:" + std::to_string(d));
    }
    EXPECT_EQ(p.note, "");
  }
}

TEST(Replicas, CountTakesTheFirstDevicesAndIsClampedToTheVisibleOnes) {
  EXPECT_EQ(labels(plan_replicas(with("auto", "2"), 4)), (V{"cuda:0", "cuda:1"}));
  EXPECT_EQ(labels(plan_replicas(with("cuda", "1"), 4)), (V{"cuda:0"}));
  // A released config.yaml may carry its training's count: fewer devices is not an error.
  ReplicaPlan p = plan_replicas(with("auto", "8"), 2);
  EXPECT_EQ(labels(p), (V{"cuda:0", "cuda:1"}));
  EXPECT_NE(p.note.find("DIST.NUM_GPUS 8, but 2 CUDA device(s) are visible"), std::string::npos) << p.note;
  // The release's default, 2, on a one-GPU machine: that GPU.
  EXPECT_EQ(labels(plan_replicas(with("auto", "2"), 1)), (V{"cuda:0"}));
}

TEST(Replicas, ListNamesExactlyThoseDevices) {
  ReplicaPlan p = plan_replicas(with("auto", "[3, 1]"), 4);
  EXPECT_EQ(p.device_index, (std::vector<std::optional<int>>{3, 1}));
  EXPECT_EQ(labels(p), (V{"cuda:3", "cuda:1"}));
  try {
    plan_replicas(with("auto", "[0, 2]"), 2);
    FAIL() << "a device that is not visible was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(e.message().find("names CUDA device 2, but 2 CUDA device(s) are visible"), std::string::npos)
        << e.message();
  }
}

TEST(Replicas, CpuRunsOneReplicaOrPseudoDevices) {
  for (const char* gpus : {"all", "2", "[0, 1]"}) {
    ReplicaPlan p = plan_replicas(with("auto", gpus), 0);  // no CUDA: auto runs on the CPU
    EXPECT_FALSE(p.cuda);
    EXPECT_EQ(labels(p), (V{"cpu"}));
    EXPECT_EQ(p.device_index, (std::vector<std::optional<int>>{std::nullopt}));
    EXPECT_EQ(labels(plan_replicas(with("cpu", gpus), 4)), (V{"cpu"})) << "RUNTIME.DEVICE cpu with 4 GPUs";
  }
  ReplicaPlan p = plan_replicas(with("cpu", "all"), 0, 3);
  EXPECT_EQ(labels(p), (V{"cpu#0", "cpu#1", "cpu#2"}));
  EXPECT_NE(p.note.find("pseudo-devices"), std::string::npos);
}

TEST(Replicas, OneNamedDeviceWins) {
  ReplicaPlan p = plan_replicas(with("cuda:1", "all"), 4);
  EXPECT_EQ(labels(p), (V{"cuda:1"}));
  EXPECT_EQ(p.device_index, (std::vector<std::optional<int>>{std::nullopt}));  // the Encoder resolves cuda:1
  EXPECT_EQ(p.note, "");
  p = plan_replicas(with("cuda:1", "2"), 4);
  EXPECT_NE(p.note.find("DIST.NUM_GPUS 2 is not used"), std::string::npos) << p.note;
  // RUNTIME.DEVICE cuda without CUDA: one replica, whose load reports the missing CUDA.
  p = plan_replicas(with("cuda", "all"), 0);
  EXPECT_TRUE(p.cuda);
  EXPECT_EQ(p.size(), 1u);
}

TEST(Replicas, NumGpusValues) {
  lssd::Config c;
  EXPECT_EQ(c.at("DIST.NUM_GPUS").to_literal(), "all");
  c.set("DIST.NUM_GPUS", "3");  // the release's type: an int
  EXPECT_EQ(c.encoder_options().num_gpus, 3);
  c.set("DIST.NUM_GPUS", "[2, 0]");
  EXPECT_EQ(c.encoder_options().gpu_ids, (std::vector<int>{2, 0}));
  EXPECT_EQ(c.at("DIST.NUM_GPUS").to_literal(), "[2, 0]");
  c.set("DIST.NUM_GPUS", "'all'");
  EXPECT_EQ(c.encoder_options().num_gpus, EncoderOptions::kAllGpus);
  for (const char* bad : {"0", "-1", "[]", "[1, 1]", "[-1]"}) {
    c.set("DIST.NUM_GPUS", bad);
    EXPECT_THROW(c.encoder_options(), ConfigError) << bad;
  }
  for (const char* bad : {"two", "1.5", "[0, 'a']", "True"})
    EXPECT_THROW(c.set("DIST.NUM_GPUS", bad), ConfigError) << bad;
}

TEST(RunSummary, DevicesAndWorkersLinesGiveBusyShares) {
  lssd::RunSummary s;
  EXPECT_EQ(s.devices_line(), "");
  s.wall_s = 10.0;
  s.devices = {{"cuda:0", 120, 9.3}, {"cuda:1", 80, 6.0}};
  EXPECT_EQ(s.devices_line(), "devices: cuda:0 120 clips, busy 93%; cuda:1 80 clips, busy 60%");
  EXPECT_EQ(s.workers_line(), "");
  s.decode_workers = 4;
  s.decode_busy_s = 20.0;
  EXPECT_EQ(s.workers_line(), "decode workers: 4, busy 50%");
}
