// lssd-read tracks: clip-by-clip agreement of the audio tracks of each container (dubs).
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>

#include "lssd/error.h"
#include "lssd/search/tracks.h"
#include "output/json_bytes.h"
#include "read_search.h"

using nlohmann::json;

namespace lssd::read {
namespace {

struct TracksArgs {
  std::string dir, file;
  double threshold = 0.9;
  bool as_json = false;
  CatalogArgs cat;
};

json ranges_json(const std::vector<search::TimeRange>& rs) {
  json j = json::array();
  for (const auto& r : rs) j.push_back({r.start_s, r.stop_s});
  return j;
}

json track_json(const search::CatalogFile& f) {
  return {{"track", f.record.track_index}, {"language", f.record.track_language}, {"clips", f.clips()}};
}

json pair_json(const search::Catalog& cat, const search::TracksReport& rep, const search::TrackPair& p) {
  const auto& c = rep.containers[p.container];
  json j = {{"a", track_json(cat.files()[p.file_a])},
            {"b", track_json(cat.files()[p.file_b])},
            {"cosine", p.cosine},
            {"mean", jnum(p.mean)},
            {"min", jnum(p.min)},
            {"below", ranges_json(p.below)},
            {"unpaired", ranges_json(p.unpaired)},
            {"flagged", p.flagged()}};
  put_bytes(j, "file", c.path);
  put_bytes(j, "rel_path", c.rel_path);
  return j;
}

std::string ranges_text(const std::vector<search::TimeRange>& rs) {
  std::string s;
  for (const auto& r : rs) s += (s.empty() ? "" : ", ") + fixed(r.start_s, 2) + "-" + fixed(r.stop_s, 2) + " s";
  return s;
}

std::string track_text(const search::CatalogFile& f) {
  return std::to_string(f.record.track_index) + (f.record.track_language.empty() ? "" : " " + f.record.track_language);
}

void print_text(const search::Catalog& cat, const search::TracksReport& rep) {
  // Per container and pair: every clip's cosine.
  for (size_t ci = 0; ci < rep.containers.size(); ++ci) {
    std::cout << escape_non_utf8(rep.containers[ci].rel_path) << "\n";
    for (const auto& p : rep.pairs) {
      if (p.container != ci) continue;
      std::cout << "  tracks " << track_text(cat.files()[p.file_a]) << " / " << track_text(cat.files()[p.file_b])
                << ":";
      for (double c : p.cosine) std::cout << " " << fixed(c, 4);
      std::cout << "\n";
    }
  }
  // All pairs, worst first.
  std::printf("\n%-9s %-9s %-11s %-13s %-28s %s\n", "MIN", "MEAN", "CLIPS", "TRACKS", "BELOW", "FILE");
  for (const auto& p : rep.pairs) {
    std::string below = ranges_text(p.below);
    if (!p.unpaired.empty()) below += (below.empty() ? "" : "; ") + std::string("unpaired ") + ranges_text(p.unpaired);
    std::printf("%-9s %-9s %-11s %-13s %-28s %s\n", std::isnan(p.min) ? "-" : fixed(p.min, 4).c_str(),
                std::isnan(p.mean) ? "-" : fixed(p.mean, 4).c_str(),
                (std::to_string(p.clips_a) + "/" + std::to_string(p.clips_b)).c_str(),
                (track_text(cat.files()[p.file_a]) + "/" + track_text(cat.files()[p.file_b])).c_str(),
                below.empty() ? "-" : below.c_str(), escape_non_utf8(rep.containers[p.container].rel_path).c_str());
  }
  size_t flagged = 0;
  for (const auto& p : rep.pairs) flagged += p.flagged();
  std::printf("%s: %zu container(s), %zu track pair(s), %zu with clips below %g or unpaired\n",
              flagged ? "FLAGGED" : "OK", rep.containers.size(), rep.pairs.size(), flagged, rep.threshold);
  std::fflush(stdout);
}

int run_tracks(const TracksArgs& a) {
  OutputReader rd(a.dir);
  if (!rd.has(Modality::Audio)) throw Error("read", "no audio embeddings here", a.dir);
  const ModalityReader& mr = rd.modality(Modality::Audio);
  search::Catalog cat(mr, a.cat.options());
  search::TracksReport rep = search::track_consistency(mr, cat, a.threshold, a.file);
  warn_left_out(rep.problems);
  bool flagged = false;
  json pairs = json::array();
  for (const auto& p : rep.pairs) {
    pairs.push_back(pair_json(cat, rep, p));
    flagged = flagged || p.flagged();
  }
  if (a.as_json)
    std::cout << json{{"dir", a.dir},   {"threshold", a.threshold}, {"containers", rep.containers.size()},
                      {"pairs", pairs}, {"left_out", rep.problems}, {"ok", !flagged}}
                     .dump(1)
              << "\n";
  else
    print_text(cat, rep);
  return flagged ? 1 : 0;
}

}  // namespace

Command add_tracks(CLI::App& app) {
  auto a = std::make_shared<TracksArgs>();
  auto* s =
      app.add_subcommand("tracks", "dub consistency: per clip cosine of every pair of audio tracks of a container");
  s->footer(
      "For each container with two or more embedded audio tracks (lssd-infer DATA.AUDIO_FROM_VIDEO True):\n"
      "every pair of tracks, the cosine of each clip (clips paired by index), mean, minimum, and the time\n"
      "ranges of clips below --threshold (and of clips only the longer track has); then all pairs, worst\n"
      "first. A silent, cut, shifted or foreign track stands out. The default threshold is a placeholder\n"
      "until measured with the released weights: give it explicitly. Exit 1 when a pair is flagged.\n");
  s->add_option("DIR", a->dir, "output directory")->required()->check(CLI::ExistingDirectory);
  s->add_option("FILE", a->file, "only this container (rel_path or input path)");
  s->add_option("--threshold", a->threshold, "flag clips whose cosine is below this")
      ->capture_default_str()
      ->check(CLI::Range(-1.0, 1.0));
  s->add_flag("--json", a->as_json, "machine-readable JSON on stdout");
  add_catalog_args(s, a->cat);
  return {s, [a] { return run_tracks(*a); }};
}

}  // namespace lssd::read
