// The discover stage: input root or list file -> sorted, de-duplicated inputs with their
// relative names, media kind and file identity; the shard filter is applied here.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lssd/modality.h"
#include "lssd/options.h"

namespace lssd {

struct InputFile {
  std::string path;               // as the release names it: data dir joined with the relative path
  std::string rel_path;           // the output name: relative to the data dir (list inputs: see below)
  bool is_video_ext = false;      // matched a video extension (video embedding)
  bool is_audio_ext = false;      // matched an audio extension (audio embedding)
  bool is_container_ext = false;  // a video container whose audio tracks may be embedded
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

struct DiscoverProblem {
  std::string path;
  std::string message;
};

struct DiscoverResult {
  std::vector<InputFile> files;           // sorted by rel_path (byte order), this shard only
  std::vector<DiscoverProblem> problems;  // unreadable entries, symlink loops, missing list items
  size_t total_before_shard = 0;
  // Files of the walk left out because no extension list names their extension ("" for none),
  // before sharding; extensions that only a disabled modality names are not counted.
  std::map<std::string, int64_t> ignored_extensions;
  // opts.exclude_dir (OUTPUT_DIR) lies inside the data dir: its subtree is left out of the walk.
  bool excluded_dir_inside = false;
};

// Walks opts.data_dir recursively (following symlinks, with loop detection) or reads
// opts.file_list. Extensions: opts.video_exts / audio_exts (+ media.video_container_exts when
// media.audio_from_video). opts.exclude_dir (OUTPUT_DIR), when inside the data dir, is left out
// of the walk (excluded_dir_inside). Throws lssd::ConfigError when neither is set, the data dir
// does not exist or is not a directory (a file gets a hint about DATA.PATH_TO_FILE_LIST), or it
// is opts.exclude_dir itself; lssd::Error("discover") when the list file cannot be read.
DiscoverResult discover(const DiscoverOptions& opts, const MediaOptions& media);

// What to tell the user about ignored_extensions: one line for media extensions (video or audio
// formats FFmpeg reads), each with the config key that would include it; "" when none.
std::string ignored_media_note(const DiscoverResult& found, const DiscoverOptions& opts);

// With DATA.AUDIO_FROM_VIDEO: how many video containers give audio inputs, by extension, and
// how many of them are read only for their audio (their video extension is in no video list);
// "" when none.
std::string audio_from_video_note(const DiscoverResult& found);

// The extension lists in words, e.g. "video [mp4, avi], audio [mp3, wav, flac, opus]
// (case-sensitive)", for messages.
std::string describe_extension_lists(const DiscoverOptions& opts);

// The output-relative name of a list-file entry: relative paths stay (with `..` components
// mapped to `_up_`), absolute paths go under `_abs/`.
std::string list_entry_rel_path(const std::string& entry);

// Which shard (0..n-1) a relative path belongs to: a stable hash, so that every array task
// agrees even if it sees a slightly different listing.
int shard_of(const std::string& rel_path, int num_shards);

// Fills num_shards/shard_id from SLURM_ARRAY_TASK_ID/_COUNT (relative to _MIN) or
// JOB_COMPLETION_INDEX + LSSD_NUM_SHARDS, unless the config named DIST.* explicitly.
// Returns a description of where the values came from.
std::string shard_from_environment(DiscoverOptions* opts, bool keys_set_explicitly);

}  // namespace lssd
