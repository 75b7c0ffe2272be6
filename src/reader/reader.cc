#include "lssd/reader.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lssd/error.h"
#include "lssd/npy.h"

namespace lssd {
namespace fs = std::filesystem;
using nlohmann::json;

const char* to_string(OutputLayout l) {
  switch (l) {
    case OutputLayout::Ours: return "lssd";
    case OutputLayout::Release: return "release";
    default: return "none";
  }
}

namespace {

bool has_manifest(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (is_manifest_name(n)) return true;
  }
  return false;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("read", std::string("cannot open: ") + std::strerror(errno), path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python's json.dump writes a path byte that is not UTF-8 (os.walk's surrogateescape) as a lone
// surrogate "\udcXX", which JSON parsers refuse: map it to "\u0001XX" before parsing and back to
// the byte afterwards.
constexpr char kByteMark = '\x01';
std::string protect_surrogate_escapes(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      if (text[i + 1] == 'u' && i + 5 < text.size() && (text[i + 2] == 'd' || text[i + 2] == 'D') &&
          (text[i + 3] == 'c' || text[i + 3] == 'C') && hexval(text[i + 4]) >= 8 && hexval(text[i + 5]) >= 0) {
        out += "\\u0001";
        out += text[i + 4];
        out += text[i + 5];
        i += 5;
        continue;
      }
      out += text[i];
      out += text[i + 1];
      ++i;
      continue;
    }
    out += text[i];
  }
  return out;
}
std::string restore_bytes(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == kByteMark && i + 2 < s.size() && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out += static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// A JSON string the way Python's json.dumps (ensure_ascii) writes a surrogate-escaped str.
std::string py_json_string(const std::string& bytes) {
  std::string out = "\"";
  char buf[16];
  for (size_t i = 0; i < bytes.size();) {
    size_t n = utf8_sequence_length(bytes, i);
    if (n == 0) {
      std::snprintf(buf, sizeof buf, "\\udc%02x", static_cast<unsigned char>(bytes[i]));
      out += buf;
      ++i;
      continue;
    }
    uint32_t cp;
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (n == 1)
      cp = c;
    else if (n == 2)
      cp = c & 0x1f;
    else if (n == 3)
      cp = c & 0x0f;
    else
      cp = c & 0x07;
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(bytes[i + k]) & 0x3f);
    i += n;
    if (cp == '"')
      out += "\\\"";
    else if (cp == '\\')
      out += "\\\\";
    else if (cp == '\n')
      out += "\\n";
    else if (cp == '\r')
      out += "\\r";
    else if (cp == '\t')
      out += "\\t";
    else if (cp == '\b')
      out += "\\b";
    else if (cp == '\f')
      out += "\\f";
    else if (cp < 0x20 || (cp >= 0x7f && cp < 0x10000)) {
      std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      out += buf;
    } else if (cp >= 0x10000) {
      uint32_t v = cp - 0x10000;
      std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
      out += buf;
    } else {
      out += static_cast<char>(cp);
    }
  }
  return out + "\"";
}

}  // namespace

namespace {
Modality parse_mtype(const std::string& mtype) {
  Modality m;
  if (!parse_modality(mtype, &m)) throw ConfigError("mtype must be video or audio, not '" + mtype + "'");
  return m;
}
}  // namespace

OutputLayout detect_layout(const std::string& output_dir, const std::string& mtype) {
  return detect_layout(output_dir, parse_mtype(mtype));
}

OutputLayout detect_layout(const std::string& output_dir, Modality modality) {
  fs::path d = fs::path(output_dir) / to_string(modality);
  if (has_manifest(d)) return OutputLayout::Ours;
  std::error_code ec;
  if (fs::is_regular_file(d / "metadata.json", ec)) return OutputLayout::Release;
  return OutputLayout::None;
}

void sort_reader_order(std::vector<Record>& records) {
  std::stable_sort(records.begin(), records.end(), [](const Record& a, const Record& b) {
    int c = a.rel_path.compare(b.rel_path);  // char_traits<char>: unsigned byte order
    if (c != 0) return c < 0;
    return a.track_index < b.track_index;
  });
}

ReleaseMetadata read_release_metadata(const std::string& path) {
  ReleaseMetadata m;
  try {
    json j = json::parse(protect_surrogate_escapes(read_file(path)));
    for (const auto& f : j.at("filepath")) m.filepath.push_back(restore_bytes(f.get<std::string>()));
    for (const auto& r : j.at("range")) {
      std::vector<std::pair<double, double>> clips;
      for (const auto& c : r) clips.emplace_back(c.at(0).get<double>(), c.at(1).get<double>());
      m.range.push_back(std::move(clips));
    }
    for (const auto& s : j.at("sample_rate")) m.sample_rate.push_back(s.get<double>());
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("read", std::string("malformed release metadata: ") + e.what(), path);
  }
  if (m.range.size() != m.filepath.size() || m.sample_rate.size() != m.filepath.size())
    throw Error("read",
                "release metadata lists differ in length (range " + std::to_string(m.range.size()) + ", filepath " +
                    std::to_string(m.filepath.size()) + ", sample_rate " + std::to_string(m.sample_rate.size()) + ")",
                path);
  return m;
}

std::string release_metadata_json(const ReleaseMetadata& m, bool integer_ranges, bool integer_rates) {
  json range = json::array();
  for (const auto& r : m.range) {
    json clips = json::array();
    for (const auto& c : r) {
      if (integer_ranges)
        clips.push_back({static_cast<int64_t>(std::llround(c.first)), static_cast<int64_t>(std::llround(c.second))});
      else
        clips.push_back({c.first, c.second});
    }
    range.push_back(clips);
  }
  json rates = json::array();
  for (double s : m.sample_rate) {
    if (integer_rates)
      rates.push_back(static_cast<int64_t>(std::llround(s)));
    else
      rates.push_back(s);
  }
  std::string files = "[";
  for (size_t i = 0; i < m.filepath.size(); ++i) files += (i ? ", " : "") + py_json_string(m.filepath[i]);
  files += "]";
  return "{\"range\": " + range.dump() + ", \"filepath\": " + files + ", \"sample_rate\": " + rates.dump() + "}";
}

ModalityReader::ModalityReader(std::string output_dir, std::string mtype)
    : ModalityReader(std::move(output_dir), parse_mtype(mtype)) {}

ModalityReader::ModalityReader(std::string output_dir, Modality modality)
    : output_dir_(std::move(output_dir)), mtype_(to_string(modality)), modality_(modality) {
  dir_ = (fs::path(output_dir_) / mtype_).string();
  layout_ = detect_layout(output_dir_, modality_);
  if (layout_ == OutputLayout::Ours) {
    records_ = read_manifest_dir(dir_, &warnings_);
    sort_reader_order(records_);
  } else if (layout_ == OutputLayout::Release) {
    std::string meta = (fs::path(dir_) / "metadata.json").string();
    ReleaseMetadata m = read_release_metadata(meta);
    int64_t row = 0;
    for (size_t i = 0; i < m.filepath.size(); ++i) {
      Record r;
      r.modality = modality_;
      r.path = r.rel_path = m.filepath[i];
      r.status = RecordStatus::Ok;
      r.dtype = "float32";
      r.num_clips = static_cast<int64_t>(m.range[i].size());
      r.shape = output_shape(modality_, r.num_clips);
      if (modality_ == Modality::Video) {
        r.fps = m.sample_rate[i];
        for (auto& c : m.range[i]) r.ranges.push_back({c.first, c.second, -1, -1});
      } else {
        r.sample_rate = static_cast<int>(std::llround(m.sample_rate[i]));
        for (auto& c : m.range[i]) {
          ClipRange cr;
          cr.start_sample = std::llround(c.first);
          cr.stop_sample = std::llround(c.second);
          cr.start_s = r.sample_rate > 0 ? c.first / r.sample_rate : 0;
          cr.stop_s = r.sample_rate > 0 ? c.second / r.sample_rate : 0;
          r.ranges.push_back(cr);
        }
      }
      release_offsets_.push_back(row);
      row += r.num_clips;
      records_.push_back(std::move(r));
    }
  }
}

ModalityReader::ModalityReader(ModalityReader&&) noexcept = default;
ModalityReader& ModalityReader::operator=(ModalityReader&&) noexcept = default;
ModalityReader::~ModalityReader() = default;

std::string ModalityReader::npy_path(const Record& r) const {
  if (layout_ != OutputLayout::Ours || r.output.empty()) return "";
  return (fs::path(dir_) / r.output).string();
}

FloatArray ModalityReader::load(const Record& r, std::string* dtype) const {
  if (layout_ == OutputLayout::Release) {
    std::string pt = (fs::path(dir_) / (mtype_ + ".pt")).string();
    if (!release_tensor_) {
      auto t = std::make_shared<FloatArray>(release_io::load_pt_tensor(pt));
      int64_t rows = 0;
      for (const auto& x : records_) rows += x.num_clips;
      std::vector<int64_t> want = output_shape(modality_, rows);
      if (t->shape != want)
        throw Error(
            "read",
            "tensor shape " + t->shape_str() + " does not match metadata.json (expected " + shape_str(want) + ")", pt);
      release_tensor_ = t;
    }
    size_t idx = records_.size();
    auto addr = reinterpret_cast<std::uintptr_t>(&r), first = reinterpret_cast<std::uintptr_t>(records_.data());
    if (addr >= first && addr < first + records_.size() * sizeof(Record)) idx = (addr - first) / sizeof(Record);
    if (idx >= records_.size()) {  // a copy: find it by path
      idx = records_.size();
      for (size_t i = 0; i < records_.size(); ++i)
        if (records_[i].path == r.path && records_[i].num_clips == r.num_clips) {
          idx = i;
          break;
        }
      if (idx == records_.size()) throw Error("read", "no such file in the release metadata", r.path);
    }
    FloatArray a(r.shape);
    size_t row = FloatArray::numel_of(std::vector<int64_t>(r.shape.begin() + 1, r.shape.end()));
    std::copy_n(release_tensor_->data.begin() + static_cast<std::ptrdiff_t>(release_offsets_[idx] * row), a.numel(),
                a.data.begin());
    if (dtype) *dtype = "float32";
    return a;
  }
  if (r.status != RecordStatus::Ok)
    throw Error("read", std::string("no embedding: the record's status is ") + to_string(r.status), r.path);
  std::string p = npy_path(r);
  if (p.empty()) throw Error("read", "the manifest record names no output file", r.path);
  if (!is_safe_relative(r.output)) throw Error("read", "unsafe output name in manifest: '" + r.output + "'", dir_);
  NpyDtype dt;
  FloatArray a = r.row >= 0 ? read_npy_rows(p, r.row, r.num_clips, &dt) : read_npy(p, &dt);
  if (a.shape != r.shape)
    throw Error("read", "shape " + a.shape_str() + " differs from the manifest's " + shape_str(r.shape), p);
  if (dtype) *dtype = dt == NpyDtype::Float16 ? "float16" : "float32";
  return a;
}

OutputReader::OutputReader(const std::string& output_dir) : root_(output_dir) {
  std::error_code ec;
  if (!fs::is_directory(output_dir, ec)) throw Error("read", "not a directory", output_dir);
  for (const Modality m : kModalities)
    if (detect_layout(output_dir, m) != OutputLayout::None) mods_[m] = std::make_shared<ModalityReader>(output_dir, m);
  if (present().empty())
    throw Error("read",
                "no embeddings here: expected video/ or audio/ with manifest*.jsonl (lssd) or metadata.json (release)",
                output_dir);
}

std::vector<Modality> OutputReader::present() const {
  std::vector<Modality> r;
  for (const Modality m : kModalities)
    if (mods_[m]) r.push_back(m);
  return r;
}

std::vector<std::string> OutputReader::modalities() const {
  std::vector<std::string> r;
  for (const Modality m : present()) r.push_back(to_string(m));
  return r;
}

bool OutputReader::has(const std::string& mtype) const {
  Modality m;
  return parse_modality(mtype, &m) && has(m);
}

const ModalityReader& OutputReader::modality(const std::string& mtype) const { return modality(parse_mtype(mtype)); }

const ModalityReader& OutputReader::modality(Modality m) const {
  if (!mods_[m]) throw Error("read", std::string("no ") + to_string(m) + " embeddings here", root_);
  return *mods_[m];
}

std::vector<std::pair<std::string, FloatArray>> postprocess(const std::string& output_dir, const std::string& mtype) {
  return postprocess(output_dir, parse_mtype(mtype));
}

std::vector<std::pair<std::string, FloatArray>> postprocess(const std::string& output_dir, Modality modality) {
  ModalityReader mr(output_dir, modality);
  if (mr.layout() == OutputLayout::None)
    throw Error("read", "no " + mr.mtype() + " embeddings here (no manifest*.jsonl or metadata.json)", mr.dir());
  std::vector<std::pair<std::string, FloatArray>> out;
  for (const auto& r : mr.records())
    if (r.status == RecordStatus::Ok) out.emplace_back(r.path, mr.load(r));
  return out;
}

size_t export_release(const ModalityReader& mr, const std::string& out_dir) {
  const std::string& mtype = mr.mtype();
  const bool audio = mr.modality() == Modality::Audio;  // the release writes audio ranges and rates as integers
  ReleaseMetadata m;
  std::vector<FloatArray> parts;
  int64_t rows = 0;
  for (const auto& r : mr.records()) {
    if (r.status != RecordStatus::Ok) continue;
    FloatArray a = mr.load(r);
    std::vector<std::pair<double, double>> clips;
    for (const auto& c : r.ranges) {
      if (audio) {
        if (c.start_sample < 0) throw Error("export", "audio record without sample indices", r.path);
        clips.emplace_back(static_cast<double>(c.start_sample), static_cast<double>(c.stop_sample));
      } else {
        clips.emplace_back(c.start_s, c.stop_s);
      }
    }
    if (static_cast<int64_t>(clips.size()) != a.shape[0])
      throw Error("export",
                  std::to_string(clips.size()) + " clip ranges for " + std::to_string(a.shape[0]) + " embeddings",
                  r.path);
    m.range.push_back(std::move(clips));
    m.filepath.push_back(r.path);
    m.sample_rate.push_back(audio ? static_cast<double>(r.sample_rate) : r.fps);
    rows += a.shape[0];
    parts.push_back(std::move(a));
  }
  FloatArray all(output_shape(mr.modality(), rows));
  size_t off = 0;
  for (const auto& p : parts) {
    std::copy(p.data.begin(), p.data.end(), all.data.begin() + static_cast<std::ptrdiff_t>(off));
    off += p.data.size();
  }
  fs::path dir = fs::path(out_dir) / mtype;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("export", "cannot create directory: " + ec.message(), dir.string());
  release_io::save_pt_tensor((dir / (mtype + ".pt")).string(), all);
  write_file_atomic((dir / "metadata.json").string(),
                    release_metadata_json(m, /*integer_ranges=*/audio, /*integer_rates=*/audio));
  return m.filepath.size();
}

// ---- torch-style printing (torch/_tensor_str.py, default print options) ----
namespace {

constexpr int kPrecision = 4, kThreshold = 1000, kEdge = 3, kLinewidth = 80;

std::string py_format(double v, char conv, int prec, int width = 0) {
  if (std::isnan(v)) return std::string(std::max(0, width - 3), ' ') + "nan";
  if (std::isinf(v)) {
    std::string s = v < 0 ? "-inf" : "inf";
    return std::string(std::max(0, width - static_cast<int>(s.size())), ' ') + s;
  }
  char buf[64];
  char fmt[16];
  std::snprintf(fmt, sizeof fmt, "%%%d.%d%c", width, prec, conv);
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

struct Formatter {
  bool int_mode = true, sci_mode = false;
  int max_width = 1;
  explicit Formatter(const std::vector<float>& vals) {
    std::vector<double> nz;
    for (float f : vals)
      if (std::isfinite(f) && f != 0.0f) nz.push_back(static_cast<double>(f));
    if (nz.empty()) return;
    double mn = std::abs(nz[0]), mx = mn;
    for (double v : nz) {
      mn = std::min(mn, std::abs(v));
      mx = std::max(mx, std::abs(v));
      if (v != std::ceil(v)) int_mode = false;
    }
    if (int_mode) {
      if (mx / mn > 1000. || mx > 1.e8) {
        sci_mode = true;
        for (double v : nz) max_width = std::max(max_width, static_cast<int>(py_format(v, 'e', kPrecision).size()));
      } else {
        for (double v : nz) max_width = std::max(max_width, static_cast<int>(py_format(v, 'f', 0).size()) + 1);
      }
    } else if (mx / mn > 1000. || mx > 1.e8 || mn < 1.e-4) {
      sci_mode = true;
      for (double v : nz) max_width = std::max(max_width, static_cast<int>(py_format(v, 'e', kPrecision).size()));
    } else {
      for (double v : nz) max_width = std::max(max_width, static_cast<int>(py_format(v, 'f', kPrecision).size()));
    }
  }
  int width() const { return max_width; }
  std::string format(float f) const {
    double v = f;
    std::string ret;
    if (sci_mode) {
      ret = py_format(v, 'e', kPrecision, max_width);
    } else if (int_mode) {
      ret = py_format(v, 'f', 0);
      if (!std::isnan(v) && !std::isinf(v)) ret += ".";
    } else {
      ret = py_format(v, 'f', kPrecision);
    }
    int pad = max_width - static_cast<int>(ret.size());
    return std::string(std::max(0, pad), ' ') + ret;
  }
};

// Indices kept along one dimension: all, or the first and last kEdge.
std::vector<int64_t> kept(int64_t n, bool summarize) {
  std::vector<int64_t> r;
  if (summarize && n > 2 * kEdge) {
    for (int64_t i = 0; i < kEdge; ++i) r.push_back(i);
    for (int64_t i = n - kEdge; i < n; ++i) r.push_back(i);
  } else {
    for (int64_t i = 0; i < n; ++i) r.push_back(i);
  }
  return r;
}

void summarized(const FloatArray& a, size_t d, size_t off, bool summarize, std::vector<float>& out) {
  size_t stride = 1;
  for (size_t k = d + 1; k < a.shape.size(); ++k) stride *= static_cast<size_t>(a.shape[k]);
  for (int64_t i : kept(a.shape[d], summarize)) {
    size_t o = off + static_cast<size_t>(i) * stride;
    if (d + 1 == a.shape.size())
      out.push_back(a.data[o]);
    else
      summarized(a, d + 1, o, summarize, out);
  }
}

std::string tensor_str(const FloatArray& a, size_t d, size_t off, int indent, bool summarize, const Formatter& f) {
  size_t stride = 1;
  for (size_t k = d + 1; k < a.shape.size(); ++k) stride *= static_cast<size_t>(a.shape[k]);
  int64_t n = a.shape[d];
  bool cut = summarize && n > 2 * kEdge;
  if (d + 1 == a.shape.size()) {
    int element_length = f.width() + 2;
    int per_line = std::max(1, (kLinewidth - indent) / element_length);
    std::vector<std::string> data;
    for (int64_t i = 0; i < n; ++i) {
      if (cut && i == kEdge) {
        data.push_back(" ...");
        i = n - kEdge;
      }
      data.push_back(f.format(a.data[off + static_cast<size_t>(i)]));
    }
    std::string s = "[";
    for (size_t i = 0; i < data.size(); ++i) {
      if (i)
        s +=
            (i % static_cast<size_t>(per_line) == 0) ? ",\n" + std::string(static_cast<size_t>(indent) + 1, ' ') : ", ";
      s += data[i];
    }
    return s + "]";
  }
  size_t rest = a.shape.size() - d;  // this slice's dim
  std::string sep = "," + std::string(rest - 1, '\n') + std::string(static_cast<size_t>(indent) + 1, ' ');
  std::string s = "[";
  bool first = true;
  for (int64_t i = 0; i < n; ++i) {
    if (!first) s += sep;
    first = false;
    if (cut && i == kEdge) {
      s += "..." + sep;
      i = n - kEdge;
    }
    s += tensor_str(a, d + 1, off + static_cast<size_t>(i) * stride, indent + 1, summarize, f);
  }
  return s + "]";
}

}  // namespace

std::string torch_style_str(const FloatArray& a) {
  if (a.numel() == 0) {
    if (a.shape.size() == 1) return "tensor([])";
    std::string s = "tensor([], size=(";
    for (size_t i = 0; i < a.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(a.shape[i]);
    return s + (a.shape.size() == 1 ? ",))" : "))");
  }
  if (a.shape.empty()) {
    Formatter f(a.data);
    std::string v = f.format(a.data[0]);
    size_t k = v.find_first_not_of(' ');
    return "tensor(" + v.substr(k == std::string::npos ? 0 : k) + ")";
  }
  bool summarize = static_cast<int64_t>(a.numel()) > kThreshold;
  std::vector<float> vals;
  if (summarize) summarized(a, 0, 0, true, vals);
  Formatter f(summarize ? vals : a.data);
  return "tensor(" + tensor_str(a, 0, 0, 7, summarize, f) + ")";
}

}  // namespace lssd
