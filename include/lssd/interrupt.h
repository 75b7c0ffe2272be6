// Ctrl-C and SIGTERM for a batch run. The first signal asks the run to stop after the inputs in
// flight and says so on stderr at once; a second one ends the process at once. The signal
// handler only writes the signal number to a pipe (async-signal-safe, whichever thread the
// kernel picks: libraries start threads before main); a thread of the watcher's own reads it,
// so the notices are ordinary log lines, whatever the other threads are doing (loading towers,
// decoding, encoding).
#pragma once
#include <signal.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace lssd {

class InterruptWatcher {
 public:
  // Installs the handlers for SIGINT and SIGTERM (one watcher at a time). first_notice(signal)
  // is logged (warning) at the first signal; at the second, abort_notice(signal) is logged (error) and the process
  // exits with 128 + that first signal (130 for SIGINT, 143 for SIGTERM) without running destructors: outputs are
  // written under temporary names and renamed, so nothing half-written remains under its final name (the next run
  // removes the temporaries).
  InterruptWatcher(std::function<std::string(int signal)> first_notice,
                   std::function<std::string(int signal)> abort_notice);
  // Stops the watching thread and restores the previous handlers.
  ~InterruptWatcher();
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  // Set at the first signal; the run polls it.
  const std::atomic<bool>& stop_requested() const { return stop_; }
  // The first signal received (0: none).
  int first_signal() const { return first_signal_.load(); }
  // The exit code of a run stopped by `signal`: 128 + signal (0 for none).
  static int exit_code(int signal) { return signal > 0 ? 128 + signal : 0; }

 private:
  void watch();

  std::function<std::string(int)> first_notice_, abort_notice_;
  std::atomic<bool> stop_{false};
  std::atomic<int> first_signal_{0};
  int pipe_[2] = {-1, -1};
  struct sigaction old_int_ {
  }, old_term_{};
  std::thread thread_;
};

}  // namespace lssd
