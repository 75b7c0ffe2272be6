// How many decode workers, decoder threads and queued clips a run uses: a pure function of the
// options, the job count and the machine, so that the sizing is tested without running anything.
#pragma once
#include <cstddef>

#include "lssd/modality.h"
#include "lssd/options.h"

namespace lssd {

struct RunSizing {
  size_t decode_workers = 1;           // worker threads that decode, plan and transform inputs
  int decode_threads = 1;              // FFmpeg decoder threads per worker
  PerModality<size_t> queue_capacity;  // clips queued for the encoder before producers wait
  bool greedy_queue = false;           // the encoder takes whatever is queued (CPU micro-batches)
};

// The machine and the work: `jobs` inputs to compute, on CUDA or CPU, with `replicas` encoder
// replicas, on `cpus` usable CPUs (at least 1).
struct RunShape {
  size_t jobs = 0;
  bool cuda = false;
  size_t replicas = 1;
  int cpus = 1;
};

// - Decode workers: DIST.NUM_WORKERS, at most one per job, and on CPU runs at most one per CPU
//   (the encoder's threads use the same cores; more workers only hold more frames and clips).
// - Decoder threads: MEDIA.DECODE_THREADS, or (0) the CPUs shared among the workers, so that a
//   lone long file (fewer files than cores) decodes with FFmpeg's frame threads on every core.
// - Queues (a video clip tensor is 48 MB): CPU micro-batch runs take clips as they come and keep
//   enough video clips for two rounds of the encoder's lanes (5 crops a clip; 2 clips on up to 5
//   lanes) per replica (several only as pseudo-devices); whole-batch runs (CUDA) keep a batch per
//   replica of video and four of audio.
RunSizing size_run(const PipelineOptions& o, const RunShape& shape);

}  // namespace lssd
