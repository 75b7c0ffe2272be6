// Dub consistency: the audio tracks of one container (DATA.AUDIO_FROM_VIDEO) should embed
// alike clip by clip (LSSD's premise). For every container with two or more embedded tracks and
// every pair of its tracks: the cosine of each clip (clip vectors, see catalog.h; clips paired
// by index), the mean and the minimum, and the time ranges of clips below a threshold. A track
// that is silent, cut, out of sync or from another title stands out.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lssd/search/catalog.h"

namespace lssd::search {

struct TimeRange {
  double start_s = 0, stop_s = 0;
};

struct TrackPair {
  size_t container = 0;           // index into TracksReport::containers
  size_t file_a = 0, file_b = 0;  // catalog files (track a's index < track b's)
  int64_t clips_a = 0, clips_b = 0;
  std::vector<double> cosine;       // per clip, for the min(clips_a, clips_b) clips both have
  double mean = 0, min = 0;         // over `cosine` (NaN when no clip is shared)
  std::vector<TimeRange> below;     // clips with cosine < threshold, adjacent ones merged
  std::vector<TimeRange> unpaired;  // clips only the longer track has (a cut track)
  bool flagged() const { return !below.empty() || !unpaired.empty(); }
};

struct TrackContainer {
  std::string rel_path, path;
  std::vector<size_t> files;  // its tracks' catalog files, by track index
};

struct TracksReport {
  double threshold = 0;
  std::vector<TrackContainer> containers;
  std::vector<TrackPair> pairs;       // worst first: by min cosine, then container and tracks
  std::vector<std::string> problems;  // tracks that could not be loaded (left out)
};

// `cat` must be an audio catalog of `mr`. `only` (rel_path or input path, "" for all) limits
// the report to one container. Throws lssd::Error("search") when no container (or not `only`)
// has two or more embedded tracks.
TracksReport track_consistency(const ModalityReader& mr, const Catalog& cat, double threshold,
                               const std::string& only = "");

}  // namespace lssd::search
