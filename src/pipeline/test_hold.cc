#include "pipeline/test_hold.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

namespace lssd {

namespace {
void hold(const char* stage, const std::atomic<bool>& stop, bool stuck, const char* why) {
  spdlog::warn("test hook: holding in {}{} until a stop is requested{}", stage, why, stuck ? " (and after)" : "");
  const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  while ((stuck || !stop.load()) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}
}  // namespace

void test_hold(const char* stage, const std::atomic<bool>& stop) {
  static std::once_flag once;
  static std::atomic<long> calls{0};
  const char* env = std::getenv("LSSD_TEST_HOLD");
  if (!env) return;
  const std::string want(env), name(stage);
  if (want.rfind(name + "@", 0) == 0) {  // <stage>@N: from the N-th call on, every caller holds
    const long n = std::atol(want.c_str() + name.size() + 1);
    if (++calls >= n) hold(stage, stop, false, (" (call " + std::to_string(n) + " on)").c_str());
    return;
  }
  const bool stuck = want == name + ":stuck";
  if (want != name && !stuck) return;
  std::call_once(once, [&] { hold(stage, stop, stuck, ""); });
}

int test_cpu_replicas() {
  const char* env = std::getenv("LSSD_TEST_CPU_REPLICAS");
  return std::clamp(env ? std::atoi(env) : 1, 1, 16);
}

void test_barrier() {
  const char* env = std::getenv("LSSD_TEST_BARRIER");
  if (!env) return;
  const std::string v(env);
  const size_t colon = v.rfind(':');
  if (colon == std::string::npos) return;
  namespace fs = std::filesystem;
  const fs::path dir = v.substr(0, colon);
  const long n = std::atol(v.c_str() + colon + 1);
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::ofstream(dir / std::to_string(::getpid())).put('\n');
  spdlog::warn("test hook: waiting for {} process(es) in {}", n, dir.string());
  const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  for (;;) {
    long here = 0;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) ++here;
    if (here >= n || std::chrono::steady_clock::now() > until) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace lssd
