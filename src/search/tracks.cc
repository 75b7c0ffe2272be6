#include "lssd/search/tracks.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "lssd/error.h"

namespace lssd::search {
namespace {

// Containers (by rel_path, in catalog order) with their tracks.
std::vector<TrackContainer> group_tracks(const Catalog& cat, const std::string& only) {
  std::vector<TrackContainer> out;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < cat.files().size(); ++i) {
    const Record& r = cat.files()[i].record;
    if (r.track_index < 0) continue;
    if (!only.empty() && r.rel_path != only && r.path != only) continue;
    auto it = index.find(r.rel_path);
    if (it == index.end()) {
      it = index.emplace(r.rel_path, out.size()).first;
      out.push_back({r.rel_path, r.path, {}});
    }
    out[it->second].files.push_back(i);  // reader order: by track index
  }
  out.erase(std::remove_if(out.begin(), out.end(), [](const TrackContainer& c) { return c.files.size() < 2; }),
            out.end());
  return out;
}

// Appends [s, e) to `ranges`, merging with the last range when they touch or overlap.
void add_range(std::vector<TimeRange>& ranges, double s, double e) {
  if (!ranges.empty() && s <= ranges.back().stop_s)
    ranges.back().stop_s = std::max(ranges.back().stop_s, e);
  else
    ranges.push_back({s, e});
}

TrackPair compare_tracks(const Catalog& cat, size_t fa, size_t fb, const FloatArray& va, const FloatArray& vb,
                         double threshold) {
  TrackPair p;
  p.file_a = fa;
  p.file_b = fb;
  p.clips_a = va.shape[0];
  p.clips_b = vb.shape[0];
  const int64_t dim = va.shape[1], n = std::min(p.clips_a, p.clips_b);
  const auto& ra = cat.files()[fa].record.ranges;
  const auto& rb = cat.files()[fb].record.ranges;
  double sum = 0;
  p.min = n ? std::numeric_limits<double>::infinity() : std::nan("");
  for (int64_t c = 0; c < n; ++c) {
    double s = 0;
    for (int64_t k = 0; k < dim; ++k) s += static_cast<double>(va.data[c * dim + k]) * vb.data[c * dim + k];
    p.cosine.push_back(s);
    sum += s;
    p.min = std::min(p.min, s);
    if (s < threshold) add_range(p.below, ra.at(c).start_s, ra.at(c).stop_s);
  }
  p.mean = n ? sum / static_cast<double>(n) : std::nan("");
  const auto& longer = p.clips_a > p.clips_b ? ra : rb;
  for (int64_t c = n; c < std::max(p.clips_a, p.clips_b); ++c)
    add_range(p.unpaired, longer.at(c).start_s, longer.at(c).stop_s);
  return p;
}

}  // namespace

TracksReport track_consistency(const ModalityReader& mr, const Catalog& cat, double threshold,
                               const std::string& only) {
  if (mr.modality() != Modality::Audio)
    throw Error("search", "tracks compares audio tracks; got a " + cat.mtype() + " catalog");
  TracksReport rep;
  rep.threshold = threshold;
  rep.containers = group_tracks(cat, only);
  if (rep.containers.empty())
    throw Error(
        "search",
        only.empty()
            ? "no container with two or more embedded audio tracks (run lssd-infer with DATA.AUDIO_FROM_VIDEO True)"
            : "'" + only + "' has fewer than two embedded audio tracks",
        mr.dir());
  for (size_t ci = 0; ci < rep.containers.size(); ++ci) {
    const auto& files = rep.containers[ci].files;
    std::vector<FloatArray> vec(files.size());
    std::vector<bool> ok(files.size(), true);
    for (size_t t = 0; t < files.size(); ++t) {
      try {
        vec[t] = load_file_vectors(mr, cat.files()[files[t]]);
      } catch (const Error& e) {
        rep.problems.push_back(e.what());
        ok[t] = false;
      }
    }
    for (size_t a = 0; a < files.size(); ++a)
      for (size_t b = a + 1; b < files.size(); ++b) {
        if (!ok[a] || !ok[b]) continue;
        TrackPair p = compare_tracks(cat, files[a], files[b], vec[a], vec[b], threshold);
        p.container = ci;
        rep.pairs.push_back(std::move(p));
      }
  }
  // Worst first; a pair with no shared clip (NaN) before all.
  std::stable_sort(rep.pairs.begin(), rep.pairs.end(), [](const TrackPair& x, const TrackPair& y) {
    const bool nx = std::isnan(x.min), ny = std::isnan(y.min);
    if (nx != ny) return nx;
    return !nx && x.min < y.min;
  });
  return rep;
}

}  // namespace lssd::search
