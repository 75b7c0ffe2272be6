// What can be known of an exported encoder file and of the machine without loading a model:
// the file's embedded metadata (lssd_meta.json) and sha256, the CUDA devices, the usable CPUs.
// Implemented in src/encoder/ (encoder_meta.cc, encoder_runtime.cc).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lssd/modality.h"

namespace lssd {

struct EncoderInfo {
  std::string path;
  Modality modality = Modality::Video;
  std::string size;     // "S" | "B"
  std::string variant;  // "full" | "tiny"
  bool patch_overlap = false;
  bool random_weights = false;
  std::vector<int64_t> input_shape;  // without batch: [3,16,224,224] or [1,96,288]
  int embed_dim = 768;
  std::string file_sha256;  // sha256 of the TorchScript file itself (part of the model id)
  std::string checkpoint_sha256;
  std::string meta_json;  // the embedded lssd_meta.json, verbatim
  std::string device;     // resolved: "cpu", "cuda:0", ...
  std::string precision;  // resolved: "fp32" | "fp16" | "bf16"
};

// Reads only the metadata record and (hash = true) the file's sha256 (no module is built,
// nothing goes on a device): for checks and model ids. device and precision are left empty.
EncoderInfo read_encoder_info(const std::string& path, bool hash = true);

// sha256 of an encoder file, computed once per (path, size, mtime) in this process; concurrent
// callers share one computation. Throws lssd::Error("encoder", ...) when it cannot be read.
std::string encoder_file_sha256(const std::string& path);

// Number of CUDA devices LibTorch sees (0 on CPU-only builds).
int cuda_device_count();

// CPUs this process may run on (its affinity mask; else hardware_concurrency; at least 1).
int available_cpus();

}  // namespace lssd
