#include "lssd/search/dedup.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "lssd/error.h"

namespace lssd::search {
namespace {

void check(const DedupOptions& o) {
  if (!(o.threshold >= -1 && o.threshold <= 1)) throw Error("search", "the threshold must be within [-1, 1]");
  if (o.min_clips < 1) throw Error("search", "min_clips must be at least 1");
  if (o.neighbors < 2) throw Error("search", "neighbors must be at least 2");
  if (o.batch < 1) throw Error("search", "batch must be at least 1");
}

// One match placed on its file pair's diagonal.
struct Placed {
  size_t fa, fb;
  int64_t ca, cb;
  float score;
  int64_t diag() const { return ca - cb; }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The run matches[b, e) (one diagonal, consecutive clips) as a pair, oriented so that offset >= 0.
DuplicatePair make_run(const Catalog& cat, const std::vector<Placed>& p, size_t b, size_t e) {
  DuplicatePair d;
  d.file_a = p[b].fa;
  d.file_b = p[b].fb;
  d.first_a = p[b].ca;
  d.first_b = p[b].cb;
  d.length = static_cast<int64_t>(e - b);
  std::vector<double> offsets;
  double sum = 0;
  d.min_score = 1e9;
  const auto& fa = cat.files()[d.file_a];
  const auto& fb = cat.files()[d.file_b];
  for (size_t i = b; i < e; ++i) {
    offsets.push_back(cat.range(fa.first_row + p[i].ca).start_s - cat.range(fb.first_row + p[i].cb).start_s);
    sum += p[i].score;
    d.min_score = std::min(d.min_score, static_cast<double>(p[i].score));
  }
  d.mean_score = sum / static_cast<double>(d.length);
  d.offset_s = median(offsets);
  if (d.offset_s < 0) {
    std::swap(d.file_a, d.file_b);
    std::swap(d.first_a, d.first_b);
    d.offset_s = -d.offset_s;
  }
  return d;
}

// a is a better run than b for the same file pair.
bool better_run(const DuplicatePair& a, const DuplicatePair& b) {
  if (a.length != b.length) return a.length > b.length;
  if (a.mean_score != b.mean_score) return a.mean_score > b.mean_score;
  return a.offset_s < b.offset_s;
}

}  // namespace

std::vector<ClipMatch> find_clip_matches(const Catalog& cat, const ClipMatrix& m, const KnnIndex& index,
                                         const DedupOptions& opts, DedupStats* stats) {
  check(opts);
  DedupStats st;
  std::vector<ClipMatch> out;
  std::vector<int64_t> rows;
  std::vector<float> q;
  for (int64_t start = 0; start < m.rows; start += opts.batch) {
    rows.clear();
    for (int64_t r = start; r < std::min(m.rows, start + opts.batch); ++r)
      if (m.present.empty() || m.present[static_cast<size_t>(r)]) rows.push_back(r);
    if (rows.empty()) continue;
    q.resize(rows.size() * static_cast<size_t>(m.dim));
    for (size_t i = 0; i < rows.size(); ++i)
      std::copy_n(m.row(rows[i]), m.dim, q.begin() + static_cast<int64_t>(i) * m.dim);
    auto hits = index.search(q.data(), static_cast<int64_t>(rows.size()), opts.neighbors);
    for (size_t i = 0; i < rows.size(); ++i) {
      const size_t fq = cat.locate(rows[i]).first;
      const auto& h = hits[i];
      ++st.queries;
      if (static_cast<int>(h.size()) == opts.neighbors && h.back().score >= opts.threshold) ++st.saturated;
      for (const Hit& x : h) {
        if (x.score < opts.threshold) break;  // hits are sorted
        if (cat.locate(x.row).first == fq) continue;
        out.push_back({std::min(rows[i], x.row), std::max(rows[i], x.row), x.score});
      }
    }
  }
  // Each pair is usually found from both sides: keep one (the higher score).
  std::sort(out.begin(), out.end(), [](const ClipMatch& a, const ClipMatch& b) {
    return std::tie(a.row_a, a.row_b, b.score) < std::tie(b.row_a, b.row_b, a.score);
  });
  out.erase(
      std::unique(out.begin(), out.end(),
                  [](const ClipMatch& a, const ClipMatch& b) { return a.row_a == b.row_a && a.row_b == b.row_b; }),
      out.end());
  st.matches = static_cast<int64_t>(out.size());
  if (stats) *stats = st;
  return out;
}

std::vector<DuplicatePair> find_duplicate_runs(const Catalog& cat, std::vector<ClipMatch> matches,
                                               const DedupOptions& opts) {
  check(opts);
  std::vector<Placed> p;
  p.reserve(matches.size());
  for (const auto& mt : matches) {
    auto [fa, ca] = cat.locate(mt.row_a);
    auto [fb, cb] = cat.locate(mt.row_b);
    if (fa == fb) continue;
    if (fa > fb) {
      std::swap(fa, fb);
      std::swap(ca, cb);
    }
    p.push_back({fa, fb, ca, cb, mt.score});
  }
  matches = {};
  std::sort(p.begin(), p.end(), [](const Placed& a, const Placed& b) {
    return std::make_tuple(a.fa, a.fb, a.diag(), a.ca) < std::make_tuple(b.fa, b.fb, b.diag(), b.ca);
  });
  std::map<std::pair<size_t, size_t>, DuplicatePair> best;
  for (size_t b = 0; b < p.size();) {
    size_t e = b + 1;
    while (e < p.size() && p[e].fa == p[b].fa && p[e].fb == p[b].fb && p[e].diag() == p[b].diag() &&
           p[e].ca == p[e - 1].ca + 1)
      ++e;
    if (static_cast<int64_t>(e - b) >= opts.min_clips) {
      DuplicatePair run = make_run(cat, p, b, e);
      auto key = std::make_pair(p[b].fa, p[b].fb);
      auto it = best.find(key);
      if (it == best.end()) {
        run.runs = 1;
        best.emplace(key, run);
      } else {
        run.runs = it->second.runs + 1;
        if (better_run(run, it->second))
          it->second = run;
        else
          it->second.runs = run.runs;
      }
    }
    b = e;
  }
  std::vector<DuplicatePair> out;
  for (auto& kv : best) out.push_back(kv.second);
  std::stable_sort(out.begin(), out.end(), [](const DuplicatePair& a, const DuplicatePair& b) {
    if (a.length != b.length) return a.length > b.length;
    return a.mean_score > b.mean_score;
  });
  return out;
}

}  // namespace lssd::search
