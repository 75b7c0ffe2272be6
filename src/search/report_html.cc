// lssd-read report's page: one self-contained HTML file (inline CSS, SVG, data: URI images, a
// few lines of inline script; a Content-Security-Policy that allows no network load).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "lssd/bytes.h"
#include "lssd/search/report.h"

namespace lssd::search {
namespace {

// Tableau 10 and one more for the named groups; grey for "(other)".
constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
                                    "#b07aa1", "#ff9da7", "#9c755f", "#17becf", "#1b9e77"};
constexpr const char* kOther = "#9a9a9a";

const char* kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#1f2d3d;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c9d3de;font-size:13px}nav a{color:#9fd0ff;margin-right:14px;text-decoration:none}
main{padding:8px 24px 40px;max-width:1200px}section{background:#fff;border:1px solid #dde1e6;border-radius:6px;
padding:12px 18px;margin:16px 0}h2{font-size:17px;margin:4px 0 10px}h3{font-size:14px;margin:14px 0 4px}
table{border-collapse:collapse;margin:6px 0}td,th{border-bottom:1px solid #e5e8eb;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f0f2f5;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{background:#f0f4f8;border-radius:6px;padding:6px 12px;min-width:90px}
.card b{display:block;font-size:20px}.card.bad b{color:#c0392b}.note{color:#666;font-size:12.5px}
.msg{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-word}
.file{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;word-break:break-all}
.pair{border-top:1px solid #e5e8eb;padding-top:4px}.pair.ok h3{color:#2e7d32}.pair.flag h3{color:#b03a2e}
svg text{font:11px system-ui,sans-serif;fill:#555}.tl-bg{fill:#fafbfc;stroke:#d5d9de}.below{fill:#f8d7d3}
.unp{fill:#e2e2e2}.thr{stroke:#c0392b;stroke-dasharray:5 4;stroke-width:1.2}
svg text.thr-label{fill:#c0392b}.cos{fill:none;stroke:#1f6fb2;stroke-width:1.6}
.pt{fill:#1f6fb2}.pt.f{fill:#c0392b}.axis{stroke:#aaa}.thumb{display:block;border:1px solid #ccc;max-width:160px}
.nothumb{display:inline-block;color:#888;font-size:12px;max-width:160px}.legend span{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px}
.scatter circle{stroke:#fff;stroke-width:.4;fill-opacity:.85}.scatter circle:hover{stroke:#000;stroke-width:1.5}
figure{margin:8px 0;max-width:540px}figcaption{color:#555;font-size:12.5px}
.row{display:flex;flex-wrap:wrap;gap:8px 28px;align-items:flex-start}
)";

const char* kScript = R"(
(function () {
  function check() {
    var imgs = document.images, broken = 0;
    for (var i = 0; i < imgs.length; i++) if (!(imgs[i].complete && imgs[i].naturalWidth > 0)) broken++;
    var b = document.body;
    b.setAttribute("data-images", String(imgs.length));
    b.setAttribute("data-broken-images", String(broken));
    b.setAttribute("data-rendered", broken === 0 ? "ok" : "broken-images");
    b.setAttribute("data-load-ms", String(Math.round(performance.now())));
  }
  window.addEventListener("load", check);
})();
)";

std::string fmt(double v, int decimals) {
  if (!std::isfinite(v)) return "-";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

// 100000 -> "100,000"
std::string count(int64_t n) {
  std::string d = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string attr(const char* name, int64_t v) { return std::string(" ") + name + "=\"" + std::to_string(v) + "\""; }

std::string file_text(const FileRef& f) {
  std::string s = html_escape(f.rel_path);
  if (f.track >= 0)
    s += " [track " + std::to_string(f.track) + " " + html_escape(f.language.empty() ? "und" : f.language) + "]";
  return s;
}

std::string thumb_html(const Thumb& t) {
  if (!t.data_uri.empty())
    return "<img class=\"thumb\" alt=\"frame at " + time_code(t.t_s) + "\" title=\"frame at " + time_code(t.t_s) +
           "\" src=\"" + t.data_uri + "\">";
  return "<span class=\"nothumb\">no thumbnail: " + html_escape(t.note) + "</span>";
}

std::string ranges_text(const std::vector<TimeRange>& rs) {
  std::string s;
  for (const auto& r : rs) s += (s.empty() ? "" : ", ") + time_code(r.start_s) + "&ndash;" + time_code(r.stop_s);
  return s;
}

// ---- run summary ----

std::string card(const std::string& label, int64_t n, bool bad = false) {
  return std::string("<div class=\"card") + (bad && n > 0 ? " bad" : "") + "\"><b>" + count(n) + "</b>" + label +
         "</div>";
}

std::string joined_counts(const std::map<std::string, int64_t>& m) {
  std::string s;
  for (const auto& [k, n] : m)
    s += (s.empty() ? "" : "<br>") + html_escape(k) + (m.size() > 1 ? " (" + count(n) + ")" : "");
  return s.empty() ? "-" : s;
}

std::string modality_table(const RunView& v) {
  std::string h =
      "<table class=\"modalities\"><tr><th>modality</th><th>layout</th><th class=n>outputs</th><th class=n>ok</th>"
      "<th class=n>too short</th><th class=n>no audio</th><th class=n>failed</th><th class=n>clips</th>"
      "<th>model id</th><th>dtype</th><th class=n>s / input<br>median</th><th class=n>p90</th><th class=n>max</th>"
      "<th class=n>total s</th></tr>";
  for (const auto& m : v.modalities) {
    h += std::string("<tr data-mtype=\"") + to_string(m.modality) + "\"" + attr("data-records", m.records) +
         attr("data-ok", m.ok) + attr("data-failed", m.failed) + attr("data-clips", m.clips) + "><td>" +
         to_string(m.modality) + "</td><td>" + html_escape(m.layout) + "</td><td class=n>" + count(m.records) +
         "</td><td class=n>" + count(m.ok) + "</td><td class=n>" + count(m.skipped_short) + "</td><td class=n>" +
         count(m.no_audio) + "</td><td class=n>" + count(m.failed) + "</td><td class=n>" + count(m.clips) +
         "</td><td class=\"msg\">" + joined_counts(m.model_ids) + "</td><td>" + joined_counts(m.dtypes) + "</td>";
    if (m.timed)
      h += "<td class=n>" + fmt(m.wall_median, 2) + "</td><td class=n>" + fmt(m.wall_p90, 2) + "</td><td class=n>" +
           fmt(m.wall_max, 2) + "</td><td class=n>" + fmt(m.wall_total, 1) + "</td>";
    else
      h += "<td class=n>-</td><td class=n>-</td><td class=n>-</td><td class=n>-</td>";
    h += "</tr>";
  }
  return h + "</table>";
}

std::string failures_html(const RunView& v) {
  std::string h = "<h3>Failures</h3>";
  if (v.failures_total == 0) return h + "<p class=\"note\">none</p>";
  std::string stages;
  for (const auto& [st, n] : v.failures_by_stage)
    stages += (stages.empty() ? "" : ", ") + html_escape(st) + " " + count(n);
  h += "<p>" + count(v.failures_total) + " failed (by stage: " + stages + ")";
  const int64_t left = v.failures_total - static_cast<int64_t>(v.failures.size());
  if (left > 0)
    h += "; the first " + count(static_cast<int64_t>(v.failures.size())) + " listed, " + count(left) + " left out";
  h += "</p><table class=\"failures\"" + attr("data-count", v.failures_total) +
       attr("data-listed", static_cast<int64_t>(v.failures.size())) +
       "><tr><th>file</th><th>modality</th><th>stage</th><th>message</th></tr>";
  for (const auto& f : v.failures)
    h += "<tr class=\"failure\"><td class=\"file\">" + file_text(f.file) + "</td><td>" +
         html_escape(f.mtype.empty() ? "-" : f.mtype) + "</td><td>" + html_escape(f.stage) + "</td><td class=\"msg\">" +
         html_escape(f.message) +
         (f.from_content ? " <span class=\"note\">(the file's content: not retried)</span>" : "") + "</td></tr>";
  return h + "</table>";
}

std::string slowest_html(const RunView& v) {
  std::string h = "<div class=\"row\">";
  for (const auto& m : v.modalities) {
    if (m.slowest.empty()) continue;
    h += std::string("<div><h3>Slowest ") + to_string(m.modality) + " inputs (of " + count(m.timed) + " timed; mean " +
         fmt(m.wall_mean, 2) +
         " s)</h3><table class=\"slowest\"><tr><th class=n>s</th><th class=n>clips</th>"
         "<th>file</th></tr>";
    for (const auto& s : m.slowest)
      h += "<tr><td class=n>" + fmt(s.wall_s, 2) + "</td><td class=n>" + count(s.clips) + "</td><td class=\"file\">" +
           file_text(s.file) + "</td></tr>";
    h += "</table></div>";
  }
  return h + "</div>";
}

std::string summary_section(const RunView& v) {
  int64_t ok = 0, short_ = 0, no_audio = 0, failed = 0, clips = 0;
  for (const auto& m : v.modalities) {
    ok += m.ok;
    short_ += m.skipped_short;
    no_audio += m.no_audio;
    failed += m.failed;
    clips += m.clips;
  }
  std::string h =
      "<section id=\"summary\"" + attr("data-inputs", v.inputs) + attr("data-outputs", v.outputs) +
      attr("data-ok", ok) + attr("data-failures", v.failures_total) + attr("data-clips", clips) +
      "><h2>Run summary</h2><div class=\"cards\">" + card("inputs", v.inputs) + card("outputs", v.outputs) +
      card("ok (embedded)", ok) + card("too short", short_) + card("no audio track", no_audio) +
      card("failed", v.failures_total, true) + card("clips", clips) + "</div>" + modality_table(v) +
      "<p class=\"note\">One output per input, modality and audio track, in its last recorded state. Whether "
      "an output was written by the last run or kept from an earlier one (lssd-infer's \"written\" and "
      "\"already done\") is not recorded in the directory: every ok output counts as embedded. Time per "
      "input: the manifests' wall_s (decode to write, including waits for the encoder).</p>";
  for (const auto& m : v.modalities)
    for (const auto& w : m.warnings) h += "<p class=\"note\">warning: " + html_escape(w) + "</p>";
  return h + failures_html(v) + slowest_html(v) + "</section>";
}

// ---- tracks ----

struct Scale {
  double x0, x1, y0, y1;  // plot box in px
  double t_max, lo;       // data: time 0..t_max, cosine lo..1
  double x(double t) const { return x0 + (t_max > 0 ? t / t_max : 0) * (x1 - x0); }
  double y(double c) const { return y0 + (1 - (c - lo) / (1 - lo)) * (y1 - y0); }
};

// The cosine line through the clips' middles and a dot per clip with its value under the pointer
// (beyond 400 clips, only the flagged ones).
std::string clip_marks(const TrackPairView& p, const Scale& s, double threshold) {
  std::string h, pts;
  for (size_t c = 0; c < p.cosine.size(); ++c)
    if (std::isfinite(p.cosine[c]))
      pts += fmt(s.x((p.start_s[c] + p.stop_s[c]) / 2), 1) + "," + fmt(s.y(p.cosine[c]), 1) + " ";
  if (!pts.empty()) h += "<polyline class=\"cos\" points=\"" + pts + "\"/>";
  const bool all = p.cosine.size() <= 400;
  for (size_t c = 0; c < p.cosine.size(); ++c) {
    const bool f = p.cosine[c] < threshold;
    if (!std::isfinite(p.cosine[c]) || (!all && !f)) continue;
    h += std::string("<circle class=\"pt") + (f ? " f" : "") + "\" cx=\"" +
         fmt(s.x((p.start_s[c] + p.stop_s[c]) / 2), 1) + "\" cy=\"" + fmt(s.y(p.cosine[c]), 1) + "\" r=\"" +
         (f ? "3.2" : "2.2") + "\"><title>clip " + std::to_string(c) + " " + time_code(p.start_s[c]) + "-" +
         time_code(p.stop_s[c]) + ": cosine " + fmt(p.cosine[c], 4) + "</title></circle>";
  }
  return h;
}

std::string timeline_svg(const TrackPairView& p, double threshold) {
  constexpr double W = 760, H = 150;
  double lo = std::min(0.0, threshold - 0.1);
  for (double c : p.cosine)
    if (std::isfinite(c)) lo = std::min(lo, c);
  lo = std::max(-1.0, std::floor(lo * 10) / 10);
  if (lo >= 1) lo = 0;
  const Scale s{46, W - 10, 8, H - 24, std::max(p.duration_s, 1e-9), lo};
  std::string h = "<svg class=\"timeline\" width=\"" + fmt(W, 0) + "\" height=\"" + fmt(H, 0) + "\" viewBox=\"0 0 " +
                  fmt(W, 0) + " " + fmt(H, 0) + "\" role=\"img\"" +
                  attr("data-clips", static_cast<int64_t>(p.cosine.size())) + ">";
  h += "<rect class=\"tl-bg\" x=\"" + fmt(s.x0, 1) + "\" y=\"" + fmt(s.y0, 1) + "\" width=\"" + fmt(s.x1 - s.x0, 1) +
       "\" height=\"" + fmt(s.y1 - s.y0, 1) + "\"/>";
  auto band = [&](const TimeRange& r, const char* cls, const std::string& what) {
    h += std::string("<rect class=\"") + cls + "\" x=\"" + fmt(s.x(r.start_s), 1) + "\" y=\"" + fmt(s.y0, 1) +
         "\" width=\"" + fmt(std::max(1.0, s.x(r.stop_s) - s.x(r.start_s)), 1) + "\" height=\"" + fmt(s.y1 - s.y0, 1) +
         "\"><title>" + what + " " + time_code(r.start_s) + "-" + time_code(r.stop_s) + "</title></rect>";
  };
  for (const auto& r : p.below) band(r, "below", "below the threshold");
  for (const auto& r : p.unpaired) band(r, "unp", "only the longer track");
  for (double c : {lo, 1.0}) {
    h += "<text x=\"" + fmt(s.x0 - 4, 1) + "\" y=\"" + fmt(s.y(c) + 4, 1) + "\" text-anchor=\"end\">" + fmt(c, 2) +
         "</text>";
  }
  h += "<line class=\"thr\" x1=\"" + fmt(s.x0, 1) + "\" x2=\"" + fmt(s.x1, 1) + "\" y1=\"" + fmt(s.y(threshold), 1) +
       "\" y2=\"" + fmt(s.y(threshold), 1) + "\"><title>threshold " + fmt(threshold, 3) + "</title></line>";
  h += "<text class=\"thr-label\" x=\"" + fmt(s.x1 - 4, 1) + "\" y=\"" + fmt(s.y(threshold) - 4, 1) +
       "\" text-anchor=\"end\">threshold " + fmt(threshold, 2) + "</text>";
  for (int k = 0; k <= 4; ++k) {
    const double t = p.duration_s * k / 4;
    h += "<text x=\"" + fmt(s.x(t), 1) + "\" y=\"" + fmt(H - 8, 1) + "\" text-anchor=\"" +
         (k == 0   ? "start"
          : k == 4 ? "end"
                   : "middle") +
         "\">" + time_code(t) + "</text>";
  }
  return h + clip_marks(p, s, threshold) + "</svg>";
}

std::string pair_html(const TrackPairView& p, double threshold) {
  std::string h = std::string("<div class=\"pair ") + (p.flagged ? "flag" : "ok") + "\"" +
                  attr("data-flagged", p.flagged) + attr("data-flagged-clips", p.flagged_clips) +
                  attr("data-listed", static_cast<int64_t>(p.flags.size())) + "><h3><span class=\"file\">" +
                  html_escape(p.container.rel_path) + "</span> &mdash; track " + std::to_string(p.a.track) + " " +
                  html_escape(p.a.language.empty() ? "und" : p.a.language) + " / track " + std::to_string(p.b.track) +
                  " " + html_escape(p.b.language.empty() ? "und" : p.b.language) + "</h3><p>" +
                  count(static_cast<int64_t>(p.cosine.size())) + " shared clips (" + count(p.clips_a) + " / " +
                  count(p.clips_b) + "); cosine mean " + fmt(p.mean, 4) + ", min " + fmt(p.min, 4);
  if (!p.below.empty()) h += "; below " + fmt(threshold, 3) + ": " + ranges_text(p.below);
  if (!p.unpaired.empty()) h += "; only the longer track: " + ranges_text(p.unpaired);
  h += "</p>" + timeline_svg(p, threshold);
  if (p.flagged_clips == 0) return h + "</div>";
  if (!p.input_found)
    h += "<p class=\"note\">The input file " + html_escape(p.container.path) +
         " is not there any more (nor under the data dir): no thumbnails.</p>";
  h += "<table class=\"flags\"><tr><th>clip</th><th>time</th><th class=n>cosine</th><th>frame at the middle</th></tr>";
  for (const auto& f : p.flags)
    h += "<tr class=\"flag\"><td class=n>" + std::to_string(f.clip) + "</td><td>" + time_code(f.start_s) + "&ndash;" +
         time_code(f.stop_s) + "</td><td class=n>" +
         (std::isfinite(f.cosine) ? fmt(f.cosine, 4) : std::string("only the longer track")) + "</td><td>" +
         thumb_html(f.thumb) + "</td></tr>";
  h += "</table>";
  const int64_t left = p.flagged_clips - static_cast<int64_t>(p.flags.size());
  if (left > 0) h += "<p class=\"note\">and " + count(left) + " more flagged clips (see the timeline)</p>";
  return h + "</div>";
}

std::string tracks_section(const TracksView& v) {
  const int64_t shown = static_cast<int64_t>(v.shown.size());
  std::string h = "<section id=\"tracks\"" + attr("data-containers", v.containers) + attr("data-pairs", v.pairs) +
                  attr("data-flagged", v.flagged_pairs) + attr("data-shown", shown) +
                  "><h2>Audio tracks of a container (dubs)</h2>";
  if (!v.absent.empty()) return h + "<p class=\"note\">" + html_escape(v.absent) + "</p></section>";
  h += "<p>" + count(v.containers) + " containers with two or more embedded audio tracks, " + count(v.pairs) +
       " track pairs, <b>" + count(v.flagged_pairs) + " flagged</b> (a clip's cosine below " + fmt(v.threshold, 3) +
       ", or clips only one track has). Each timeline shows the cosine of the two tracks' embeddings clip by clip; "
       "the dashed line is the threshold.";
  if (shown < v.pairs)
    h += " Shown: the " + count(shown) + " worst pairs, flagged first; " + count(v.pairs - shown) + " left out.";
  h += "</p>";
  for (const auto& pr : v.problems) h += "<p class=\"note\">left out: " + html_escape(pr) + "</p>";
  for (const auto& p : v.shown) h += pair_html(p, v.threshold);
  return h + "</section>";
}

// ---- duplicates ----

std::string side_html(const DuplicateSide& s) {
  return thumb_html(s.thumb) + "<div class=\"file\">" + file_text(s.file) + "</div><div>clips " +
         std::to_string(s.first_clip) + "&ndash;" + std::to_string(s.last_clip) + ", " + time_code(s.start_s) +
         "&ndash;" + time_code(s.stop_s) + "</div>";
}

std::string dedup_html(const DedupView& v, const ReportOptions& o) {
  const int64_t shown = static_cast<int64_t>(v.shown.size());
  std::string h = std::string("<div class=\"dedup\" data-mtype=\"") + to_string(v.modality) + "\"" +
                  attr("data-pairs", v.pairs_total) + attr("data-shown", shown) + "><h3>" + to_string(v.modality) +
                  "</h3>";
  if (!v.absent.empty()) return h + "<p class=\"note\">" + html_escape(v.absent) + "</p></div>";
  h += "<p>" + count(v.pairs_total) + " file pairs share a run of at least " + count(o.dedup_options.min_clips) +
       " consecutive clips scoring &ge; " + fmt(o.dedup_options.threshold, 3) + " at one offset (" +
       html_escape(v.method) + " search of " + count(v.queries) + " clips of " + count(v.files) + " files; " +
       count(v.matches) + " clip matches)";
  if (shown < v.pairs_total)
    h += "; the " + count(shown) + " longest runs shown, " + count(v.pairs_total - shown) + " left out";
  h += ".</p>";
  if (v.saturated > 0)
    h += "<p class=\"note\">" + count(v.saturated) +
         " clips had all their neighbours above the threshold: pairs may be missing (raise --neighbors).</p>";
  for (const auto& f : v.left_out) h += "<p class=\"note\">left out: " + html_escape(f) + "</p>";
  if (v.shown.empty()) return h + "</div>";
  h += "<table class=\"dups\"><tr><th>a</th><th>b (starts at the offset into a)</th><th class=n>offset</th>"
       "<th class=n>clips</th><th class=n>mean</th><th class=n>min</th></tr>";
  for (const auto& d : v.shown)
    h += "<tr class=\"dup\"><td>" + side_html(d.a) + "</td><td>" + side_html(d.b) + "</td><td class=n>" +
         fmt(d.offset_s, 2) + " s</td><td class=n>" + count(d.length) + "</td><td class=n>" + fmt(d.mean_score, 4) +
         "</td><td class=n>" + fmt(d.min_score, 4) + "</td></tr>";
  return h + "</table></div>";
}

std::string duplicates_section(const Report& r) {
  int64_t total = 0, shown = 0;
  for (const auto& d : r.duplicates) {
    total += d.pairs_total;
    shown += static_cast<int64_t>(d.shown.size());
  }
  std::string h = "<section id=\"duplicates\"" + attr("data-pairs", total) + attr("data-shown", shown) +
                  "><h2>Near-duplicates</h2>";
  if (r.duplicates.empty()) h += "<p class=\"note\">no embeddings</p>";
  for (const auto& d : r.duplicates) h += dedup_html(d, r.options);
  return h + "</section>";
}

// ---- projection ----

std::string scatter_html(const ProjectionView& v) {
  const int64_t n = static_cast<int64_t>(v.points.size());
  std::string h = std::string("<figure class=\"scatter\" data-mtype=\"") + to_string(v.modality) + "\"" +
                  attr("data-points", n) + attr("data-clips", v.clips) + "><h3>" + to_string(v.modality) + "</h3>";
  if (!v.absent.empty()) return h + "<p class=\"note\">" + html_escape(v.absent) + "</p></figure>";
  constexpr double S = 520, M = 12;
  float x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto& p = v.points[static_cast<size_t>(i)];
    x0 = i ? std::min(x0, p.x) : p.x;
    x1 = i ? std::max(x1, p.x) : p.x;
    y0 = i ? std::min(y0, p.y) : p.y;
    y1 = i ? std::max(y1, p.y) : p.y;
  }
  const double sx = x1 > x0 ? (S - 2 * M) / (x1 - x0) : 0, sy = y1 > y0 ? (S - 2 * M) / (y1 - y0) : 0;
  h += "<svg width=\"" + fmt(S, 0) + "\" height=\"" + fmt(S, 0) + "\" viewBox=\"0 0 " + fmt(S, 0) + " " + fmt(S, 0) +
       "\" role=\"img\"><rect x=\"0.5\" y=\"0.5\" width=\"" + fmt(S - 1, 0) + "\" height=\"" + fmt(S - 1, 0) +
       "\" fill=\"#fcfcfd\" stroke=\"#d5d9de\"/>";
  for (const auto& p : v.points) {
    const double cx = sx ? M + (p.x - x0) * sx : S / 2, cy = sy ? S - M - (p.y - y0) * sy : S / 2;
    h += "<circle class=\"g" + std::to_string(p.group) + "\" cx=\"" + fmt(cx, 1) + "\" cy=\"" + fmt(cy, 1) +
         "\" r=\"3\"><title>" + html_escape(p.label) + "</title></circle>";
  }
  h += "</svg><div class=\"legend\">";
  for (size_t g = 0; g < v.groups.size(); ++g)
    h += "<span><i class=\"g" + std::to_string(g) + "\"></i>" + html_escape(v.groups[g]) + " (" +
         count(v.group_points[g]) + ")</span>";
  h += "</div><figcaption>First two principal components of " + count(v.trained) + " clip vectors (an even sample), " +
       fmt(100 * v.explained[0], 1) + " % and " + fmt(100 * v.explained[1], 1) + " % of their variance; " + count(n) +
       " of " + count(v.clips) + " clips shown";
  if (n < v.clips) h += " (" + count(v.clips - n) + " left out)";
  h += ", coloured by top-level folder";
  if (!v.group_prefix.empty()) h += " under <span class=\"file\">" + html_escape(v.group_prefix) + "</span>";
  return h + ". The pointer shows the file and time of a point.</figcaption></figure>";
}

std::string projection_section(const Report& r) {
  std::string css = "<style>";
  for (size_t g = 0; g < std::size(kPalette); ++g) {
    css += ".g" + std::to_string(g) + "{fill:" + kPalette[g] + ";background:" + kPalette[g] + "}";
  }
  css += ".g" + std::to_string(std::size(kPalette)) + "{fill:" + kOther + ";background:" + kOther + "}</style>";
  int64_t points = 0;
  for (const auto& p : r.projections) points += static_cast<int64_t>(p.points.size());
  std::string h = "<section id=\"projection\"" + attr("data-points", points) +
                  "><h2>Clip embeddings in two dimensions (PCA)</h2>" + css;
  if (r.projections.empty()) h += "<p class=\"note\">no embeddings</p>";
  h += "<div class=\"row\">";
  for (const auto& p : r.projections) h += scatter_html(p);
  return h + "</div></section>";
}

}  // namespace

std::string html_escape(const std::string& bytes) {
  const std::string text = escape_non_utf8(bytes);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string time_code(double seconds) {
  if (!std::isfinite(seconds)) return "-";
  const bool neg = seconds < 0;
  const auto tenths = static_cast<int64_t>(std::llround(std::abs(seconds) * 10));
  const int64_t h = tenths / 36000, m = tenths / 600 % 60, s = tenths / 10 % 60, t = tenths % 10;
  char b[64];
  if (h > 0)
    std::snprintf(b, sizeof b, "%s%lld:%02lld:%02lld.%lld", neg ? "-" : "", static_cast<long long>(h),
                  static_cast<long long>(m), static_cast<long long>(s), static_cast<long long>(t));
  else
    std::snprintf(b, sizeof b, "%s%lld:%02lld.%lld", neg ? "-" : "", static_cast<long long>(m),
                  static_cast<long long>(s), static_cast<long long>(t));
  return b;
}

std::string report_html(const Report& r) {
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
      "style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>lssd report: " +
      html_escape(r.run.output_dir) + "</title>\n<style>" + kStyle + "</style></head>\n<body data-rendered=\"no\">\n";
  h += "<header><h1>lssd report</h1><p><span class=\"file\">" + html_escape(r.run.output_dir) + "</span> &middot; " +
       html_escape(r.generated) + " &middot; lssd-read " + html_escape(r.version) + " &middot; " +
       count(r.thumbnails_made) +
       " thumbnails</p><nav><a href=\"#summary\">Run summary</a><a href=\"#tracks\">Audio "
       "tracks</a><a href=\"#duplicates\">Near-duplicates</a><a "
       "href=\"#projection\">Projection</a></nav></header>\n<main>\n";
  h += summary_section(r.run) + "\n" + tracks_section(r.tracks) + "\n" + duplicates_section(r) + "\n" +
       projection_section(r) + "\n</main>\n<script>" + kScript + "</script>\n</body></html>\n";
  return h;
}

}  // namespace lssd::search
