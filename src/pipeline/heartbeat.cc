#include "pipeline/heartbeat.h"

#include <algorithm>

namespace lssd {

Heartbeat::Heartbeat(double interval_s, std::function<void()> beat, std::function<void(const std::exception&)> on_error)
    : interval_(std::chrono::nanoseconds(static_cast<int64_t>(std::max(interval_s, 0.001) * 1e9))),
      beat_(std::move(beat)),
      on_error_(std::move(on_error)),
      thread_([this] { loop(); }) {}

Heartbeat::~Heartbeat() { stop(); }

void Heartbeat::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Heartbeat::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stopped_; })) {
    lock.unlock();
    try {
      beat_();
    } catch (const std::exception& e) {
      if (on_error_) on_error_(e);
    }
    lock.lock();
  }
}

}  // namespace lssd
