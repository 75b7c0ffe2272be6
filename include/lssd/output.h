// The output stage: where each input's embedding goes, the manifest and error logs, and the
// resume check. Layout under OUTPUT_DIR:
//   config.yaml                          the resolved config of the last run
//   errors.jsonl | errors.shard-I-of-N.jsonl | errors.<writer>.jsonl   one line per failed input
//   <video|audio>/<rel_path>.npy         [M,5,768] / [M,768] float32 (or float16)  (OUTPUT.LAYOUT files)
//   audio/<rel_path>.a<stream>-<lang>.npy        an audio track of a video container
//   <video|audio>/parts/<writer>.<n>.npy  stacked rows of many inputs (OUTPUT.LAYOUT shards; shards.h)
//   <video|audio>/manifest.jsonl | manifest.shard-I-of-N.jsonl | manifest.<writer>.jsonl   one record per input
//   writers/, claims/                    live writers and claimed chunks (DIST.MODE claim; claims.h)
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lssd/bytes.h"  // escape_non_utf8 & co., declared here before
#include "lssd/modality.h"
#include "lssd/npy.h"

namespace lssd {

// The newest manifest format this lssd reads. A record of the files layout is written as
// version 1 (as before shards existed), one that names rows of a part as version 2, so that an
// older reader refuses it instead of misreading it.
constexpr int kManifestVersion = 2;
constexpr int kFilesRecordVersion = 1;
constexpr int kShardRecordVersion = 2;

// What became of an input (manifest "status"): an embedding was written; it failed; or it was
// skipped as the release skips it (too short: fewer than 2 timestamps / samples; an audio track
// of a video container that has no audio).
enum class RecordStatus { Ok, Failed, SkippedShort, SkippedNoAudio };

// "ok" | "failed" | "skipped_short" | "skipped_no_audio".
const char* to_string(RecordStatus s);
// The status named `name`; false (and *s untouched) for any other text.
bool parse_status(const std::string& name, RecordStatus* s);

struct ClipRange {
  double start_s = 0, stop_s = 0;               // seconds (video: pts-exact; audio: samples / rate)
  int64_t start_sample = -1, stop_sample = -1;  // audio only: native-rate sample indices
};

struct Record {
  int version = kFilesRecordVersion;
  Modality modality = Modality::Video;
  std::string path;      // input path as discovered (raw bytes)
  std::string rel_path;  // relative name (raw bytes)
  std::string output;    // the .npy relative to OUTPUT_DIR/<modality>/ ("" unless ok): the input's own, or a part
  int64_t row = -1;      // shards layout: the first of the record's M rows in the part `output` (-1: files layout)
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  RecordStatus status = RecordStatus::Ok;
  int64_t num_clips = 0;  // M
  std::vector<int64_t> shape;
  std::vector<ClipRange> ranges;
  double fps = 0;          // video: the stream's average frame rate
  std::string timestamps;  // video: where the clip plan's timestamps came from, "packets" | "frames"
  // video, with MEDIA.HWACCEL other than none: which decoder gave the frames, "nvdec" | "cpu"
  // ("" and not written otherwise: records of a default run are unchanged)
  std::string decoder;
  int sample_rate = 0;   // audio: native rate
  int track_index = -1;  // audio tracks of video containers: the stream index
  std::string track_language;
  int tracks_total = 0;  // audio tracks of video containers: how many tracks the input has
  std::string model_id;
  std::string dtype;  // "float32" | "float16"
  std::string error_stage, error_message;
  // A failure from the file's content (lssd::ContentError): a rerun reports the unchanged file
  // (same size, mtime and model id) as failed earlier instead of retrying it.
  bool error_from_content = false;
  double wall_s = 0;  // time spent on this input
  // Precedence between records of one input written by different writers (or runs): the larger
  // wins; equal ones (and records without one, 0) fall back to manifest order. A writer's
  // values rise, and start above every value it has read (see SequenceClock).
  int64_t seq = 0;

  // The identity of an output: modality, rel_path and track.
  std::string key() const;
};

// The fields of a manifest record that the resume check reads (no clip ranges, paths or
// messages): what a million records can be held as.
struct RecordSummary {
  Modality modality = Modality::Video;
  std::string rel_path;
  int track_index = -1;
  int tracks_total = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  RecordStatus status = RecordStatus::Ok;
  bool error_from_content = false;
  std::string model_id, dtype, output;
  int64_t row = -1, num_clips = 0, seq = 0;
  std::vector<int64_t> shape;
};
// The summary of one manifest line, as record_from_json would read it: a direct scan of the
// JSON text (lssd's own lines and any other valid JSON), falling back to record_from_json (and
// its errors, naming `source`) when the scan does not find what it needs.
RecordSummary record_summary_from_json(const std::string& line, const std::string& source);

// The shape of an output's embeddings: [M, 5, width] for video (the five crops), [M, width]
// for audio.
std::vector<int64_t> output_shape(Modality modality, int64_t clips, int64_t width = 768);
[[deprecated("use output_shape(Modality, clips, width)")]] inline std::vector<int64_t> output_shape(
    bool video, int64_t clips, int64_t width = 768) {
  return output_shape(video ? Modality::Video : Modality::Audio, clips, width);
}

// Whether a file name is a manifest part: manifest*.jsonl (manifest.jsonl, a shard's or a writer's).
bool is_manifest_name(const std::string& filename);

// Whether record `b` takes precedence over `a` for the same input when `b` was read after `a`:
// a larger seq wins, and an equal one (or none) goes to the record read last.
inline bool supersedes(const Record& b, const Record& a) { return b.seq >= a.seq; }

// The values of Record::seq one writer gives: the wall clock in nanoseconds, but always above
// every value seen (observe()) and above the last one given. Thread-safe.
class SequenceClock {
 public:
  void observe(int64_t seq);
  int64_t next();

 private:
  std::mutex mu_;
  int64_t last_ = 0;
};

// "<rel>.npy", or "<rel>.a<stream>-<lang>.npy" for a track (lang sanitised to [a-z0-9_], "und" if none).
std::string output_name(const std::string& rel_path, int track_index = -1, const std::string& language = "");
// A path component list with no "..", "." or empty parts and no leading "/": safe under a root.
bool is_safe_relative(const std::string& rel);

// JSON strings for arbitrary bytes: valid UTF-8 is kept; otherwise invalid bytes become \xNN
// text, and the exact bytes go to a sibling "<field>_hex" entry (lssd/bytes.h). Readers restore
// the bytes.
std::string record_to_json(const Record& r);
Record record_from_json(const std::string& line, const std::string& source);

std::string manifest_name(int shard_id, int num_shards);
std::string errors_name(int shard_id, int num_shards);
// A writer's own manifest and error log (DIST.MODE claim): manifest.<writer>.jsonl, errors.<writer>.jsonl.
std::string writer_manifest_name(const std::string& writer);
std::string writer_errors_name(const std::string& writer);

// Reads every manifest*.jsonl under a modality directory, in name order; for each key the
// record that supersedes the others wins (the larger seq; else the last). A malformed line is a
// clear error naming file and line, except a torn last line (a crash mid-append), which is
// skipped with a warning.
std::vector<Record> read_manifest_dir(const std::string& modality_dir, std::vector<std::string>* warnings = nullptr);

// The manifest*.jsonl files of a modality directory, in name order ({} when it does not exist).
std::vector<std::string> manifest_files(const std::string& modality_dir);
// Calls f(line, lineno, last) for each non-empty line of `file` from byte `offset` on (lines
// numbered from `lineno` + 1); `last` is true only for a final line without a newline (perhaps a
// torn append), which complete_only leaves out (a writer may be appending it right now).
// *end_offset / *end_lineno (may be null) get where the lines given end. Throws lssd::Error
// ("read") when the file cannot be opened.
void for_each_manifest_line(const std::string& file, uint64_t offset, size_t lineno, bool complete_only,
                            const std::function<void(const std::string& line, size_t lineno, bool last)>& f,
                            uint64_t* end_offset, size_t* end_lineno);

// Appends JSON lines to one file, each write followed by fsync (durable false: no fsync, only
// for generating test and benchmark data); thread-safe.
class JsonlAppender {
 public:
  explicit JsonlAppender(const std::string& path, bool durable = true);
  ~JsonlAppender();
  void append(const std::string& json_line);
  // Several lines in one write and one fsync (the records of a sealed part).
  void append_lines(const std::vector<std::string>& json_lines);
  const std::string& path() const { return path_; }

 private:
  void write_all(const std::string& data);
  std::string path_;
  bool durable_ = true;
  int fd_ = -1;
  std::mutex mu_;
};

// A run killed mid-write (kill -9, power loss) leaves temporary files (write_file_atomic, an
// open shard part) next to the outputs. Removes them under `root` (symlinks not followed): a
// temporary that names its writer (".tmp.@<writer>@...") when writer_gone(writer) says that
// writer is gone; one without a writer id (an older lssd's) when the caller is the only writer
// (sole_writer), else when untouched for an hour. Returns how many were removed.
size_t remove_stale_temporaries(const std::string& root, bool sole_writer,
                                const std::function<bool(const std::string& writer)>& writer_gone);
// The same when no writer is alive but the caller: every temporary goes when sole_writer.
size_t remove_stale_temporaries(const std::string& root, bool sole_writer);

// Resolves `rel` under `root` and makes its parent directories; refuses (lssd::Error "output")
// a name that is unsafe or whose parent resolves outside root (a symlinked directory).
std::string safe_output_path(const std::string& root, const std::string& rel);

// Cheap validity check of an existing output: the file's size is the one lssd writes for
// `shape` in `dtype` (one stat, nothing read); otherwise (a header of another length, another
// dtype) the .npy header is read: it parses, the file size matches it and the shape is `shape`.
// A missing or unreadable file is not valid. Never throws.
bool output_is_valid(const std::string& npy_path, const std::vector<int64_t>& shape,
                     NpyDtype dtype = NpyDtype::Float32);

// The model id recorded with every output, part of the resume check: the first 16 hex digits
// of sha256(file_sha256 "\n" output_key_text), where output_key_text lists the config keys that
// change outputs; a video id also names the video reading rule (video_read_rule > 0 appends
// "\nvideo_read_rule=<n>"), so that outputs read under an older rule are recomputed.
std::string model_id(const std::string& file_sha256, const std::string& output_key_text, int video_read_rule);

// One error line for errors.jsonl: path, modality ("" for a path that could not be read), the
// audio track (-1: none), stage, message, and "from_content": true for a failure of the file's
// content (a rerun does not retry the unchanged file).
std::string error_to_json(const std::string& path, const std::string& modality, const std::string& stage,
                          const std::string& message, int track_index = -1, bool from_content = false);

// Rewrites an error log (atomically) without the entries that `retried(path, modality)` names:
// a rerun tries those inputs again and logs them again only if they still fail, so the log keeps
// one entry per failed input and modality (and track), a fixed input leaves it, and an input not
// retried (failed earlier) keeps its entry. Lines that do not parse are kept. A missing file is
// not an error. Returns the number of entries removed. Throws lssd::Error ("output") when the log
// cannot be rewritten.
size_t prune_error_log(const std::string& path,
                       const std::function<bool(const std::string& input_path, const std::string& modality)>& retried);

}  // namespace lssd
