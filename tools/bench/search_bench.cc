// Similarity-search benchmark (not a test): the lssd_search indexes on N synthetic unit vectors
// from a fixed generator, as lssd-read search / dedup use them. See tools/bench/search.md.
//
// Data: `clusters` Gaussian clusters in `dim` dimensions. Centre c: N(0, 1) per coordinate,
// L2-normalised. Vector i: the centre of cluster (i mod clusters) plus N(0, sigma^2 / dim) per
// coordinate, L2-normalised (sigma 1: a vector's cosine to its centre is ~0.71). Each centre and
// each vector has its own std::mt19937_64 seeded from (seed, index), so the data do not depend
// on the thread count. Queries: `queries` further vectors of the same generator (not in the
// index), the i-th from cluster (i * 7919 mod clusters).
//
// Measured: generation; exact search (ExactIndex: FAISS brute force + double rescoring), one
// query at a time (median latency over --single queries) and all queries in one call
// (per-query time); IVF build (train + add); for each nprobe the same two latencies and
// recall@k against the exact top-k (|approx hits ∩ exact hits| / k, averaged); IVF save and
// load; peak RSS (getrusage); the 1-minute load average before and after each phase.
#include <sys/resource.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lssd/search/catalog.h"
#include "lssd/search/index.h"

using Clock = std::chrono::steady_clock;
namespace ls = lssd::search;

namespace {

struct Args {
  int64_t n = 1000000, dim = 768, clusters = 10000, queries = 1000, single = 30;
  int k = 10;
  double sigma = 1.0;
  uint64_t seed = 20240617;
  int64_t nlist = 0;
  std::string nprobes = "4,8,16,32,64,128";
  std::string json_path, index_path = "/tmp/lssd-search-bench.ivf.faiss";
  int threads = 0;
};

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double load_avg() {
  double l = -1;
  std::ifstream("/proc/loadavg") >> l;
  return l;
}

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

// One unit vector: `base` (may be null) plus N(0, scale^2) per coordinate, normalised.
void gaussian_vector(float* out, int64_t dim, const float* base, double scale, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  for (int64_t k = 0; k < dim; ++k) out[k] = static_cast<float>((base ? base[k] : 0.0) + scale * nd(rng));
  ls::l2_normalise(out, 1, dim);
}

// Fills rows [0, n) in parallel (each row has its own seed).
template <class F>
void parallel_rows(int64_t n, int threads, F&& f) {
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int64_t i = t; i < n; i += threads) f(i);
    });
  for (auto& th : ts) th.join();
}

struct Data {
  std::vector<float> base, queries;
};

Data generate(const Args& a) {
  std::vector<float> centres(static_cast<size_t>(a.clusters * a.dim));
  parallel_rows(a.clusters, a.threads,
                [&](int64_t c) { gaussian_vector(&centres[c * a.dim], a.dim, nullptr, 1.0, a.seed * 1000003 + c); });
  Data d;
  d.base.resize(static_cast<size_t>(a.n * a.dim));
  d.queries.resize(static_cast<size_t>(a.queries * a.dim));
  const double scale = a.sigma / std::sqrt(static_cast<double>(a.dim));
  const uint64_t vseed = (a.seed + 1) * 0x9E3779B97F4A7C15ULL;
  parallel_rows(a.n, a.threads, [&](int64_t i) {
    gaussian_vector(&d.base[i * a.dim], a.dim, &centres[(i % a.clusters) * a.dim], scale, vseed + i);
  });
  parallel_rows(a.queries, a.threads, [&](int64_t i) {
    gaussian_vector(&d.queries[i * a.dim], a.dim, &centres[(i * 7919 % a.clusters) * a.dim], scale, vseed + a.n + i);
  });
  return d;
}

struct Latency {
  double single_ms = 0;  // median of one-query calls
  double batch_ms = 0;   // per query, all queries in one call
};

Latency time_index(const ls::KnnIndex& ix, const Args& a, const std::vector<float>& q,
                   std::vector<std::vector<ls::Hit>>* hits) {
  Latency l;
  std::vector<double> t;
  for (int64_t i = 0; i < std::min(a.single, a.queries); ++i) {
    auto t0 = Clock::now();
    ix.search(&q[i * a.dim], 1, a.k);
    t.push_back(seconds_since(t0) * 1e3);
  }
  std::sort(t.begin(), t.end());
  l.single_ms = t.empty() ? 0 : t[t.size() / 2];
  auto t0 = Clock::now();
  *hits = ix.search(q.data(), a.queries, a.k);
  l.batch_ms = seconds_since(t0) * 1e3 / static_cast<double>(a.queries);
  return l;
}

double recall(const std::vector<std::vector<ls::Hit>>& approx, const std::vector<std::vector<ls::Hit>>& exact, int k) {
  double sum = 0;
  for (size_t i = 0; i < exact.size(); ++i) {
    std::set<int64_t> truth;
    for (const auto& h : exact[i]) truth.insert(h.row);
    int found = 0;
    for (const auto& h : approx[i]) found += static_cast<int>(truth.count(h.row));
    sum += static_cast<double>(found) / k;
  }
  return sum / static_cast<double>(exact.size());
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"lssd search benchmark: exact vs IVF on synthetic clustered unit vectors"};
  app.add_option("--n", a.n, "indexed vectors")->capture_default_str();
  app.add_option("--dim", a.dim, "dimensions")->capture_default_str();
  app.add_option("--clusters", a.clusters, "Gaussian clusters")->capture_default_str();
  app.add_option("--sigma", a.sigma, "cluster spread (noise norm)")->capture_default_str();
  app.add_option("--seed", a.seed, "generator seed")->capture_default_str();
  app.add_option("--queries", a.queries, "query vectors (recall, batch latency)")->capture_default_str();
  app.add_option("--single", a.single, "one-query calls timed (median)")->capture_default_str();
  app.add_option("-k", a.k, "neighbours")->capture_default_str();
  app.add_option("--nlist", a.nlist, "IVF cells (default: lssd's rule, sqrt(n))");
  app.add_option("--nprobe", a.nprobes, "comma-separated nprobe values (default rule: nlist/16)")
      ->capture_default_str();
  app.add_option("--index-file", a.index_path, "where the IVF index is saved and loaded back")->capture_default_str();
  app.add_option("--threads", a.threads, "generator threads (default: all CPUs)");
  app.add_option("--json", a.json_path, "write the figures here");
  CLI11_PARSE(app, argc, argv);
  if (a.threads <= 0) a.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  std::ostringstream js;
  js << "{\"n\": " << a.n << ", \"dim\": " << a.dim << ", \"clusters\": " << a.clusters << ", \"sigma\": " << a.sigma
     << ", \"seed\": " << a.seed << ", \"queries\": " << a.queries << ", \"k\": " << a.k
     << ", \"cpus\": " << std::thread::hardware_concurrency();
  auto phase = [&](const char* name, double l0) {
    std::printf("  [load %.2f -> %.2f, peak RSS %.0f MB]\n", l0, load_avg(), peak_rss_mb());
    js << ", \"" << name << "_load\": [" << l0 << ", " << load_avg() << "]";
    std::fflush(stdout);
  };

  double l0 = load_avg();
  auto t0 = Clock::now();
  Data d = generate(a);
  std::printf("generated %lld x %lld (%lld clusters, sigma %g, seed %llu) + %lld queries in %.1f s\n", (long long)a.n,
              (long long)a.dim, (long long)a.clusters, a.sigma, (unsigned long long)a.seed, (long long)a.queries,
              seconds_since(t0));
  phase("generate", l0);

  l0 = load_avg();
  ls::ExactIndex exact(d.base.data(), a.n, a.dim);
  std::vector<std::vector<ls::Hit>> truth;
  Latency le = time_index(exact, a, d.queries, &truth);
  std::printf("exact: one query %.2f ms (median of %lld), batch of %lld %.3f ms/query\n", le.single_ms,
              (long long)std::min(a.single, a.queries), (long long)a.queries, le.batch_ms);
  js << ", \"exact_single_ms\": " << le.single_ms << ", \"exact_batch_ms_per_query\": " << le.batch_ms;
  phase("exact", l0);

  l0 = load_avg();
  ls::IvfParams p = ls::ivf_params_for(a.n);
  if (a.nlist > 0) p.nlist = a.nlist;
  t0 = Clock::now();
  auto ivf = ls::IvfIndex::build(d.base.data(), a.n, a.dim, nullptr, p);
  const double build_s = seconds_since(t0);
  std::printf("IVF build (nlist %lld, default nprobe %lld): %.1f s\n", (long long)p.nlist, (long long)p.nprobe,
              build_s);
  js << ", \"nlist\": " << p.nlist << ", \"default_nprobe\": " << p.nprobe << ", \"ivf_build_s\": " << build_s;
  phase("build", l0);

  t0 = Clock::now();
  ivf->save(a.index_path);
  const double save_s = seconds_since(t0);
  t0 = Clock::now();
  auto loaded = ls::IvfIndex::load(a.index_path);
  const double load_s = seconds_since(t0);
  std::ifstream f(a.index_path, std::ios::binary | std::ios::ate);
  const double mb = static_cast<double>(f.tellg()) / 1048576.0;
  std::printf("IVF save %.1f s, load %.1f s, %.0f MB on disk\n", save_s, load_s, mb);
  js << ", \"ivf_save_s\": " << save_s << ", \"ivf_load_s\": " << load_s << ", \"ivf_file_mb\": " << mb;
  loaded.reset();
  std::remove(a.index_path.c_str());

  std::printf("\n%8s %12s %10s %14s %10s %10s\n", "nprobe", "recall@k", "one ms", "batch ms/q", "x exact1", "x batch");
  js << ", \"ivf\": [";
  std::stringstream ss(a.nprobes);
  std::string tok;
  bool first = true;
  while (std::getline(ss, tok, ',')) {
    l0 = load_avg();
    const int64_t np = std::stoll(tok);
    ivf->set_nprobe(np);
    std::vector<std::vector<ls::Hit>> hits;
    Latency li = time_index(*ivf, a, d.queries, &hits);
    const double r = recall(hits, truth, a.k);
    std::printf("%8lld %12.4f %10.3f %14.4f %10.1f %10.1f   [load %.2f -> %.2f]\n", (long long)ivf->params().nprobe, r,
                li.single_ms, li.batch_ms, le.single_ms / li.single_ms, le.batch_ms / li.batch_ms, l0, load_avg());
    std::fflush(stdout);
    js << (first ? "" : ", ") << "{\"nprobe\": " << ivf->params().nprobe << ", \"recall\": " << r
       << ", \"single_ms\": " << li.single_ms << ", \"batch_ms_per_query\": " << li.batch_ms << ", \"load\": [" << l0
       << ", " << load_avg() << "]}";
    first = false;
  }
  js << "], \"peak_rss_mb\": " << peak_rss_mb() << "}";
  std::printf("\npeak RSS %.0f MB; 1-minute load average now %.2f\n", peak_rss_mb(), load_avg());
  if (!a.json_path.empty()) std::ofstream(a.json_path) << js.str() << "\n";
  return 0;
}
