// lssd-read report: one offline HTML page (or --json) about an output directory: the run, the
// dub-track timelines, the near-duplicates with thumbnails, a 2-D projection per modality.
// The content is built by the lssd_search library (lssd/search/report.h); this file reads the
// options, opens the search indexes as dedup does and writes the file.
#include <CLI/CLI.hpp>

#include <chrono>
#include <ctime>
#include <iostream>
#include <memory>

#include "lssd/error.h"
#include "lssd/npy.h"
#include "lssd/search/report.h"
#include "lssd/version.h"
#include "read_search.h"

namespace lssd::read {
namespace {

struct ReportArgs {
  std::string dir, out;
  bool as_json = false, no_dedup = false, no_thumbnails = false;
  search::ReportOptions opts;
  CatalogArgs cat;
  IndexArgs index;
};

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// The duplicates and the projection of one modality (the projection reuses dedup's matrix).
void add_modality(const ModalityReader& mr, const ReportArgs& a, search::Thumbnails& thumbs, search::Report& rep) {
  search::DedupView dv;
  search::ProjectionView pv;
  dv.modality = pv.modality = mr.modality();
  std::unique_ptr<search::Catalog> cat;
  try {
    cat = std::make_unique<search::Catalog>(mr, a.opts.catalog);
  } catch (const Error& e) {
    dv.absent = pv.absent = e.message();
    rep.duplicates.push_back(std::move(dv));
    rep.projections.push_back(std::move(pv));
    return;
  }
  OpenedIndex ix;
  if (a.opts.dedup) {
    ix = open_index(mr, *cat, a.index, /*need_matrix=*/true);
    dv = search::dedup_view(*cat, *ix.matrix, *ix.index, a.opts, thumbs);
    dv.method = ix.info["method"].get<std::string>();
  } else {
    dv.absent = "not searched (--no-dedup)";
  }
  rep.duplicates.push_back(std::move(dv));
  rep.projections.push_back(search::projection_view(mr, *cat, ix.matrix.get(), a.opts));
}

int run_report(ReportArgs a) {
  const auto t0 = std::chrono::steady_clock::now();
  a.opts.catalog = a.cat.options();
  a.opts.dedup = !a.no_dedup;
  a.opts.thumbnails = !a.no_thumbnails;
  OutputReader rd(a.dir);
  search::Report rep;
  rep.version = LSSD_VERSION;
  rep.generated = utc_now();
  rep.options = a.opts;
  rep.run = search::summarise_run(rd, a.opts);
  search::Thumbnails thumbs(a.opts, search::input_roots(a.dir, a.opts.data_dir));
  rep.tracks = search::tracks_view(rd, a.opts, thumbs);
  for (const Modality m : rd.present()) add_modality(rd.modality(m), a, thumbs, rep);
  rep.thumbnails_made = thumbs.made();

  const std::string text = a.as_json ? search::report_json(rep) : search::report_html(rep);
  if (a.out == "-")
    std::cout << text << std::flush;
  else
    write_file_atomic(a.out, text);
  int64_t dups = 0, points = 0;
  for (const auto& d : rep.duplicates) dups += d.pairs_total;
  for (const auto& p : rep.projections) points += static_cast<int64_t>(p.points.size());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << "report: " << (a.out == "-" ? "stdout" : a.out) << " (" << fixed(text.size() / 1e6, 2) << " MB in "
            << fixed(secs, 1) << " s): " << rep.run.inputs << " inputs, " << rep.run.failures_total << " failures, "
            << rep.tracks.pairs << " track pairs (" << rep.tracks.flagged_pairs << " flagged), " << dups
            << " duplicate pairs, " << points << " points, " << rep.thumbnails_made << " thumbnails\n";
  return kOk;
}

void add_limits(CLI::App* s, search::ReportOptions& o) {
  s->add_option("--max-pairs", o.max_track_pairs, "track pairs drawn (flagged first, worst first)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  s->add_option("--max-flagged-clips", o.max_flagged_clips, "flagged clips listed per track pair")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  s->add_option("--max-duplicates", o.max_duplicates, "duplicate pairs listed per modality (longest runs first)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  s->add_option("--max-points", o.max_points, "clips drawn per modality in the projection (an even sample)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  s->add_option("--pca-train", o.pca_train, "clips the projection is fitted on (an even sample)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  s->add_option("--max-failures", o.max_failures, "failures listed with their messages")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  s->add_option("--slowest", o.slowest, "slowest inputs listed per modality")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  s->add_option("--max-thumbnails", o.max_thumbnails, "thumbnails made at most")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  s->add_option("--thumb-width", o.thumb_width, "thumbnail width (px, at most)")
      ->capture_default_str()
      ->check(CLI::Range(16, 1920));
  s->add_option("--thumb-height", o.thumb_height, "thumbnail height (px, at most)")
      ->capture_default_str()
      ->check(CLI::Range(16, 1080));
}

}  // namespace

Command add_report(CLI::App& app) {
  auto a = std::make_shared<ReportArgs>();
  auto* s = app.add_subcommand("report",
                               "one offline HTML page: run summary, dub-track timelines, near-duplicates "
                               "with thumbnails, a 2-D projection of the clips");
  s->footer(
      "The page is self-contained (inline CSS, SVG and JPEG thumbnails as data: URIs; no network): open it\n"
      "in any browser. Thumbnails are frames of the inputs' video (FFmpeg), where an input is still at its\n"
      "recorded path, under --data-dir, or under the data dir of OUT/config.yaml; the page says when not.\n"
      "Large directories are summarised (the worst track pairs, the longest duplicate runs, a sample of\n"
      "points, the first failures), with counts of what was left out; --json writes the same content as\n"
      "data. The thresholds are placeholders until measured with the released weights (as tracks' and\n"
      "dedup's). Exit 0 when the report is written, whatever it shows.\n");
  s->add_option("DIR", a->dir, "output directory")->required()->check(CLI::ExistingDirectory);
  s->add_option("-o,--output", a->out, "the file to write ('-': stdout)")->required();
  s->add_flag("--json", a->as_json, "write the content as JSON instead of HTML");
  s->add_option("--tracks-threshold", a->opts.tracks_threshold, "flag a track pair's clips whose cosine is below this")
      ->capture_default_str()
      ->check(CLI::Range(-1.0, 1.0));
  s->add_option("--dedup-threshold", a->opts.dedup_options.threshold, "duplicates: clip match at cosine >= this")
      ->capture_default_str()
      ->check(CLI::Range(-1.0, 1.0));
  s->add_option("--min-clips", a->opts.dedup_options.min_clips, "duplicates: run length in consecutive clips")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  s->add_option("--neighbors", a->opts.dedup_options.neighbors, "duplicates: nearest neighbours looked at per clip")
      ->capture_default_str()
      ->check(CLI::Range(2, 100000));
  s->add_flag("--no-dedup", a->no_dedup, "skip the near-duplicate search (every clip against the others)");
  s->add_flag("--no-thumbnails", a->no_thumbnails, "no thumbnails (no input file is opened)");
  s->add_option("--data-dir", a->opts.data_dir, "where the inputs are now, when not at their recorded paths");
  add_limits(s, a->opts);
  add_catalog_args(s, a->cat);
  add_index_args(s, a->index);
  return {s, [a] { return run_report(*a); }};
}

}  // namespace lssd::read
