// The encoder stage: the only translation unit of the encoder that includes LibTorch.
//
// Process-global settings (LibTorch has no per-module equivalent):
// * intra-op threads: at::set_num_threads(EncoderOptions::threads, 0 = the CPUs this process may
//   run on). The last Encoder constructed decides; every forward re-applies it on its calling
//   thread (OpenMP keeps the count per thread), so worker threads get it too.
// * inter-op threads: set to 1 once, before any inter-op work (the towers have no inter-op
//   parallelism; the pool would only cost threads).
// * graph executor: see configure_executor() below.
#include "lssd/encoder.h"

#include <dlfcn.h>
#include <sched.h>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <caffe2/serialize/inline_container.h>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>
#include <torch/csrc/jit/python/update_graph_executor_opt.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>
#include <torch/version.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "lssd/error.h"
#include "lssd/sha256.h"

namespace lssd {
namespace {

constexpr const char* kMetaName = "lssd_meta.json";
constexpr int kFormatVersion = 1;

// c10::Error messages carry a C++ backtrace; keep the first part only.
std::string torch_message(const std::exception& e) {
  if (const auto* ce = dynamic_cast<const c10::Error*>(&e)) return ce->what_without_backtrace();
  return e.what();
}

// Parses and checks the embedded metadata; fills the metadata fields of `info`.
void parse_meta(const std::string& text, const std::string& path, EncoderInfo& info) {
  auto fail = [&](const std::string& msg) -> void {
    throw Error("encoder", "invalid embedded " + std::string(kMetaName) + ": " + msg, path);
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    fail(std::string("not JSON (") + e.what() + ")");
  }
  if (!j.is_object()) fail("not a JSON object");
  auto str = [&](const char* key, bool required, const std::string& def) -> std::string {
    if (!j.contains(key)) {
      if (required) fail(std::string("missing \"") + key + "\"");
      return def;
    }
    if (!j[key].is_string()) fail(std::string("\"") + key + "\" is not a string");
    return j[key].get<std::string>();
  };
  auto boolean = [&](const char* key, bool def) -> bool {
    if (!j.contains(key) || j[key].is_null()) return def;
    if (!j[key].is_boolean()) fail(std::string("\"") + key + "\" is not a boolean");
    return j[key].get<bool>();
  };

  const std::string format = str("format", true, "");
  if (format != "lssd-encoder") fail("\"format\" is \"" + format + "\", expected \"lssd-encoder\"");
  if (!j.contains("format_version") || !j["format_version"].is_number_integer())
    fail("missing or non-integer \"format_version\"");
  const int version = j["format_version"].get<int>();
  if (version != kFormatVersion)
    fail("format_version " + std::to_string(version) + " is not supported (this build reads " +
         std::to_string(kFormatVersion) + "); re-export with this build's tools/lssd_export.py");

  info.modality = str("modality", true, "");
  if (info.modality != "video" && info.modality != "audio")
    fail("\"modality\" is \"" + info.modality + "\", expected \"video\" or \"audio\"");
  info.size = str("size", true, "");
  info.variant = str("variant", false, "full");
  info.patch_overlap = boolean("patch_overlap", false);
  info.random_weights = boolean("random_weights", false);
  info.checkpoint_sha256 = str("checkpoint_sha256", false, "");

  if (!j.contains("input_shape") || !j["input_shape"].is_array() || j["input_shape"].empty())
    fail("missing or empty \"input_shape\"");
  info.input_shape.clear();
  for (const auto& d : j["input_shape"]) {
    if (!d.is_number_integer() || d.get<int64_t>() <= 0) fail("\"input_shape\" must hold positive integers");
    info.input_shape.push_back(d.get<int64_t>());
  }
  if (!j.contains("embed_dim") || !j["embed_dim"].is_number_integer() || j["embed_dim"].get<int64_t>() <= 0)
    fail("missing or non-positive \"embed_dim\"");
  info.embed_dim = j["embed_dim"].get<int>();
  info.meta_json = text;
}

// Reads the metadata record straight from the TorchScript zip (no module is built).
std::string read_meta_record(const std::string& path) {
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const std::exception& e) {
    throw Error("encoder", "not a TorchScript file (" + torch_message(e) + ")", path);
  }
  const std::string record = std::string("extra/") + kMetaName;
  if (!reader->hasRecord(record))
    throw Error("encoder",
                std::string("no embedded ") + kMetaName +
                    ": not an LSSD encoder; export one with tools/lssd_export.py",
                path);
  at::DataPtr data;
  size_t n = 0;
  std::tie(data, n) = reader->getRecord(record);
  return std::string(static_cast<const char*>(data.get()), n);
}

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
      spdlog::debug("encoder: OpenBLAS threads set to {} (CPU lanes)", n);
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

enum class Prec { FP32, FP16, BF16 };

const char* prec_name(Prec p) { return p == Prec::FP32 ? "fp32" : p == Prec::FP16 ? "fp16" : "bf16"; }

// Autocast state of one device type on this thread. LibTorch 2.4 made the state per device
// type (at::autocast::is_autocast_enabled(at::kCUDA), get_autocast_dtype(...), ...) and deprecated
// the per-device functions of 1.x (is_enabled, get_autocast_gpu_dtype, set_cpu_enabled, ...).
struct AutocastState {
  bool enabled = false;
  at::ScalarType dtype = at::kFloat;
};

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

torch::Device resolve_device(const std::string& spec, int device_index, const std::string& path) {
  const bool have_cuda = torch::cuda::is_available();
  const int n_cuda = have_cuda ? static_cast<int>(torch::cuda::device_count()) : 0;
  int index = -1;
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec == "auto") {
    if (!have_cuda) return torch::Device(torch::kCPU);
    index = device_index >= 0 ? device_index : 0;
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
    if (device_index >= 0) index = device_index;
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
      throw Error("encoder",
                  "RUNTIME.PRECISION fp16 is only supported on CUDA (use fp32, or bf16 for CPU autocast)", path);
    return Prec::FP16;
  }
  if (spec == "bf16") return Prec::BF16;
  throw Error("encoder", "RUNTIME.PRECISION \"" + spec + "\" is not auto, fp32, fp16 or bf16", path);
}

}  // namespace

static void require_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return;
  std::string dir = std::filesystem::path(path).parent_path().string();
  throw Error("encoder",
              "encoder model file not found (MODEL.VIDEO_ENCODER_FILE / MODEL.AUDIO_ENCODER_FILE); export the "
              "released checkpoint once: tools/lssd_export.py --checkpoint CHECKPOINT.pyth --out-dir " +
                  (dir.empty() ? std::string(".") : dir) + " (README: \"Released models\")",
              path);
}

std::string encoder_file_sha256(const std::string& path) {
  // One computation per (path, size, mtime): concurrent callers wait for the same one (the
  // pipeline's model id and the tower loading in the background share it).
  static std::mutex mu;
  static std::map<std::string, std::shared_future<std::string>> memo;
  std::error_code ec1, ec2;
  const auto size = std::filesystem::file_size(path, ec1);
  const auto mtime = std::filesystem::last_write_time(path, ec2).time_since_epoch().count();
  if (ec1 || ec2) return sha256_file(path, "encoder");  // throws, naming the cause
  const std::string key = path + '\x1f' + std::to_string(size) + '\x1f' + std::to_string(mtime);
  std::promise<std::string> promise;
  std::shared_future<std::string> result;
  bool compute = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = memo.find(key);
    if (it == memo.end()) {
      result = promise.get_future().share();
      memo.emplace(key, result);
      compute = true;
    } else {
      result = it->second;
    }
  }
  if (compute) {
    try {
      promise.set_value(sha256_file(path, "encoder"));
    } catch (...) {
      promise.set_exception(std::current_exception());
      std::lock_guard<std::mutex> lock(mu);
      memo.erase(key);  // a later call tries again
    }
  }
  return result.get();
}

EncoderInfo read_encoder_info(const std::string& path, bool hash) {
  require_file(path);
  EncoderInfo info;
  info.path = path;
  parse_meta(read_meta_record(path), path, info);
  if (hash) info.file_sha256 = encoder_file_sha256(path);
  return info;
}

struct Encoder::Impl {
  EncoderInfo info;
  torch::jit::Module module;
  torch::Device device{torch::kCPU};
  bool cuda = false;
  Prec prec = Prec::FP32;
  bool optimize = false;  // graph executor optimisation for this Encoder's forwards
  int cpu_micro_batch = 1;  // CPU: inputs per module forward (0: the whole batch at once)
  int lanes = 1;            // CPU: micro-batch forwards run at once (threads of their own)
  int lane_threads = 1;     // CPU: intra-op threads of each lane (lanes > 1)

  torch::Tensor forward_one(const torch::Tensor& x);
  std::vector<torch::Tensor> forward_lanes(const std::vector<torch::Tensor>& inputs);

  FloatArray run(const std::vector<const FloatArray*>& items);
};

Encoder::Encoder(const std::string& path, const EncoderOptions& opts, int device_index)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.info.path = path;
  m.device = resolve_device(opts.device, device_index, path);
  m.cuda = m.device.is_cuda();
  m.prec = resolve_precision(opts.precision, m.cuda, path);
  m.cpu_micro_batch = opts.cpu_micro_batch;
  configure_threads(opts.threads);
  configure_executor();
  if (!m.cuda && m.cpu_micro_batch > 0) {
    const int total = g_intra_threads.load();
    m.lanes = std::max(1, std::min(opts.cpu_lanes > 0 ? opts.cpu_lanes : total, total));
    m.lane_threads = std::max(1, total / m.lanes);
    if (m.lanes > 1) configure_blas_threads(m.lane_threads);
  }

  require_file(path);
  m.info.file_sha256 = encoder_file_sha256(path);
  torch::jit::ExtraFilesMap extra{{kMetaName, ""}};
  try {
    m.module = torch::jit::load(path, m.device, extra);
  } catch (const std::exception& e) {
    throw Error("encoder", "cannot load the TorchScript module: " + torch_message(e), path);
  }
  const std::string& meta = extra[kMetaName];
  if (meta.empty())
    throw Error("encoder",
                std::string("no embedded ") + kMetaName +
                    ": not an LSSD encoder; export one with tools/lssd_export.py",
                path);
  parse_meta(meta, path, m.info);
  m.module.eval();
  // CPU bf16: LibTorch 1.13's dispatcher-level CPU autocast covers neither the traced graph's
  // aten::_convolution nor layer_norm (bf16 activations would meet fp32 weights), so this
  // Encoder's graphs run optimised, where the JIT autocast pass inserts the casts (as Python's
  // executor does). CUDA autocast covers both at dispatch (the release's eager behaviour).
  m.optimize = g_optimize.load() || (!m.cuda && m.prec == Prec::BF16);
  if (m.cuda && m.prec == Prec::FP32) {
    // fp32 means fp32: no TF32 convolutions (LibTorch allows them in cuDNN by default; matmuls
    // already default to full fp32). Process-global; irrelevant to fp16/bf16 autocast.
    at::globalContext().setAllowTF32CuDNN(false);
    at::globalContext().setAllowTF32CuBLAS(false);
  }
  m.info.device = m.device.str();
  m.info.precision = prec_name(m.prec);

  if (m.info.random_weights) {
    std::string seed = "?";
    try {
      auto j = nlohmann::json::parse(meta);
      for (const char* key : {"random_seed", "seed"})
        if (j.contains(key) && !j[key].is_null()) {
          seed = j[key].dump();
          break;
        }
    } catch (...) {
    }
    spdlog::warn("encoder {} ({} {}) has RANDOM weights (seed {}): embeddings are meaningless; export a "
                 "released checkpoint",
                 path, m.info.modality, m.info.size, seed);
  }
  spdlog::debug("encoder {}: {} {} {} on {} at {}, {} intra-op threads ({} lane(s) of {}), sha256 {}", path,
                m.info.modality, m.info.size, m.info.variant, m.info.device, m.info.precision, g_intra_threads.load(),
                m.lanes, m.lane_threads, m.info.file_sha256);
}

Encoder::~Encoder() = default;

const EncoderInfo& Encoder::info() const { return impl_->info; }

FloatArray Encoder::Impl::run(const std::vector<const FloatArray*>& items) {
  const std::vector<int64_t>& in = info.input_shape;
  const size_t rank = in.size();
  int64_t total = 0;
  for (const FloatArray* a : items) {
    if (!a) throw Error("encoder", "null input", info.path);
    const auto& s = a->shape;
    bool ok = false;
    if (s.size() == rank && std::equal(s.begin(), s.end(), in.begin())) {
      ok = true;
      total += 1;
    } else if (s.size() == rank + 1 && std::equal(s.begin() + 1, s.end(), in.begin()) && s[0] >= 0) {
      ok = true;
      total += s[0];
    }
    if (!ok)
      throw Error("encoder",
                  "input shape " + shape_str(s) + " does not match the model's " + shape_str(in) + " (or [k," +
                      shape_str(in).substr(1) + ")",
                  info.path);
    if (a->data.size() != FloatArray::numel_of(s))
      throw Error("encoder",
                  "input " + shape_str(s) + " holds " + std::to_string(a->data.size()) + " values, expected " +
                      std::to_string(FloatArray::numel_of(s)),
                  info.path);
  }
  FloatArray out(std::vector<int64_t>{total, info.embed_dim});
  if (total == 0) return out;

  try {
    c10::InferenceMode guard;
    // On CPU a forward of many inputs is slower per input than one input at a time (measured
    // with Debian's LibTorch: 3.1 s vs 0.7 s per MViT-S crop at 40 vs 1), so there the batch runs
    // as micro-batches of at most cpu_micro_batch inputs, each a view of its item's own memory
    // (torch::from_blob: no batch copy; a micro-batch never spans two items). On CUDA, or with
    // cpu_micro_batch 0, the items are copied (one memcpy each) into one batch (pinned host
    // memory and a non-blocking copy on CUDA) and run in one forward.
    std::vector<torch::Tensor> inputs;
    if (!cuda && cpu_micro_batch > 0) {
      for (const FloatArray* a : items) {
        std::vector<int64_t> ishape = a->shape;
        if (ishape.size() == rank) ishape.insert(ishape.begin(), 1);
        if (ishape[0] == 0) continue;
        // The module only reads its input; the const_cast never leads to a write.
        torch::Tensor t = torch::from_blob(const_cast<float*>(a->data.data()), ishape, torch::kFloat32);
        for (int64_t s0 = 0; s0 < ishape[0]; s0 += cpu_micro_batch)
          inputs.push_back(t.narrow(0, s0, std::min<int64_t>(cpu_micro_batch, ishape[0] - s0)));
      }
    } else {
      std::vector<int64_t> bshape{total};
      bshape.insert(bshape.end(), in.begin(), in.end());
      auto host_opts = torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(cuda);
      torch::Tensor batch = torch::empty(bshape, host_opts);
      char* dst = static_cast<char*>(batch.data_ptr());
      for (const FloatArray* a : items) {
        const size_t bytes = a->data.size() * sizeof(float);
        if (bytes) std::memcpy(dst, a->data.data(), bytes);
        dst += bytes;
      }
      if (cuda) batch = batch.to(device, /*non_blocking=*/true);
      inputs.push_back(batch);
    }

    std::vector<torch::Tensor> parts;
    if (lanes > 1 && inputs.size() > 1) {
      parts = forward_lanes(inputs);
    } else {
      // OpenMP keeps the thread count per thread: re-apply on the calling thread.
      const int threads = g_intra_threads.load();
      if (threads > 0 && at::get_num_threads() != threads) at::set_num_threads(threads);
      for (const torch::Tensor& x : inputs) parts.push_back(forward_one(x));
    }
    torch::Tensor y = parts.size() == 1 ? parts[0] : torch::cat(parts, 0);
    if (y.dim() != 2 || y.size(0) != total || y.size(1) != info.embed_dim)
      throw Error("encoder",
                  "the module returned shape " + shape_str(y.sizes().vec()) + ", expected [" + std::to_string(total) +
                      "," + std::to_string(info.embed_dim) + "]",
                  info.path);
    y = y.to(torch::kCPU, torch::kFloat32).contiguous();
    std::memcpy(out.ptr(), y.data_ptr<float>(), out.numel() * sizeof(float));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("encoder", "forward failed: " + torch_message(e), info.path);
  }
  return out;
}

// One module forward on the calling thread (its executor, autocast and inference-mode state are
// thread-local and set here).
torch::Tensor Encoder::Impl::forward_one(const torch::Tensor& x) {
  c10::InferenceMode guard;
  torch::jit::GraphOptimizerEnabledGuard opt(optimize);
  AutocastScope ac(cuda, prec);
  torch::jit::IValue result = module.forward({x});
  if (!result.isTensor())
    throw Error("encoder", "the module returned " + result.tagKind() + ", expected a tensor", info.path);
  return result.toTensor();
}

// CPU lanes: the micro-batches of one call run `lanes` at a time, each lane a thread (the caller
// is one) with lane_threads intra-op threads that takes the next micro-batch when done. On
// CPUs, several single-threaded forwards beat one forward spread over every core: the ops of an
// MViT forward are too small to keep two threads busy between their barriers, and a barrier
// stalls whenever one thread loses its core (measured, 2 cores, MViT-S video: 0.31 s per crop
// with 2 lanes against 0.46 s with 2 threads in one forward; tiny: 0.091 against 0.121 s).
std::vector<torch::Tensor> Encoder::Impl::forward_lanes(const std::vector<torch::Tensor>& inputs) {
  std::vector<torch::Tensor> parts(inputs.size());
  std::atomic<size_t> next{0};
  std::mutex err_mu;
  std::exception_ptr err;
  auto lane = [&] {
    try {
      if (at::get_num_threads() != lane_threads) at::set_num_threads(lane_threads);
      for (size_t i; (i = next.fetch_add(1)) < inputs.size();) {
        {
          std::lock_guard<std::mutex> lock(err_mu);
          if (err) return;
        }
        parts[i] = forward_one(inputs[i]);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(err_mu);
      if (!err) err = std::current_exception();
    }
  };
  const size_t helpers = std::min(static_cast<size_t>(lanes), inputs.size()) - 1;
  std::vector<std::thread> threads;
  threads.reserve(helpers);
  for (size_t k = 0; k < helpers; ++k) threads.emplace_back(lane);
  lane();
  for (auto& t : threads) t.join();
  if (err) std::rethrow_exception(err);
  return parts;
}

FloatArray Encoder::forward(const std::vector<const FloatArray*>& items) { return impl_->run(items); }

void Encoder::warmup(int batch) {
  std::vector<int64_t> shape{std::max(batch, 1)};
  shape.insert(shape.end(), impl_->info.input_shape.begin(), impl_->info.input_shape.end());
  FloatArray zeros(shape);
  impl_->run({&zeros});
}

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
