// The pipeline: discover -> decode + plan clips + transform (worker threads) -> bounded clip
// queue -> batched encoder (one replica per device) -> assemble per input -> write (atomic
// .npy + manifest record). Per-input errors are recorded and the run goes on.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include "lssd/options.h"

namespace lssd {

struct RunSummary {
  int64_t inputs = 0;         // outputs this run was responsible for (jobs after sharding)
  int64_t ok = 0;             // written this run
  int64_t resumed = 0;        // already done by an earlier run
  int64_t skipped_short = 0;  // fewer than 2 timestamps / samples (as the release)
  int64_t failed = 0;         // errors recorded in errors.jsonl (discover problems included)
  int64_t clips = 0;          // clips encoded this run
  double wall_s = 0;
  double encode_s[2] = {0, 0};  // wall time inside encoder forwards: video, audio (all replicas)
  double models_ready_s = 0;    // from the start until every encoder tower was loaded
  bool interrupted = false;
  int exit_code() const { return interrupted ? 130 : (failed > 0 ? 3 : 0); }
};

// Runs the whole job. `stop` (may be null) is polled: once set, no new input starts and the
// run ends after the inputs in flight are written. Throws lssd::ConfigError for a config that
// does not fit the encoder files, lssd::Error for fatal problems (output dir, model files).
RunSummary run_pipeline(const PipelineOptions& opts, const std::atomic<bool>* stop = nullptr);

}  // namespace lssd
