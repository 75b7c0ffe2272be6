// lssd-read report --json: the report's content as data (the same content as the HTML page).
#include <cmath>

#include <nlohmann/json.hpp>

#include "lssd/search/report.h"
#include "output/json_bytes.h"

using nlohmann::json;

namespace lssd::search {
namespace {

json jnum(double d) { return std::isfinite(d) ? json(d) : json(nullptr); }

json jnums(const std::vector<double>& v) {
  json a = json::array();
  for (double d : v) a.push_back(jnum(d));
  return a;
}

// file (input path), rel_path, track (null or the stream index), language (tracks only).
void put_file(json& j, const FileRef& f) {
  put_bytes(j, "file", f.path);
  put_bytes(j, "rel_path", f.rel_path);
  j["track"] = f.track >= 0 ? json(f.track) : json(nullptr);
  if (f.track >= 0) j["language"] = f.language;
}

void put_thumb(json& j, const Thumb& t) {
  j["thumbnail_t"] = t.t_s;
  j["thumbnail"] = t.data_uri.empty() ? json(nullptr) : json(t.data_uri);
  if (!t.note.empty()) put_bytes(j, "thumbnail_note", t.note);
}

json ranges_json(const std::vector<TimeRange>& rs) {
  json a = json::array();
  for (const auto& r : rs) a.push_back({r.start_s, r.stop_s});
  return a;
}

json options_json(const ReportOptions& o) {
  return {{"tracks_threshold", o.tracks_threshold},
          {"max_track_pairs", o.max_track_pairs},
          {"max_flagged_clips", o.max_flagged_clips},
          {"dedup", o.dedup},
          {"dedup_threshold", o.dedup_options.threshold},
          {"min_clips", o.dedup_options.min_clips},
          {"neighbors", o.dedup_options.neighbors},
          {"max_duplicates", o.max_duplicates},
          {"max_points", o.max_points},
          {"pca_train", o.pca_train},
          {"max_failures", o.max_failures},
          {"slowest", o.slowest},
          {"thumbnails", o.thumbnails},
          {"thumb_size", {o.thumb_width, o.thumb_height}},
          {"max_thumbnails", o.max_thumbnails},
          {"model_id", o.catalog.model_id},
          {"dtype", o.catalog.dtype},
          {"data_dir", o.data_dir}};
}

json modality_run_json(const ModalityRun& m) {
  json slow = json::array();
  for (const auto& s : m.slowest) {
    json j;
    put_file(j, s.file);
    j["wall_s"] = s.wall_s;
    j["clips"] = s.clips;
    slow.push_back(j);
  }
  return {{"layout", m.layout},
          {"records", m.records},
          {"status",
           {{"ok", m.ok}, {"skipped_short", m.skipped_short}, {"skipped_no_audio", m.no_audio}, {"failed", m.failed}}},
          {"clips", m.clips},
          {"model_ids", m.model_ids},
          {"dtypes", m.dtypes},
          {"wall_s",
           {{"timed", m.timed},
            {"total", m.wall_total},
            {"mean", m.wall_mean},
            {"median", m.wall_median},
            {"p90", m.wall_p90},
            {"max", m.wall_max}}},
          {"slowest", slow},
          {"warnings", m.warnings}};
}

json run_json(const RunView& v) {
  json mods = json::object();
  for (const auto& m : v.modalities) mods[to_string(m.modality)] = modality_run_json(m);
  json failures = json::array();
  for (const auto& f : v.failures) {
    json j;
    put_file(j, f.file);
    j["modality"] = f.mtype;
    j["stage"] = f.stage;
    put_bytes(j, "message", f.message);
    j["from_content"] = f.from_content;
    failures.push_back(j);
  }
  json out = {{"inputs", v.inputs},
              {"outputs", v.outputs},
              {"modalities", mods},
              {"error_log_lines", v.error_log_lines},
              {"failures_total", v.failures_total},
              {"failures_by_stage", v.failures_by_stage},
              {"failures_left_out", v.failures_total - static_cast<int64_t>(v.failures.size())},
              {"failures", failures}};
  put_bytes(out, "output_dir", v.output_dir);
  return out;
}

json track_json(const FileRef& f, int64_t clips) {
  return {{"track", f.track}, {"language", f.language}, {"clips", clips}};
}

json pair_json(const TrackPairView& p) {
  json flags = json::array();
  for (const auto& f : p.flags) {
    json j = {{"clip", f.clip}, {"start", f.start_s}, {"stop", f.stop_s}, {"cosine", jnum(f.cosine)}};
    put_thumb(j, f.thumb);
    flags.push_back(j);
  }
  json j = {{"a", track_json(p.a, p.clips_a)},
            {"b", track_json(p.b, p.clips_b)},
            {"cosine", jnums(p.cosine)},
            {"start", p.start_s},
            {"stop", p.stop_s},
            {"duration", p.duration_s},
            {"mean", jnum(p.mean)},
            {"min", jnum(p.min)},
            {"below", ranges_json(p.below)},
            {"unpaired", ranges_json(p.unpaired)},
            {"flagged", p.flagged},
            {"flagged_clips", p.flagged_clips},
            {"flags", flags},
            {"input_found", p.input_found}};
  put_bytes(j, "file", p.container.path);
  put_bytes(j, "rel_path", p.container.rel_path);
  return j;
}

json tracks_json(const TracksView& v) {
  json pairs = json::array();
  for (const auto& p : v.shown) pairs.push_back(pair_json(p));
  json j = {{"threshold", v.threshold},
            {"containers", v.containers},
            {"pairs_total", v.pairs},
            {"flagged_pairs", v.flagged_pairs},
            {"left_out", v.pairs - static_cast<int64_t>(v.shown.size())},
            {"pairs", pairs},
            {"problems", v.problems}};
  if (!v.absent.empty()) put_bytes(j, "absent", v.absent);
  return j;
}

json side_json(const DuplicateSide& s) {
  json j;
  put_file(j, s.file);
  j["clips"] = {s.first_clip, s.last_clip};
  j["range"] = {s.start_s, s.stop_s};
  put_thumb(j, s.thumb);
  return j;
}

json dedup_json(const DedupView& v) {
  json pairs = json::array();
  for (const auto& d : v.shown)
    pairs.push_back({{"a", side_json(d.a)},
                     {"b", side_json(d.b)},
                     {"offset_s", d.offset_s},
                     {"length", d.length},
                     {"mean_score", d.mean_score},
                     {"min_score", d.min_score},
                     {"runs", d.runs}});
  json j = {{"method", v.method},
            {"files", v.files},
            {"clips", v.clips},
            {"queries", v.queries},
            {"matches", v.matches},
            {"saturated", v.saturated},
            {"pairs_total", v.pairs_total},
            {"left_out", v.pairs_total - static_cast<int64_t>(v.shown.size())},
            {"pairs", pairs},
            {"files_left_out", v.left_out}};
  if (!v.absent.empty()) put_bytes(j, "absent", v.absent);
  return j;
}

json projection_json(const ProjectionView& v) {
  json groups = json::array();
  for (size_t g = 0; g < v.groups.size(); ++g) {
    json e;
    put_bytes(e, "name", v.groups[g]);
    e["points"] = v.group_points[g];
    groups.push_back(e);
  }
  json points = json::array();
  for (const auto& p : v.points) points.push_back({p.x, p.y, p.group, p.label});
  json j = {{"clips", v.clips},         {"trained", v.trained},
            {"shown", v.points.size()}, {"explained", {v.explained[0], v.explained[1]}},
            {"groups", groups},         {"points", points}};
  put_bytes(j, "group_prefix", v.group_prefix);
  if (!v.absent.empty()) put_bytes(j, "absent", v.absent);
  return j;
}

}  // namespace

std::string report_json(const Report& r) {
  json dup = json::object(), proj = json::object();
  for (const auto& d : r.duplicates) dup[to_string(d.modality)] = dedup_json(d);
  for (const auto& p : r.projections) proj[to_string(p.modality)] = projection_json(p);
  json j = {{"lssd_report", 1},
            {"version", r.version},
            {"generated", r.generated},
            {"options", options_json(r.options)},
            {"run", run_json(r.run)},
            {"tracks", tracks_json(r.tracks)},
            {"duplicates", dup},
            {"projection", proj},
            {"thumbnails_made", r.thumbnails_made}};
  return j.dump(1) + "\n";
}

}  // namespace lssd::search
