#include "lssd/pipeline/clip_queue.h"

#include <chrono>

namespace lssd {

ClipQueue::ClipQueue(size_t video_cap, size_t audio_cap, bool greedy) : cap_{video_cap, audio_cap}, greedy_(greedy) {}

bool ClipQueue::push(Modality m, ClipItem&& item) {
  std::unique_lock<std::mutex> lock(mu_);
  auto& q = q_[idx(m)];
  not_full_.wait(lock, [&] { return aborted_ || q.size() < cap_[idx(m)]; });
  if (aborted_) return false;
  q.push_back(std::move(item));
  not_empty_.notify_all();
  return true;
}

// Which queue has a batch to hand out now (*k), if any.
bool ClipQueue::ready(size_t batch, int* k) const {
  if (greedy_ && (!q_[0].empty() || !q_[1].empty())) {
    // The fuller queue first (relative to its capacity): its producers may be blocked.
    *k = q_[0].empty() ? 1 : q_[1].empty() ? 0 : q_[0].size() * cap_[1] >= q_[1].size() * cap_[0] ? 0 : 1;
    return true;
  }
  for (int i = 0; i < 2; ++i) {
    if (q_[i].size() >= batch || (!q_[i].empty() && (producers_done_ || stalled_))) {
      *k = i;
      return true;
    }
  }
  return false;
}

bool ClipQueue::pop_batch(size_t batch, Modality* m, std::vector<ClipItem>* out) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (aborted_) return false;
    int k = 0;
    if (ready(batch, &k)) {
      take(k, batch, m, out);
      return true;
    }
    if (producers_done_ && q_[0].empty() && q_[1].empty()) return false;
    const bool any = !q_[0].empty() || !q_[1].empty();
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

void ClipQueue::take(int k, size_t batch, Modality* m, std::vector<ClipItem>* out) {
  *m = k == 0 ? Modality::Video : Modality::Audio;
  out->clear();
  while (!q_[k].empty() && out->size() < batch) {
    out->push_back(std::move(q_[k].front()));
    q_[k].pop_front();
  }
  stalled_ = false;
  not_full_.notify_all();
}

}  // namespace lssd
