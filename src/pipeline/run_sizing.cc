#include "pipeline/run_sizing.h"

#include <algorithm>

namespace lssd {

RunSizing size_run(const PipelineOptions& o, const RunShape& shape) {
  RunSizing s;
  const int cpus = std::max(shape.cpus, 1);
  s.decode_workers = std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(std::max(o.num_workers, 1)), shape.jobs));
  if (!shape.cuda) s.decode_workers = std::min<size_t>(s.decode_workers, static_cast<size_t>(cpus));
  s.decode_threads =
      o.media.decode_threads > 0 ? o.media.decode_threads : std::max(1, cpus / static_cast<int>(s.decode_workers));
  const EncoderOptions& e = o.encoder;
  s.greedy_queue = !shape.cuda && e.cpu_micro_batch > 0;
  const auto batch = static_cast<size_t>(std::max(e.batch_size, 1));
  const size_t replicas = std::max<size_t>(shape.replicas, 1);
  const int threads = e.threads > 0 ? e.threads : cpus;
  const auto lanes = static_cast<size_t>(std::max(1, e.cpu_lanes > 0 ? std::min(e.cpu_lanes, threads) : threads));
  s.queue_capacity.video = s.greedy_queue ? 2 * ((lanes + 4) / 5) * replicas : std::max<size_t>(batch * replicas, 2);
  s.queue_capacity.audio = std::max<size_t>(4 * batch * replicas, 8);
  return s;
}

}  // namespace lssd
