// The output stage: where each input's embedding goes, the manifest and error logs, and the
// resume check. Layout under OUTPUT_DIR:
//   config.yaml                          the resolved config of the last run
//   errors.jsonl | errors.shard-I-of-N.jsonl     one line per failed input
//   <video|audio>/<rel_path>.npy         [M,5,768] / [M,768] float32 (or float16)
//   audio/<rel_path>.a<stream>-<lang>.npy        an audio track of a video container
//   <video|audio>/manifest.jsonl | manifest.shard-I-of-N.jsonl   one record per input
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

namespace lssd {

constexpr int kManifestVersion = 1;

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
  int version = kManifestVersion;
  Modality modality = Modality::Video;
  std::string path;      // input path as discovered (raw bytes)
  std::string rel_path;  // relative name (raw bytes)
  std::string output;    // the .npy relative to OUTPUT_DIR/<modality>/ ("" unless ok)
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

  // The identity of an output: modality, rel_path and track.
  std::string key() const;
};

// The shape of an output's embeddings: [M, 5, width] for video (the five crops), [M, width]
// for audio.
std::vector<int64_t> output_shape(Modality modality, int64_t clips, int64_t width = 768);
[[deprecated("use output_shape(Modality, clips, width)")]] inline std::vector<int64_t> output_shape(
    bool video, int64_t clips, int64_t width = 768) {
  return output_shape(video ? Modality::Video : Modality::Audio, clips, width);
}

// Whether a file name is a manifest part: manifest*.jsonl (manifest.jsonl or a shard's).
bool is_manifest_name(const std::string& filename);

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

// Reads every manifest*.jsonl under a modality directory, in name order; for each key the last
// record wins. A malformed line is a clear error naming file and line, except a torn last line
// (a crash mid-append), which is skipped with a warning.
std::vector<Record> read_manifest_dir(const std::string& modality_dir, std::vector<std::string>* warnings = nullptr);

// Appends JSON lines to one file, each write followed by fsync; thread-safe.
class JsonlAppender {
 public:
  explicit JsonlAppender(const std::string& path);
  ~JsonlAppender();
  void append(const std::string& json_line);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::mutex mu_;
};

// A run killed mid-write (kill -9, power loss) leaves `.tmp.<name>.<n>` files (write_file_atomic)
// next to the outputs. Removes them under `root` (symlinks not followed): every one when the
// caller is the only writer (one shard), else only those untouched for an hour (another shard
// may be writing its own right now). Returns how many were removed.
size_t remove_stale_temporaries(const std::string& root, bool sole_writer);

// Resolves `rel` under `root` and makes its parent directories; refuses (lssd::Error "output")
// a name that is unsafe or whose parent resolves outside root (a symlinked directory).
std::string safe_output_path(const std::string& root, const std::string& rel);

// Cheap validity check of an existing output: the .npy header parses, the file size matches,
// and the shape is the one recorded.
bool output_is_valid(const std::string& npy_path, const std::vector<int64_t>& shape);

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
