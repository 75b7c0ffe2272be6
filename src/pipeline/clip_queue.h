// The bounded clip queue between the decode workers and the encoder: one queue per modality,
// producers block while their modality's queue is full (back-pressure bounds memory: a video
// clip tensor is 48 MB), the encoder takes batches of one modality.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "lssd/array.h"
#include "lssd/modality.h"

namespace lssd {

// One clip on its way to the encoder.
struct ClipItem {
  uint64_t unit = 0;   // the assembler's unit (one output)
  size_t job = 0;      // the run's job (for progress)
  int clip = 0;        // clip index within the output
  int generation = 0;  // the unit's plan generation when the clip was queued (Assembler::withdraw)
  FloatArray tensor;   // [5,3,T,H,W] video or [1,mels,frames] audio
};

class ClipQueue {
 public:
  // Capacities in clips per modality. greedy: pop_batch hands out whatever is queued at once,
  // up to `batch` (CPU micro-batch runs, where a forward's cost does not depend on the batch:
  // no reason to wait for a full one).
  ClipQueue(size_t video_cap, size_t audio_cap, bool greedy);

  // Blocks while the modality's queue is full. Returns false (the item is dropped) once the
  // queue was aborted.
  bool push(Modality m, ClipItem&& item);

  // Takes up to `batch` clips of one modality into *out: a full batch as soon as one exists
  // (greedy: whatever is there, the fuller queue first), else a partial batch once the
  // producers are finished or nothing arrived for 200 ms. Returns false when the queue was
  // aborted, or is drained and the producers are finished.
  bool pop_batch(size_t batch, Modality* m, std::vector<ClipItem>* out);

  // No more pushes will come: pop_batch drains what is left, then returns false.
  void producers_finished();
  // Wakes and fails every waiting push and pop (the run is stopping).
  void abort();

 private:
  void take(Modality m, size_t batch, std::vector<ClipItem>* out);
  bool ready(size_t batch, Modality* m) const;
  bool empty() const { return queues_.video.empty() && queues_.audio.empty(); }

  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  PerModality<std::deque<ClipItem>> queues_;
  PerModality<size_t> capacity_;
  bool greedy_;
  bool producers_done_ = false, aborted_ = false, stalled_ = false;
};

}  // namespace lssd
