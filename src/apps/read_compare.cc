// lssd-read compare: per file and clip cosine similarity and max |diff| of two output
// directories. compare_dirs() computes every entry once; the text and JSON renderers only format.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "lssd/error.h"
#include "lssd/output.h"
#include "output/json_bytes.h"
#include "read_common.h"

using nlohmann::json;

namespace lssd::read {
namespace {

struct CompareArgs {
  std::string dir_a, dir_b;
  std::optional<Modality> mtype;
  double atol = -1, min_cos = 0.999;
  bool as_json = false;
};

struct ClipCmp {
  double cosine = 1, max_abs = 0;
};

// One line of the comparison, in the order found: a file on one side only, or a pair.
struct Entry {
  enum Kind { OnlyA, OnlyB, Status, LoadError, Shape, Values } kind = Values;
  Modality modality = Modality::Video;
  Record a, b;        // b unused for OnlyA/OnlyB (a is the record that exists)
  bool ok = true;     // the entry passes (OnlyA/OnlyB: does not fail the comparison)
  std::string error;  // LoadError
  std::vector<int64_t> shape_a, shape_b;
  std::vector<ClipCmp> clips;
  double min_cos = 1, max_abs = 0;
};

struct Comparison {
  std::vector<Entry> entries;
  size_t compared = 0;
  double worst_cos = 1.0, worst_abs = 0.0;
  bool fail = false;
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

// Clip c of two same-shaped arrays: the worst cosine over its vectors (video: the crops) and the
// largest |difference| (NaN counts as infinite).
ClipCmp compare_clip(const FloatArray& a, const FloatArray& b, int64_t c) {
  const size_t dim = static_cast<size_t>(a.shape.back());
  const size_t clip_elems = a.numel() / static_cast<size_t>(std::max<int64_t>(1, a.shape[0]));
  const size_t base = static_cast<size_t>(c) * clip_elems;
  ClipCmp cc;
  for (size_t v = 0; v < clip_elems; v += dim)
    cc.cosine = std::min(cc.cosine, cosine(&a.data[base + v], &b.data[base + v], dim));
  for (size_t i = 0; i < clip_elems; ++i) {
    double d = std::abs(static_cast<double>(a.data[base + i]) - b.data[base + i]);
    if (std::isnan(d)) d = std::numeric_limits<double>::infinity();
    cc.max_abs = std::max(cc.max_abs, d);
  }
  if (std::isnan(cc.cosine)) cc.cosine = -1;
  return cc;
}

class Comparer {
 public:
  explicit Comparer(const CompareArgs& a) : a_(a) {}

  // A record on one side only. It fails the comparison unless it has no embedding and the other
  // side is the release's layout (which lists only embedded files).
  void only_one(Modality m, const Record& r, bool in_a, bool other_is_release) {
    Entry e;
    e.kind = in_a ? Entry::OnlyA : Entry::OnlyB;
    e.modality = m;
    e.a = r;
    e.ok = !(r.status == RecordStatus::Ok || !other_is_release);
    add(std::move(e));
  }

  void pair(Modality m, const ModalityReader& ma, const ModalityReader& mb, const Record& r, const Record& b) {
    Entry e;
    e.modality = m;
    e.a = r;
    e.b = b;
    if (r.status != RecordStatus::Ok || b.status != RecordStatus::Ok) {
      e.kind = Entry::Status;
      e.ok = r.status == b.status;
      return add(std::move(e));
    }
    FloatArray x, y;
    try {
      x = ma.load(r);
      y = mb.load(b);
    } catch (const Error& err) {
      e.kind = Entry::LoadError;
      e.ok = false;
      e.error = err.what();
      return add(std::move(e));
    }
    if (x.shape != y.shape) {
      e.kind = Entry::Shape;
      e.ok = false;
      e.shape_a = x.shape;
      e.shape_b = y.shape;
      return add(std::move(e));
    }
    values(std::move(e), x, y);
  }

  void modality(Modality m, const ModalityReader& ma, const ModalityReader& mb) {
    const bool by_path = ma.layout() == OutputLayout::Release || mb.layout() == OutputLayout::Release;
    auto key = [&](const Record& r) {
      return (by_path ? r.path : r.rel_path) + "\x1f" + std::to_string(r.track_index);
    };
    std::map<std::string, const Record*> in_b;
    for (const auto& r : mb.records()) in_b[key(r)] = &r;
    std::set<std::string> seen;
    for (const auto& r : ma.records()) {
      std::string k = key(r);
      seen.insert(k);
      auto it = in_b.find(k);
      if (it == in_b.end())
        only_one(m, r, true, mb.layout() == OutputLayout::Release);
      else
        pair(m, ma, mb, r, *it->second);
    }
    for (const auto& r : mb.records())
      if (!seen.count(key(r))) only_one(m, r, false, ma.layout() == OutputLayout::Release);
  }

  Comparison result() && { return std::move(c_); }

 private:
  void add(Entry e) {
    if (!e.ok) c_.fail = true;
    c_.entries.push_back(std::move(e));
  }

  void values(Entry e, const FloatArray& x, const FloatArray& y) {
    e.kind = Entry::Values;
    ++c_.compared;
    for (int64_t c = 0; c < x.shape[0]; ++c) {
      ClipCmp cc = compare_clip(x, y, c);
      e.min_cos = std::min(e.min_cos, cc.cosine);
      e.max_abs = std::max(e.max_abs, cc.max_abs);
      e.clips.push_back(cc);
    }
    e.shape_a = x.shape;
    e.ok = e.min_cos >= a_.min_cos && (a_.atol < 0 || e.max_abs <= a_.atol);
    c_.worst_cos = std::min(c_.worst_cos, e.min_cos);
    c_.worst_abs = std::max(c_.worst_abs, e.max_abs);
    add(std::move(e));
  }

  const CompareArgs& a_;
  Comparison c_;
};

Comparison compare_dirs(const CompareArgs& a) {
  OutputReader ra(a.dir_a), rb(a.dir_b);
  std::vector<Modality> mods;
  for (const Modality m : kModalities)
    if ((!a.mtype || *a.mtype == m) && (ra.has(m) || rb.has(m))) mods.push_back(m);
  if (mods.empty())
    throw Error("read", "no " + std::string(a.mtype ? to_string(*a.mtype) : "embeddings") + " on either side", a.dir_a);
  Comparer cmp(a);
  for (const Modality m : mods) {
    if (ra.has(m) && rb.has(m)) {
      cmp.modality(m, ra.modality(m), rb.modality(m));
      continue;
    }
    const OutputReader& has = ra.has(m) ? ra : rb;
    for (const auto& r : has.modality(m).records()) cmp.only_one(m, r, ra.has(m), false);
  }
  return std::move(cmp).result();
}

// ---- rendering ----

std::string verdict(const Entry& e) {
  switch (e.kind) {
    case Entry::Status:
      return e.ok ? std::string("both ") + to_string(e.a.status)
                  : std::string("STATUS ") + to_string(e.a.status) + " vs " + to_string(e.b.status);
    case Entry::LoadError: return "load error: " + e.error;
    case Entry::Shape: return "shape " + shape_str(e.shape_a) + " vs " + shape_str(e.shape_b);
    default: return "";
  }
}

std::string entry_text(const Entry& e) {
  const std::string who = std::string(to_string(e.modality)) + " " + display_name(e.a);
  switch (e.kind) {
    case Entry::OnlyA:
    case Entry::OnlyB:
      return std::string(e.kind == Entry::OnlyA ? "ONLY IN A  " : "ONLY IN B  ") + who +
             (e.a.status == RecordStatus::Ok ? std::string() : std::string(" (") + to_string(e.a.status) + ")");
    case Entry::Status: return who + ": " + verdict(e);
    case Entry::LoadError: return who + ": LOAD ERROR " + e.error;
    case Entry::Shape: return who + ": SHAPE " + shape_str(e.shape_a) + " vs " + shape_str(e.shape_b);
    case Entry::Values: break;
  }
  std::string clip_text;
  for (size_t c = 0; c < e.clips.size(); ++c) clip_text += (c ? " " : "") + dstr(e.clips[c].cosine, 7);
  return std::string(e.ok ? "ok    " : "DIFF  ") + who + "  M=" + std::to_string(e.clips.size()) + "  cosine " +
         dstr(e.min_cos, 7) + "  max|diff| " + dstr(e.max_abs, 4) + "  clips [" + clip_text + "]";
}

json entry_json(const Entry& e) {
  if (e.kind == Entry::OnlyA || e.kind == Entry::OnlyB) {
    json j = {{"mtype", to_string(e.modality)}, {"status", to_string(e.a.status)}, {"fails", !e.ok}};
    put_bytes(j, "file", e.a.rel_path);
    return j;
  }
  json j = {{"mtype", to_string(e.modality)},
            {"status_a", to_string(e.a.status)},
            {"status_b", to_string(e.b.status)},
            {"ok", e.ok}};
  put_bytes(j, "file", e.a.rel_path);
  if (e.a.track_index >= 0) j["track"] = e.a.track_index;
  if (e.kind != Entry::Values) j["verdict"] = verdict(e);
  if (e.kind == Entry::Shape) {
    j["shape_a"] = e.shape_a;
    j["shape_b"] = e.shape_b;
  }
  if (e.kind == Entry::Values) {
    json clips = json::array();
    for (size_t c = 0; c < e.clips.size(); ++c)
      clips.push_back({{"clip", c}, {"cosine", e.clips[c].cosine}, {"max_abs_diff", jnum(e.clips[c].max_abs)}});
    j["M"] = e.shape_a[0];
    j["min_cosine"] = e.min_cos;
    j["max_abs_diff"] = jnum(e.max_abs);
    j["clips"] = clips;
  }
  return j;
}

void print_json(const CompareArgs& a, const Comparison& c) {
  json files = json::array(), only_a = json::array(), only_b = json::array();
  for (const auto& e : c.entries)
    (e.kind == Entry::OnlyA ? only_a : e.kind == Entry::OnlyB ? only_b : files).push_back(entry_json(e));
  json out = {{"a", a.dir_a},
              {"b", a.dir_b},
              {"min_cosine_threshold", a.min_cos},
              {"atol", a.atol < 0 ? json(nullptr) : json(a.atol)},
              {"compared", c.compared},
              {"min_cosine", c.worst_cos},
              {"max_abs_diff", jnum(c.worst_abs)},
              {"files", files},
              {"only_in_a", only_a},
              {"only_in_b", only_b},
              {"ok", !c.fail}};
  std::cout << out.dump(1) << "\n";
}

void print_text(const CompareArgs& a, const Comparison& c) {
  size_t only_a = 0, only_b = 0;
  for (const auto& e : c.entries) {
    std::cout << entry_text(e) << "\n";
    only_a += e.kind == Entry::OnlyA;
    only_b += e.kind == Entry::OnlyB;
  }
  std::cout << (c.fail ? "FAIL" : "OK") << ": " << c.compared << " files compared, min cosine " << dstr(c.worst_cos, 7)
            << ", max |diff| " << dstr(c.worst_abs, 4) << "; " << only_a << " only in A, " << only_b
            << " only in B (thresholds: cosine >= " << a.min_cos << (a.atol < 0 ? "" : ", |diff| <= " + dstr(a.atol))
            << ")\n";
}

int run_compare(const CompareArgs& a) {
  const Comparison c = compare_dirs(a);
  if (a.as_json)
    print_json(a, c);
  else
    print_text(a, c);
  return c.fail ? kFail : kOk;
}

}  // namespace

Command add_compare(CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  auto* s = app.add_subcommand("compare", "per file and clip cosine similarity and max |diff| of two output dirs");
  s->add_option("DIR_A", a->dir_a, "first output directory")->required()->check(CLI::ExistingDirectory);
  s->add_option("DIR_B", a->dir_b, "second output directory")->required()->check(CLI::ExistingDirectory);
  s->add_option("--atol", a->atol, "fail when a value differs by more than this (default: no limit)")
      ->check(CLI::NonNegativeNumber);
  s->add_option("--min-cosine", a->min_cos,
                "fail when a clip's cosine similarity (video: its worst crop) is below this")
      ->capture_default_str();
  add_mtype_option(s, a->mtype);
  add_json_flag(s, a->as_json);
  return {s, [a] { return run_compare(*a); }};
}

}  // namespace lssd::read
