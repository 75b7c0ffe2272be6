// The encoder replicas of a run: which devices get one, from DIST.NUM_GPUS and RUNTIME.DEVICE.
// The decode workers feed one clip queue and every replica's encode loop takes its batches from
// it, so the replicas share the workers and a faster device takes more batches. No LibTorch here:
// the caller passes the number of visible CUDA devices (cuda_device_count()).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "lssd/options.h"

namespace lssd {

struct ReplicaPlan {
  bool cuda = false;  // the replicas run on CUDA (else on the CPU)
  // Per replica: the Encoder's device_index (a CUDA device; none: as RUNTIME.DEVICE says, e.g.
  // cpu or cuda:N) and the device's name in logs and the run summary ("cuda:1", "cpu", and
  // "cpu#0", "cpu#1", ... for CPU pseudo-devices).
  std::vector<std::optional<int>> device_index;
  std::vector<std::string> label;
  // One line for the log when the plan is not literally what the config says (a count clamped
  // to the visible devices, DIST.NUM_GPUS unused, CPU pseudo-devices); empty otherwise.
  std::string note;
  size_t size() const { return label.size(); }
};

// RUNTIME.DEVICE cpu, or auto without a visible CUDA device: the CPU, one replica, or
// `cpu_replicas` pseudo-devices (a test hook: the scheduling of several devices run on the CPU).
// auto or cuda with CUDA: DIST.NUM_GPUS's devices, one replica each: `all` every visible device,
// a count N the first min(N, visible) (a released config.yaml may carry its training's count),
// a list exactly those indices. cuda:N: that device alone (DIST.NUM_GPUS unused). cuda without a
// visible device: one replica, whose load reports the missing CUDA.
// Throws ConfigError when a listed index is not below `visible_cuda` on a CUDA run (CUDA_VISIBLE_DEVICES
// renumbers the devices from 0).
ReplicaPlan plan_replicas(const EncoderOptions& o, int visible_cuda, int cpu_replicas = 1);

}  // namespace lssd
