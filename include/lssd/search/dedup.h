// Near-duplicate files: pairs of files that share a run of at least N consecutive clips whose
// vectors score at least T against the other file's clips at one consistent offset (a
// re-encode, a trimmed copy, a clip inside a compilation).
//
// Method: every clip is a query of a batched k-nearest-neighbour search (exact or IVF); hits of
// another file scoring >= T are clip matches. Matches of a file pair are grouped by diagonal
// (clip index in a minus clip index in b), and a run is a stretch of consecutive clip indices
// on one diagonal. The offset is on the clip grid: a shift between grid points (4.5 s with 3 s
// clips) shows as the neighbouring grid offset that matches best (3 s or 6 s).
#pragma once
#include <cstdint>
#include <vector>

#include "lssd/search/catalog.h"
#include "lssd/search/index.h"

namespace lssd::search {

struct DedupOptions {
  double threshold = 0.9;  // clip match: score >= threshold (placeholder until measured on real weights)
  int64_t min_clips = 3;   // a run of at least this many consecutive clips
  int neighbors = 32;      // nearest neighbours looked at per clip
  int64_t batch = 4096;    // queries per FAISS search call
};

struct ClipMatch {
  int64_t row_a = 0, row_b = 0;  // row_a < row_b, rows of different files
  float score = 0;
};

struct DedupStats {
  int64_t queries = 0;    // clips searched
  int64_t matches = 0;    // distinct clip pairs of different files >= threshold
  int64_t saturated = 0;  // queries whose last neighbour still scored >= threshold (raise neighbors)
};

struct DuplicatePair {
  size_t file_a = 0, file_b = 0;                 // catalog files; b's run starts offset_s seconds into a's
  int64_t first_a = 0, first_b = 0, length = 0;  // the run: clips first_a.. of a, first_b.. of b
  double offset_s = 0;                           // median over the run of (start in a - start in b), >= 0
  double mean_score = 0, min_score = 0;
  int64_t runs = 0;  // runs of >= min_clips clips for this pair (the longest is reported)
};

// The clip matches of every present row, found with batched searches of `index` (which must
// index the same rows as `m`). Throws lssd::Error("search") on invalid options.
std::vector<ClipMatch> find_clip_matches(const Catalog& cat, const ClipMatrix& m, const KnnIndex& index,
                                         const DedupOptions& opts, DedupStats* stats = nullptr);

// The duplicate pairs among `matches`: for each file pair its longest run (then the higher
// mean score, then the smaller offset), if at least min_clips long. Sorted by run length, then
// mean score (both descending), then file order.
std::vector<DuplicatePair> find_duplicate_runs(const Catalog& cat, std::vector<ClipMatch> matches,
                                               const DedupOptions& opts);

}  // namespace lssd::search
