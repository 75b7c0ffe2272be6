// lssd-read report's library part (lssd/search/report.h, projection.h) on synthetic output
// directories written as the pipeline writes them: the even sample and the PCA, the run summary
// (statuses, failures from the manifests and the error logs, wall-time statistics, limits), the
// track pairs (flagged first, flagged clips, a missing input said so), the duplicates, the
// projection (the same with or without the whole matrix; groups by top-level folder), the
// thumbnails (made, cached, limited, not found) and the page and JSON (sections, counts,
// escaping, nothing that loads from the network).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "lssd/error.h"
#include "lssd/npy.h"
#include "lssd/output.h"
#include "lssd/reader.h"
#include "lssd/search/catalog.h"
#include "lssd/search/projection.h"
#include "lssd/search/report.h"
#include "random_unit.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
namespace ls = lssd::search;
using lssd::FloatArray;
using lssd::Record;
using lssd::RecordStatus;

namespace {

constexpr int64_t kDim = 32;
const std::string kVideoFile = std::string(LSSD_SOURCE_DIR) + "/sample_data/video/ucf/testsrc2_320x240_25fps_2.0s.mp4";

fs::path temp_dir(const std::string& name) { return lssd::test::temp_dir("report", name); }

std::vector<float> unit(uint64_t seed) { return lssd::test::random_unit(seed, kDim); }

struct Spec {
  std::string rel, mtype = "audio";
  std::vector<std::vector<float>> clips;
  int track = -1;
  std::string lang = "";
  RecordStatus status = RecordStatus::Ok;
  double wall_s = 1;
  std::string path = "";  // "" -> data/<rel>
};

// One record (and its .npy when ok) as the pipeline writes it; clip i covers [3i, 3i+3].
Record add(const fs::path& root, const Spec& s) {
  Record r;
  EXPECT_TRUE(lssd::parse_modality(s.mtype, &r.modality));
  r.path = s.path.empty() ? "data/" + s.rel : s.path;
  r.rel_path = s.rel;
  r.track_index = s.track;
  r.track_language = s.lang;
  r.status = s.status;
  r.model_id = "m";
  r.wall_s = s.wall_s;
  if (s.status == RecordStatus::Failed) {
    r.error_stage = "decode";
    r.error_message = "bad <data> & more";
  }
  if (s.status == RecordStatus::Ok) {
    r.output = lssd::output_name(s.rel, s.track, s.lang);
    const auto m = static_cast<int64_t>(s.clips.size());
    r.num_clips = m;
    r.dtype = "float32";
    r.shape = s.mtype == "video" ? std::vector<int64_t>{m, 5, kDim} : std::vector<int64_t>{m, kDim};
    FloatArray a(r.shape);
    const int64_t crops = s.mtype == "video" ? 5 : 1;
    for (int64_t i = 0; i < m; ++i) {
      r.ranges.push_back(
          {3.0 * i, 3.0 * i + 3, s.mtype == "audio" ? 144000 * i : -1, s.mtype == "audio" ? 144000 * (i + 1) : -1});
      for (int64_t c = 0; c < crops; ++c)
        for (int64_t k = 0; k < kDim; ++k) a.data[(i * crops + c) * kDim + k] = s.clips[i][k];
    }
    r.fps = 25;
    r.sample_rate = 48000;
    lssd::write_npy(lssd::safe_output_path((root / s.mtype).string(), r.output), a);
  }
  lssd::JsonlAppender((root / s.mtype / "manifest.jsonl").string()).append(lssd::record_to_json(r));
  return r;
}

std::vector<std::vector<float>> clips(int n, uint64_t seed) {
  std::vector<std::vector<float>> v;
  for (int i = 0; i < n; ++i) v.push_back(unit(seed * 100 + i));
  return v;
}

// A directory with a bit of everything: video files in two folders (one a copy of another), a
// failed and a too-short input, a container with three audio tracks (1 and 2 identical, 3
// different after 6 s), an error log with a line of no record and a line that does not parse.
fs::path make_output(const std::string& name) {
  fs::path root = temp_dir(name);
  fs::create_directories(root / "video");
  fs::create_directories(root / "audio");
  auto base = clips(5, 1);
  add(root, {"in/a/orig.mp4", "video", base, -1, "", RecordStatus::Ok, 4.0});
  add(root, {"in/b/copy.mp4", "video", {base[1], base[2], base[3]}, -1, "", RecordStatus::Ok, 2.0});
  add(root, {"in/b/other.mp4", "video", clips(4, 2), -1, "", RecordStatus::Ok, 3.0});
  add(root, {"in/b/broken.mp4", "video", {}, -1, "", RecordStatus::Failed, 0});
  add(root, {"in/short.mp4", "video", {}, -1, "", RecordStatus::SkippedShort, 0});
  auto t1 = clips(4, 3), t3 = t1;
  for (int i = 2; i < 4; ++i) t3[i] = unit(900 + i);
  add(root, {"in/dub.mkv", "audio", t1, 1, "eng", RecordStatus::Ok, 1.0});
  add(root, {"in/dub.mkv", "audio", t1, 2, "deu", RecordStatus::Ok, 1.5});
  add(root, {"in/dub.mkv", "audio", t3, 3, "fra", RecordStatus::Ok, 2.5});
  add(root, {"in/speech.wav", "audio", clips(2, 4), -1, "", RecordStatus::Ok, 0.5});
  std::ofstream((root / "errors.jsonl").string())
      << lssd::error_to_json("data/in/b/broken.mp4", "video", "decode", "bad <data> & more") << "\n"
      << lssd::error_to_json("data/in/unreadable", "", "discover", "permission denied") << "\n"
      << "{not json\n";
  return root;
}

TEST(ReportSample, EvenlySpreadAndEveryIndexWhenFew) {
  EXPECT_EQ(ls::sample_evenly(5, 10), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(ls::sample_evenly(10, 5), (std::vector<int64_t>{0, 2, 4, 6, 8}));
  EXPECT_EQ(ls::sample_evenly(7, 3), (std::vector<int64_t>{0, 2, 4}));
  EXPECT_TRUE(ls::sample_evenly(0, 3).empty());
  EXPECT_TRUE(ls::sample_evenly(3, 0).empty());
  const auto big = ls::sample_evenly(3000000000LL, 4);
  EXPECT_EQ(big, (std::vector<int64_t>{0, 750000000LL, 1500000000LL, 2250000000LL}));
}

TEST(ReportPca, FindsTheTwoLeadingDirectionsWithASignThatDoesNotFlip) {
  // Points a*3*e0 + b*e1 + small noise, rotated by a random orthonormal pair (e0, e1).
  const std::vector<float> e0 = unit(11);
  std::vector<float> e1 = unit(12);
  double d = 0;
  for (int64_t k = 0; k < kDim; ++k) d += e0[k] * e1[k];
  for (int64_t k = 0; k < kDim; ++k) e1[k] -= static_cast<float>(d) * e0[k];
  ls::l2_normalise(e1.data(), 1, kDim);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> nd;
  const int n = 400;
  std::vector<float> x(n * kDim);
  std::vector<double> a(n), b(n);
  for (int i = 0; i < n; ++i) {
    a[i] = nd(rng);
    b[i] = nd(rng);
    for (int64_t k = 0; k < kDim; ++k)
      x[i * kDim + k] = static_cast<float>(3 * a[i] * e0[k] + b[i] * e1[k] + 0.01 * nd(rng));
  }
  const ls::Pca2d p = ls::pca_2d(x.data(), n, kDim, x.data(), n);
  ASSERT_EQ(p.xy.size(), static_cast<size_t>(2 * n));
  auto corr = [&](int axis, const std::vector<double>& t) {  // Pearson's
    double mx = 0, mt = 0;
    for (int i = 0; i < n; ++i) {
      mx += p.xy[i * 2 + axis] / n;
      mt += t[i] / n;
    }
    double sxy = 0, sxx = 0, stt = 0;
    for (int i = 0; i < n; ++i) {
      sxy += (p.xy[i * 2 + axis] - mx) * (t[i] - mt);
      sxx += (p.xy[i * 2 + axis] - mx) * (p.xy[i * 2 + axis] - mx);
      stt += (t[i] - mt) * (t[i] - mt);
    }
    return sxy / std::sqrt(sxx * stt);
  };
  // (The sample's a and b correlate a little: the sample's axes are turned a little from e0, e1.)
  EXPECT_GT(std::abs(corr(0, a)), 0.995);
  EXPECT_GT(std::abs(corr(1, b)), 0.99);
  EXPECT_NEAR(p.explained[0], 0.9, 0.03);
  EXPECT_NEAR(p.explained[1], 0.1, 0.03);
  for (int axis = 0; axis < 2; ++axis) {  // the largest absolute coordinate is positive
    float best = 0;
    for (int i = 0; i < n; ++i)
      if (std::abs(p.xy[i * 2 + axis]) > std::abs(best)) best = p.xy[i * 2 + axis];
    EXPECT_GT(best, 0);
  }
  // Too few to fit: every point at the origin.
  const ls::Pca2d one = ls::pca_2d(x.data(), 1, kDim, x.data(), 3);
  EXPECT_EQ(one.xy, std::vector<float>(6, 0.0f));
  EXPECT_THROW(ls::pca_2d(x.data(), n, 0, x.data(), n), lssd::Error);
}

TEST(ReportText, EscapingTimeCodesAndFolders) {
  EXPECT_EQ(ls::html_escape("a<b>&\"c'd"), "a&lt;b&gt;&amp;&quot;c&#39;d");
  EXPECT_EQ(ls::html_escape(std::string("x\xff.mp4")), "x\\xff.mp4");
  EXPECT_EQ(ls::time_code(7.5), "0:07.5");
  EXPECT_EQ(ls::time_code(62.04), "1:02.0");
  EXPECT_EQ(ls::time_code(3723.46), "1:02:03.5");
  EXPECT_EQ(ls::time_code(59.96), "1:00.0");
  EXPECT_EQ(ls::time_code(std::nan("")), "-");
  EXPECT_EQ(ls::common_folder({"a/b/x", "a/b/c/y"}), "a/b/");
  EXPECT_EQ(ls::common_folder({"a/b/x", "a/bc/y"}), "a/");
  EXPECT_EQ(ls::common_folder({"x", "a/y"}), "");
  EXPECT_EQ(ls::common_folder({"video/ucf/x.mp4"}), "video/ucf/");
  EXPECT_EQ(ls::top_folder("a/b/c/y", "a/"), "b");
  EXPECT_EQ(ls::top_folder("a/x", "a/"), ".");
}

TEST(ReportRun, CountsStatusesFailuresFromManifestsAndLogsAndWallTimes) {
  const fs::path root = make_output("run");
  lssd::OutputReader rd(root.string());
  ls::ReportOptions o;
  o.slowest = 2;
  const ls::RunView v = ls::summarise_run(rd, o);
  // Inputs: 5 video paths + dub.mkv + speech.wav + the unreadable path of the log.
  EXPECT_EQ(v.inputs, 8);
  EXPECT_EQ(v.outputs, 9);
  ASSERT_EQ(v.modalities.size(), 2u);
  const ls::ModalityRun& vid = v.modalities[0];
  EXPECT_EQ(vid.records, 5);
  EXPECT_EQ(vid.ok, 3);
  EXPECT_EQ(vid.failed, 1);
  EXPECT_EQ(vid.skipped_short, 1);
  EXPECT_EQ(vid.clips, 12);
  EXPECT_EQ(vid.model_ids.at("m"), 3);
  EXPECT_EQ(vid.timed, 3);  // ok records with wall_s
  EXPECT_DOUBLE_EQ(vid.wall_median, 3.0);
  EXPECT_DOUBLE_EQ(vid.wall_p90, 4.0);
  EXPECT_DOUBLE_EQ(vid.wall_total, 9.0);
  ASSERT_EQ(vid.slowest.size(), 2u);
  EXPECT_EQ(vid.slowest[0].file.rel_path, "in/a/orig.mp4");
  EXPECT_EQ(vid.slowest[1].file.rel_path, "in/b/other.mp4");
  const ls::ModalityRun& aud = v.modalities[1];
  EXPECT_EQ(aud.ok, 4);
  EXPECT_EQ(aud.clips, 14);
  // The failed record and the log line of no record; the log's copy of the record is not twice.
  EXPECT_EQ(v.failures_total, 2);
  EXPECT_EQ(v.error_log_lines, 3);
  ASSERT_EQ(v.failures.size(), 2u);
  EXPECT_EQ(v.failures[0].file.rel_path, "in/b/broken.mp4");
  EXPECT_EQ(v.failures[0].message, "bad <data> & more");
  EXPECT_EQ(v.failures[1].file.path, "data/in/unreadable");
  EXPECT_EQ(v.failures[1].mtype, "");
  EXPECT_EQ(v.failures_by_stage.at("discover"), 1);
  o.max_failures = 1;
  EXPECT_EQ(ls::summarise_run(rd, o).failures.size(), 1u);
}

TEST(ReportTracks, FlaggedPairsFirstWithTheirClipsAndAMissingInputSaidSo) {
  const fs::path root = make_output("tracks");
  lssd::OutputReader rd(root.string());
  ls::ReportOptions o;
  o.tracks_threshold = 0.9;
  ls::Thumbnails thumbs(o, {});
  const ls::TracksView v = ls::tracks_view(rd, o, thumbs);
  EXPECT_TRUE(v.absent.empty()) << v.absent;
  EXPECT_EQ(v.containers, 1);
  EXPECT_EQ(v.pairs, 3);
  EXPECT_EQ(v.flagged_pairs, 2);
  ASSERT_EQ(v.shown.size(), 3u);
  EXPECT_TRUE(v.shown[0].flagged);
  EXPECT_TRUE(v.shown[1].flagged);
  EXPECT_FALSE(v.shown[2].flagged);  // tracks 1 and 2: identical
  EXPECT_EQ(v.shown[2].a.track, 1);
  EXPECT_EQ(v.shown[2].b.track, 2);
  for (double c : v.shown[2].cosine) EXPECT_NEAR(c, 1.0, 1e-6);
  const ls::TrackPairView& p = v.shown[0];
  EXPECT_EQ(p.b.track, 3);
  EXPECT_EQ(p.flagged_clips, 2);
  ASSERT_EQ(p.flags.size(), 2u);
  EXPECT_EQ(p.flags[0].clip, 2);
  EXPECT_DOUBLE_EQ(p.flags[0].start_s, 6.0);
  EXPECT_DOUBLE_EQ(p.flags[1].stop_s, 12.0);
  EXPECT_DOUBLE_EQ(p.duration_s, 12.0);
  EXPECT_EQ(p.start_s.size(), 4u);
  EXPECT_FALSE(p.input_found);
  EXPECT_EQ(p.flags[0].thumb.note, "input file not found");
  EXPECT_DOUBLE_EQ(p.flags[0].thumb.t_s, 7.5);

  o.max_track_pairs = 1;
  o.max_flagged_clips = 1;
  const ls::TracksView one = ls::tracks_view(rd, o, thumbs);
  EXPECT_EQ(one.pairs, 3);
  ASSERT_EQ(one.shown.size(), 1u);
  EXPECT_EQ(one.shown[0].flagged_clips, 2);
  EXPECT_EQ(one.shown[0].flags.size(), 1u);

  const fs::path none = temp_dir("no-tracks");
  fs::create_directories(none / "audio");
  add(none, {"x.wav", "audio", clips(2, 7)});
  EXPECT_NE(ls::tracks_view(lssd::OutputReader(none.string()), o, thumbs).absent.find("two or more"),
            std::string::npos);
}

TEST(ReportDuplicates, TheCopyIsFoundAndLimitsCountWhatIsLeftOut) {
  const fs::path root = make_output("dups");
  lssd::OutputReader rd(root.string());
  const lssd::ModalityReader& mr = rd.modality(lssd::Modality::Video);
  ls::Catalog cat(mr);
  const ls::ClipMatrix m = ls::load_clip_matrix(mr, cat);
  ls::ExactIndex index(m.data.data(), m.rows, m.dim, m.present.data());
  ls::ReportOptions o;
  o.dedup_options.threshold = 0.99;
  o.dedup_options.min_clips = 3;
  ls::Thumbnails thumbs(o, {});
  const ls::DedupView v = ls::dedup_view(cat, m, index, o, thumbs);
  EXPECT_EQ(v.files, 3);
  EXPECT_EQ(v.clips, 12);
  ASSERT_EQ(v.pairs_total, 1);
  ASSERT_EQ(v.shown.size(), 1u);
  const ls::DuplicateView& d = v.shown[0];
  EXPECT_EQ(d.a.file.rel_path, "in/a/orig.mp4");
  EXPECT_EQ(d.b.file.rel_path, "in/b/copy.mp4");
  EXPECT_EQ(d.length, 3);
  EXPECT_DOUBLE_EQ(d.offset_s, 3.0);
  EXPECT_DOUBLE_EQ(d.a.start_s, 3.0);
  EXPECT_DOUBLE_EQ(d.a.stop_s, 12.0);
  EXPECT_EQ(d.b.first_clip, 0);
  EXPECT_EQ(d.b.last_clip, 2);
  EXPECT_DOUBLE_EQ(d.a.thumb.t_s, 7.5);
  EXPECT_EQ(d.a.thumb.note, "input file not found");
  o.max_duplicates = 0;
  const ls::DedupView none = ls::dedup_view(cat, m, index, o, thumbs);
  EXPECT_EQ(none.pairs_total, 1);
  EXPECT_TRUE(none.shown.empty());
}

TEST(ReportProjection, TheSameWithOrWithoutTheMatrixGroupedByTopLevelFolder) {
  const fs::path root = make_output("projection");
  lssd::OutputReader rd(root.string());
  const lssd::ModalityReader& mr = rd.modality(lssd::Modality::Video);
  ls::Catalog cat(mr);
  const ls::ClipMatrix m = ls::load_clip_matrix(mr, cat);
  ls::ReportOptions o;
  o.max_points = 8;
  o.pca_train = 10;
  const ls::ProjectionView with = ls::projection_view(mr, cat, &m, o);
  const ls::ProjectionView without = ls::projection_view(mr, cat, nullptr, o);
  EXPECT_EQ(with.clips, 12);
  EXPECT_EQ(with.trained, 10);
  ASSERT_EQ(with.points.size(), 8u);
  ASSERT_EQ(without.points.size(), 8u);
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(with.points[i].x, without.points[i].x);
    EXPECT_EQ(with.points[i].y, without.points[i].y);
    EXPECT_EQ(with.points[i].label, without.points[i].label);
  }
  EXPECT_EQ(with.group_prefix, "in/");
  ASSERT_EQ(with.groups.size(), 2u);  // b: 7 clips of 12 -> 4-5 points, a: 5 clips
  int64_t total = 0;
  for (auto n : with.group_points) total += n;
  EXPECT_EQ(total, 8);
  EXPECT_EQ(with.points[0].label, "in/a/orig.mp4 0:00.0-0:03.0");  // rows in reader order
  EXPECT_EQ(with.groups[with.points[0].group], "a");
  EXPECT_GT(with.explained[0], 0);
}

TEST(ReportThumbnails, MadeCachedLimitedAndSaidWhyNot) {
  ls::ReportOptions o;
  o.max_thumbnails = 1;
  ls::Thumbnails th(o, {});
  Record r;
  r.path = kVideoFile;
  r.rel_path = "ucf/x.mp4";
  const ls::Thumb a = th.get(r, 1.0);
  ASSERT_EQ(a.data_uri.rfind("data:image/jpeg;base64,/9j/", 0), 0u) << a.note;  // FF D8 FF
  EXPECT_EQ(th.made(), 1);
  EXPECT_EQ(th.get(r, 1.0).data_uri, a.data_uri);  // cached: not made again
  EXPECT_EQ(th.made(), 1);
  EXPECT_EQ(th.get(r, 0.5).note, "limit of 1 thumbnails reached");
  Record gone = r;
  gone.path = "/nonexistent/x.mp4";
  EXPECT_EQ(th.get(gone, 1.0).note, "input file not found");
  // Found under a root by its relative path when the recorded path is gone.
  const std::string videos = std::string(LSSD_SOURCE_DIR) + "/sample_data/video";
  EXPECT_EQ(ls::locate_input(gone, {videos}), "");
  gone.rel_path = "ucf/testsrc2_320x240_25fps_2.0s.mp4";
  EXPECT_EQ(ls::locate_input(gone, {"/nonexistent", videos}), videos + "/" + gone.rel_path);
  ls::Thumbnails rooted(o, {videos});
  EXPECT_FALSE(rooted.get(gone, 1.0).data_uri.empty());
  Record audio = r;
  audio.path = std::string(LSSD_SOURCE_DIR) + "/sample_data/audio/speech/german_16kHz_mono_7.5s.wav";
  ls::Thumbnails th2(o, {});
  EXPECT_EQ(th2.get(audio, 1.0).note, "no video stream");
  o.thumbnails = false;
  EXPECT_EQ(ls::Thumbnails(o, {}).get(r, 1.0).note, "thumbnails off");
}

ls::Report full_report(const fs::path& root) {
  lssd::OutputReader rd(root.string());
  ls::Report rep;
  rep.version = "test";
  rep.generated = "2026-01-01T00:00:00Z";
  rep.options.dedup_options.threshold = 0.99;
  rep.run = ls::summarise_run(rd, rep.options);
  ls::Thumbnails th(rep.options, {});
  rep.tracks = ls::tracks_view(rd, rep.options, th);
  for (const lssd::Modality mod : rd.present()) {
    const lssd::ModalityReader& mr = rd.modality(mod);
    ls::Catalog cat(mr);
    const ls::ClipMatrix m = ls::load_clip_matrix(mr, cat);
    ls::ExactIndex index(m.data.data(), m.rows, m.dim, m.present.data());
    rep.duplicates.push_back(ls::dedup_view(cat, m, index, rep.options, th));
    rep.duplicates.back().method = "exact";
    rep.projections.push_back(ls::projection_view(mr, cat, &m, rep.options));
  }
  return rep;
}

size_t occurrences(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(ReportPage, EverySectionWithItsCountsEscapedAndNothingFromTheNetwork) {
  const fs::path root = make_output("page");
  add(root, {"in/c/<b>&'x.wav", "audio", clips(1, 9)});
  const ls::Report rep = full_report(root);
  const std::string h = ls::report_html(rep);
  EXPECT_EQ(h.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(h.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  for (const char* s : {"<section id=\"summary\"", "<section id=\"tracks\"", "<section id=\"duplicates\"",
                        "<section id=\"projection\""})
    EXPECT_EQ(occurrences(h, s), 1u) << s;
  EXPECT_NE(h.find("data-inputs=\"9\" data-outputs=\"10\""), std::string::npos);
  EXPECT_NE(h.find("data-containers=\"1\" data-pairs=\"3\" data-flagged=\"2\" data-shown=\"3\""), std::string::npos);
  EXPECT_EQ(occurrences(h, "<svg class=\"timeline\""), 3u);
  EXPECT_EQ(occurrences(h, "<tr class=\"dup\">"), 2u);  // the video copy; audio tracks 1 and 2 (identical)
  EXPECT_EQ(occurrences(h, "<tr class=\"failure\">"), 2u);
  EXPECT_EQ(occurrences(h, "<figure class=\"scatter\""), 2u);
  EXPECT_EQ(occurrences(h, "<circle class=\"g"), 12u + 15u);  // every clip of both modalities
  EXPECT_NE(h.find("in/c/&lt;b&gt;&amp;&#39;x.wav"), std::string::npos);
  EXPECT_EQ(h.find("<b>&'x"), std::string::npos);
  EXPECT_NE(h.find("bad &lt;data&gt; &amp; more"), std::string::npos);
  EXPECT_NE(h.find("input file not found"), std::string::npos);
  for (const char* net : {"http:", "https:", "src=\"//", "@import", "url("})
    EXPECT_EQ(h.find(net), std::string::npos) << net;

  const nlohmann::json j = nlohmann::json::parse(ls::report_json(rep));
  EXPECT_EQ(j["run"]["inputs"], 9);
  EXPECT_EQ(j["run"]["failures_total"], 2);
  EXPECT_EQ(j["tracks"]["pairs_total"], 3);
  EXPECT_EQ(j["tracks"]["flagged_pairs"], 2);
  EXPECT_EQ(j["tracks"]["pairs"].size(), 3u);
  EXPECT_EQ(j["duplicates"]["video"]["pairs_total"], 1);
  EXPECT_EQ(j["duplicates"]["video"]["pairs"][0]["a"]["rel_path"], "in/a/orig.mp4");
  EXPECT_EQ(j["duplicates"]["audio"]["pairs_total"], 1);
  EXPECT_EQ(j["duplicates"]["audio"]["pairs"][0]["b"]["track"], 2);
  EXPECT_EQ(j["projection"]["audio"]["points"].size(), 15u);
  EXPECT_EQ(j["projection"]["video"]["shown"], 12);
  EXPECT_TRUE(j["tracks"]["pairs"][0]["flags"][0]["thumbnail"].is_null());
  EXPECT_EQ(j["tracks"]["pairs"][0]["flags"][0]["thumbnail_note"], "input file not found");
}

}  // namespace
