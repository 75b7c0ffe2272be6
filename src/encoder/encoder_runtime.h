// Private to the encoder module (src/encoder/*.cc), with LibTorch types (never in include/lssd/):
// LibTorch's process-global settings, the precision and autocast of a forward, and the device
// (src/encoder/encoder_runtime.cc).
#pragma once
#include <ATen/autocast_mode.h>
#include <torch/script.h>

#include <atomic>
#include <optional>
#include <string>

namespace lssd::encoder_detail {

// Intra-op threads set by the last configure_threads() (0: not yet).
extern std::atomic<int> g_intra_threads;
// Sets intra-op threads (0: available_cpus()) and, once, inter-op threads to 1.
void configure_threads(int requested);
// Sets OpenBLAS's own thread pool to n threads, once (a no-op with another BLAS).
void configure_blas_threads(int n);
// Whether forwards run with graph optimisation on (configure_executor() decides).
extern std::atomic<bool> g_optimize;
// Picks the graph executor once (LSSD_JIT_EXECUTOR, default simple).
void configure_executor();

enum class Prec { FP32, FP16, BF16 };

const char* prec_name(Prec p);

// Autocast state of one device type on this thread. LibTorch 2.4 made the state per device
// type (at::autocast::is_autocast_enabled(at::kCUDA), get_autocast_dtype(...), ...) and deprecated
// the per-device functions of 1.x (is_enabled, get_autocast_gpu_dtype, set_cpu_enabled, ...).
struct AutocastState {
  bool enabled = false;
  at::ScalarType dtype = at::kFloat;
};

AutocastState autocast_state(bool cuda);
void set_autocast_state(bool cuda, const AutocastState& s);

// Enables autocast on this thread for one forward and restores the previous state after.
class AutocastScope {
 public:
  AutocastScope(bool cuda, Prec p) : cuda_(cuda), active_(p != Prec::FP32) {
    if (!active_) return;
    prev_ = autocast_state(cuda_);
    set_autocast_state(cuda_, {true, p == Prec::FP16 ? at::kHalf : at::kBFloat16});
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!active_) return;
    // As torch.autocast's __exit__: the cast-weights cache is freed when the outermost scope ends.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set_autocast_state(cuda_, prev_);
  }

 private:
  bool cuda_, active_;
  AutocastState prev_;
};

// The method of a fast export that computes the tower in bf16 (tools/lssd_export.py BF16_METHOD).
inline constexpr const char* kBf16Method = "forward_bf16";
// Fills the module's bf16 weight copies, which an export holds empty: every attribute NAME_bf16
// of a (sub)module that has a tensor attribute NAME (weight, bias) becomes NAME cast to bf16
// (tools/lssd_mvit.py prepare_bf16). Returns how many it filled.
int fill_bf16_copies(torch::jit::Module& module);
// Once per process: a warning, with the measured cost, when the CPU has no native bf16
// (lssd::cpu_bf16()); the run goes on.
void warn_without_native_bf16();

// The device of RUNTIME.DEVICE `spec` (a device_index overrides a CUDA index). Throws
// lssd::Error("encoder", ..., path) for a malformed spec, CUDA where there is none, or an index
// beyond the visible devices.
torch::Device resolve_device(const std::string& spec, std::optional<int> device_index, const std::string& path);
// The precision of RUNTIME.PRECISION `spec` on a CUDA or CPU device. Throws lssd::Error("encoder",
// ..., path) for an unknown spec or fp16 on CPU.
Prec resolve_precision(const std::string& spec, bool cuda, const std::string& path);

}  // namespace lssd::encoder_detail
