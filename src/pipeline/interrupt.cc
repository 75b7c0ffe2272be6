#include "lssd/interrupt.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "lssd/error.h"

namespace lssd {
namespace {

// The write end of the active watcher's pipe (-1: none). A byte 0 only wakes the thread.
std::atomic<int> g_pipe_write{-1};

extern "C" void on_signal(int sig) {
  const int saved = errno;
  const int fd = g_pipe_write.load();
  const auto byte = static_cast<unsigned char>(sig);
  if (fd >= 0) (void)!::write(fd, &byte, 1);
  errno = saved;
}

}  // namespace

InterruptWatcher::InterruptWatcher(std::function<std::string(int)> first_notice,
                                   std::function<std::string(int)> abort_notice)
    : first_notice_(std::move(first_notice)), abort_notice_(std::move(abort_notice)) {
  if (::pipe2(pipe_, O_CLOEXEC) != 0) throw Error("signals", "cannot create a pipe for signal handling");
  g_pipe_write = pipe_[1];
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, &old_int_);
  ::sigaction(SIGTERM, &sa, &old_term_);
  thread_ = std::thread([this] { watch(); });
}

InterruptWatcher::~InterruptWatcher() {
  ::sigaction(SIGINT, &old_int_, nullptr);
  ::sigaction(SIGTERM, &old_term_, nullptr);
  g_pipe_write = -1;
  const unsigned char wake = 0;
  (void)!::write(pipe_[1], &wake, 1);
  thread_.join();
  ::close(pipe_[0]);
  ::close(pipe_[1]);
}

void InterruptWatcher::watch() {
  for (;;) {
    unsigned char byte = 0;
    const ssize_t n = ::read(pipe_[0], &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || byte == 0) return;
    const int sig = byte;
    int expected = 0;
    if (first_signal_.compare_exchange_strong(expected, sig)) {
      stop_ = true;
      spdlog::warn("{}", first_notice_(sig));
      continue;
    }
    spdlog::error("{}", abort_notice_(sig));
    spdlog::default_logger()->flush();
    std::_Exit(exit_code(first_signal_.load()));
  }
}

}  // namespace lssd
