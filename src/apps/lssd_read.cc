// lssd-read: list, show, compare, verify and export embeddings written by lssd-infer (or by the
// Python release: metadata.json + <mtype>.pt). Exit codes: 0 ok, 1 a check failed or the data is
// bad (unreadable, corrupt), 2 usage.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "lssd/error.h"
#include "lssd/logging.h"
#include "lssd/reader.h"
#include "lssd/version.h"
#include "read_search.h"

namespace fs = std::filesystem;
using nlohmann::json;
using lssd::FloatArray;
using lssd::ModalityReader;
using lssd::OutputReader;
using lssd::Record;

namespace {

constexpr int kOk = 0, kFail = 1;

// ---- small helpers ----

// A byte string in JSON as the manifest writes it: text (\\xNN for invalid bytes) plus
// "<field>_hex" with the exact bytes when it is not UTF-8.
void put_bytes(json& j, const std::string& field, const std::string& bytes) {
  bool valid = true;
  j[field] = lssd::escape_non_utf8(bytes, &valid);
  if (!valid) j[field + "_hex"] = lssd::hex_bytes(bytes);
}

// Printable form of a path for text output.
std::string printable(const std::string& bytes) { return lssd::escape_non_utf8(bytes); }

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

// Shortest text that reads back as the same float32.
std::string fstr(float f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f < 0 ? "-inf" : "inf";
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  return std::string(buf, r.ptr);
}
std::string dstr(double d, int prec = 6) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", prec, d);
  return buf;
}

// A JSON number for a double that may be non-finite (JSON has no NaN: null).
json jnum(double d) { return std::isfinite(d) ? json(d) : json(nullptr); }

std::string display_name(const Record& r) {
  std::string n = printable(r.rel_path);
  if (r.track_index >= 0) n += " [track " + std::to_string(r.track_index) + (r.track_language.empty() ? "" : " " + r.track_language) + "]";
  return n;
}

// A record as lssd-read prints it: the manifest's JSON form (record_to_json: the same field
// names and byte escaping), without the manifest's bookkeeping (v, modality, size, mtime_ns,
// wall_s, track.total), plus where it was read from (mtype, layout, npy); track is null for
// a whole-file record and dtype is always present.
json record_json(const ModalityReader& mr, const Record& r) {
  json j = json::parse(lssd::record_to_json(r));
  for (const char* k : {"v", "modality", "size", "mtime_ns", "wall_s"}) j.erase(k);
  if (j.contains("track")) j["track"].erase("total");
  else j["track"] = nullptr;
  j["dtype"] = r.dtype;
  j["mtype"] = mr.mtype();
  j["layout"] = lssd::to_string(mr.layout());
  std::string npy = mr.npy_path(r);
  if (!npy.empty()) put_bytes(j, "npy", npy);
  // The manifest writes fps or sample_rate by the record's modality; a reader's mtype decides here.
  if (mr.mtype() == "video") {
    j.erase("sample_rate");
    j["fps"] = r.fps;
  } else {
    j.erase("fps");
    j["sample_rate"] = r.sample_rate;
  }
  return j;
}

std::vector<std::string> selected(const OutputReader& rd, const std::string& mtype) {
  if (mtype.empty()) return rd.modalities();
  if (!rd.has(mtype)) throw lssd::Error("read", "no " + mtype + " embeddings here", rd.root());
  return {mtype};
}

// Running statistics over values and over 768-d vectors.
struct Stats {
  size_t n = 0, nonfinite = 0, vectors = 0;
  double sum = 0, sumsq = 0, mn = std::numeric_limits<double>::infinity(), mx = -std::numeric_limits<double>::infinity();
  double norm_sum = 0, norm_min = std::numeric_limits<double>::infinity(), norm_max = 0;
  void add(const FloatArray& a) {
    for (float f : a.data) {
      if (!std::isfinite(f)) {
        ++nonfinite;
        continue;
      }
      double d = f;
      ++n;
      sum += d;
      sumsq += d * d;
      mn = std::min(mn, d);
      mx = std::max(mx, d);
    }
    const size_t dim = a.shape.empty() ? 0 : static_cast<size_t>(a.shape.back());
    if (dim == 0) return;
    for (size_t off = 0; off + dim <= a.data.size(); off += dim) {
      double s = 0;
      for (size_t k = 0; k < dim; ++k) s += static_cast<double>(a.data[off + k]) * a.data[off + k];
      double nrm = std::sqrt(s);
      ++vectors;
      norm_sum += nrm;
      norm_min = std::min(norm_min, nrm);
      norm_max = std::max(norm_max, nrm);
    }
  }
  double mean() const { return n ? sum / static_cast<double>(n) : 0; }
  double stdev() const {
    if (!n) return 0;
    double m = mean();
    return std::sqrt(std::max(0.0, sumsq / static_cast<double>(n) - m * m));
  }
  json to_json() const {
    return {{"count", n},           {"nonfinite", nonfinite},   {"min", n ? jnum(mn) : json(nullptr)},
            {"max", n ? jnum(mx) : json(nullptr)},              {"mean", mean()},
            {"std", stdev()},       {"vectors", vectors},       {"l2_norm_mean", vectors ? norm_sum / static_cast<double>(vectors) : 0.0},
            {"l2_norm_min", vectors ? jnum(norm_min) : json(nullptr)}, {"l2_norm_max", vectors ? jnum(norm_max) : json(nullptr)}};
  }
  std::string text() const {
    std::ostringstream o;
    o << "min " << (n ? dstr(mn) : "-") << "  max " << (n ? dstr(mx) : "-") << "  mean " << dstr(mean()) << "  std "
      << dstr(stdev()) << "  |v| mean " << dstr(vectors ? norm_sum / static_cast<double>(vectors) : 0) << " (min "
      << (vectors ? dstr(norm_min) : "-") << ", max " << dstr(norm_max) << ")";
    if (nonfinite) o << "  NON-FINITE " << nonfinite;
    return o.str();
  }
};

// ---- ls ----
int cmd_ls(const std::string& dir, const std::string& mtype, bool as_json) {
  OutputReader rd(dir);
  json out = {{"dir", dir}, {"layout", json::object()}, {"records", json::array()}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : selected(rd, mtype)) {
    const ModalityReader& mr = rd.modality(m);
    out["layout"][m] = lssd::to_string(mr.layout());
    for (const auto& w : mr.warnings()) std::cerr << "warning: " << w << "\n";
    for (const auto& r : mr.records()) {
      out["records"].push_back(record_json(mr, r));
      rows.push_back({m, std::to_string(r.num_clips), r.shape.empty() ? "-" : shape_str(r.shape), r.status, display_name(r)});
    }
  }
  if (as_json) {
    std::cout << out.dump(1) << "\n";
    return kOk;
  }
  std::vector<std::string> head = {"MTYPE", "M", "SHAPE", "STATUS", "FILE"};
  std::vector<size_t> w(head.size());
  for (size_t i = 0; i < head.size(); ++i) w[i] = head[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  auto line = [&](const std::vector<std::string>& r) {
    std::string s;
    for (size_t i = 0; i < r.size(); ++i) {
      if (i + 1 == r.size()) s += r[i];
      else if (i == 1) s += std::string(w[i] - r[i].size(), ' ') + r[i] + "  ";  // M right-aligned
      else s += r[i] + std::string(w[i] - r[i].size() + 2, ' ');
    }
    std::cout << s << "\n";
  };
  line(head);
  for (const auto& r : rows) line(r);
  return kOk;
}

// ---- show ----
bool matches(const ModalityReader& mr, const Record& r, const std::string& q) {
  if (q == r.rel_path || q == r.path) return true;
  if (!r.output.empty() && (q == r.output || q == mr.mtype() + "/" + r.output)) return true;
  std::string npy = mr.npy_path(r);
  if (!npy.empty()) {
    if (q == npy) return true;
    std::error_code ec;
    if (fs::exists(q, ec) && fs::equivalent(q, npy, ec)) return true;
  }
  return false;
}

// A bare file name: the rel_path of the one input with that basename. Throws when several
// inputs have it (naming them); returns `q` unchanged when none does.
std::string by_basename(const OutputReader& rd, const std::vector<std::string>& mtypes, const std::string& q,
                        const std::string& dir) {
  std::set<std::string> hits;
  for (const auto& m : mtypes)
    for (const auto& r : rd.modality(m).records())
      if (fs::path(r.rel_path).filename().string() == q) hits.insert(r.rel_path);
  if (hits.empty()) return q;
  if (hits.size() == 1) return *hits.begin();
  std::string names;
  for (const auto& h : hits) names += (names.empty() ? "" : ", ") + printable(h);
  throw lssd::Error("read", "'" + q + "' matches " + std::to_string(hits.size()) + " inputs (" + names +
                                "): give the relative path", dir);
}

int cmd_show(const std::string& dir, const std::string& query, const std::string& mtype, bool as_json, bool values) {
  OutputReader rd(dir);
  json out = json::array();
  int found = 0;
  bool exact = false;
  for (const auto& m : selected(rd, mtype))
    for (const auto& r : rd.modality(m).records()) exact = exact || matches(rd.modality(m), r, query);
  const std::string file = exact ? query : by_basename(rd, selected(rd, mtype), query, dir);
  for (const auto& m : selected(rd, mtype)) {
    const ModalityReader& mr = rd.modality(m);
    for (const auto& r : mr.records()) {
      if (!matches(mr, r, file)) continue;
      ++found;
      json j = record_json(mr, r);
      if (r.status != "ok") {
        if (!as_json) {
          std::cout << m << " " << display_name(r) << ": status " << r.status;
          if (!r.error_message.empty()) std::cout << " ([" << r.error_stage << "] " << printable(r.error_message) << ")";
          std::cout << ", no embedding\n";
        }
        out.push_back(j);
        continue;
      }
      std::string dtype;
      FloatArray a = mr.load(r, &dtype);
      Stats st;
      st.add(a);
      std::string ts = lssd::torch_style_str(a);
      j["stored_dtype"] = dtype;
      j["stats"] = st.to_json();
      j["tensor_str"] = ts;
      if (values) {
        json v = json::array();
        for (float f : a.data) v.push_back(std::isfinite(f) ? json(static_cast<double>(f)) : json(fstr(f)));
        j["values"] = v;
      }
      out.push_back(j);
      if (!as_json) {
        std::cout << "file:   " << printable(r.path) << "\n";
        std::cout << "mtype:  " << m << (r.track_index >= 0 ? " (track " + std::to_string(r.track_index) + ")" : "") << "\n";
        std::string npy = mr.npy_path(r);
        std::cout << "source: " << (npy.empty() ? mr.dir() + "/" + m + ".pt" : printable(npy)) << "\n";
        std::cout << "shape:  " << shape_str(a.shape) << "  dtype: " << dtype << " (loaded as float32)\n";
        std::cout << "clips:  ";
        for (size_t i = 0; i < r.ranges.size(); ++i) {
          const auto& c = r.ranges[i];
          std::cout << (i ? ", " : "") << "[" << dstr(c.start_s) << ", " << dstr(c.stop_s) << "]";
          if (c.start_sample >= 0) std::cout << " (samples " << c.start_sample << ".." << c.stop_sample << ")";
        }
        std::cout << (m == "video" ? "  fps " + dstr(r.fps) : "  rate " + std::to_string(r.sample_rate)) << "\n";
        std::cout << "stats:  " << st.text() << "\n";
        std::cout << ts << "\n";
      }
    }
  }
  if (!found)
    throw lssd::Error("read", "no record matches '" + query +
                                  "' (give its relative path, input path, .npy name or a unique file name; see `lssd-read ls`)",
                      dir);
  if (as_json) std::cout << out.dump(1) << "\n";
  return kOk;
}

// ---- stats ----
int cmd_stats(const std::string& dir, const std::string& mtype, bool as_json) {
  OutputReader rd(dir);
  json out = {{"dir", dir}, {"modalities", json::object()}};
  int rc = kOk;
  // errors*.jsonl lines
  size_t error_lines = 0;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind("errors", 0) == 0 && n.size() > 6 && n.substr(n.size() - 6) == ".jsonl") {
      std::ifstream in(e.path());
      std::string l;
      while (std::getline(in, l))
        if (!l.empty()) ++error_lines;
    }
  }
  out["error_lines"] = error_lines;
  for (const auto& m : selected(rd, mtype)) {
    const ModalityReader& mr = rd.modality(m);
    std::map<std::string, size_t> status, dtypes;
    std::set<std::string> models;
    size_t clips = 0;
    Stats st;
    json load_errors = json::array();
    for (const auto& r : mr.records()) {
      ++status[r.status];
      if (!r.model_id.empty()) models.insert(r.model_id);
      if (r.status != "ok") continue;
      clips += static_cast<size_t>(r.num_clips);
      try {
        std::string dt;
        FloatArray a = mr.load(r, &dt);
        ++dtypes[dt];
        st.add(a);
      } catch (const lssd::Error& e) {
        load_errors.push_back(e.what());
        rc = kFail;
      }
    }
    json j = {{"layout", lssd::to_string(mr.layout())}, {"records", mr.records().size()}, {"status", status},
              {"clips", clips}, {"dtypes", dtypes}, {"model_ids", models}, {"values", st.to_json()},
              {"load_errors", load_errors}, {"warnings", mr.warnings()}};
    out["modalities"][m] = j;
    if (!as_json) {
      std::cout << m << " (" << lssd::to_string(mr.layout()) << " layout): " << mr.records().size() << " records";
      for (auto& [k, v] : status) std::cout << ", " << v << " " << k;
      std::cout << "; " << clips << " clips";
      for (auto& [k, v] : dtypes) std::cout << ", " << v << " " << k;
      if (!models.empty()) {
        std::cout << "; model";
        for (auto& mm : models) std::cout << " " << mm;
      }
      std::cout << "\n  values: " << st.text() << "\n";
      for (auto& e : load_errors) std::cout << "  LOAD ERROR: " << e.get<std::string>() << "\n";
      for (auto& w : mr.warnings()) std::cout << "  warning: " << w << "\n";
    }
  }
  if (as_json) std::cout << out.dump(1) << "\n";
  else std::cout << "errors logged: " << error_lines << "\n";
  return rc;
}

// ---- compare ----
struct ClipCmp {
  double cosine = 1, max_abs = 0;
};

// Cosine of two vectors; 1 when both are zero.
double cosine(const float* a, const float* b, size_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  if (aa == 0 && bb == 0) return 1.0;
  if (aa == 0 || bb == 0) return 0.0;
  return std::clamp(ab / std::sqrt(aa * bb), -1.0, 1.0);
}

int cmd_compare(const std::string& dir_a, const std::string& dir_b, const std::string& mtype, double atol,
                double min_cos, bool as_json) {
  OutputReader ra(dir_a), rb(dir_b);
  std::vector<std::string> mods;
  for (const char* m : {"video", "audio"})
    if ((mtype.empty() || mtype == m) && (ra.has(m) || rb.has(m))) mods.push_back(m);
  if (mods.empty()) throw lssd::Error("read", "no " + (mtype.empty() ? std::string("embeddings") : mtype) + " on either side", dir_a);
  json files = json::array(), only_a = json::array(), only_b = json::array();
  bool fail = false;
  double worst_cos = 1.0, worst_abs = 0.0;
  size_t compared = 0;
  std::vector<std::string> lines;
  // A record on one side only. It fails the comparison unless it has no embedding and the other
  // side is the release's layout (which lists only embedded files).
  auto only_one = [&](const std::string& m, const Record& r, bool in_a, bool other_is_release) {
    bool counts = r.status == "ok" || !other_is_release;
    json j = {{"mtype", m}, {"status", r.status}, {"fails", counts}};
    put_bytes(j, "file", r.rel_path);
    (in_a ? only_a : only_b).push_back(j);
    lines.push_back(std::string(in_a ? "ONLY IN A  " : "ONLY IN B  ") + m + " " + display_name(r) +
                    (r.status == "ok" ? "" : " (" + r.status + ")"));
    if (counts) fail = true;
  };
  for (const auto& m : mods) {
    if (!ra.has(m) || !rb.has(m)) {
      const OutputReader& has = ra.has(m) ? ra : rb;
      for (const auto& r : has.modality(m).records()) only_one(m, r, ra.has(m), false);
      continue;
    }
    const ModalityReader &ma = ra.modality(m), &mb = rb.modality(m);
    bool by_path = ma.layout() == lssd::OutputLayout::Release || mb.layout() == lssd::OutputLayout::Release;
    auto key = [&](const Record& r) { return by_path ? r.path + "\x1f" + std::to_string(r.track_index) : r.rel_path + "\x1f" + std::to_string(r.track_index); };
    std::map<std::string, const Record*> in_b;
    for (const auto& r : mb.records()) in_b[key(r)] = &r;
    std::set<std::string> seen;
    for (const auto& r : ma.records()) {
      std::string k = key(r);
      seen.insert(k);
      auto it = in_b.find(k);
      if (it == in_b.end()) {
        only_one(m, r, true, mb.layout() == lssd::OutputLayout::Release);
        continue;
      }
      const Record& b = *it->second;
      json j = {{"mtype", m}, {"status_a", r.status}, {"status_b", b.status}};
      put_bytes(j, "file", r.rel_path);
      if (r.track_index >= 0) j["track"] = r.track_index;
      std::string verdict;
      if (r.status != "ok" || b.status != "ok") {
        if (r.status != b.status) {
          verdict = "STATUS " + r.status + " vs " + b.status;
          fail = true;
        } else {
          verdict = "both " + r.status;
        }
        j["ok"] = r.status == b.status;
        j["verdict"] = verdict;
        files.push_back(j);
        lines.push_back(m + " " + display_name(r) + ": " + verdict);
        continue;
      }
      FloatArray a, bb;
      try {
        a = ma.load(r);
        bb = mb.load(b);
      } catch (const lssd::Error& e) {
        j["ok"] = false;
        j["verdict"] = std::string("load error: ") + e.what();
        files.push_back(j);
        lines.push_back(m + " " + display_name(r) + ": LOAD ERROR " + e.what());
        fail = true;
        continue;
      }
      if (a.shape != bb.shape) {
        j["ok"] = false;
        j["verdict"] = "shape " + shape_str(a.shape) + " vs " + shape_str(bb.shape);
        j["shape_a"] = a.shape;
        j["shape_b"] = bb.shape;
        files.push_back(j);
        lines.push_back(m + " " + display_name(r) + ": SHAPE " + shape_str(a.shape) + " vs " + shape_str(bb.shape));
        fail = true;
        continue;
      }
      ++compared;
      const size_t dim = static_cast<size_t>(a.shape.back());
      const size_t clip_elems = a.numel() / static_cast<size_t>(std::max<int64_t>(1, a.shape[0]));
      json clips = json::array();
      double fcos = 1.0, fabs_ = 0.0;
      std::string clip_text;
      for (int64_t c = 0; c < a.shape[0]; ++c) {
        ClipCmp cc;
        size_t base = static_cast<size_t>(c) * clip_elems;
        for (size_t v = 0; v < clip_elems; v += dim) cc.cosine = std::min(cc.cosine, cosine(&a.data[base + v], &bb.data[base + v], dim));
        for (size_t i = 0; i < clip_elems; ++i) {
          double d = std::abs(static_cast<double>(a.data[base + i]) - bb.data[base + i]);
          if (std::isnan(d)) d = std::numeric_limits<double>::infinity();
          cc.max_abs = std::max(cc.max_abs, d);
        }
        if (std::isnan(cc.cosine)) cc.cosine = -1;
        clips.push_back({{"clip", c}, {"cosine", cc.cosine}, {"max_abs_diff", jnum(cc.max_abs)}});
        fcos = std::min(fcos, cc.cosine);
        fabs_ = std::max(fabs_, cc.max_abs);
        clip_text += (c ? " " : "") + dstr(cc.cosine, 7);
      }
      bool ok = fcos >= min_cos && (atol < 0 || fabs_ <= atol);
      if (!ok) fail = true;
      worst_cos = std::min(worst_cos, fcos);
      worst_abs = std::max(worst_abs, fabs_);
      j["ok"] = ok;
      j["M"] = a.shape[0];
      j["min_cosine"] = fcos;
      j["max_abs_diff"] = jnum(fabs_);
      j["clips"] = clips;
      files.push_back(j);
      lines.push_back(std::string(ok ? "ok    " : "DIFF  ") + m + " " + display_name(r) + "  M=" + std::to_string(a.shape[0]) +
                      "  cosine " + dstr(fcos, 7) + "  max|diff| " + dstr(fabs_, 4) + "  clips [" + clip_text + "]");
    }
    for (const auto& r : mb.records()) {
      if (seen.count(key(r))) continue;
      only_one(m, r, false, ma.layout() == lssd::OutputLayout::Release);
    }
  }
  json out = {{"a", dir_a},
              {"b", dir_b},
              {"min_cosine_threshold", min_cos},
              {"atol", atol < 0 ? json(nullptr) : json(atol)},
              {"compared", compared},
              {"min_cosine", worst_cos},
              {"max_abs_diff", jnum(worst_abs)},
              {"files", files},
              {"only_in_a", only_a},
              {"only_in_b", only_b},
              {"ok", !fail}};
  if (as_json) {
    std::cout << out.dump(1) << "\n";
  } else {
    for (const auto& l : lines) std::cout << l << "\n";
    std::cout << (fail ? "FAIL" : "OK") << ": " << compared << " files compared, min cosine " << dstr(worst_cos, 7)
              << ", max |diff| " << dstr(worst_abs, 4) << "; " << only_a.size() << " only in A, " << only_b.size()
              << " only in B (thresholds: cosine >= " << min_cos << (atol < 0 ? "" : ", |diff| <= " + dstr(atol)) << ")\n";
  }
  return fail ? kFail : kOk;
}

// ---- verify ----
int cmd_verify(const std::string& dir, const std::string& mtype, bool as_json) {
  json problems = json::array(), warnings = json::array();
  size_t checked = 0;
  auto problem = [&](const std::string& kind, const std::string& m, const std::string& file, const std::string& msg) {
    json j = {{"kind", kind}, {"mtype", m}, {"message", msg}};
    put_bytes(j, "file", file);
    problems.push_back(j);
  };
  std::vector<std::string> mods;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw lssd::Error("read", "not a directory", dir);
  for (const char* m : {"video", "audio"})
    if (mtype.empty() || mtype == m) mods.push_back(m);
  size_t present = 0;
  for (const auto& m : mods) {
    lssd::OutputLayout layout = lssd::detect_layout(dir, m);
    fs::path mdir = fs::path(dir) / m;
    if (layout == lssd::OutputLayout::None) {
      if (fs::exists(mdir, ec)) problem("manifest", m, mdir.string(), "directory has no manifest*.jsonl or metadata.json");
      continue;
    }
    ++present;
    std::unique_ptr<ModalityReader> mr;
    try {
      mr = std::make_unique<ModalityReader>(dir, m);
    } catch (const lssd::Error& e) {
      problem("manifest", m, e.file(), e.what());
      continue;
    }
    for (const auto& w : mr->warnings()) warnings.push_back(w);
    std::set<std::string> expected;
    const bool video = m == "video";
    for (const auto& r : mr->records()) {
      if (r.status != "ok") continue;
      ++checked;
      std::vector<int64_t> want = video ? std::vector<int64_t>{r.num_clips, 5, 768} : std::vector<int64_t>{r.num_clips, 768};
      if (r.shape != want || static_cast<int64_t>(r.ranges.size()) != r.num_clips) {
        problem("manifest", m, r.rel_path,
                "record says M=" + std::to_string(r.num_clips) + ", shape " + shape_str(r.shape) + ", " +
                    std::to_string(r.ranges.size()) + " clip ranges; expected shape " + shape_str(want));
      }
      std::string npy = mr->npy_path(r);
      if (layout == lssd::OutputLayout::Ours) {
        expected.insert(fs::path(npy).lexically_normal().string());
        if (!fs::exists(npy, ec)) {
          problem("missing", m, npy, "output listed in the manifest is missing");
          continue;
        }
      }
      try {
        std::string dt;
        FloatArray a = mr->load(r, &dt);
        if (!r.dtype.empty() && dt != r.dtype) problem("dtype", m, npy.empty() ? r.path : npy, "stored " + dt + ", manifest says " + r.dtype);
        size_t bad = 0;
        for (float f : a.data)
          if (!std::isfinite(f)) ++bad;
        if (bad) problem("nonfinite", m, npy.empty() ? r.path : npy, std::to_string(bad) + " NaN/Inf values");
      } catch (const lssd::Error& e) {
        problem(e.message().find("differs from the manifest") != std::string::npos ? "shape" : "corrupt", m,
                e.file().empty() ? npy : e.file(), e.message());
      }
    }
    if (layout == lssd::OutputLayout::Ours) {
      for (auto it = fs::recursive_directory_iterator(mdir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        std::string name = it->path().filename().string();
        std::string p = it->path().lexically_normal().string();
        if (name.rfind(".tmp.", 0) == 0) {
          warnings.push_back(p + ": leftover temporary file (an interrupted write)");
          continue;
        }
        if (name.size() > 4 && name.substr(name.size() - 4) == ".npy" && !expected.count(p))
          problem("orphan", m, p, "not referenced by any ok manifest record");
      }
    }
  }
  if (!present) problem("manifest", mtype, dir, "no video/ or audio/ embeddings (manifest*.jsonl or metadata.json)");
  bool ok = problems.empty();
  if (as_json) {
    std::cout << json{{"dir", dir}, {"checked", checked}, {"problems", problems}, {"warnings", warnings}, {"ok", ok}}.dump(1) << "\n";
  } else {
    for (const auto& p : problems) {
      std::cout << p["kind"].get<std::string>() << ": " << p["file"].get<std::string>() << ": "
                << p["message"].get<std::string>() << "\n";
    }
    for (const auto& w : warnings) std::cerr << "warning: " << w.get<std::string>() << "\n";
    std::cout << (ok ? "OK" : "FAIL") << ": " << checked << " outputs checked, " << problems.size() << " problem(s)\n";
  }
  return ok ? kOk : kFail;
}

// ---- export ----
int cmd_export(const std::string& dir, const std::string& mtype, const std::string& release, const std::string& csv,
               const std::string& jsonl) {
  OutputReader rd(dir);
  if (!release.empty()) {
    for (const auto& m : selected(rd, mtype)) {
      size_t n = lssd::export_release(rd.modality(m), release);
      std::cerr << m << ": " << n << " files -> " << (fs::path(release) / m).string() << "/{metadata.json," << m << ".pt}\n";
    }
    return kOk;
  }
  const bool as_csv = !csv.empty();
  const std::string target = as_csv ? csv : jsonl;
  const bool to_stdout = target == "-";
  std::ofstream file;
  if (!to_stdout) {
    file.open(target, std::ios::binary | std::ios::trunc);
    if (!file) throw lssd::Error("export", "cannot write", target);
  }
  std::ostream& out = to_stdout ? std::cout : file;
  if (as_csv) {
    out << "mtype,file,track,clip,crop,start,stop";
    for (int i = 0; i < 768; ++i) out << ",e" << i;
    out << "\n";
  }
  auto csv_field = [](const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  size_t rows = 0;
  for (const auto& m : selected(rd, mtype)) {
    const ModalityReader& mr = rd.modality(m);
    for (const auto& r : mr.records()) {
      if (r.status != "ok") continue;
      FloatArray a = mr.load(r);
      const int64_t crops = m == "video" ? a.shape[1] : 1;
      const size_t dim = static_cast<size_t>(a.shape.back());
      for (int64_t c = 0; c < a.shape[0]; ++c) {
        const auto& cr = r.ranges.at(static_cast<size_t>(c));
        for (int64_t k = 0; k < crops; ++k) {
          const float* v = a.data.data() + (static_cast<size_t>(c * crops + k)) * dim;
          if (as_csv) {
            out << m << "," << csv_field(printable(r.path)) << "," << (r.track_index >= 0 ? std::to_string(r.track_index) : "")
                << "," << c << "," << (m == "video" ? std::to_string(k) : "") << "," << dstr(cr.start_s, 17) << ","
                << dstr(cr.stop_s, 17);
            for (size_t i = 0; i < dim; ++i) out << "," << fstr(v[i]);
            out << "\n";
          } else {
            std::string line = "{\"mtype\": \"" + m + "\", ";
            json fj;
            put_bytes(fj, "file", r.path);
            std::string fd = fj.dump();
            line += fd.substr(1, fd.size() - 2) + ", ";
            if (r.track_index >= 0) line += "\"track\": " + std::to_string(r.track_index) + ", ";
            line += "\"clip\": " + std::to_string(c) + ", ";
            if (m == "video") line += "\"crop\": " + std::to_string(k) + ", ";
            line += "\"start\": " + json(cr.start_s).dump() + ", \"stop\": " + json(cr.stop_s).dump() + ", ";
            if (cr.start_sample >= 0)
              line += "\"start_sample\": " + std::to_string(cr.start_sample) + ", \"stop_sample\": " + std::to_string(cr.stop_sample) + ", ";
            line += "\"embedding\": [";
            for (size_t i = 0; i < dim; ++i) {
              if (i) line += ", ";
              line += std::isfinite(v[i]) ? fstr(v[i]) : "NaN";
            }
            out << line << "]}\n";
          }
          ++rows;
        }
      }
    }
  }
  out.flush();
  if (!to_stdout) file.close();
  if (!out || (!to_stdout && !file)) throw lssd::Error("export", "write failed", to_stdout ? "(stdout)" : target);
  std::cerr << rows << " rows -> " << (to_stdout ? "(stdout)" : target) << "\n";
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lssd-read: inspect LSSD embeddings written by lssd-infer (or by the Python release)"};
  app.set_version_flag("-V,--version", std::string("lssd-read ") + LSSD_VERSION);
  app.footer(
      "Exit codes: 0 ok, 1 a check failed or bad data, 2 usage.\n"
      "Order: files are listed in manifest order sorted by relative path, then audio track;\n"
      "the same order as lssd::postprocess() and tools/lssd_postprocess.py.");
  int verbose = 0;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbose, "more log detail");
  app.add_flag("-q,--quiet", quiet, "warnings and errors only");
  app.require_subcommand(1);

  std::string dir, dir_b, file, mtype, release, csv, jsonl;
  bool as_json = false, values = false;
  double atol = -1, min_cos = 0.999;
  auto add_mtype = [&](CLI::App* s) {
    s->add_option("--mtype", mtype, "only this modality")->check(CLI::IsMember({"video", "audio"}));
  };
  auto add_json = [&](CLI::App* s) { s->add_flag("--json", as_json, "machine-readable JSON on stdout"); };

  auto* ls = app.add_subcommand("ls", "list records: file, M, shape, status");
  ls->add_option("DIR", dir, "output directory")->required()->check(CLI::ExistingDirectory);
  add_mtype(ls);
  add_json(ls);

  auto* show = app.add_subcommand("show", "one file's embedding: shape, dtype, stats, values (torch-style)");
  show->add_option("DIR", dir, "output directory")->required()->check(CLI::ExistingDirectory);
  show->add_option("FILE", file, "relative path, input path, .npy name, or a file name that only one input has")->required();
  add_mtype(show);
  add_json(show);
  show->add_flag("--values", values, "with --json: include every value (flattened, C order)");

  auto* stats = app.add_subcommand("stats", "counts and value statistics per modality");
  stats->add_option("DIR", dir, "output directory")->required()->check(CLI::ExistingDirectory);
  add_mtype(stats);
  add_json(stats);

  auto* cmp = app.add_subcommand("compare", "per file and clip cosine similarity and max |diff| of two output dirs");
  cmp->add_option("DIR_A", dir, "first output directory")->required()->check(CLI::ExistingDirectory);
  cmp->add_option("DIR_B", dir_b, "second output directory")->required()->check(CLI::ExistingDirectory);
  cmp->add_option("--atol", atol, "fail when a value differs by more than this (default: no limit)")->check(CLI::NonNegativeNumber);
  cmp->add_option("--min-cosine", min_cos, "fail when a clip's cosine similarity (video: its worst crop) is below this")
      ->capture_default_str();
  add_mtype(cmp);
  add_json(cmp);

  auto* ver = app.add_subcommand("verify", "check every manifest record's output: present, loadable, right shape; list orphans");
  ver->add_option("DIR", dir, "output directory")->required()->check(CLI::ExistingDirectory);
  add_mtype(ver);
  add_json(ver);

  auto* exp = app.add_subcommand("export", "write the release's layout, or a CSV / JSONL table with one row per clip (video: per crop)");
  exp->add_option("DIR", dir, "output directory")->required()->check(CLI::ExistingDirectory);
  auto* o_rel = exp->add_option("--release", release, "OUT dir: OUT/<mtype>/metadata.json + <mtype>.pt, as the release writes them");
  auto* o_csv = exp->add_option("--csv", csv, "OUT.csv (- for stdout): mtype,file,track,clip,crop,start,stop,e0..e767");
  auto* o_jsonl = exp->add_option("--jsonl", jsonl, "OUT.jsonl (- for stdout): one object per clip (video: per crop)");
  o_rel->excludes(o_csv)->excludes(o_jsonl);
  o_csv->excludes(o_jsonl);
  add_mtype(exp);

  const auto search_commands = lssd::read::add_search_commands(app);  // search, dedup, tracks

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  lssd::setup_logging(quiet ? -1 : verbose);
  try {
    for (const auto& c : search_commands)
      if (*c.app) return c.run();
    if (*ls) return cmd_ls(dir, mtype, as_json);
    if (*show) return cmd_show(dir, file, mtype, as_json, values);
    if (*stats) return cmd_stats(dir, mtype, as_json);
    if (*cmp) return cmd_compare(dir, dir_b, mtype, atol, min_cos, as_json);
    if (*ver) return cmd_verify(dir, mtype, as_json);
    if (*exp) {
      if (release.empty() && csv.empty() && jsonl.empty()) {
        std::cerr << "export: give one of --release OUT, --csv OUT.csv, --jsonl OUT.jsonl\n";
        return 2;
      }
      return cmd_export(dir, mtype, release, csv, jsonl);
    }
  } catch (const lssd::ConfigError& e) {
    std::cerr << "lssd-read: " << e.what() << "\n";
    return 2;
  } catch (const lssd::Error& e) {
    std::cerr << "lssd-read: " << e.what() << "\n";
    return kFail;
  } catch (const std::exception& e) {
    std::cerr << "lssd-read: " << e.what() << "\n";
    return kFail;
  }
  return 2;
}
