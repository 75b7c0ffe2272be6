// The pipeline: discover -> decode + plan clips + transform (worker threads) -> bounded clip
// queue -> batched encoder (one replica per device) -> assemble per input -> write (atomic
// .npy + manifest record). Per-input errors are recorded and the run goes on.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "lssd/modality.h"
#include "lssd/options.h"

namespace lssd {

// Shared between a run and its caller (e.g. a signal watcher).
struct RunControl {
  std::atomic<bool> stop{false};      // set by the caller: no new input starts; those in flight finish
  std::atomic<int64_t> in_flight{0};  // kept by the run: outputs started and not yet recorded
};

// What one encoder replica (one device) did in a run.
struct DeviceSummary {
  std::string device;  // "cuda:0", "cpu", "cpu#1" (CPU pseudo-devices)
  int64_t clips = 0;   // clips this replica encoded
  double busy_s = 0;   // wall time inside its encoder forwards
};

// What a run did, in outputs: one per input file and modality (each audio track of a
// container counts once found). The counts add up: outputs = written + resumed + skipped_short
// + no_audio + failed + failed_earlier + by_others + not_started.
struct RunSummary {
  int64_t outputs = 0;            // outputs this run was responsible for (after sharding)
  int64_t written = 0;            // embedded and written by this run
  int64_t resumed = 0;            // already done by an earlier run, kept
  int64_t skipped_short = 0;      // fewer than 2 timestamps / samples: skipped as the release skips them
  int64_t no_audio = 0;           // containers without an audio track (DATA.AUDIO_FROM_VIDEO)
  int64_t failed = 0;             // failed in this run (recorded in errors.jsonl)
  int64_t failed_earlier = 0;     // failed in an earlier run on the unchanged file's content: not retried
  int64_t by_others = 0;          // DIST.MODE claim: computed by other writers during this run
  int64_t not_started = 0;        // left for a rerun (the run was stopped)
  int64_t discover_problems = 0;  // unreadable paths, symlink loops... (errors.jsonl; not outputs)
  int64_t clips = 0;              // clips encoded this run
  double wall_s = 0;
  PerModality<double> encode_s;  // wall time inside encoder forwards (all replicas)
  // CPU time of the threads that called the forwards, inside them: all of the forwards' CPU
  // where they run on the calling thread (RUNTIME.NUM_THREADS 1, one CPU lane), else a part.
  double encode_cpu_s = 0;
  double models_ready_s = 0;           // from the start until every encoder tower was loaded
  std::vector<DeviceSummary> devices;  // one per encoder replica, in replica order
  int decode_workers = 0;              // decode worker threads of the run
  double decode_busy_s = 0;            // their wall time decoding and transforming (not blocked on a full clip queue)
  bool stopped = false;                // RunControl::stop was set during the run
  // 3 when an input failed in this run or a path could not be read, else 0 (inputs that failed
  // earlier and were not retried do not count; a signal's code is the app's).
  int exit_code() const { return failed > 0 || discover_problems > 0 ? 3 : 0; }
  // "done: N outputs = W written + R already done + ..." (the counts that are not zero after
  // the first three), clips, time and rate.
  std::string line() const;
  // One line saying what each count of line() means (claim: also "done by other writers").
  static std::string legend(bool claim = false);
  // "devices: cuda:0 1204 clips, busy 93%; cuda:1 1190 clips, busy 92%": per replica its clips
  // and its busy share (time in its forwards / wall_s). Empty without replicas.
  std::string devices_line() const;
  // "decode workers: 8, busy 41%": their busy time / (workers x wall_s). Empty without workers.
  std::string workers_line() const;
};

// Runs the whole job. `control` (may be null): its stop flag is polled; once set, no new input
// starts and the run ends after the inputs in flight are written. Throws lssd::ConfigError for a
// data dir that does not exist or a config that does not fit the encoder files (before
// OUTPUT_DIR is created), lssd::Error for fatal problems (output dir, model files).
RunSummary run_pipeline(const PipelineOptions& opts, RunControl* control = nullptr);

}  // namespace lssd
