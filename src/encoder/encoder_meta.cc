// The encoder files: their embedded metadata (lssd_meta.json, read straight from the TorchScript
// zip or handed over by torch::jit::load), the check that a file exists, and the file's sha256
// (computed once per file version).
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>

#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "encoder/encoder_meta.h"
#include "lssd/encoder_info.h"
#include "lssd/error.h"
#include "lssd/sha256.h"

namespace lssd {
namespace {

constexpr int kFormatVersion = 1;

}  // namespace

namespace encoder_detail {

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

  const std::string modality = str("modality", true, "");
  if (!parse_modality(modality, &info.modality))
    fail("\"modality\" is \"" + modality + "\", expected \"video\" or \"audio\"");
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

void require_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return;
  std::string dir = std::filesystem::path(path).parent_path().string();
  // A relative path resolves against the current directory (as the release's paths do): say which.
  const std::string where =
      std::filesystem::path(path).is_absolute()
          ? ""
          : " (relative to the current directory " + std::filesystem::current_path(ec).string() + ")";
  throw Error("encoder",
              "encoder model file not found" + where +
                  " (MODEL.VIDEO_ENCODER_FILE / MODEL.AUDIO_ENCODER_FILE); export the "
                  "released checkpoint once: tools/lssd_export.py --checkpoint CHECKPOINT.pyth --out-dir " +
                  (dir.empty() ? std::string(".") : dir) + " (README: \"Released models\")",
              path);
}

}  // namespace encoder_detail

using namespace encoder_detail;

namespace {

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
                std::string("no embedded ") + kMetaName + ": not an LSSD encoder; export one with tools/lssd_export.py",
                path);
  at::DataPtr data;
  size_t n = 0;
  std::tie(data, n) = reader->getRecord(record);
  return std::string(static_cast<const char*>(data.get()), n);
}

}  // namespace

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

}  // namespace lssd
