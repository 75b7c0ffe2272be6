// lssd-read convert: an lssd output directory rewritten in the other layout (files <-> shards).
#include <filesystem>
#include <memory>

#include "lssd/error.h"
#include "lssd/npy.h"
#include "lssd/reader.h"
#include "lssd/shards.h"

namespace lssd {
namespace fs = std::filesystem;

namespace {

constexpr const char* kConvertWriter = "converted";

void copy_side_files(const std::string& src, const std::string& dest) {
  std::error_code ec;
  for (auto it = fs::directory_iterator(src, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string n = it->path().filename().string();
    const bool errors_log = n.rfind("errors", 0) == 0 && n.size() > 6 && n.compare(n.size() - 6, 6, ".jsonl") == 0;
    if (!errors_log && n != "config.yaml") continue;
    std::error_code e2;
    fs::copy_file(it->path(), fs::path(dest) / n, fs::copy_options::overwrite_existing, e2);
    if (e2) throw Error("convert", "cannot copy: " + e2.message(), it->path().string(), e2.value());
  }
}

NpyDtype stored_dtype(const std::string& name) { return name == "float16" ? NpyDtype::Float16 : NpyDtype::Float32; }

// One modality: every record to dest's manifest, each embedding to its new place.
void convert_modality(const ModalityReader& mr, const std::string& dest, bool to_shards, const ShardLimits& limits,
                      ConvertSummary& sum) {
  const Modality m = mr.modality();
  const fs::path root = fs::path(dest) / to_string(m);
  JsonlAppender manifest((root / "manifest.jsonl").string());
  std::unique_ptr<ShardWriter> f32, f16;  // one per stored dtype (a mixed source keeps both)
  auto writer_for = [&](NpyDtype dt) -> ShardWriter& {
    std::unique_ptr<ShardWriter>& w = dt == NpyDtype::Float16 ? f16 : f32;
    if (!w)
      w = std::make_unique<ShardWriter>(
          ShardWriter::Options{root.string(), kConvertWriter + std::string(dt == NpyDtype::Float16 ? "-f16" : ""), dt,
                               limits, true},
          &manifest);
    return *w;
  };
  for (const Record& rec : mr.records()) {
    Record r = rec;
    ++sum.records[m];
    if (r.status != RecordStatus::Ok) {
      manifest.append(record_to_json(r));
      continue;
    }
    std::string dtype;
    const FloatArray a = mr.load(r, &dtype);
    ++sum.embeddings[m];
    if (to_shards) {
      writer_for(stored_dtype(dtype)).add(std::move(r), a);
      continue;
    }
    r.version = kFilesRecordVersion;
    r.row = -1;
    r.output = output_name(r.rel_path, r.track_index, r.track_language);
    write_npy(safe_output_path(root.string(), r.output), a, stored_dtype(dtype), kConvertWriter);
    manifest.append(record_to_json(r));
  }
  for (std::unique_ptr<ShardWriter>* w : {&f32, &f16})
    if (*w) {
      (*w)->seal();
      sum.parts[m] += (*w)->parts_sealed();
    }
}

}  // namespace

ConvertSummary convert_output(const std::string& src, const std::string& dest, bool to_shards,
                              const ShardLimits& limits) {
  std::error_code ec;
  if (fs::exists(dest, ec) && !(fs::is_directory(dest, ec) && fs::is_empty(dest, ec)))
    throw ConfigError("convert: the destination " + dest + " exists and is not an empty directory");
  const OutputReader rd(src);
  for (const Modality m : rd.present())
    if (rd.modality(m).layout() != OutputLayout::Ours)
      throw ConfigError("convert: " + rd.modality(m).dir() +
                        " is in the Python release's layout; `lssd-read export` writes that one");
  fs::create_directories(dest, ec);
  if (ec) throw Error("convert", "cannot create the destination: " + ec.message(), dest, ec.value());
  ConvertSummary sum;
  for (const Modality m : rd.present()) convert_modality(rd.modality(m), dest, to_shards, limits, sum);
  copy_side_files(src, dest);
  return sum;
}

}  // namespace lssd
