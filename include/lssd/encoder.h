// The encoder stage: a TorchScript LSSD tower (video.pt / audio.pt from tools/lssd_export.py)
// with its embedded metadata, on a device and at a precision. LibTorch types stay in
// src/encoder/ and its private headers (the audio transform and the release export use
// LibTorch in their own .cc).
//
// Errors are lssd::Error("encoder", message, model path): missing file, not TorchScript, missing
// or invalid embedded lssd_meta.json, unknown device/precision, CUDA asked for where LibTorch has
// none, fp16 on CPU, an input whose shape is not the model's, a failing forward.
//
// Device: "auto" (cuda:0, or device_index, when LibTorch sees CUDA; else cpu), "cpu", "cuda"
// (= cuda:0), "cuda:N"; a device_index overrides the index for CUDA specs (replicas).
// Precision: "auto" = fp16 autocast on CUDA (the release's torch.cuda.amp.autocast()), fp32 on
// CPU (bit-identical to "fp32"); "fp32" (on CUDA with TF32 off); "fp16" (CUDA autocast only);
// "bf16": on CUDA autocast; on CPU the module's bf16 method when it has one (fast exports of
// tools/lssd_export.py >= 1.2.0: matrix work in bf16 on bf16 weight copies that the constructor
// makes, no autocast), else CPU autocast through the optimising executor, whose JIT autocast pass
// does the casts. Where the CPU has no native bf16 (lssd/cpu_features.h) the constructor warns
// once: bf16 is then slower than fp32, not faster.
// Autocast is enabled on the calling thread for the forward only and its weight-cast cache is
// cleared after (as torch.autocast's exit does).
//
// Process-global LibTorch settings made by the constructor: intra-op threads
// (EncoderOptions::threads, 0 = the CPUs this process may run on; the last Encoder constructed
// wins, and forward() re-applies it on its own thread), inter-op threads = 1, and the graph
// executor (LSSD_JIT_EXECUTOR=simple|legacy|profiling, default simple: see src/encoder/encoder_runtime.cc).
// Under CPU contention (several busy processes sharing cores) run with OMP_WAIT_POLICY=passive:
// OpenMP's spinning made forwards 5-8x slower in such a case (the variable is read at start-up,
// so it has to be in the environment, not set by the program).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lssd/array.h"
#include "lssd/encoder_info.h"  // EncoderInfo, read_encoder_info, devices: declared here before
#include "lssd/options.h"

namespace lssd {

class Encoder {
 public:
  // device_index: which CUDA device when opts.device is "cuda"/"auto" (none: from opts.device).
  Encoder(const std::string& path, const EncoderOptions& opts, std::optional<int> device_index = std::nullopt);
  ~Encoder();
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  const EncoderInfo& info() const;
  // Each item is one input ([input_shape]) or a stack of them ([k, input_shape...]). On CUDA (or
  // with EncoderOptions::cpu_micro_batch 0) they are copied (one memcpy each) into one batch
  // (pinned, then a non-blocking copy, on CUDA) and run in one forward; on CPU each item's own
  // memory is forwarded in micro-batches of at most cpu_micro_batch inputs (no copy), run
  // EncoderOptions::cpu_lanes at a time on threads of their own (default: as many as intra-op
  // threads, one thread each; an input alone in its batch still runs on one lane's threads, so
  // its embedding is the same bits whatever batch it lands in). Runs under c10::InferenceMode.
  // Returns [sum k, embed_dim] float32 on CPU (no items: [0, embed_dim]). Any thread may call
  // it; one forward at a time per Encoder is the tested use.
  FloatArray forward(const std::vector<const FloatArray*>& items);
  // One forward on zeros at the given batch size (allocator, kernels and graph executor warm).
  void warmup(int batch = 1);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lssd
