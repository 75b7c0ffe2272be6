// lssd-read report's content: the run summary, the track pairs, the duplicates, the projections
// and the thumbnails (see lssd/search/report.h). Writing it: report_html.cc, report_json.cc.
#include "lssd/search/report.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "lssd/bytes.h"
#include "lssd/config.h"
#include "lssd/error.h"
#include "lssd/media.h"
#include "lssd/search/projection.h"
#include "output/json_bytes.h"

namespace fs = std::filesystem;

namespace lssd::search {
namespace {

FileRef file_ref(const Record& r) { return {r.path, r.rel_path, r.track_index, r.track_language}; }

bool is_regular_file(const std::string& p) {
  struct stat st {};
  return !p.empty() && ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// ---- run ----

// Median, 90th percentile (nearest rank), mean, max and total of wall times.
void wall_stats(std::vector<double> w, ModalityRun& m) {
  m.timed = static_cast<int64_t>(w.size());
  if (w.empty()) return;
  std::sort(w.begin(), w.end());
  for (double x : w) m.wall_total += x;
  const size_t n = w.size();
  m.wall_mean = m.wall_total / static_cast<double>(n);
  m.wall_median = n % 2 ? w[n / 2] : (w[n / 2 - 1] + w[n / 2]) / 2;
  m.wall_p90 = w[std::min(n - 1, static_cast<size_t>(std::ceil(0.9 * static_cast<double>(n))) - 1)];
  m.wall_max = w.back();
}

using FailedKey = std::tuple<std::string, std::string, int>;  // path, mtype, track

ModalityRun summarise_modality(const ModalityReader& mr, const ReportOptions& o, RunView& v,
                               std::set<std::string>& inputs, std::set<FailedKey>& failed) {
  ModalityRun m;
  m.modality = mr.modality();
  m.layout = to_string(mr.layout());
  m.warnings = mr.warnings();
  std::vector<double> walls;
  std::vector<SlowItem> timed;
  for (const Record& r : mr.records()) {
    inputs.insert(r.path);
    ++m.records;
    switch (r.status) {
      case RecordStatus::Ok:
        ++m.ok;
        m.clips += r.num_clips;
        if (!r.model_id.empty()) ++m.model_ids[r.model_id];
        if (!r.dtype.empty()) ++m.dtypes[r.dtype];
        if (r.wall_s > 0) {
          walls.push_back(r.wall_s);
          timed.push_back({file_ref(r), r.wall_s, r.num_clips});
        }
        break;
      case RecordStatus::SkippedShort: ++m.skipped_short; break;
      case RecordStatus::SkippedNoAudio: ++m.no_audio; break;
      case RecordStatus::Failed:
        ++m.failed;
        ++v.failures_total;
        ++v.failures_by_stage[r.error_stage];
        failed.insert({r.path, mr.mtype(), r.track_index});
        if (static_cast<int64_t>(v.failures.size()) < o.max_failures)
          v.failures.push_back({file_ref(r), mr.mtype(), r.error_stage, r.error_message, r.error_from_content});
        break;
    }
  }
  wall_stats(walls, m);
  std::stable_sort(timed.begin(), timed.end(),
                   [](const SlowItem& a, const SlowItem& b) { return a.wall_s > b.wall_s; });
  if (static_cast<int64_t>(timed.size()) > o.slowest)
    timed.resize(static_cast<size_t>(std::max<int64_t>(o.slowest, 0)));
  m.slowest = std::move(timed);
  return m;
}

// OUTPUT_DIR/errors*.jsonl in name order (every shard's part).
std::vector<fs::path> error_logs(const std::string& dir) {
  std::vector<fs::path> logs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("errors", 0) == 0 && n.size() >= 12 && n.compare(n.size() - 6, 6, ".jsonl") == 0)
      logs.push_back(e.path());
  }
  std::sort(logs.begin(), logs.end());
  return logs;
}

// The error log entries that name no failed record: paths that could not be read, and failures
// whose record is missing (a manifest lost).
void add_logged_failures(const ReportOptions& o, RunView& v, std::set<std::string>& inputs,
                         const std::set<FailedKey>& failed) {
  for (const fs::path& log : error_logs(v.output_dir)) {
    std::ifstream in(log, std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      ++v.error_log_lines;
      FailureItem f;
      try {
        const nlohmann::json j = nlohmann::json::parse(line);
        f.file.path = get_bytes(j, "path");
        f.mtype = j.value("modality", "");
        f.file.track = j.contains("track") && j["track"].is_number_integer() ? j["track"].get<int>() : -1;
        f.stage = j.value("stage", "");
        f.message = get_bytes(j, "message");
        f.from_content = j.value("from_content", false);
      } catch (const std::exception&) {
        continue;  // counted in error_log_lines only
      }
      if (failed.count({f.file.path, f.mtype, f.file.track})) continue;
      inputs.insert(f.file.path);
      ++v.failures_total;
      ++v.failures_by_stage[f.stage];
      if (static_cast<int64_t>(v.failures.size()) < o.max_failures) v.failures.push_back(std::move(f));
    }
  }
}

// ---- tracks ----

TrackPairView pair_view(const Catalog& cat, const TracksReport& rep, const TrackPair& p, const ReportOptions& o,
                        Thumbnails& thumbs, const std::vector<std::string>& roots) {
  const Record& ra = cat.files()[p.file_a].record;
  const Record& rb = cat.files()[p.file_b].record;
  TrackPairView v;
  v.container = {rep.containers[p.container].path, rep.containers[p.container].rel_path, -1, ""};
  v.a = file_ref(ra);
  v.b = file_ref(rb);
  v.clips_a = p.clips_a;
  v.clips_b = p.clips_b;
  v.cosine = p.cosine;
  for (size_t c = 0; c < p.cosine.size(); ++c) {
    v.start_s.push_back(ra.ranges.at(c).start_s);
    v.stop_s.push_back(ra.ranges.at(c).stop_s);
  }
  if (!ra.ranges.empty()) v.duration_s = ra.ranges.back().stop_s;
  if (!rb.ranges.empty()) v.duration_s = std::max(v.duration_s, rb.ranges.back().stop_s);
  v.mean = p.mean;
  v.min = p.min;
  v.below = p.below;
  v.unpaired = p.unpaired;
  v.flagged = p.flagged();
  v.input_found = !locate_input(ra, roots).empty();
  const Record& longer = p.clips_a >= p.clips_b ? ra : rb;
  for (int64_t c = 0; c < std::max(p.clips_a, p.clips_b); ++c) {
    const bool shared = c < static_cast<int64_t>(p.cosine.size());
    if (shared && !(p.cosine[static_cast<size_t>(c)] < o.tracks_threshold)) continue;
    ++v.flagged_clips;
    if (static_cast<int64_t>(v.flags.size()) >= o.max_flagged_clips) continue;
    const ClipRange& cr = longer.ranges.at(static_cast<size_t>(c));
    FlaggedClip f;
    f.clip = c;
    f.start_s = cr.start_s;
    f.stop_s = cr.stop_s;
    f.cosine = shared ? p.cosine[static_cast<size_t>(c)] : std::nan("");
    f.thumb = thumbs.get(ra, (cr.start_s + cr.stop_s) / 2);
    v.flags.push_back(std::move(f));
  }
  return v;
}

// ---- projection ----

// The vectors of `rows` (sorted): from the matrix, or loaded file by file. present[i] = 0 for a
// row whose vector could not be had.
void gather_rows(const ModalityReader& mr, const Catalog& cat, const ClipMatrix* m, const std::vector<int64_t>& rows,
                 std::vector<float>& data, std::vector<uint8_t>& present, int64_t& dim) {
  present.assign(rows.size(), 0);
  if (m) {
    dim = m->dim;
    data.assign(rows.size() * static_cast<size_t>(dim), 0.0f);
    for (size_t i = 0; i < rows.size(); ++i) {
      if (!m->present[static_cast<size_t>(rows[i])]) continue;
      std::copy(m->row(rows[i]), m->row(rows[i]) + dim, data.begin() + static_cast<ptrdiff_t>(i * dim));
      present[i] = 1;
    }
    return;
  }
  size_t loaded_file = SIZE_MAX;
  FloatArray vec;
  bool ok = false;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto [fi, clip] = cat.locate(rows[i]);
    if (fi != loaded_file) {
      loaded_file = fi;
      try {
        vec = load_file_vectors(mr, cat.files()[fi]);
        ok = true;
      } catch (const Error&) {
        ok = false;
      }
      if (ok && dim == 0) {
        dim = vec.shape[1];
        data.assign(rows.size() * static_cast<size_t>(dim), 0.0f);
      }
      if (ok && vec.shape[1] != dim) ok = false;
    }
    if (!ok) continue;
    std::copy(vec.data.begin() + clip * dim, vec.data.begin() + (clip + 1) * dim,
              data.begin() + static_cast<ptrdiff_t>(i * dim));
    present[i] = 1;
  }
}

std::string file_label(const Record& r) {
  std::string s = escape_non_utf8(r.rel_path);
  if (r.track_index >= 0)
    s += " [track " + std::to_string(r.track_index) + " " + (r.track_language.empty() ? "und" : r.track_language) + "]";
  return s;
}

// Groups by top-level folder below the shared prefix: the 11 largest named, the rest "(other)".
void assign_groups(const Catalog& cat, const std::vector<size_t>& point_files, ProjectionView& v) {
  constexpr size_t kNamedGroups = 11;
  std::vector<std::string> rels;
  for (const auto& f : cat.files()) rels.push_back(f.record.rel_path);
  v.group_prefix = common_folder(rels);
  std::map<std::string, int64_t> counts;
  std::vector<std::string> names;
  for (size_t fi : point_files) {
    names.push_back(top_folder(cat.files()[fi].record.rel_path, v.group_prefix));
    ++counts[names.back()];
  }
  std::vector<std::pair<std::string, int64_t>> order(counts.begin(), counts.end());
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::map<std::string, int> index;
  for (size_t g = 0; g < order.size() && g < kNamedGroups; ++g) {
    index[order[g].first] = static_cast<int>(g);
    v.groups.push_back(order[g].first);
    v.group_points.push_back(order[g].second);
  }
  if (order.size() > kNamedGroups) {
    v.groups.push_back("(other)");
    v.group_points.push_back(0);
    for (size_t g = kNamedGroups; g < order.size(); ++g) v.group_points.back() += order[g].second;
  }
  for (size_t i = 0; i < v.points.size(); ++i) {
    auto it = index.find(names[i]);
    v.points[i].group = it == index.end() ? static_cast<int>(kNamedGroups) : it->second;
  }
}

// The vectors the projection is fitted on (an even sample of pca_train clips) and those it shows
// (an even sample of max_points clips), each sampled clip loaded once; clips that could not be
// loaded left out.
struct SampledVectors {
  int64_t dim = 0;
  std::vector<float> train, points;  // rows x dim
  std::vector<int64_t> point_rows;   // the catalog rows of `points`
};

SampledVectors sample_vectors(const ModalityReader& mr, const Catalog& cat, const ClipMatrix* m,
                              const ReportOptions& o) {
  const std::vector<int64_t> shown = sample_evenly(cat.rows(), o.max_points);
  const std::vector<int64_t> train = sample_evenly(cat.rows(), o.pca_train);
  std::vector<int64_t> rows;
  std::set_union(shown.begin(), shown.end(), train.begin(), train.end(), std::back_inserter(rows));
  std::vector<float> data;
  std::vector<uint8_t> present;
  SampledVectors s;
  gather_rows(mr, cat, m, rows, data, present, s.dim);
  for (size_t i = 0, si = 0, ti = 0; i < rows.size() && s.dim > 0; ++i) {
    const bool in_shown = si < shown.size() && shown[si] == rows[i];
    const bool in_train = ti < train.size() && train[ti] == rows[i];
    si += in_shown;
    ti += in_train;
    if (!present[i]) continue;
    const float* x = data.data() + i * static_cast<size_t>(s.dim);
    if (in_train) s.train.insert(s.train.end(), x, x + s.dim);
    if (in_shown) {
      s.points.insert(s.points.end(), x, x + s.dim);
      s.point_rows.push_back(rows[i]);
    }
  }
  return s;
}

}  // namespace

// ---- inputs and thumbnails ----

std::string locate_input(const Record& r, const std::vector<std::string>& roots) {
  if (is_regular_file(r.path)) return r.path;
  if (!is_safe_relative(r.rel_path)) return "";
  for (const auto& root : roots) {
    const std::string p = (fs::path(root) / r.rel_path).string();
    if (is_regular_file(p)) return p;
  }
  return "";
}

std::vector<std::string> input_roots(const std::string& output_dir, const std::string& data_dir) {
  std::vector<std::string> roots;
  if (!data_dir.empty()) roots.push_back(data_dir);
  const std::string cfg = (fs::path(output_dir) / "config.yaml").string();
  if (!is_regular_file(cfg)) return roots;
  try {
    Config c;
    c.merge_file(cfg);
    const std::string d = c.get_string("DATA.PATH_TO_DATA_DIR");
    if (!d.empty() && d != data_dir) roots.push_back(d);
  } catch (const std::exception&) {  // a config of another version: no root from it
  }
  return roots;
}

Thumbnails::Thumbnails(const ReportOptions& o, std::vector<std::string> roots) : opts_(o), roots_(std::move(roots)) {}

Thumb Thumbnails::get(const Record& r, double t_s) {
  Thumb t;
  t.t_s = t_s;
  if (!opts_.thumbnails) {
    t.note = "thumbnails off";
    return t;
  }
  const std::string who = r.path + '\n' + r.rel_path;
  auto loc = located_.find(who);
  if (loc == located_.end()) loc = located_.emplace(who, locate_input(r, roots_)).first;
  const std::string& path = loc->second;
  if (path.empty()) {
    t.note = "input file not found";
    return t;
  }
  auto bad = failed_.find(path);
  if (bad != failed_.end()) {
    t.note = bad->second;
    return t;
  }
  const auto key = std::make_pair(path, static_cast<int64_t>(std::llround(t_s * 1000)));
  auto hit = cache_.find(key);
  if (hit != cache_.end()) return hit->second;
  if (made_ >= opts_.max_thumbnails) {
    t.note = "limit of " + std::to_string(opts_.max_thumbnails) + " thumbnails reached";
    return t;
  }
  try {
    MediaOptions mo;
    mo.deadline_s = 60;
    mo.decode_threads = 1;
    const VideoStill still = decode_video_still(path, t_s, mo, opts_.thumb_width, opts_.thumb_height);
    const std::vector<uint8_t> jpeg = encode_jpeg(still.image, 5);
    t.data_uri = "data:image/jpeg;base64," + base64_encode(jpeg.data(), jpeg.size());
    ++made_;
  } catch (const Error& e) {
    t.note = e.message();
    failed_[path] = t.note;  // the next asks for this file get the same answer
    return t;
  }
  cache_[key] = t;
  return t;
}

// ---- the parts ----

RunView summarise_run(const OutputReader& rd, const ReportOptions& o) {
  RunView v;
  v.output_dir = rd.root();
  std::set<std::string> inputs;
  std::set<FailedKey> failed;
  for (const Modality m : rd.present())
    v.modalities.push_back(summarise_modality(rd.modality(m), o, v, inputs, failed));
  for (const auto& m : v.modalities) v.outputs += m.records;
  add_logged_failures(o, v, inputs, failed);
  v.inputs = static_cast<int64_t>(inputs.size());
  return v;
}

TracksView tracks_view(const OutputReader& rd, const ReportOptions& o, Thumbnails& thumbs) {
  TracksView v;
  v.threshold = o.tracks_threshold;
  if (!rd.has(Modality::Audio)) {
    v.absent = "no audio embeddings in this directory";
    return v;
  }
  const ModalityReader& mr = rd.modality(Modality::Audio);
  std::unique_ptr<Catalog> cat;
  TracksReport rep;
  try {
    cat = std::make_unique<Catalog>(mr, o.catalog);
    rep = track_consistency(mr, *cat, o.tracks_threshold);
  } catch (const Error& e) {
    v.absent = e.message();
    return v;
  }
  v.containers = static_cast<int64_t>(rep.containers.size());
  v.pairs = static_cast<int64_t>(rep.pairs.size());
  v.problems = rep.problems;
  // Flagged pairs first, each kind worst first (the report's order).
  std::vector<const TrackPair*> order;
  for (const auto& p : rep.pairs) order.push_back(&p);
  std::stable_partition(order.begin(), order.end(), [](const TrackPair* p) { return p->flagged(); });
  for (const auto* p : order) v.flagged_pairs += p->flagged();
  const std::vector<std::string> roots = input_roots(rd.root(), o.data_dir);
  for (size_t i = 0; i < order.size() && static_cast<int64_t>(i) < o.max_track_pairs; ++i)
    v.shown.push_back(pair_view(*cat, rep, *order[i], o, thumbs, roots));
  return v;
}

DedupView dedup_view(const Catalog& cat, const ClipMatrix& m, const KnnIndex& index, const ReportOptions& o,
                     Thumbnails& thumbs) {
  DedupView v;
  v.modality = cat.modality();
  v.files = static_cast<int64_t>(cat.files().size());
  v.clips = cat.rows();
  v.left_out = m.problems;
  DedupStats st;
  std::vector<DuplicatePair> pairs =
      find_duplicate_runs(cat, find_clip_matches(cat, m, index, o.dedup_options, &st), o.dedup_options);
  v.queries = st.queries;
  v.matches = st.matches;
  v.saturated = st.saturated;
  v.pairs_total = static_cast<int64_t>(pairs.size());
  auto side = [&](size_t file, int64_t first, int64_t length) {
    const CatalogFile& f = cat.files()[file];
    DuplicateSide s;
    s.file = file_ref(f.record);
    s.first_clip = first;
    s.last_clip = first + length - 1;
    s.start_s = cat.range(f.first_row + first).start_s;
    s.stop_s = cat.range(f.first_row + s.last_clip).stop_s;
    s.thumb = thumbs.get(f.record, (s.start_s + s.stop_s) / 2);
    return s;
  };
  for (size_t i = 0; i < pairs.size() && static_cast<int64_t>(i) < o.max_duplicates; ++i) {
    const DuplicatePair& p = pairs[i];
    DuplicateView d;
    d.a = side(p.file_a, p.first_a, p.length);
    d.b = side(p.file_b, p.first_b, p.length);
    d.offset_s = p.offset_s;
    d.mean_score = p.mean_score;
    d.min_score = p.min_score;
    d.length = p.length;
    d.runs = p.runs;
    v.shown.push_back(std::move(d));
  }
  return v;
}

ProjectionView projection_view(const ModalityReader& mr, const Catalog& cat, const ClipMatrix* m,
                               const ReportOptions& o) {
  ProjectionView v;
  v.modality = cat.modality();
  v.clips = cat.rows();
  const SampledVectors s = sample_vectors(mr, cat, m, o);
  if (s.dim == 0) {
    v.absent = "no clip vector could be loaded";
    return v;
  }
  v.trained = static_cast<int64_t>(s.train.size()) / s.dim;
  const auto n = static_cast<int64_t>(s.point_rows.size());
  const Pca2d pca = pca_2d(s.train.data(), v.trained, s.dim, s.points.data(), n);
  v.explained[0] = pca.explained[0];
  v.explained[1] = pca.explained[1];
  std::vector<size_t> point_files;
  for (int64_t i = 0; i < n; ++i) {
    const auto [fi, clip] = cat.locate(s.point_rows[i]);
    const ClipRange& cr = cat.range(s.point_rows[i]);
    point_files.push_back(fi);
    ProjectionPoint p;
    p.x = pca.xy[i * 2];
    p.y = pca.xy[i * 2 + 1];
    p.label = file_label(cat.files()[fi].record) + " " + time_code(cr.start_s) + "-" + time_code(cr.stop_s);
    v.points.push_back(std::move(p));
  }
  assign_groups(cat, point_files, v);
  return v;
}

std::string common_folder(const std::vector<std::string>& rel_paths) {
  if (rel_paths.empty()) return "";
  std::string prefix = rel_paths.front();
  const size_t slash = prefix.rfind('/');
  prefix = slash == std::string::npos ? "" : prefix.substr(0, slash + 1);
  for (const auto& p : rel_paths) {
    while (!prefix.empty() && p.compare(0, prefix.size(), prefix) != 0) {
      const size_t s = prefix.rfind('/', prefix.size() - 2);
      prefix = s == std::string::npos ? "" : prefix.substr(0, s + 1);
    }
  }
  return prefix;
}

std::string top_folder(const std::string& rel_path, const std::string& prefix) {
  const std::string rest = rel_path.compare(0, prefix.size(), prefix) == 0 ? rel_path.substr(prefix.size()) : rel_path;
  const size_t slash = rest.find('/');
  return slash == std::string::npos ? "." : rest.substr(0, slash);
}

}  // namespace lssd::search
