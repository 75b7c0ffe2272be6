// A thread that calls a function at a fixed interval until stopped: the renewal of this writer's
// registry entry and claims (lssd/claims.h).
#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace lssd {

class Heartbeat {
 public:
  // Calls beat() every interval_s seconds (first after one interval); exceptions from beat() are
  // caught and passed to on_error (may be empty).
  Heartbeat(double interval_s, std::function<void()> beat, std::function<void(const std::exception&)> on_error = {});
  ~Heartbeat();  // stop()
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;
  // Ends the thread (returns once it has); idempotent.
  void stop();

 private:
  void loop();
  std::chrono::nanoseconds interval_;
  std::function<void()> beat_;
  std::function<void(const std::exception&)> on_error_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace lssd
