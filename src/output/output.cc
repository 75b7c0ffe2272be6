#include "lssd/output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lssd/error.h"
#include "lssd/npy.h"
#include "lssd/sha256.h"
#include "output/json_bytes.h"

namespace lssd {
namespace fs = std::filesystem;
using nlohmann::json;

std::string Record::key() const {
  return std::string(to_string(modality)) + "\x1f" + rel_path + "\x1f" + std::to_string(track_index);
}

std::string output_name(const std::string& rel_path, int track_index, const std::string& language) {
  if (track_index < 0) return rel_path + ".npy";
  std::string lang;
  for (char c : language) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u))
      lang += static_cast<char>(std::tolower(u));
    else if (c == '_' || c == '-')
      lang += '_';
  }
  if (lang.empty()) lang = "und";
  if (lang.size() > 16) lang.resize(16);
  return rel_path + ".a" + std::to_string(track_index) + "-" + lang + ".npy";
}

bool is_safe_relative(const std::string& rel) {
  if (rel.empty() || rel[0] == '/') return false;
  size_t i = 0;
  while (i <= rel.size()) {
    size_t j = rel.find('/', i);
    if (j == std::string::npos) j = rel.size();
    std::string p = rel.substr(i, j - i);
    if (p.empty() || p == "." || p == "..") return false;
    i = j + 1;
  }
  return rel.find('\0') == std::string::npos;
}

const char* to_string(RecordStatus s) {
  switch (s) {
    case RecordStatus::Ok: return "ok";
    case RecordStatus::Failed: return "failed";
    case RecordStatus::SkippedShort: return "skipped_short";
    case RecordStatus::SkippedNoAudio: return "skipped_no_audio";
  }
  return "?";
}

bool parse_status(const std::string& name, RecordStatus* s) {
  for (RecordStatus v :
       {RecordStatus::Ok, RecordStatus::Failed, RecordStatus::SkippedShort, RecordStatus::SkippedNoAudio}) {
    if (name == to_string(v)) {
      *s = v;
      return true;
    }
  }
  return false;
}

std::string record_to_json(const Record& r) {
  json j;
  j["v"] = r.version;
  j["modality"] = to_string(r.modality);
  put_bytes(j, "path", r.path);
  put_bytes(j, "rel_path", r.rel_path);
  put_bytes(j, "output", r.output);
  j["size"] = r.size;
  j["mtime_ns"] = r.mtime_ns;
  j["status"] = to_string(r.status);
  j["M"] = r.num_clips;
  j["shape"] = r.shape;
  json ranges = json::array();
  for (const auto& c : r.ranges) {
    if (c.start_sample >= 0)
      ranges.push_back({c.start_s, c.stop_s, c.start_sample, c.stop_sample});
    else
      ranges.push_back({c.start_s, c.stop_s});
  }
  j["ranges"] = ranges;
  if (r.modality == Modality::Video) {
    j["fps"] = r.fps;
    if (!r.timestamps.empty()) j["timestamps"] = r.timestamps;
    if (!r.decoder.empty()) j["decoder"] = r.decoder;
  } else {
    j["sample_rate"] = r.sample_rate;
  }
  if (r.track_index >= 0) {
    j["track"] = {{"index", r.track_index}, {"language", r.track_language}, {"total", r.tracks_total}};
  }
  j["model_id"] = r.model_id;
  if (!r.dtype.empty()) j["dtype"] = r.dtype;
  if (!r.error_stage.empty() || !r.error_message.empty()) {
    json e;
    e["stage"] = r.error_stage;
    put_bytes(e, "message", r.error_message);
    if (r.error_from_content) e["from_content"] = true;
    j["error"] = e;
  }
  j["wall_s"] = r.wall_s;
  return j.dump();
}

Record record_from_json(const std::string& line, const std::string& source) {
  Record r;
  try {
    json j = json::parse(line);
    r.version = j.at("v").get<int>();
    if (r.version > kManifestVersion)
      throw Error("read",
                  "manifest format version " + std::to_string(r.version) + " is newer than this lssd (" +
                      std::to_string(kManifestVersion) + ")",
                  source);
    const std::string modality = j.at("modality").get<std::string>();
    if (!parse_modality(modality, &r.modality)) throw Error("read", "unknown modality '" + modality + "'", source);
    r.path = get_bytes(j, "path");
    r.rel_path = get_bytes(j, "rel_path");
    r.output = get_bytes(j, "output");
    r.size = j.at("size").get<uint64_t>();
    r.mtime_ns = j.at("mtime_ns").get<int64_t>();
    const std::string status = j.at("status").get<std::string>();
    if (!parse_status(status, &r.status)) throw Error("read", "unknown status '" + status + "'", source);
    r.num_clips = j.at("M").get<int64_t>();
    r.shape = j.at("shape").get<std::vector<int64_t>>();
    for (const auto& c : j.at("ranges")) {
      ClipRange cr;
      cr.start_s = c.at(0).get<double>();
      cr.stop_s = c.at(1).get<double>();
      if (c.size() >= 4) {
        cr.start_sample = c.at(2).get<int64_t>();
        cr.stop_sample = c.at(3).get<int64_t>();
      }
      r.ranges.push_back(cr);
    }
    if (j.contains("fps")) r.fps = j["fps"].get<double>();
    r.timestamps = j.value("timestamps", "");
    r.decoder = j.value("decoder", "");
    if (j.contains("sample_rate")) r.sample_rate = j["sample_rate"].get<int>();
    if (j.contains("track")) {
      r.track_index = j["track"].at("index").get<int>();
      r.track_language = j["track"].value("language", "");
      r.tracks_total = j["track"].value("total", 0);
    }
    r.model_id = j.value("model_id", "");
    r.dtype = j.value("dtype", "");
    if (j.contains("error")) {
      r.error_stage = j["error"].value("stage", "");
      r.error_message = get_bytes(j["error"], "message");
      r.error_from_content = j["error"].value("from_content", false);
    }
    r.wall_s = j.value("wall_s", 0.0);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("read", std::string("malformed manifest record: ") + e.what(), source);
  }
  return r;
}

std::vector<int64_t> output_shape(Modality modality, int64_t clips, int64_t width) {
  return modality == Modality::Video ? std::vector<int64_t>{clips, 5, width} : std::vector<int64_t>{clips, width};
}

bool is_manifest_name(const std::string& n) {
  return n.rfind("manifest", 0) == 0 && n.size() > 6 && n.compare(n.size() - 6, 6, ".jsonl") == 0;
}

std::string manifest_name(int shard_id, int num_shards) {
  if (num_shards <= 1) return "manifest.jsonl";
  char buf[64];
  std::snprintf(buf, sizeof buf, "manifest.shard-%04d-of-%04d.jsonl", shard_id, num_shards);
  return buf;
}

std::string errors_name(int shard_id, int num_shards) {
  if (num_shards <= 1) return "errors.jsonl";
  char buf[64];
  std::snprintf(buf, sizeof buf, "errors.shard-%04d-of-%04d.jsonl", shard_id, num_shards);
  return buf;
}

std::vector<Record> read_manifest_dir(const std::string& dir, std::vector<std::string>* warnings) {
  std::vector<std::string> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {};
  for (auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (is_manifest_name(n)) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  std::vector<Record> order;
  std::map<std::string, size_t> index;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) throw Error("read", std::string("cannot open manifest: ") + std::strerror(errno), f);
    std::string content((std::istreambuf_iterator<char>(in)), {});
    size_t pos = 0, lineno = 0;
    while (pos < content.size()) {
      size_t nl = content.find('\n', pos);
      bool last = nl == std::string::npos;
      std::string line = content.substr(pos, last ? std::string::npos : nl - pos);
      pos = last ? content.size() : nl + 1;
      ++lineno;
      if (line.empty()) continue;
      Record r;
      try {
        r = record_from_json(line, f + ":" + std::to_string(lineno));
      } catch (const Error& e) {
        if (last) {  // a torn final append: the input is simply redone
          if (warnings) warnings->push_back(f + ":" + std::to_string(lineno) + ": incomplete last line ignored");
          continue;
        }
        throw;
      }
      auto it = index.find(r.key());
      if (it == index.end()) {
        index[r.key()] = order.size();
        order.push_back(std::move(r));
      } else {
        order[it->second] = std::move(r);
      }
    }
  }
  return order;
}

JsonlAppender::JsonlAppender(const std::string& path) : path_(path) {
  fs::path p(path);
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  // O_NOFOLLOW: a symlink planted in OUTPUT_DIR must not redirect the log to a file elsewhere.
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0) {
    const int err = errno;
    throw Error("output",
                std::string("cannot open for appending: ") + std::strerror(err) +
                    (err == ELOOP ? " (it is a symlink; refusing to follow it)" : ""),
                path, err);
  }
  // A torn last line (a crash or power loss mid-append) is an incomplete record: cut it off, so
  // that it neither glues onto the next record nor stays behind as a malformed middle line
  // (which readers reject) once new records follow it.
  struct stat st;
  if (::fstat(fd_, &st) == 0 && st.st_size > 0) {
    int rfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    char last = '\n';
    if (rfd >= 0) {
      if (::pread(rfd, &last, 1, st.st_size - 1) != 1) last = '\n';
      off_t keep = -1;  // the length up to and including the last '\n' (0: none; -1: read error)
      if (last != '\n') {
        char buf[4096];
        off_t end = st.st_size;
        while (keep < 0 && end > 0) {
          const off_t begin = end > static_cast<off_t>(sizeof buf) ? end - static_cast<off_t>(sizeof buf) : 0;
          const ssize_t n = ::pread(rfd, buf, static_cast<size_t>(end - begin), begin);
          if (n != end - begin) break;
          for (ssize_t i = n - 1; i >= 0 && keep < 0; --i)
            if (buf[i] == '\n') keep = begin + i + 1;
          end = begin;
        }
        if (keep < 0 && end == 0) keep = 0;  // no '\n' at all: the whole file is the torn line
      }
      ::close(rfd);
      // Cannot read or cut: at least end the torn line.
      if (last != '\n' && (keep < 0 || ::ftruncate(fd_, keep) != 0)) append("");
    }
  }
}

JsonlAppender::~JsonlAppender() {
  if (fd_ >= 0) ::close(fd_);
}

void JsonlAppender::append(const std::string& json_line) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string data = json_line + "\n";
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      throw Error("output", std::string("append failed: ") + std::strerror(err), path_, err);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd_) != 0) {
    const int err = errno;
    throw Error("output", std::string("fsync failed: ") + std::strerror(err), path_, err);
  }
}

std::string safe_output_path(const std::string& root, const std::string& rel) {
  if (!is_safe_relative(rel)) throw Error("output", "refusing unsafe output name '" + rel + "'", root);
  fs::path full = fs::path(root) / rel;
  std::error_code ec;
  fs::create_directories(full.parent_path(), ec);
  if (ec)
    throw Error("output", "cannot create directory " + full.parent_path().string() + ": " + ec.message(), rel,
                ec.value());
  fs::path real_root = fs::weakly_canonical(root, ec);
  fs::path real_parent = fs::weakly_canonical(full.parent_path(), ec);
  std::string rr = real_root.string(), rp = real_parent.string();
  if (rp != rr && rp.compare(0, rr.size() + 1, rr + "/") != 0)
    throw Error("output",
                "output directory " + full.parent_path().string() + " resolves outside " + root +
                    " (a symlink?); refusing to write there",
                rel);
  return full.string();
}

bool output_is_valid(const std::string& npy_path, const std::vector<int64_t>& shape) {
  try {
    FloatArray a = read_npy(npy_path);
    return a.shape == shape;
  } catch (const Error&) {
    return false;
  }
}

std::string error_to_json(const std::string& path, const std::string& modality, const std::string& stage,
                          const std::string& message, int track_index, bool from_content) {
  json j;
  put_bytes(j, "path", path);
  j["modality"] = modality;
  if (track_index >= 0) j["track"] = track_index;
  j["stage"] = stage;
  put_bytes(j, "message", message);
  if (from_content) j["from_content"] = true;
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  j["time"] = buf;
  return j.dump();
}

size_t prune_error_log(const std::string& path,
                       const std::function<bool(const std::string&, const std::string&)>& retried) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return 0;
  std::string line, kept;
  size_t removed = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    bool drop = false;
    try {
      const json j = json::parse(line);
      drop = retried(get_bytes(j, "path"), j.value("modality", ""));
    } catch (const std::exception&) {  // not ours to judge: keep it
    }
    if (drop)
      ++removed;
    else
      kept += line + "\n";
  }
  if (removed > 0) write_file_atomic(path, kept);
  return removed;
}

size_t remove_stale_temporaries(const std::string& root, bool sole_writer) {
  size_t removed = 0;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::error_code e2;
    if (!it->is_regular_file(e2) || it->path().filename().string().rfind(".tmp.", 0) != 0) continue;
    if (!sole_writer) {
      const auto t = fs::last_write_time(it->path(), e2);
      if (e2 || now - t < std::chrono::hours(1)) continue;
    }
    if (fs::remove(it->path(), e2)) ++removed;
  }
  return removed;
}

std::string model_id(const std::string& file_sha256, const std::string& output_key_text, int video_read_rule) {
  std::string text = file_sha256 + "\n" + output_key_text;
  if (video_read_rule > 0) text += "\nvideo_read_rule=" + std::to_string(video_read_rule);
  return sha256_hex(text).substr(0, 16);
}

}  // namespace lssd
