#include "lssd/logging.h"

#include <spdlog/sinks/ansicolor_sink.h>
#include <spdlog/sinks/sink.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <mutex>

namespace lssd {
namespace {

// stderr with a status line: a log line erases the status line, is written, and the status line
// is drawn again below it. One mutex orders log lines and status updates from every thread.
class StatusLineSink : public spdlog::sinks::sink {
 public:
  StatusLineSink() : inner_(std::make_shared<spdlog::sinks::ansicolor_stderr_sink_st>()) {}

  void log(const spdlog::details::log_msg& msg) override {
    std::lock_guard<std::mutex> lock(mu_);
    erase();
    inner_->log(msg);
    inner_->flush();
    draw();
  }
  void flush() override {
    std::lock_guard<std::mutex> lock(mu_);
    inner_->flush();
  }
  void set_pattern(const std::string& pattern) override {
    std::lock_guard<std::mutex> lock(mu_);
    inner_->set_pattern(pattern);
  }
  void set_formatter(std::unique_ptr<spdlog::formatter> f) override {
    std::lock_guard<std::mutex> lock(mu_);
    inner_->set_formatter(std::move(f));
  }

  void status(const std::string& text) {
    std::lock_guard<std::mutex> lock(mu_);
    text_ = text;
    shown_ = true;
    draw();
  }
  void clear(bool keep) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!shown_) return;
    if (keep)
      std::fputs("\n", stderr);
    else
      erase();
    std::fflush(stderr);
    shown_ = false;
    text_.clear();
  }

 private:
  void erase() {
    if (shown_) std::fputs("\r\x1b[K", stderr);
  }
  void draw() {
    if (!shown_) return;
    std::fprintf(stderr, "\r%s\x1b[K", text_.c_str());
    std::fflush(stderr);
  }

  std::mutex mu_;
  std::shared_ptr<spdlog::sinks::ansicolor_stderr_sink_st> inner_;
  std::string text_;
  bool shown_ = false;
};

std::shared_ptr<StatusLineSink>& status_sink() {
  static std::shared_ptr<StatusLineSink> sink;
  return sink;
}

}  // namespace

void setup_logging(int verbosity) {
  auto sink = std::make_shared<StatusLineSink>();
  status_sink() = sink;
  auto logger = std::make_shared<spdlog::logger>("lssd", sink);
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^[%Y-%m-%d %H:%M:%S.%e] [%l]%$ %v");
  if (verbosity < 0)
    spdlog::set_level(spdlog::level::warn);
  else if (verbosity == 0)
    spdlog::set_level(spdlog::level::info);
  else if (verbosity == 1)
    spdlog::set_level(spdlog::level::debug);
  else
    spdlog::set_level(spdlog::level::trace);
}

void set_status_line(const std::string& text) {
  if (auto& s = status_sink()) s->status(text);
}

void clear_status_line(bool keep) {
  if (auto& s = status_sink()) s->clear(keep);
}

}  // namespace lssd
