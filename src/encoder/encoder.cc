// The encoder stage: Encoder, a TorchScript tower loaded on its device, and its forwards. The
// encoder's LibTorch code is in src/encoder/*.cc only: the embedded metadata and file checks in
// encoder_meta.cc, the process-global settings, autocast, device and precision in
// encoder_runtime.cc.
#include "lssd/encoder.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <c10/core/DeviceGuard.h>
#include <spdlog/spdlog.h>
#include <torch/csrc/jit/python/update_graph_executor_opt.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/device_tensor.h"
#include "encoder/encoder_meta.h"
#include "encoder/encoder_runtime.h"
#include "lssd/cpu_features.h"
#include "lssd/error.h"

namespace lssd {

using namespace encoder_detail;

struct Encoder::Impl {
  EncoderInfo info;
  torch::jit::Module module;
  torch::Device device{torch::kCPU};
  bool cuda = false;
  Prec prec = Prec::FP32;
  Prec autocast = Prec::FP32;      // autocast of a forward (FP32: none)
  std::string method = "forward";  // the module's method that forwards run
  bool optimize = false;           // graph executor optimisation for this Encoder's forwards
  int cpu_micro_batch = 1;         // CPU: inputs per module forward (0: the whole batch at once)
  int lanes = 1;                   // CPU: micro-batch forwards run at once (threads of their own)
  int lane_threads = 1;            // CPU: intra-op threads of each lane (lanes > 1)

  torch::Tensor forward_one(const torch::Tensor& x);
  std::vector<torch::Tensor> forward_lanes(const std::vector<torch::Tensor>& inputs);

  // The inputs' rows in all (an item is one input or a [k, ...] stack); throws Error naming the
  // tower for a null input, a shape the tower does not take, or values that do not fill it.
  int64_t count_rows(const std::vector<const FloatArray*>& items, bool& any_device) const;
  // The module's inputs for the items: one batch on the device (device items, or CUDA), CPU
  // micro-batches viewing the items' memory, or one host batch.
  std::vector<torch::Tensor> make_inputs(const std::vector<const FloatArray*>& items, int64_t total,
                                         bool any_device) const;
  FloatArray run(const std::vector<const FloatArray*>& items);
};

Encoder::Encoder(const std::string& path, const EncoderOptions& opts, std::optional<int> device_index)
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
  }
  // OpenBLAS keeps threads of its own (one per core by default) that spin (sched_yield) after
  // each call: as many as a forward's intra-op threads (RUNTIME.NUM_THREADS) or a lane's. Measured
  // with RUNTIME.NUM_THREADS 1 on the 2-core machine: a second OpenBLAS thread took ~40 % of the
  // process's CPU time, half of it yielding.
  if (!m.cuda) configure_blas_threads(m.lanes > 1 ? m.lane_threads : g_intra_threads.load());

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
                std::string("no embedded ") + kMetaName + ": not an LSSD encoder; export one with tools/lssd_export.py",
                path);
  parse_meta(meta, path, m.info);
  m.module.eval();
  m.autocast = m.prec;
  if (!m.cuda && m.prec == Prec::BF16) {
    warn_without_native_bf16();
    if (m.module.find_method(kBf16Method)) {
      // The export's bf16 method (fast exports, tools/lssd_mvit.py): its matrix work in bf16 on
      // bf16 weight copies made here, layer norms and softmax in fp32; no autocast.
      const int n = fill_bf16_copies(m.module);
      m.method = kBf16Method;
      m.autocast = Prec::FP32;
      spdlog::debug("encoder {}: CPU bf16 through the module's {} ({} bf16 weight copies)", path, kBf16Method, n);
    } else {
      spdlog::info(
          "encoder {}: no {} method (a --kernels reference export, or one older than exporter 1.2.0): bf16 "
          "by CPU autocast, no faster than fp32 here; export with --kernels fast for native bf16",
          path, kBf16Method);
    }
  }
  // CPU bf16 autocast: LibTorch 1.13's dispatcher-level CPU autocast covers neither the traced
  // graph's aten::_convolution nor layer_norm (bf16 activations would meet fp32 weights), so
  // this Encoder's graphs run optimised, where the JIT autocast pass inserts the casts (as
  // Python's executor does). CUDA autocast covers both at dispatch (the release's eager behaviour).
  m.optimize = g_optimize.load() || (!m.cuda && m.autocast == Prec::BF16);
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
    spdlog::warn(
        "encoder {} ({} {}) has RANDOM weights (seed {}): embeddings are meaningless; export a "
        "released checkpoint",
        path, to_string(m.info.modality), m.info.size, seed);
  }
  spdlog::debug("encoder {}: {} {} {} on {} at {}, {} intra-op threads ({} lane(s) of {}), sha256 {}", path,
                to_string(m.info.modality), m.info.size, m.info.variant, m.info.device, m.info.precision,
                g_intra_threads.load(), m.lanes, m.lane_threads, m.info.file_sha256);
}

Encoder::~Encoder() = default;

const EncoderInfo& Encoder::info() const { return impl_->info; }

int64_t Encoder::Impl::count_rows(const std::vector<const FloatArray*>& items, bool& any_device) const {
  const std::vector<int64_t>& in = info.input_shape;
  const size_t rank = in.size();
  int64_t total = 0;
  any_device = false;  // inputs already on a device (MEDIA.HWACCEL cuda's clip tensors)
  for (const FloatArray* a : items) {
    if (!a) throw Error("encoder", "null input", info.path);
    const auto& s = a->shape;
    if (s.size() == rank && std::equal(s.begin(), s.end(), in.begin()))
      total += 1;
    else if (s.size() == rank + 1 && std::equal(s.begin() + 1, s.end(), in.begin()) && s[0] >= 0)
      total += s[0];
    else
      throw Error("encoder",
                  "input shape " + shape_str(s) + " does not match the model's " + shape_str(in) + " (or [k," +
                      shape_str(in).substr(1) + ")",
                  info.path);
    if (a->device) {
      any_device = true;
      if (!a->device->tensor.defined() || a->device->tensor.numel() != static_cast<int64_t>(FloatArray::numel_of(s)))
        throw Error("encoder", "device input " + shape_str(s) + " does not hold its shape's values", info.path);
    } else if (a->data.size() != FloatArray::numel_of(s))
      throw Error("encoder",
                  "input " + shape_str(s) + " holds " + std::to_string(a->data.size()) + " values, expected " +
                      std::to_string(FloatArray::numel_of(s)),
                  info.path);
  }
  return total;
}

// On CPU a forward of many inputs is slower per input than one input at a time (measured with
// Debian's LibTorch: 3.1 s vs 0.7 s per MViT-S crop at 40 vs 1), so there the batch runs as
// micro-batches of at most cpu_micro_batch inputs, each a view of its item's own memory
// (torch::from_blob: no batch copy; a micro-batch never spans two items). On CUDA, or with
// cpu_micro_batch 0, the items are copied (one memcpy each) into one batch (pinned host memory
// and a non-blocking copy on CUDA) and run in one forward. Device inputs (and any host ones
// beside them) go into one batch on the encoder's device: no host copy of a device tensor.
std::vector<torch::Tensor> Encoder::Impl::make_inputs(const std::vector<const FloatArray*>& items, int64_t total,
                                                      bool any_device) const {
  const std::vector<int64_t>& in = info.input_shape;
  auto item_shape = [&](const FloatArray* a) {
    std::vector<int64_t> shape = a->shape;
    if (shape.size() == in.size()) shape.insert(shape.begin(), 1);
    return shape;
  };
  // The module only reads its input; the const_cast never leads to a write.
  auto host_view = [&](const FloatArray* a) {
    return torch::from_blob(const_cast<float*>(a->data.data()), item_shape(a), torch::kFloat32);
  };
  std::vector<torch::Tensor> inputs;
  if (any_device) {
    std::vector<torch::Tensor> parts;
    for (const FloatArray* a : items)
      parts.push_back(
          (a->device ? a->device->tensor.reshape(item_shape(a)) : host_view(a)).to(device, torch::kFloat32));
    inputs.push_back(torch::cat(parts, 0));
  } else if (!cuda && cpu_micro_batch > 0) {
    for (const FloatArray* a : items) {
      if (FloatArray::numel_of(a->shape) == 0) continue;  // a [0, ...] stack: nothing to view
      torch::Tensor t = host_view(a);
      const int64_t n = t.size(0);
      for (int64_t s0 = 0; s0 < n; s0 += cpu_micro_batch)
        inputs.push_back(t.narrow(0, s0, std::min<int64_t>(cpu_micro_batch, n - s0)));
    }
  } else {
    std::vector<int64_t> bshape{total};
    bshape.insert(bshape.end(), in.begin(), in.end());
    torch::Tensor batch = torch::empty(bshape, torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(cuda));
    char* dst = static_cast<char*>(batch.data_ptr());
    for (const FloatArray* a : items) {
      const size_t bytes = a->data.size() * sizeof(float);
      if (bytes) std::memcpy(dst, a->data.data(), bytes);
      dst += bytes;
    }
    inputs.push_back(cuda ? batch.to(device, /*non_blocking=*/true) : batch);
  }
  return inputs;
}

FloatArray Encoder::Impl::run(const std::vector<const FloatArray*>& items) {
  bool any_device = false;
  const int64_t total = count_rows(items, any_device);
  FloatArray out(std::vector<int64_t>{total, info.embed_dim});
  if (total == 0) return out;

  try {
    c10::InferenceMode guard;
    // The replica's CUDA device is the thread's current device for the whole call: whatever
    // consults the current device (allocations, handles) meets this replica's, not cuda:0.
    c10::OptionalDeviceGuard device_guard;
    if (cuda) device_guard.reset_device(device);
    const std::vector<torch::Tensor> inputs = make_inputs(items, total, any_device);

    std::vector<torch::Tensor> parts;
    if (lanes > 1 && inputs.size() > 1) {
      parts = forward_lanes(inputs);
    } else {
      // OpenMP keeps the thread count per thread: re-apply on the calling thread. With lanes, a
      // lone input runs on a lane's thread count too, so that an input's embedding does not
      // depend on how many others share its batch: some kernels (the fast export's oneDNN
      // linears) round differently with another thread count (tiny audio: up to 4.8e-7).
      const int threads = lanes > 1 ? lane_threads : g_intra_threads.load();
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
  AutocastScope ac(cuda, autocast);
  torch::jit::IValue result = module.get_method(method)({x});
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

}  // namespace lssd
