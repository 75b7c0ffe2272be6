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
#include <unordered_map>

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
  if (r.row >= 0) j["row"] = r.row;
  if (r.seq > 0) j["seq"] = r.seq;
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
    r.row = j.value("row", int64_t{-1});
    r.seq = j.value("seq", int64_t{0});
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

std::string writer_manifest_name(const std::string& writer) { return "manifest." + writer + ".jsonl"; }
std::string writer_errors_name(const std::string& writer) { return "errors." + writer + ".jsonl"; }

std::string errors_name(int shard_id, int num_shards) {
  if (num_shards <= 1) return "errors.jsonl";
  char buf[64];
  std::snprintf(buf, sizeof buf, "errors.shard-%04d-of-%04d.jsonl", shard_id, num_shards);
  return buf;
}

void SequenceClock::observe(int64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  last_ = std::max(last_, seq);
}

int64_t SequenceClock::next() {
  const int64_t now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::lock_guard<std::mutex> lock(mu_);
  last_ = std::max(last_ + 1, now);
  return last_;
}

std::vector<std::string> manifest_files(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {};
  for (auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (is_manifest_name(n)) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void for_each_manifest_line(const std::string& file, uint64_t offset, size_t lineno, bool complete_only,
                            const std::function<void(const std::string& line, size_t lineno, bool last)>& f,
                            uint64_t* end_offset, size_t* end_lineno) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error("read", std::string("cannot open manifest: ") + std::strerror(errno), file);
  if (offset > 0) in.seekg(static_cast<std::streamoff>(offset));
  std::vector<char> buf(1 << 20);
  std::string line;  // a line that spans two reads
  uint64_t consumed = offset;
  for (;;) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const size_t n = static_cast<size_t>(in.gcount());
    if (n == 0) break;
    size_t pos = 0;
    while (pos < n) {
      const char* start = buf.data() + pos;
      const char* nl = static_cast<const char*>(std::memchr(start, '\n', n - pos));
      if (!nl) {
        line.append(start, n - pos);
        break;
      }
      line.append(start, static_cast<size_t>(nl - start));
      pos += static_cast<size_t>(nl - start) + 1;
      consumed += line.size() + 1;
      ++lineno;
      if (!line.empty()) f(line, lineno, false);
      line.clear();
    }
  }
  if (!line.empty() && !complete_only) {  // no final newline: perhaps a torn append
    f(line, lineno + 1, true);
    consumed += line.size();
    ++lineno;
  }
  if (end_offset) *end_offset = consumed;
  if (end_lineno) *end_lineno = lineno;
}

std::vector<Record> read_manifest_dir(const std::string& dir, std::vector<std::string>* warnings) {
  std::vector<Record> order;
  std::unordered_map<std::string, size_t> index;
  for (const auto& f : manifest_files(dir)) {
    for_each_manifest_line(
        f, 0, 0, false,
        [&](const std::string& line, size_t lineno, bool last) {
          Record r;
          try {
            r = record_from_json(line, f + ":" + std::to_string(lineno));
          } catch (const Error& e) {
            if (last) {  // a torn final append: the input is simply redone
              if (warnings) warnings->push_back(f + ":" + std::to_string(lineno) + ": incomplete last line ignored");
              return;
            }
            throw;
          }
          auto [it, inserted] = index.emplace(r.key(), order.size());
          if (inserted)
            order.push_back(std::move(r));
          else if (supersedes(r, order[it->second]))
            order[it->second] = std::move(r);
        },
        nullptr, nullptr);
  }
  return order;
}

JsonlAppender::JsonlAppender(const std::string& path, bool durable) : path_(path), durable_(durable) {
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
      if (last != '\n' && (keep < 0 || ::ftruncate(fd_, keep) != 0)) write_all("\n");
    }
  }
}

JsonlAppender::~JsonlAppender() {
  if (fd_ >= 0) ::close(fd_);
}

void JsonlAppender::append(const std::string& json_line) {
  std::lock_guard<std::mutex> lock(mu_);
  write_all(json_line + "\n");
}

void JsonlAppender::append_lines(const std::vector<std::string>& json_lines) {
  if (json_lines.empty()) return;
  std::string data;
  for (const auto& l : json_lines) data += l + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  write_all(data);
}

void JsonlAppender::write_all(const std::string& data) {
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
  if (durable_ && ::fsync(fd_) != 0) {
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

bool output_is_valid(const std::string& npy_path, const std::vector<int64_t>& shape, NpyDtype dtype) {
  // The resume check of a million inputs: reading each header costs a random read per file
  // once the page cache is cold (1M files: 5-6 min against ~1 min of stats, tools/bench/README.md).
  struct stat st;
  if (::stat(npy_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  try {
    const uint64_t expected = npy_header(shape, dtype).size() + FloatArray::numel_of(shape) * npy_item_size(dtype);
    if (static_cast<uint64_t>(st.st_size) == expected) return true;
  } catch (const Error&) {
  }
  try {
    return read_npy_info(npy_path).shape == shape;
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

size_t remove_stale_temporaries(const std::string& root, bool sole_writer,
                                const std::function<bool(const std::string&)>& writer_gone) {
  size_t removed = 0;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  std::unordered_map<std::string, bool> gone;  // writer -> gone, judged once per sweep
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::error_code e2;
    std::string writer;
    if (!is_temporary_name(it->path().filename().string(), &writer) || !it->is_regular_file(e2)) continue;
    if (!writer.empty()) {
      auto [g, inserted] = gone.emplace(writer, false);
      if (inserted) g->second = writer_gone(writer);
      if (!g->second) continue;
    } else if (!sole_writer) {
      const auto t = fs::last_write_time(it->path(), e2);
      if (e2 || now - t < std::chrono::hours(1)) continue;
    }
    if (fs::remove(it->path(), e2)) ++removed;
  }
  return removed;
}

size_t remove_stale_temporaries(const std::string& root, bool sole_writer) {
  return remove_stale_temporaries(root, sole_writer, [sole_writer](const std::string&) { return sole_writer; });
}

std::string model_id(const std::string& file_sha256, const std::string& output_key_text, int video_read_rule) {
  std::string text = file_sha256 + "\n" + output_key_text;
  if (video_read_rule > 0) text += "\nvideo_read_rule=" + std::to_string(video_read_rule);
  return sha256_hex(text).substr(0, 16);
}

}  // namespace lssd

// ---- the record summary: a direct scan of a manifest line ----
namespace lssd {
namespace {

// A minimal JSON scanner over one line: reads the values asked for, skips the others. Any
// failure (including valid JSON it does not expect) returns false and the caller falls back to
// the full parser.
class Scan {
 public:
  Scan(const char* p, const char* e) : p_(p), e_(e) {}
  void ws() {
    while (p_ < e_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\r' || *p_ == '\n')) ++p_;
  }
  bool take(char c) {
    ws();
    if (p_ < e_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool peek(char c) {
    ws();
    return p_ < e_ && *p_ == c;
  }
  bool at_end() {
    ws();
    return p_ == e_;
  }
  // A JSON string, unescaped to UTF-8 bytes into *out (null: skipped).
  bool string(std::string* out) {
    if (!take('"')) return false;
    if (out) out->clear();
    while (p_ < e_) {
      const char c = *p_++;
      if (c == '"') return true;
      if (c != '\\') {
        if (out) out->push_back(c);
        continue;
      }
      if (p_ >= e_) return false;
      const char x = *p_++;
      char plain = 0;
      switch (x) {
        case '"': plain = '"'; break;
        case '\\': plain = '\\'; break;
        case '/': plain = '/'; break;
        case 'b': plain = '\b'; break;
        case 'f': plain = '\f'; break;
        case 'n': plain = '\n'; break;
        case 'r': plain = '\r'; break;
        case 't': plain = '\t'; break;
        case 'u': {
          uint32_t cp;
          if (!hex4(&cp)) return false;
          if (cp >= 0xd800 && cp < 0xdc00) {  // a surrogate pair
            uint32_t lo;
            if (e_ - p_ < 6 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            if (!hex4(&lo) || lo < 0xdc00 || lo >= 0xe000) return false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else if (cp >= 0xdc00 && cp < 0xe000) {
            return false;
          }
          if (out) append_utf8(out, cp);
          continue;
        }
        default: return false;
      }
      if (out) out->push_back(plain);
    }
    return false;
  }
  bool integer(int64_t* v) {
    ws();
    const char* s = p_;
    bool neg = false;
    if (p_ < e_ && *p_ == '-') {
      neg = true;
      ++p_;
    }
    uint64_t x = 0;
    const char* digits = p_;
    while (p_ < e_ && *p_ >= '0' && *p_ <= '9') x = x * 10 + static_cast<uint64_t>(*p_++ - '0');
    if (p_ == digits || p_ - digits > 19 || (p_ < e_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E'))) {
      p_ = s;
      return false;
    }
    *v = neg ? -static_cast<int64_t>(x) : static_cast<int64_t>(x);
    return true;
  }
  bool boolean(bool* v) {
    ws();
    if (e_ - p_ >= 4 && std::memcmp(p_, "true", 4) == 0) {
      p_ += 4;
      *v = true;
      return true;
    }
    if (e_ - p_ >= 5 && std::memcmp(p_, "false", 5) == 0) {
      p_ += 5;
      *v = false;
      return true;
    }
    return false;
  }
  // Any value (nested arrays and objects too), not looked at.
  bool skip() {
    ws();
    if (p_ >= e_) return false;
    if (*p_ == '"') return string(nullptr);
    if (*p_ == '{' || *p_ == '[') {
      int depth = 0;
      while (p_ < e_) {
        const char c = *p_;
        if (c == '"') {
          if (!string(nullptr)) return false;
          continue;
        }
        ++p_;
        if (c == '{' || c == '[') ++depth;
        if ((c == '}' || c == ']') && --depth == 0) return true;
      }
      return false;
    }
    const char* s = p_;
    while (p_ < e_ && *p_ != ',' && *p_ != '}' && *p_ != ']' && *p_ != ' ') ++p_;
    return p_ > s;
  }

 private:
  bool hex4(uint32_t* v) {
    if (e_ - p_ < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = *p_++;
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) return false;
      *v = *v * 16 + static_cast<uint32_t>(d);
    }
    return true;
  }
  static void append_utf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  const char* p_;
  const char* e_;
};

bool hex_bytes(const std::string& hex, std::string* out) {
  if (hex.size() % 2) return false;
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int v = 0;
    for (size_t k = i; k < i + 2; ++k) {
      const char c = hex[k];
      const int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
      if (d < 0) return false;
      v = v * 16 + d;
    }
    out->push_back(static_cast<char>(v));
  }
  return true;
}

// Iterates the members of an object: f(key) reads the value (or returns false).
template <class F>
bool members(Scan& s, F&& f) {
  if (!s.take('{')) return false;
  if (s.take('}')) return true;
  std::string key;
  do {
    if (!s.string(&key) || !s.take(':') || !f(key)) return false;
  } while (s.take(','));
  return s.take('}');
}

bool scan_summary(const std::string& line, RecordSummary* r) {
  Scan s(line.data(), line.data() + line.size());
  int64_t v = -1, size = -1;
  bool have_modality = false, have_rel = false, have_status = false, have_mtime = false, have_m = false,
       have_shape = false;
  std::string text, rel_hex, out_hex;
  const bool ok = members(s, [&](const std::string& k) {
    if (k == "v") return s.integer(&v);
    if (k == "modality") return s.string(&text) && (have_modality = parse_modality(text, &r->modality));
    if (k == "rel_path") return have_rel = s.string(&r->rel_path);
    if (k == "rel_path_hex") return s.string(&rel_hex);
    if (k == "output") return s.string(&r->output);
    if (k == "output_hex") return s.string(&out_hex);
    if (k == "row") return s.integer(&r->row);
    if (k == "seq") return s.integer(&r->seq);
    if (k == "size") return s.integer(&size);
    if (k == "mtime_ns") return have_mtime = s.integer(&r->mtime_ns);
    if (k == "M") return have_m = s.integer(&r->num_clips);
    if (k == "status") return s.string(&text) && (have_status = parse_status(text, &r->status));
    if (k == "model_id") return s.string(&r->model_id);
    if (k == "dtype") return s.string(&r->dtype);
    if (k == "shape") {
      if (!s.take('[')) return false;
      r->shape.clear();
      if (s.take(']')) return have_shape = true;
      do {
        int64_t d;
        if (!s.integer(&d)) return false;
        r->shape.push_back(d);
      } while (s.take(','));
      return have_shape = s.take(']');
    }
    if (k == "track") {
      return members(s, [&](const std::string& tk) {
        int64_t x;
        if (tk == "index") return s.integer(&x) && ((r->track_index = static_cast<int>(x)), true);
        if (tk == "total") return s.integer(&x) && ((r->tracks_total = static_cast<int>(x)), true);
        return s.skip();
      });
    }
    if (k == "error") {
      return members(s, [&](const std::string& ek) {
        if (ek == "from_content") return s.boolean(&r->error_from_content);
        return s.skip();
      });
    }
    return s.skip();
  });
  if (!ok || !s.at_end() || v < 0 || v > kManifestVersion || size < 0 || !have_modality || !have_rel || !have_status ||
      !have_mtime || !have_m || !have_shape)
    return false;
  if (!rel_hex.empty() && !hex_bytes(rel_hex, &r->rel_path)) return false;
  if (!out_hex.empty() && !hex_bytes(out_hex, &r->output)) return false;
  r->size = static_cast<uint64_t>(size);
  return true;
}

}  // namespace

RecordSummary record_summary_from_json(const std::string& line, const std::string& source) {
  RecordSummary r;
  if (scan_summary(line, &r)) return r;
  const Record full = record_from_json(line, source);  // throws the precise error
  r = RecordSummary{};
  r.modality = full.modality;
  r.rel_path = full.rel_path;
  r.track_index = full.track_index;
  r.tracks_total = full.tracks_total;
  r.size = full.size;
  r.mtime_ns = full.mtime_ns;
  r.status = full.status;
  r.error_from_content = full.error_from_content;
  r.model_id = full.model_id;
  r.dtype = full.dtype;
  r.output = full.output;
  r.row = full.row;
  r.num_clips = full.num_clips;
  r.seq = full.seq;
  r.shape = full.shape;
  return r;
}

}  // namespace lssd
