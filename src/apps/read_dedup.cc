// lssd-read dedup: pairs of files that share a run of consecutive similar clips at one offset.
#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>

#include "lssd/error.h"
#include "lssd/search/dedup.h"
#include "read_search.h"

using nlohmann::json;

namespace lssd::read {
namespace {

struct DedupArgs {
  std::string dir;
  std::optional<Modality> mtype;
  search::DedupOptions opts;
  bool as_json = false;
  CatalogArgs cat;
  IndexArgs index;
};

json pair_json(const search::Catalog& cat, const search::DuplicatePair& p) {
  const auto& fa = cat.files()[p.file_a];
  const auto& fb = cat.files()[p.file_b];
  const int64_t last_a = p.first_a + p.length - 1, last_b = p.first_b + p.length - 1;
  json a = clip_json(cat, fa.first_row + p.first_a), b = clip_json(cat, fb.first_row + p.first_b);
  for (json* j : {&a, &b}) {
    j->erase("clip");
    j->erase("start");
    j->erase("stop");
  }
  a["clips"] = {p.first_a, last_a};
  b["clips"] = {p.first_b, last_b};
  a["range"] = {cat.range(fa.first_row + p.first_a).start_s, cat.range(fa.first_row + last_a).stop_s};
  b["range"] = {cat.range(fb.first_row + p.first_b).start_s, cat.range(fb.first_row + last_b).stop_s};
  return {{"a", a},
          {"b", b},
          {"offset_s", p.offset_s},
          {"length", p.length},
          {"mean_score", p.mean_score},
          {"min_score", p.min_score},
          {"runs", p.runs}};
}

void print_text(const search::Catalog& cat, const json& mj, const search::DedupOptions& o) {
  const auto& pairs = mj["pairs"];
  std::cout << cat.mtype() << ": " << pairs.size() << " duplicate pair(s) among " << cat.files().size() << " files ("
            << mj["index"]["method"].get<std::string>() << " search of " << mj["queries"].get<int64_t>() << " clips, "
            << mj["matches"].get<int64_t>() << " clip matches >= " << o.threshold << ", runs of >= " << o.min_clips
            << ")\n";
  for (const auto& p : pairs) {
    const auto& a = p["a"];
    const auto& b = p["b"];
    auto name = [](const json& f) { return f["rel_path"].get<std::string>() + track_label(f); };
    std::cout << "  " << name(a) << "  <-  " << name(b) << "\n      offset " << fixed(p["offset_s"], 2) << " s, "
              << p["length"].get<int64_t>() << " clips: a " << fixed(a["range"][0], 2) << "-" << fixed(a["range"][1], 2)
              << " s = b " << fixed(b["range"][0], 2) << "-" << fixed(b["range"][1], 2) << " s; mean "
              << fixed(p["mean_score"], 4) << ", min " << fixed(p["min_score"], 4) << "\n";
  }
  if (mj["saturated"].get<int64_t>() > 0)
    std::cerr << "warning: " << cat.mtype() << ": " << mj["saturated"].get<int64_t>() << " clips had all "
              << o.neighbors << " neighbours above the threshold; pairs may be missing (raise --neighbors)\n";
}

int run_dedup(const DedupArgs& a) {
  OutputReader rd(a.dir);
  json out = {{"dir", a.dir},
              {"threshold", a.opts.threshold},
              {"min_clips", a.opts.min_clips},
              {"neighbors", a.opts.neighbors},
              {"modalities", json::object()}};
  for (const Modality m : modalities(rd, a.mtype)) {
    const ModalityReader& mr = rd.modality(m);
    search::Catalog cat(mr, a.cat.options());
    OpenedIndex ix = open_index(mr, cat, a.index, /*need_matrix=*/true);
    search::DedupStats st;
    auto matches = search::find_clip_matches(cat, *ix.matrix, *ix.index, a.opts, &st);
    auto pairs = search::find_duplicate_runs(cat, std::move(matches), a.opts);
    json pj = json::array();
    for (const auto& p : pairs) pj.push_back(pair_json(cat, p));
    ix.info["left_out"] = ix.left_out;
    json mj = {{"index", ix.info},      {"files", cat.files().size()}, {"queries", st.queries},
               {"matches", st.matches}, {"saturated", st.saturated},   {"pairs", pj}};
    if (!a.as_json) print_text(cat, mj, a.opts);
    out["modalities"][mr.mtype()] = mj;
  }
  if (a.as_json) std::cout << out.dump(1) << "\n";
  return 0;
}

}  // namespace

Command add_dedup(CLI::App& app) {
  auto a = std::make_shared<DedupArgs>();
  auto* s =
      app.add_subcommand("dedup", "near-duplicate files: pairs sharing a run of similar clips at one time offset");
  s->footer(
      "Every clip is searched (batched FAISS k-NN: exact, or --approx); a clip of another file scoring\n"
      ">= --threshold is a match. A pair is reported when at least --min-clips consecutive clips match\n"
      "at one offset (the same clip-index difference): re-encodes, trimmed copies, a clip inside a\n"
      "compilation. The offset (time in a - time in b, >= 0) is on the clip grid: a shift between grid\n"
      "points shows as the neighbouring grid offset that matches best. The default threshold and run\n"
      "length are placeholders until measured with the released weights: give them explicitly.\n"
      "Exit 0 whether or not pairs are found.\n");
  s->add_option("DIR", a->dir, "output directory")->required()->check(CLI::ExistingDirectory);
  add_mtype_option(s, a->mtype, "only this modality (default: each present, separately)");
  s->add_option("--threshold", a->opts.threshold, "clip match: cosine >= this")
      ->capture_default_str()
      ->check(CLI::Range(-1.0, 1.0));
  s->add_option("--min-clips", a->opts.min_clips, "run length: consecutive matching clips")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  s->add_option("--neighbors", a->opts.neighbors, "nearest neighbours looked at per clip (its own file's included)")
      ->capture_default_str()
      ->check(CLI::Range(2, 100000));
  s->add_flag("--json", a->as_json, "machine-readable JSON on stdout");
  add_catalog_args(s, a->cat);
  add_index_args(s, a->index);
  return {s, [a] { return run_dedup(*a); }};
}

}  // namespace lssd::read
