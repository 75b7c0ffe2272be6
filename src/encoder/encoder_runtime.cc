// The encoder's LibTorch runtime: process-global settings, autocast, device and precision.
//
// Process-global settings (LibTorch has no per-module equivalent):
// * intra-op threads: at::set_num_threads(EncoderOptions::threads, 0 = the CPUs this process may
//   run on). The last Encoder constructed decides; every forward re-applies it on its calling
//   thread (OpenMP keeps the count per thread), so worker threads get it too.
// * inter-op threads: set to 1 once, before any inter-op work (the towers have no inter-op
//   parallelism; the pool would only cost threads).
// * graph executor: see configure_executor() below.
#include <dlfcn.h>
#include <sched.h>

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <spdlog/spdlog.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/version.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "encoder/encoder_meta.h"
#include "encoder/encoder_runtime.h"
#include "lssd/cpu_features.h"
#include "lssd/encoder_info.h"
#include "lssd/error.h"

namespace lssd::encoder_detail {

std::atomic<int> g_intra_threads{0};

void configure_threads(int requested) {
  static std::once_flag interop_once;
  std::call_once(interop_once, [] {
    try {
      at::set_num_interop_threads(1);
    } catch (const std::exception& e) {
      // Already started by earlier inter-op work: harmless, the towers do not use it.
      spdlog::debug("encoder: inter-op threads already set ({})", torch_message(e));
    }
  });
  const int n = requested > 0 ? requested : available_cpus();
  const int prev = g_intra_threads.exchange(n);
  if (prev != 0 && prev != n)
    spdlog::warn("encoder: intra-op threads changed from {} to {} (process-wide setting)", prev, n);
  at::set_num_threads(n);
}

// OpenBLAS (Debian's LibTorch calls the system BLAS) runs a pool of its own, sized from the
// environment at start-up, that at::set_num_threads does not touch: with several lanes each
// GEMM would spread over every core again. Lanes set it to their per-lane thread count
// (process-wide; looked up at run time, a no-op with another BLAS).
void configure_blas_threads(int n) {
  using SetThreads = void (*)(int);
  static std::once_flag once;
  std::call_once(once, [n] {
    if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
      f(n);
      spdlog::debug("encoder: OpenBLAS threads set to {}", n);
    }
  });
}

// Graph executor. The exported towers are traced graphs without control flow, all ATen ops.
// LibTorch's default profiling executor runs a graph twice (profile, then specialise) before its
// optimised plan and re-specialises per new input shape; on CPU it has no fusion to offer here.
// Measured on the 3-block tiny and the S video tower (CPU, 1 thread, CPU seconds of forwards 1..3):
//   tiny audio b1: profiling 0.20 0.057 0.024 | legacy 0.12 0.031 0.024 | simple 0.12 0.042 0.024
//   S video b1:    profiling 1.41 0.94 0.89   | legacy 1.51 0.90 0.77   | simple 1.21 0.73 0.80
// i.e. identical steady state, a cheaper first forward without the profiling executor. The
// default is "simple" (legacy executor, graph optimisation off: the traced ops run as recorded,
// as in eager PyTorch) on every device; LSSD_JIT_EXECUTOR=profiling|legacy|simple overrides (try
// profiling on CUDA, where its fusers may help; tests/oracle/test_encoder_cuda.py prints both).
// getProfilingMode() is process-global and read when a graph first runs; the optimise flag is
// thread-local in LibTorch, so forward() sets it on its own thread (GraphOptimizerEnabledGuard).
std::atomic<bool> g_optimize{true};

void configure_executor() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* env = std::getenv("LSSD_JIT_EXECUTOR");
    std::string mode = env && *env ? env : "simple";
    if (mode != "profiling" && mode != "legacy" && mode != "simple") {
      spdlog::warn("encoder: LSSD_JIT_EXECUTOR={} is not one of profiling|legacy|simple; using simple", mode);
      mode = "simple";
    }
    if (mode != "profiling") torch::jit::getProfilingMode() = false;
    g_optimize = mode != "simple";
    spdlog::debug("encoder: graph executor {}", mode);
  });
}

int fill_bf16_copies(torch::jit::Module& module) {
  int n = 0;
  for (torch::jit::Module sub : module.modules()) {
    for (const char* name : {"weight", "bias"}) {
      const std::string copy = std::string(name) + "_bf16";
      if (!sub.hasattr(copy) || !sub.hasattr(name)) continue;
      const c10::IValue src = sub.attr(name);
      if (!src.isTensor()) continue;
      sub.setattr(copy, src.toTensor().to(torch::kBFloat16).contiguous());
      ++n;
    }
  }
  return n;
}

void warn_without_native_bf16() {
  static std::once_flag once;
  std::call_once(once, [] {
    const CpuBf16& c = cpu_bf16();
    const std::string warning = bf16_cost_warning(c);
    if (warning.empty())
      spdlog::debug("encoder: CPU bf16 native ({})", c.describe());
    else
      spdlog::warn("RUNTIME.PRECISION bf16: {}", warning);
  });
}

const char* prec_name(Prec p) { return p == Prec::FP32 ? "fp32" : p == Prec::FP16 ? "fp16" : "bf16"; }

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
AutocastState autocast_state(bool cuda) {
  const at::DeviceType t = cuda ? at::kCUDA : at::kCPU;
  return {at::autocast::is_autocast_enabled(t), at::autocast::get_autocast_dtype(t)};
}
void set_autocast_state(bool cuda, const AutocastState& s) {
  const at::DeviceType t = cuda ? at::kCUDA : at::kCPU;
  at::autocast::set_autocast_dtype(t, s.dtype);
  at::autocast::set_autocast_enabled(t, s.enabled);
}
#else
AutocastState autocast_state(bool cuda) {
  if (cuda) return {at::autocast::is_enabled(), at::autocast::get_autocast_gpu_dtype()};
  return {at::autocast::is_cpu_enabled(), at::autocast::get_autocast_cpu_dtype()};
}
void set_autocast_state(bool cuda, const AutocastState& s) {
  if (cuda) {
    at::autocast::set_autocast_gpu_dtype(s.dtype);
    at::autocast::set_enabled(s.enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(s.dtype);
    at::autocast::set_cpu_enabled(s.enabled);
  }
}
#endif

torch::Device resolve_device(const std::string& spec, std::optional<int> device_index, const std::string& path) {
  const bool have_cuda = torch::cuda::is_available();
  const int n_cuda = have_cuda ? static_cast<int>(torch::cuda::device_count()) : 0;
  int index = -1;
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec == "auto") {
    if (!have_cuda) return torch::Device(torch::kCPU);
    index = device_index.value_or(0);
  } else if (spec == "cuda" || spec.rfind("cuda:", 0) == 0) {
    if (spec.size() > 5) {
      const std::string num = spec.substr(5);
      char* end = nullptr;
      long v = std::strtol(num.c_str(), &end, 10);
      if (num.empty() || *end != '\0' || v < 0)
        throw Error("encoder", "RUNTIME.DEVICE \"" + spec + "\" is not auto, cpu, cuda or cuda:N", path);
      index = static_cast<int>(v);
    } else {
      index = 0;
    }
    if (device_index) index = *device_index;
    if (!have_cuda)
      throw Error("encoder",
                  "RUNTIME.DEVICE \"" + spec +
                      "\" asks for CUDA, but this LibTorch has no usable CUDA device (CPU-only build or no "
                      "GPU/driver); use RUNTIME.DEVICE cpu or auto",
                  path);
  } else {
    throw Error("encoder", "RUNTIME.DEVICE \"" + spec + "\" is not auto, cpu, cuda or cuda:N", path);
  }
  if (index >= n_cuda)
    throw Error("encoder",
                "CUDA device " + std::to_string(index) + " requested, but only " + std::to_string(n_cuda) +
                    " CUDA device(s) are visible",
                path);
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

Prec resolve_precision(const std::string& spec, bool cuda, const std::string& path) {
  if (spec == "auto") return cuda ? Prec::FP16 : Prec::FP32;
  if (spec == "fp32") return Prec::FP32;
  if (spec == "fp16") {
    if (!cuda)
      throw Error("encoder", "RUNTIME.PRECISION fp16 is only supported on CUDA (use fp32, or bf16 for CPU autocast)",
                  path);
    return Prec::FP16;
  }
  if (spec == "bf16") return Prec::BF16;
  throw Error("encoder", "RUNTIME.PRECISION \"" + spec + "\" is not auto, fp32, fp16 or bf16", path);
}

}  // namespace lssd::encoder_detail

namespace lssd {

int available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

int cuda_device_count() {
  try {
    return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  } catch (...) {
    return 0;
  }
}

}  // namespace lssd