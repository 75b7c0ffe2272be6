#include "pipeline/clip_queue.h"

#include <chrono>

namespace lssd {

ClipQueue::ClipQueue(size_t video_cap, size_t audio_cap, bool greedy)
    : capacity_{video_cap, audio_cap}, greedy_(greedy) {}

bool ClipQueue::push(Modality m, ClipItem&& item) {
  std::unique_lock<std::mutex> lock(mu_);
  auto& q = queues_[m];
  not_full_.wait(lock, [&] { return aborted_ || q.size() < capacity_[m]; });
  if (aborted_) return false;
  q.push_back(std::move(item));
  not_empty_.notify_all();
  return true;
}

// Which queue has a batch to hand out now (*m), if any.
bool ClipQueue::ready(size_t batch, Modality* m) const {
  const auto& video = queues_.video;
  const auto& audio = queues_.audio;
  if (greedy_ && !empty()) {
    // The fuller queue first (relative to its capacity): its producers may be blocked.
    const bool video_first =
        !video.empty() && (audio.empty() || video.size() * capacity_.audio >= audio.size() * capacity_.video);
    *m = video_first ? Modality::Video : Modality::Audio;
    return true;
  }
  for (const Modality k : kModalities) {
    const auto& q = queues_[k];
    if (q.size() >= batch || (!q.empty() && (producers_done_ || stalled_))) {
      *m = k;
      return true;
    }
  }
  return false;
}

bool ClipQueue::pop_batch(size_t batch, Modality* m, std::vector<ClipItem>* out) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (aborted_) return false;
    if (ready(batch, m)) {
      take(*m, batch, out);
      return true;
    }
    if (producers_done_ && empty()) return false;
    const bool any = !empty();
    // With clips waiting but no full batch, wait briefly for more, then run a partial batch.
    const auto status = not_empty_.wait_for(lock, std::chrono::milliseconds(any ? 200 : 1000));
    stalled_ = any && status == std::cv_status::timeout;
  }
}

void ClipQueue::producers_finished() {
  std::lock_guard<std::mutex> lock(mu_);
  producers_done_ = true;
  not_empty_.notify_all();
}

void ClipQueue::abort() {
  std::lock_guard<std::mutex> lock(mu_);
  aborted_ = true;
  not_empty_.notify_all();
  not_full_.notify_all();
}

void ClipQueue::take(Modality m, size_t batch, std::vector<ClipItem>* out) {
  auto& q = queues_[m];
  out->clear();
  while (!q.empty() && out->size() < batch) {
    out->push_back(std::move(q.front()));
    q.pop_front();
  }
  stalled_ = false;
  not_full_.notify_all();
}

}  // namespace lssd
