// lssd-read ls, show and stats: what an output directory holds, one file's embedding, and counts
// and value statistics per modality.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "lssd/error.h"
#include "lssd/output.h"
#include "read_common.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace lssd::read {
namespace {

// Running statistics over values and over embedding vectors (the last axis).
struct ValueStats {
  size_t n = 0, nonfinite = 0, vectors = 0;
  double sum = 0, sumsq = 0, mn = std::numeric_limits<double>::infinity(),
         mx = -std::numeric_limits<double>::infinity();
  double norm_sum = 0, norm_min = std::numeric_limits<double>::infinity(), norm_max = 0;

  void add(const FloatArray& a) {
    for (float f : a.data) add_value(f);
    const size_t dim = a.shape.empty() ? 0 : static_cast<size_t>(a.shape.back());
    if (dim == 0) return;
    for (size_t off = 0; off + dim <= a.data.size(); off += dim) add_vector(&a.data[off], dim);
  }
  void add_value(float f) {
    if (!std::isfinite(f)) {
      ++nonfinite;
      return;
    }
    double d = f;
    ++n;
    sum += d;
    sumsq += d * d;
    mn = std::min(mn, d);
    mx = std::max(mx, d);
  }
  void add_vector(const float* v, size_t dim) {
    double s = 0;
    for (size_t k = 0; k < dim; ++k) s += static_cast<double>(v[k]) * v[k];
    double nrm = std::sqrt(s);
    ++vectors;
    norm_sum += nrm;
    norm_min = std::min(norm_min, nrm);
    norm_max = std::max(norm_max, nrm);
  }
  double mean() const { return n ? sum / static_cast<double>(n) : 0; }
  double stdev() const {
    if (!n) return 0;
    double m = mean();
    return std::sqrt(std::max(0.0, sumsq / static_cast<double>(n) - m * m));
  }
  double norm_mean() const { return vectors ? norm_sum / static_cast<double>(vectors) : 0.0; }
  json to_json() const {
    return {{"count", n},
            {"nonfinite", nonfinite},
            {"min", n ? jnum(mn) : json(nullptr)},
            {"max", n ? jnum(mx) : json(nullptr)},
            {"mean", mean()},
            {"std", stdev()},
            {"vectors", vectors},
            {"l2_norm_mean", norm_mean()},
            {"l2_norm_min", vectors ? jnum(norm_min) : json(nullptr)},
            {"l2_norm_max", vectors ? jnum(norm_max) : json(nullptr)}};
  }
  std::string text() const {
    std::ostringstream o;
    o << "min " << (n ? dstr(mn) : "-") << "  max " << (n ? dstr(mx) : "-") << "  mean " << dstr(mean()) << "  std "
      << dstr(stdev()) << "  |v| mean " << dstr(norm_mean()) << " (min " << (vectors ? dstr(norm_min) : "-") << ", max "
      << dstr(norm_max) << ")";
    if (nonfinite) o << "  NON-FINITE " << nonfinite;
    return o.str();
  }
};

// ---- ls ----

struct LsArgs {
  std::string dir;
  std::optional<Modality> mtype;
  bool as_json = false;
};

// Rows as a table: columns padded to their widest cell, M right-aligned, the last column as is.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(rows.front().size());
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  for (const auto& r : rows) {
    std::string s;
    for (size_t i = 0; i < r.size(); ++i) {
      if (i + 1 == r.size())
        s += r[i];
      else if (i == 1)
        s += std::string(w[i] - r[i].size(), ' ') + r[i] + "  ";  // M right-aligned
      else
        s += r[i] + std::string(w[i] - r[i].size() + 2, ' ');
    }
    std::cout << s << "\n";
  }
}

int run_ls(const LsArgs& a) {
  OutputReader rd(a.dir);
  json out = {{"dir", a.dir}, {"layout", json::object()}, {"records", json::array()}};
  std::vector<std::vector<std::string>> rows = {{"MTYPE", "M", "SHAPE", "STATUS", "FILE"}};
  for (const Modality m : modalities(rd, a.mtype)) {
    const ModalityReader& mr = rd.modality(m);
    out["layout"][mr.mtype()] = to_string(mr.layout());
    for (const auto& w : mr.warnings()) std::cerr << "warning: " << w << "\n";
    for (const auto& r : mr.records()) {
      out["records"].push_back(record_json(mr, r));
      rows.push_back({mr.mtype(), std::to_string(r.num_clips), r.shape.empty() ? "-" : shape_str(r.shape),
                      to_string(r.status), display_name(r)});
    }
  }
  if (a.as_json)
    std::cout << out.dump(1) << "\n";
  else
    print_table(rows);
  return kOk;
}

// ---- show ----

struct ShowArgs {
  std::string dir, file;
  std::optional<Modality> mtype;
  bool as_json = false, values = false;
};

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
std::string by_basename(const OutputReader& rd, const std::vector<Modality>& mods, const std::string& q,
                        const std::string& dir) {
  std::set<std::string> hits;
  for (const Modality m : mods)
    for (const auto& r : rd.modality(m).records())
      if (fs::path(r.rel_path).filename().string() == q) hits.insert(r.rel_path);
  if (hits.empty()) return q;
  if (hits.size() == 1) return *hits.begin();
  std::string names;
  for (const auto& h : hits) names += (names.empty() ? "" : ", ") + printable(h);
  throw Error("read",
              "'" + q + "' matches " + std::to_string(hits.size()) + " inputs (" + names + "): give the relative path",
              dir);
}

// The record names `query` exactly (path, rel_path, .npy), else the unique input with that basename.
std::string resolve_query(const OutputReader& rd, const std::vector<Modality>& mods, const ShowArgs& a) {
  for (const Modality m : mods)
    for (const auto& r : rd.modality(m).records())
      if (matches(rd.modality(m), r, a.file)) return a.file;
  return by_basename(rd, mods, a.file, a.dir);
}

void print_no_embedding(const ModalityReader& mr, const Record& r) {
  std::cout << mr.mtype() << " " << display_name(r) << ": status " << to_string(r.status);
  if (!r.error_message.empty()) std::cout << " ([" << r.error_stage << "] " << printable(r.error_message) << ")";
  std::cout << ", no embedding\n";
}

void print_embedding(const ModalityReader& mr, const Record& r, const FloatArray& a, const std::string& dtype,
                     const ValueStats& st, const std::string& tensor_text) {
  const std::string& m = mr.mtype();
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
  std::cout << (mr.modality() == Modality::Video ? "  fps " + dstr(r.fps) : "  rate " + std::to_string(r.sample_rate))
            << "\n";
  std::cout << "stats:  " << st.text() << "\n";
  std::cout << tensor_text << "\n";
}

// One record of `show`: printed (text) and returned as JSON.
json show_record(const ModalityReader& mr, const Record& r, const ShowArgs& a) {
  json j = record_json(mr, r);
  if (r.status != RecordStatus::Ok) {
    if (!a.as_json) print_no_embedding(mr, r);
    return j;
  }
  std::string dtype;
  FloatArray x = mr.load(r, &dtype);
  ValueStats st;
  st.add(x);
  std::string ts = torch_style_str(x);
  j["stored_dtype"] = dtype;
  j["stats"] = st.to_json();
  j["tensor_str"] = ts;
  if (a.values) {
    json v = json::array();
    for (float f : x.data) v.push_back(std::isfinite(f) ? json(static_cast<double>(f)) : json(fstr(f)));
    j["values"] = v;
  }
  if (!a.as_json) print_embedding(mr, r, x, dtype, st, ts);
  return j;
}

int run_show(const ShowArgs& a) {
  OutputReader rd(a.dir);
  const std::vector<Modality> mods = modalities(rd, a.mtype);
  const std::string file = resolve_query(rd, mods, a);
  json out = json::array();
  bool failed = false;  // a failed record matched: nothing to show for it (exit 1)
  for (const Modality m : mods) {
    const ModalityReader& mr = rd.modality(m);
    for (const auto& r : mr.records())
      if (matches(mr, r, file)) {
        out.push_back(show_record(mr, r, a));
        failed = failed || r.status == RecordStatus::Failed;
      }
  }
  if (out.empty())
    throw Error("read",
                "no record matches '" + a.file +
                    "' (give its relative path, input path, .npy name or a unique file name; see `lssd-read ls`)",
                a.dir);
  if (a.as_json) std::cout << out.dump(1) << "\n";
  return failed ? kFail : kOk;
}

// ---- stats ----

struct StatsArgs {
  std::string dir;
  std::optional<Modality> mtype;
  bool as_json = false;
};

// Lines of the errors*.jsonl logs in `dir`.
size_t count_error_lines(const std::string& dir) {
  size_t lines = 0;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind("errors", 0) == 0 && n.size() > 6 && n.substr(n.size() - 6) == ".jsonl") {
      std::ifstream in(e.path());
      std::string l;
      while (std::getline(in, l))
        if (!l.empty()) ++lines;
    }
  }
  return lines;
}

struct ModalityStats {
  std::map<std::string, size_t> status, dtypes;
  std::set<std::string> models;
  size_t clips = 0;
  ValueStats values;
  std::vector<std::string> load_errors;
};

ModalityStats modality_stats(const ModalityReader& mr) {
  ModalityStats s;
  for (const auto& r : mr.records()) {
    ++s.status[to_string(r.status)];
    if (!r.model_id.empty()) s.models.insert(r.model_id);
    if (r.status != RecordStatus::Ok) continue;
    s.clips += static_cast<size_t>(r.num_clips);
    try {
      std::string dt;
      FloatArray x = mr.load(r, &dt);
      ++s.dtypes[dt];
      s.values.add(x);
    } catch (const Error& e) {
      s.load_errors.push_back(e.what());
    }
  }
  return s;
}

void print_stats(const ModalityReader& mr, const ModalityStats& s) {
  std::cout << mr.mtype() << " (" << to_string(mr.layout()) << " layout): " << mr.records().size() << " records";
  for (auto& [k, v] : s.status) std::cout << ", " << v << " " << k;
  std::cout << "; " << s.clips << " clips";
  for (auto& [k, v] : s.dtypes) std::cout << ", " << v << " " << k;
  if (!s.models.empty()) {
    std::cout << "; model";
    for (auto& mm : s.models) std::cout << " " << mm;
  }
  std::cout << "\n  values: " << s.values.text() << "\n";
  for (auto& e : s.load_errors) std::cout << "  LOAD ERROR: " << e << "\n";
  for (auto& w : mr.warnings()) std::cout << "  warning: " << w << "\n";
}

int run_stats(const StatsArgs& a) {
  OutputReader rd(a.dir);
  const size_t error_lines = count_error_lines(a.dir);
  json out = {{"dir", a.dir}, {"modalities", json::object()}, {"error_lines", error_lines}};
  int rc = kOk;
  for (const Modality m : modalities(rd, a.mtype)) {
    const ModalityReader& mr = rd.modality(m);
    const ModalityStats s = modality_stats(mr);
    if (!s.load_errors.empty()) rc = kFail;
    out["modalities"][mr.mtype()] = {{"layout", to_string(mr.layout())},
                                     {"records", mr.records().size()},
                                     {"status", s.status},
                                     {"clips", s.clips},
                                     {"dtypes", s.dtypes},
                                     {"model_ids", s.models},
                                     {"values", s.values.to_json()},
                                     {"load_errors", s.load_errors},
                                     {"warnings", mr.warnings()}};
    if (!a.as_json) print_stats(mr, s);
  }
  if (a.as_json)
    std::cout << out.dump(1) << "\n";
  else
    std::cout << "errors logged: " << error_lines << "\n";
  return rc;
}

}  // namespace

Command add_ls(CLI::App& app) {
  auto a = std::make_shared<LsArgs>();
  auto* s = app.add_subcommand("ls", "list records: file, M, shape, status");
  s->add_option("DIR", a->dir, "output directory")->required()->check(CLI::ExistingDirectory);
  add_mtype_option(s, a->mtype);
  add_json_flag(s, a->as_json);
  return {s, [a] { return run_ls(*a); }};
}

Command add_show(CLI::App& app) {
  auto a = std::make_shared<ShowArgs>();
  auto* s = app.add_subcommand(
      "show", "one file's embedding: shape, dtype, stats, values (torch-style); exit 1 for a failed input");
  s->add_option("DIR", a->dir, "output directory")->required()->check(CLI::ExistingDirectory);
  s->add_option("FILE", a->file, "relative path, input path, .npy name, or a file name that only one input has")
      ->required();
  add_mtype_option(s, a->mtype);
  add_json_flag(s, a->as_json);
  s->add_flag("--values", a->values, "with --json: include every value (flattened, C order)");
  return {s, [a] { return run_show(*a); }};
}

Command add_stats(CLI::App& app) {
  auto a = std::make_shared<StatsArgs>();
  auto* s = app.add_subcommand("stats", "counts and value statistics per modality");
  s->add_option("DIR", a->dir, "output directory")->required()->check(CLI::ExistingDirectory);
  add_mtype_option(s, a->mtype);
  add_json_flag(s, a->as_json);
  return {s, [a] { return run_stats(*a); }};
}

}  // namespace lssd::read
