// lssd-read report: what one output directory holds, summarised for a person (one offline HTML
// page) or a program (JSON with the same content). Four parts:
//   run          inputs, outputs per status, the failures and their messages, clips per
//                modality, model ids and dtypes, time per input (the manifests' wall_s);
//   tracks       for each container with two or more embedded audio tracks, every track pair's
//                per-clip cosine (tracks.h), worst first, with the flagged clips and a thumbnail
//                of the video at each one's middle;
//   duplicates   per modality, the near-duplicate runs that dedup finds (dedup.h), with a
//                thumbnail of each side;
//   projection   per modality, an even sample of the clips projected on their first two
//                principal components (projection.h), grouped by top-level folder.
// Everything is summarised so that 100,000 inputs make a page of a few MB: the N worst pairs,
// the N longest duplicate runs, a sample of points, with counts of what was left out.
// Everything is read through the reader (lssd/reader.h), so every layout it reads is reported.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lssd/modality.h"
#include "lssd/output.h"
#include "lssd/reader.h"
#include "lssd/search/catalog.h"
#include "lssd/search/dedup.h"
#include "lssd/search/index.h"
#include "lssd/search/tracks.h"

namespace lssd::search {

struct ReportOptions {
  CatalogOptions catalog;          // --model-id / --dtype
  double tracks_threshold = 0.9;   // a track pair's clip is flagged below this (placeholder, as tracks')
  int64_t max_track_pairs = 50;    // timelines drawn, worst pairs first; the rest counted
  int64_t max_flagged_clips = 12;  // flagged clips listed (with thumbnails) per pair
  bool dedup = true;               // search for near-duplicates (every clip against the others)
  DedupOptions dedup_options;      // threshold, run length, neighbours (placeholders, as dedup's)
  int64_t max_duplicates = 50;     // duplicate pairs listed per modality, longest runs first
  int64_t max_points = 4000;       // scatter points per modality (an even sample of the clips)
  int64_t pca_train = 10000;       // clips the projection is fitted on (an even sample)
  int64_t max_failures = 100;      // failures listed with their messages
  int64_t slowest = 10;            // slowest inputs listed per modality
  bool thumbnails = true;          // thumbnails of the video (FFmpeg) where the input is found
  int thumb_width = 160, thumb_height = 90;
  int64_t max_thumbnails = 300;  // thumbnails made at most (the page's size)
  std::string data_dir;          // where to look for inputs whose recorded path is gone
};

// ---- the content ------------------------------------------------------------------------------

// A thumbnail: a JPEG data: URI, or the reason there is none.
struct Thumb {
  double t_s = 0;        // the time shown (on the video stream's clock)
  std::string data_uri;  // "data:image/jpeg;base64,..." or ""
  std::string note;      // why there is none: "input file not found", "no video stream", ...
};

// One input and modality (and audio track) as the report names it.
struct FileRef {
  std::string path, rel_path;  // bytes as recorded
  int track = -1;              // audio track of a container (-1: none)
  std::string language;
};

struct FailureItem {
  FileRef file;
  std::string mtype;  // "" for a path that could not be read (an error log entry of no modality)
  std::string stage, message;
  bool from_content = false;
};

struct SlowItem {
  FileRef file;
  double wall_s = 0;
  int64_t clips = 0;
};

struct ModalityRun {
  Modality modality = Modality::Video;
  std::string layout;  // to_string(OutputLayout)
  int64_t records = 0, ok = 0, skipped_short = 0, no_audio = 0, failed = 0, clips = 0;
  std::map<std::string, int64_t> model_ids, dtypes;  // ok records per model id / stored dtype
  // The manifests' wall_s of the ok records (the release's layout records none: timed = 0).
  int64_t timed = 0;
  double wall_total = 0, wall_mean = 0, wall_median = 0, wall_p90 = 0, wall_max = 0;
  std::vector<SlowItem> slowest;
  std::vector<std::string> warnings;  // the reader's (a torn manifest line, ...)
};

struct RunView {
  std::string output_dir;
  int64_t inputs = 0;   // distinct input paths among the records (a container's tracks count once)
  int64_t outputs = 0;  // records: one per input, modality and audio track
  std::vector<ModalityRun> modalities;
  int64_t failures_total = 0;  // failed records plus error log entries of no record
  std::map<std::string, int64_t> failures_by_stage;
  std::vector<FailureItem> failures;  // the first max_failures (reader order, then the logs')
  int64_t error_log_lines = 0;        // lines of OUTPUT_DIR/errors*.jsonl
};

struct FlaggedClip {
  int64_t clip = 0;
  double start_s = 0, stop_s = 0;
  double cosine = 0;  // NaN: a clip only the longer track has
  Thumb thumb;
};

struct TrackPairView {
  FileRef container;  // path and rel_path of the container
  FileRef a, b;       // the two tracks (a's index < b's)
  int64_t clips_a = 0, clips_b = 0;
  std::vector<double> cosine;           // per shared clip
  std::vector<double> start_s, stop_s;  // the shared clips' ranges (track a's)
  double duration_s = 0;                // the end of the longer track's last clip
  double mean = 0, min = 0;             // NaN when no clip is shared
  std::vector<TimeRange> below, unpaired;
  bool flagged = false;
  int64_t flagged_clips = 0;       // clips below the threshold or unpaired
  std::vector<FlaggedClip> flags;  // the first max_flagged_clips of them
  bool input_found = false;        // the container is there (thumbnails possible)
};

struct TracksView {
  std::string absent;  // why there is nothing to show ("" when there is)
  double threshold = 0;
  int64_t containers = 0, pairs = 0, flagged_pairs = 0;
  std::vector<TrackPairView> shown;  // the worst max_track_pairs pairs
  std::vector<std::string> problems;
};

struct DuplicateSide {
  FileRef file;
  int64_t first_clip = 0, last_clip = 0;
  double start_s = 0, stop_s = 0;
  Thumb thumb;  // at the middle of the run
};

struct DuplicateView {
  DuplicateSide a, b;  // b's run starts offset_s seconds into a's
  double offset_s = 0, mean_score = 0, min_score = 0;
  int64_t length = 0, runs = 0;
};

struct DedupView {
  Modality modality = Modality::Video;
  std::string absent;  // why there is nothing to show (no embeddings, dedup off, an error)
  std::string method;  // "exact" | "ivf"
  int64_t files = 0, clips = 0, queries = 0, matches = 0, saturated = 0, pairs_total = 0;
  std::vector<DuplicateView> shown;
  std::vector<std::string> left_out;  // files that could not be loaded
};

struct ProjectionPoint {
  float x = 0, y = 0;
  int group = 0;      // index into ProjectionView::groups
  std::string label;  // file (and track) and the clip's time range
};

struct ProjectionView {
  Modality modality = Modality::Video;
  std::string absent;
  int64_t clips = 0, trained = 0;  // clips of the modality; clips the PCA was fitted on
  double explained[2] = {0, 0};
  std::string group_prefix;           // the folders every file shares ("" if none)
  std::vector<std::string> groups;    // top-level folder below group_prefix; "(other)" last if any
  std::vector<int64_t> group_points;  // points shown per group
  std::vector<ProjectionPoint> points;
};

struct Report {
  std::string version, generated;  // lssd version; UTC time "YYYY-MM-DDTHH:MM:SSZ"
  ReportOptions options;
  RunView run;
  TracksView tracks;
  std::vector<DedupView> duplicates;
  std::vector<ProjectionView> projections;
  int64_t thumbnails_made = 0;
};

// ---- building it --------------------------------------------------------------------------------

// Where an input is now: its recorded path when that is a regular file, else <root>/<rel_path>
// for the first root that has it (the roots: ReportOptions::data_dir, then OUTPUT_DIR/config.yaml's
// DATA.PATH_TO_DATA_DIR); "" when none.
std::string locate_input(const Record& r, const std::vector<std::string>& roots);
// The roots locate_input() tries for an output directory: `data_dir` (if given), then the data
// dir that OUTPUT_DIR/config.yaml names (if it parses and names one).
std::vector<std::string> input_roots(const std::string& output_dir, const std::string& data_dir);

// Thumbnails of the inputs' video (decode_video_still + encode_jpeg), cached by file and time;
// at most max_thumbnails are made (later asks get the note "limit of N thumbnails reached").
class Thumbnails {
 public:
  Thumbnails(const ReportOptions& o, std::vector<std::string> roots);
  // The frame at t_s of the record's input: its data URI, or the note saying why there is none
  // ("thumbnails off", "input file not found", the limit, the decoder's error).
  Thumb get(const Record& r, double t_s);
  int64_t made() const { return made_; }

 private:
  ReportOptions opts_;
  std::vector<std::string> roots_;
  std::map<std::pair<std::string, int64_t>, Thumb> cache_;  // (located path, t in ms)
  std::map<std::string, std::string> located_;              // recorded path and rel_path -> path or ""
  std::map<std::string, std::string> failed_;               // path -> why no still could be made
  int64_t made_ = 0;
};

// The run part: every record of every modality of `rd`, and the lines of OUTPUT_DIR/errors*.jsonl
// that name no failed record (paths that could not be read). A log line that does not parse is
// counted, not listed.
RunView summarise_run(const OutputReader& rd, const ReportOptions& o);

// The tracks part (an audio catalog of rd's audio modality). `absent` says why it is empty: no
// audio embeddings, no container with two or more embedded tracks, or the catalog's error.
TracksView tracks_view(const OutputReader& rd, const ReportOptions& o, Thumbnails& thumbs);

// The duplicates of one modality found with `index` (over the rows of `m`, as lssd-read dedup).
DedupView dedup_view(const Catalog& cat, const ClipMatrix& m, const KnnIndex& index, const ReportOptions& o,
                     Thumbnails& thumbs);

// The projection of one modality: `m` when the caller has the whole matrix, else (null) the
// files of the sampled clips are loaded one by one. Clips whose file cannot be loaded are left out.
ProjectionView projection_view(const ModalityReader& mr, const Catalog& cat, const ClipMatrix* m,
                               const ReportOptions& o);

// The folders that every path in `rel_paths` lies in ("a/b/" for a/b/x and a/b/c/y; "" when none).
std::string common_folder(const std::vector<std::string>& rel_paths);
// The group of a file: its first folder below `prefix` ("." for a file directly in it).
std::string top_folder(const std::string& rel_path, const std::string& prefix);

// ---- writing it ---------------------------------------------------------------------------------

// One self-contained HTML page: inline CSS, SVG and images (data: URIs), a few lines of inline
// script that mark the page rendered; a Content-Security-Policy that forbids every network load.
// Each section carries its counts as data- attributes (the e2e test reads them).
std::string report_html(const Report& r);
// The same content as JSON (thumbnails as data URIs; paths as lssd-read writes them: text, plus
// "<field>_hex" for bytes that are not UTF-8).
std::string report_json(const Report& r);

// Text for HTML: & < > " ' escaped; bytes that are not UTF-8 as \xNN first.
std::string html_escape(const std::string& bytes);
// A time as h:mm:ss.s or m:ss.s ("1:02:03.5", "0:07.5"); "-" for a non-finite value.
std::string time_code(double seconds);

}  // namespace lssd::search
