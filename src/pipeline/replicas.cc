#include "pipeline/replicas.h"

#include <algorithm>

#include "lssd/error.h"

namespace lssd {
namespace {

std::string num_gpus_text(const EncoderOptions& o) {
  if (o.num_gpus == EncoderOptions::kAllGpus) return "all";
  if (o.num_gpus > 0) return std::to_string(o.num_gpus);
  std::string s = "[";
  for (size_t i = 0; i < o.gpu_ids.size(); ++i) s += (i ? ", " : "") + std::to_string(o.gpu_ids[i]);
  return s + "]";
}

void add(ReplicaPlan* p, std::optional<int> index, std::string label) {
  p->device_index.push_back(index);
  p->label.push_back(std::move(label));
}

}  // namespace

ReplicaPlan plan_replicas(const EncoderOptions& o, int visible_cuda, int cpu_replicas) {
  ReplicaPlan p;
  const bool explicit_gpus = o.num_gpus != EncoderOptions::kAllGpus;
  p.cuda = o.device != "cpu" && (o.device != "auto" || visible_cuda > 0);
  if (!p.cuda) {
    const int n = std::max(1, cpu_replicas);
    for (int r = 0; r < n; ++r) add(&p, std::nullopt, n == 1 ? "cpu" : "cpu#" + std::to_string(r));
    p.note = n == 1 ? "running on CPU: one encoder replica (DIST.NUM_GPUS applies to CUDA devices)"
                    : "running on CPU: " + std::to_string(n) + " encoder replicas as pseudo-devices (test hook)";
    return p;
  }
  if (o.device.rfind("cuda:", 0) == 0) {
    add(&p, std::nullopt, o.device);
    if (explicit_gpus)
      p.note = "RUNTIME.DEVICE " + o.device + " names one device: DIST.NUM_GPUS " + num_gpus_text(o) + " is not used";
    return p;
  }
  if (visible_cuda <= 0) {  // RUNTIME.DEVICE cuda without CUDA: the tower's load says so
    add(&p, std::nullopt, "cuda");
    return p;
  }
  if (!o.gpu_ids.empty()) {
    for (int d : o.gpu_ids) {
      if (d >= visible_cuda)
        throw ConfigError("DIST.NUM_GPUS " + num_gpus_text(o) + " names CUDA device " + std::to_string(d) + ", but " +
                          std::to_string(visible_cuda) + " CUDA device(s) are visible (0.." +
                          std::to_string(visible_cuda - 1) + "; CUDA_VISIBLE_DEVICES renumbers them from 0)");
      add(&p, d, "cuda:" + std::to_string(d));
    }
    return p;
  }
  const int n = o.num_gpus == EncoderOptions::kAllGpus ? visible_cuda : std::min(o.num_gpus, visible_cuda);
  for (int d = 0; d < n; ++d) add(&p, d, "cuda:" + std::to_string(d));
  if (explicit_gpus && o.num_gpus > visible_cuda)
    p.note = "DIST.NUM_GPUS " + num_gpus_text(o) + ", but " + std::to_string(visible_cuda) +
             " CUDA device(s) are visible: " + std::to_string(n) + " encoder replica(s)";
  return p;
}

}  // namespace lssd
