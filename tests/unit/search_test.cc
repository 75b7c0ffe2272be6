// lssd_search on synthetic output directories: clip vectors, the catalog (order, model-id
// refusal, fingerprint), exact search against a brute force under the tie rule, the IVF index
// (equal to exact when every cell is scanned; saved, loaded, rebuilt when the manifest state
// changes), dedup (copies shifted by 3 s and 4.5 s, a clip inside a compilation, unrelated
// files) and tracks (identical for 6 s, then different; a cut track).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "lssd/error.h"
#include "lssd/npy.h"
#include "lssd/output.h"
#include "lssd/reader.h"
#include "lssd/search/catalog.h"
#include "lssd/search/dedup.h"
#include "lssd/search/index.h"
#include "lssd/search/index_store.h"
#include "lssd/search/tracks.h"
#include "random_unit.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
namespace ls = lssd::search;
using lssd::FloatArray;

namespace {

constexpr int64_t kDim = 768;

fs::path temp_dir(const std::string& name) { return lssd::test::temp_dir("search", name); }

std::vector<float> unit(uint64_t seed) { return lssd::test::random_unit(seed, kDim); }

std::vector<float> mix(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> v(kDim);
  for (int64_t k = 0; k < kDim; ++k) v[k] = a[k] + b[k];
  ls::l2_normalise(v.data(), 1, kDim);
  return v;
}

struct FileSpec {
  std::string rel;
  std::vector<std::vector<float>> clips;  // one vector per clip (audio) or per clip, all crops (video)
  int track = -1;
  std::string model_id = "model-a";
  double step = 3.0;
};

// Writes one ok record (npy + manifest line) as the pipeline does; clip i covers [step*i, step*i+3].
lssd::Record add_file(const fs::path& root, const std::string& mtype, const FileSpec& f) {
  lssd::Record r;
  EXPECT_TRUE(lssd::parse_modality(mtype, &r.modality));
  r.path = "data/" + f.rel;
  r.rel_path = f.rel;
  r.track_index = f.track;
  if (f.track >= 0) {
    r.track_language = "l" + std::to_string(f.track);
    r.tracks_total = 2;
  }
  r.output = lssd::output_name(f.rel, f.track, r.track_language);
  r.status = lssd::RecordStatus::Ok;
  const int64_t m = static_cast<int64_t>(f.clips.size());
  r.num_clips = m;
  r.shape = mtype == "video" ? std::vector<int64_t>{m, 5, kDim} : std::vector<int64_t>{m, kDim};
  FloatArray a(r.shape);
  for (int64_t i = 0; i < m; ++i) {
    r.ranges.push_back({f.step * i, f.step * i + 3, mtype == "audio" ? 48000 * 3 * i : -1,
                        mtype == "audio" ? 48000 * 3 * (i + 1) : -1});
    const int64_t crops = mtype == "video" ? 5 : 1;
    for (int64_t c = 0; c < crops; ++c)
      for (int64_t k = 0; k < kDim; ++k)  // video: crops that average to the vector (scaled)
        a.data[(i * crops + c) * kDim + k] = f.clips[i][k] * (0.5f + 0.25f * static_cast<float>(c));
  }
  r.fps = 25;
  r.sample_rate = 48000;
  r.dtype = "float32";
  r.model_id = f.model_id;
  fs::path mdir = root / mtype;
  lssd::write_npy(lssd::safe_output_path(mdir.string(), r.output), a);
  lssd::JsonlAppender((mdir / "manifest.jsonl").string()).append(lssd::record_to_json(r));
  return r;
}

std::vector<std::vector<float>> random_clips(int n, uint64_t seed) {
  std::vector<std::vector<float>> v;
  for (int i = 0; i < n; ++i) v.push_back(unit(seed * 1000 + i));
  return v;
}

// Brute force: every present row's double inner product rounded to float, sorted by the tie rule.
std::vector<ls::Hit> brute_force(const ls::ClipMatrix& m, const float* q, size_t k) {
  std::vector<ls::Hit> all;
  for (int64_t r = 0; r < m.rows; ++r) {
    if (!m.present[r]) continue;
    double s = 0;
    for (int64_t i = 0; i < m.dim; ++i) s += static_cast<double>(q[i]) * m.row(r)[i];
    all.push_back({r, static_cast<float>(s)});
  }
  ls::sort_hits(all, k);
  return all;
}

std::vector<int64_t> rows_of(const std::vector<ls::Hit>& h) {
  std::vector<int64_t> r;
  for (const auto& x : h) r.push_back(x.row);
  return r;
}

}  // namespace

TEST(SearchVectors, VideoIsTheNormalisedMeanOfItsCropsAudioIsNormalised) {
  FloatArray v({2, 5, 3});
  for (size_t i = 0; i < v.numel(); ++i) v.data[i] = static_cast<float>(i % 7) - 2.0f;
  FloatArray c = ls::clip_vectors(v);
  ASSERT_EQ(c.shape, (std::vector<int64_t>{2, 3}));
  for (int64_t m = 0; m < 2; ++m) {
    double mean[3] = {0, 0, 0}, n = 0;
    for (int64_t k = 0; k < 3; ++k) {
      for (int64_t crop = 0; crop < 5; ++crop) mean[k] += v.data[(m * 5 + crop) * 3 + k] / 5.0;
      n += mean[k] * mean[k];
    }
    for (int64_t k = 0; k < 3; ++k) EXPECT_NEAR(c.data[m * 3 + k], mean[k] / std::sqrt(n), 1e-7);
  }
  FloatArray a({2, 4});
  a.data = {3, 4, 0, 0, 0, 0, 0, 0};
  FloatArray ca = ls::clip_vectors(a);
  EXPECT_EQ(ca.data, (std::vector<float>{0.6f, 0.8f, 0, 0, 0, 0, 0, 0}));  // a zero vector stays zero
  EXPECT_THROW(ls::clip_vectors(FloatArray({4})), lssd::Error);
}

TEST(SearchCatalog, RowsFollowReaderOrderAndMixedModelsAreRefused) {
  fs::path d = temp_dir("catalog");
  add_file(d, "audio", {"b.wav", random_clips(3, 1)});
  add_file(d, "audio", {"a.mkv", random_clips(2, 2), 2});
  add_file(d, "audio", {"a.mkv", random_clips(1, 3), 1});
  lssd::ModalityReader mr(d.string(), "audio");
  ls::Catalog cat(mr);
  ASSERT_EQ(cat.rows(), 6);
  EXPECT_EQ(cat.files()[0].record.track_index, 1);  // a.mkv track 1, a.mkv track 2, b.wav
  EXPECT_EQ(cat.files()[2].record.rel_path, "b.wav");
  EXPECT_EQ(cat.locate(0), (std::pair<size_t, int64_t>{0, 0}));
  EXPECT_EQ(cat.locate(2), (std::pair<size_t, int64_t>{1, 1}));
  EXPECT_EQ(cat.locate(5), (std::pair<size_t, int64_t>{2, 2}));
  EXPECT_THROW(cat.locate(6), lssd::Error);
  EXPECT_EQ(cat.range(5).start_s, 6.0);
  EXPECT_EQ(cat.find("a.mkv").size(), 2u);
  EXPECT_EQ(cat.find("data/a.mkv", 2), std::vector<size_t>{1});
  EXPECT_TRUE(cat.find("a.mkv", -1).empty());
  ls::ClipMatrix m = ls::load_clip_matrix(mr, cat);
  EXPECT_EQ(std::vector<float>(m.row(5), m.row(5) + kDim), random_clips(3, 1)[2]);

  add_file(d, "audio", {"c.wav", random_clips(1, 4), -1, "model-b"});
  lssd::ModalityReader mr2(d.string(), "audio");
  try {
    ls::Catalog bad(mr2);
    FAIL() << "mixed model ids accepted";
  } catch (const lssd::Error& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("model-a"), std::string::npos) << w;
    EXPECT_NE(w.find("model-b"), std::string::npos) << w;
    EXPECT_NE(w.find("--model-id"), std::string::npos) << w;
  }
  EXPECT_EQ(ls::Catalog(mr2, {"model-b", ""}).rows(), 1);
  EXPECT_EQ(ls::Catalog(mr2, {"model-a", ""}).rows(), 6);
  EXPECT_THROW(ls::Catalog(mr2, {"model-c", ""}), lssd::Error);
}

TEST(SearchCatalog, FingerprintChangesWithTheManifestAndTheArrays) {
  fs::path d = temp_dir("fingerprint");
  lssd::Record r = add_file(d, "audio", {"a.wav", random_clips(2, 1)});
  const std::string f0 = ls::Catalog(lssd::ModalityReader(d.string(), "audio")).fingerprint();
  EXPECT_EQ(ls::Catalog(lssd::ModalityReader(d.string(), "audio")).fingerprint(), f0);
  EXPECT_NE(ls::Catalog(lssd::ModalityReader(d.string(), "audio"), {"model-a", ""}).fingerprint(), f0);
  // The same record and array rewritten (a rerun): another modification time.
  const fs::path npy = d / "audio" / r.output;
  struct timespec ts[2] = {{0, UTIME_OMIT}, {1000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, npy.c_str(), ts, 0), 0);
  const std::string f1 = ls::Catalog(lssd::ModalityReader(d.string(), "audio")).fingerprint();
  EXPECT_NE(f1, f0);
  add_file(d, "audio", {"b.wav", random_clips(1, 2)});
  EXPECT_NE(ls::Catalog(lssd::ModalityReader(d.string(), "audio")).fingerprint(), f1);
}

TEST(SearchCatalog, AFileWithNaNIsLeftOutAndNamed) {
  fs::path d = temp_dir("nan");
  add_file(d, "audio", {"a.wav", random_clips(2, 1)});
  auto clips = random_clips(2, 2);
  clips[1][5] = std::nanf("");
  lssd::Record bad = add_file(d, "audio", {"b.wav", clips});
  lssd::ModalityReader mr(d.string(), "audio");
  ls::Catalog cat(mr);
  ls::ClipMatrix m = ls::load_clip_matrix(mr, cat);
  EXPECT_EQ(m.present, (std::vector<uint8_t>{1, 1, 0, 0}));
  ASSERT_EQ(m.problems.size(), 1u);
  EXPECT_NE(m.problems[0].find(bad.output), std::string::npos) << m.problems[0];
  EXPECT_NE(m.problems[0].find("NaN"), std::string::npos) << m.problems[0];
}

// Exact search equals the brute force, in the same order (ties by row), with duplicate vectors
// making ties at every rank and at the k boundary; absent rows are never returned.
TEST(SearchExact, EqualsBruteForceUnderTheTieRule) {
  const int64_t n = 600;
  ls::ClipMatrix m;
  m.rows = n;
  m.dim = kDim;
  m.present.assign(n, 1);
  for (int64_t r = 0; r < n; ++r) {
    // 150 distinct vectors, each four times (rows r, r+150, ...), plus a shared component.
    std::vector<float> v = unit(r % 150), base = unit(9999);
    for (int64_t k = 0; k < kDim; ++k) v[k] = v[k] + 0.8f * base[k];
    ls::l2_normalise(v.data(), 1, kDim);
    m.data.insert(m.data.end(), v.begin(), v.end());
  }
  m.present[7] = 0;
  ls::ExactIndex ix(m.data.data(), n, kDim, m.present.data());
  std::vector<float> q;
  for (int64_t r : {0, 7, 33, 149, 598}) q.insert(q.end(), m.row(r), m.row(r) + kDim);
  const std::vector<float> other = unit(424242);
  q.insert(q.end(), other.begin(), other.end());
  for (int k : {1, 3, 10, 50}) {
    auto hits = ix.search(q.data(), 6, k);
    for (int i = 0; i < 6; ++i) {
      auto want = brute_force(m, q.data() + i * kDim, static_cast<size_t>(k));
      EXPECT_EQ(rows_of(hits[i]), rows_of(want)) << "query " << i << " k " << k;
      for (size_t j = 0; j < want.size(); ++j) EXPECT_EQ(hits[i][j].score, want[j].score);
    }
  }
  auto self = ix.search(m.row(33), 1, 4)[0];
  EXPECT_EQ(rows_of(self), (std::vector<int64_t>{33, 183, 333, 483}));  // four equal vectors, by row
  EXPECT_GE(self[0].score, 1 - 1e-6);
  auto all = ix.search(q.data(), 1, 1000)[0];
  EXPECT_EQ(all.size(), static_cast<size_t>(n - 1));  // every present row, no more
}

TEST(SearchIvf, ScanningEveryCellEqualsExactAndSaveLoadKeepsResults) {
  const int64_t n = 2000;
  ls::ClipMatrix m;
  m.rows = n;
  m.dim = kDim;
  m.present.assign(n, 1);
  for (int64_t r = 0; r < n; ++r) {
    std::vector<float> v = unit(r), c = unit(100000 + r % 20);
    for (int64_t k = 0; k < kDim; ++k) v[k] = c[k] + 0.7f * v[k];
    ls::l2_normalise(v.data(), 1, kDim);
    m.data.insert(m.data.end(), v.begin(), v.end());
  }
  m.present[5] = 0;
  ls::IvfParams p = ls::ivf_params_for(4000);
  EXPECT_EQ(p.nlist, 32);
  EXPECT_EQ(p.nprobe, 1);
  EXPECT_EQ(ls::ivf_params_for(1000000).nlist, 500);
  EXPECT_EQ(ls::ivf_params_for(1000000).nprobe, 4);
  EXPECT_EQ(ls::ivf_params_for(10).nlist, 1);
  auto ivf = ls::IvfIndex::build(m.data.data(), n, kDim, m.present.data(), {16, 16});
  EXPECT_EQ(ivf->size(), n - 1);
  ls::ExactIndex exact(m.data.data(), n, kDim, m.present.data());
  const int nq = 20;
  std::vector<float> q(m.data.begin(), m.data.begin() + nq * kDim);
  auto e = exact.search(q.data(), nq, 10);
  auto a = ivf->search(q.data(), nq, 10);
  for (int i = 0; i < nq; ++i) {
    EXPECT_EQ(rows_of(a[i]), rows_of(e[i])) << "query " << i;
    for (size_t j = 0; j < e[i].size(); ++j) EXPECT_NEAR(a[i][j].score, e[i][j].score, 1e-5);
  }
  const std::string path = (temp_dir("ivf") / "x.ivf.faiss").string();
  ivf->save(path);
  auto back = ls::IvfIndex::load(path);
  EXPECT_EQ(back->params().nlist, 16);
  auto b = back->search(q.data(), nq, 10);
  for (int i = 0; i < nq; ++i) EXPECT_EQ(rows_of(b[i]), rows_of(a[i]));
  back->set_nprobe(1);
  EXPECT_EQ(back->params().nprobe, 1);
  EXPECT_THROW(ls::IvfIndex::build(m.data.data(), n, kDim, nullptr, {n + 1, 1}), lssd::Error);
  std::ofstream(path) << "not an index";
  EXPECT_THROW(ls::IvfIndex::load(path), lssd::Error);
}

TEST(SearchIvf, SavedWithTheManifestStateAndRebuiltWhenItChanges) {
  fs::path d = temp_dir("store");
  for (int i = 0; i < 8; ++i) add_file(d, "audio", {"f" + std::to_string(i) + ".wav", random_clips(10, 10 + i)});
  int loads = 0;
  auto open = [&](const std::string& dir) {
    lssd::ModalityReader mr(d.string(), "audio");
    ls::Catalog cat(mr);
    std::unique_ptr<ls::ClipMatrix> m;
    return ls::open_ivf_index(mr, cat, dir, 0, [&]() -> const ls::ClipMatrix& {
      ++loads;
      m = std::make_unique<ls::ClipMatrix>(ls::load_clip_matrix(mr, cat));
      return *m;
    });
  };
  ls::StoredIndex s1 = open("");
  EXPECT_EQ(s1.state, "built");
  EXPECT_EQ(s1.path, (d / "index" / "audio.ivf.faiss").string());
  EXPECT_TRUE(s1.save_error.empty()) << s1.save_error;
  EXPECT_TRUE(fs::exists(d / "index" / "audio.ivf.json"));
  EXPECT_EQ(s1.index->size(), 80);
  ls::StoredIndex s2 = open("");
  EXPECT_EQ(s2.state, "loaded");
  EXPECT_EQ(loads, 1);  // loading needs no arrays
  add_file(d, "audio", {"g.wav", random_clips(3, 99)});
  ls::StoredIndex s3 = open("");
  EXPECT_EQ(s3.state.rfind("rebuilt", 0), 0u) << s3.state;
  EXPECT_EQ(s3.index->size(), 83);
  EXPECT_EQ(open("").state, "loaded");
  // Elsewhere (a read-only OUTPUT_DIR): --index-dir.
  fs::path other = temp_dir("store_elsewhere");
  EXPECT_EQ(open(other.string()).state, "built");
  EXPECT_TRUE(fs::exists(other / "audio.ivf.faiss"));
  // A corrupt saved index is rebuilt.
  std::ofstream(d / "index" / "audio.ivf.faiss") << "garbage";
  EXPECT_EQ(open("").state.rfind("rebuilt", 0), 0u);
  EXPECT_EQ(open("").state, "loaded");
  // Cannot save: still usable, the error says why.
  ls::StoredIndex s4 = open((d / "audio" / "f0.wav.npy" / "sub").string());
  EXPECT_FALSE(s4.save_error.empty());
  EXPECT_EQ(s4.index->size(), 83);
}

namespace {

// A (8 clips); B = A from 3 s; C = A from 4.5 s (each clip half of two of A's); D = a
// compilation: 3 unrelated clips, then A's clips 2..5; U1, U2 unrelated.
fs::path dedup_fixture(const std::string& mtype) {
  fs::path d = temp_dir("dedup_" + mtype);
  auto a = random_clips(8, 1);
  std::vector<std::vector<float>> b(a.begin() + 1, a.end()), c, dd = random_clips(3, 5);
  for (int j = 0; j + 2 < 8; ++j) c.push_back(mix(a[j + 1], a[j + 2]));
  dd.insert(dd.end(), a.begin() + 2, a.begin() + 6);
  add_file(d, mtype, {"a.mp4", a});
  add_file(d, mtype, {"b_shift3.mp4", b});
  add_file(d, mtype, {"c_shift4.5.mp4", c});
  add_file(d, mtype, {"d_compilation.mp4", dd});
  add_file(d, mtype, {"u1.mp4", random_clips(6, 3)});
  add_file(d, mtype, {"u2.mp4", random_clips(6, 4)});
  return d;
}

struct Found {
  std::string a, b;
  ls::DuplicatePair p;
};

std::vector<Found> dedup(const fs::path& d, const std::string& mtype, double threshold, int64_t min_clips) {
  lssd::ModalityReader mr(d.string(), mtype);
  ls::Catalog cat(mr);
  ls::ClipMatrix m = ls::load_clip_matrix(mr, cat);
  ls::ExactIndex ix(m.data.data(), m.rows, m.dim, m.present.data());
  ls::DedupOptions o;
  o.threshold = threshold;
  o.min_clips = min_clips;
  o.batch = 7;  // several batches
  ls::DedupStats st;
  auto pairs = ls::find_duplicate_runs(cat, ls::find_clip_matches(cat, m, ix, o, &st), o);
  EXPECT_EQ(st.queries, m.rows);
  std::vector<Found> out;
  for (const auto& p : pairs)
    out.push_back({cat.files()[p.file_a].record.rel_path, cat.files()[p.file_b].record.rel_path, p});
  return out;
}

const Found* find_pair(const std::vector<Found>& f, const std::string& x, const std::string& y) {
  for (const auto& e : f)
    if ((e.a == x && e.b == y) || (e.a == y && e.b == x)) return &e;
  return nullptr;
}

}  // namespace

TEST(SearchDedup, ShiftedCopiesAndACompilationAreFoundUnrelatedFilesAreNot) {
  for (const std::string mtype : {"video", "audio"}) {
    fs::path d = dedup_fixture(mtype);
    auto found = dedup(d, mtype, 0.6, 3);
    for (const auto& f : found)
      std::cout << "  " << mtype << ": " << f.a << " <- " << f.b << " offset " << f.p.offset_s << " length "
                << f.p.length << " mean " << f.p.mean_score << "\n";
    const Found* ab = find_pair(found, "a.mp4", "b_shift3.mp4");
    ASSERT_TRUE(ab);
    EXPECT_EQ(ab->a, "a.mp4");  // b's content starts 3 s into a
    EXPECT_DOUBLE_EQ(ab->p.offset_s, 3.0);
    EXPECT_EQ(ab->p.length, 7);
    EXPECT_EQ(ab->p.first_a, 1);
    EXPECT_EQ(ab->p.first_b, 0);
    EXPECT_NEAR(ab->p.mean_score, 1.0, 1e-6);
    const Found* ac = find_pair(found, "a.mp4", "c_shift4.5.mp4");
    ASSERT_TRUE(ac);
    EXPECT_EQ(ac->a, "a.mp4");
    EXPECT_NEAR(ac->p.offset_s, 4.5, 1.5);  // on the 3 s grid: 3 or 6
    EXPECT_EQ(ac->p.length, 6);
    EXPECT_NEAR(ac->p.mean_score, std::sqrt(0.5), 0.05);
    EXPECT_EQ(ac->p.runs, 2);  // both neighbouring grid offsets
    const Found* bc = find_pair(found, "b_shift3.mp4", "c_shift4.5.mp4");
    ASSERT_TRUE(bc);
    EXPECT_NEAR(bc->p.offset_s, 1.5, 1.5);
    const Found* ad = find_pair(found, "a.mp4", "d_compilation.mp4");
    ASSERT_TRUE(ad);
    EXPECT_EQ(ad->a, "d_compilation.mp4");  // a's clips 2..5 (6 s) are d's clips 3..6 (9 s)
    EXPECT_DOUBLE_EQ(ad->p.offset_s, 3.0);
    EXPECT_EQ(ad->p.first_a, 3);
    EXPECT_EQ(ad->p.first_b, 2);
    EXPECT_EQ(ad->p.length, 4);
    for (const auto& f : found) {
      EXPECT_EQ(f.a.rfind("u", 0), std::string::npos) << f.a;
      EXPECT_EQ(f.b.rfind("u", 0), std::string::npos) << f.b;
    }
    // Six pairs in all: a-b, a-c, b-c, a-d, b-d (a's clips 2..5 are b's 1..4), c-d.
    EXPECT_EQ(found.size(), 6u);
    // The half-overlap copy scores ~0.71: above 0.75 only the exact copies remain.
    auto strict = dedup(d, mtype, 0.75, 3);
    EXPECT_TRUE(find_pair(strict, "a.mp4", "b_shift3.mp4"));
    EXPECT_FALSE(find_pair(strict, "a.mp4", "c_shift4.5.mp4"));
    // Runs shorter than min_clips do not count: a-d shares 4 clips.
    EXPECT_FALSE(find_pair(dedup(d, mtype, 0.6, 5), "a.mp4", "d_compilation.mp4"));
  }
}

TEST(SearchTracks, IdenticalForSixSecondsThenDifferent) {
  fs::path d = temp_dir("tracks");
  auto t1 = random_clips(5, 1), t2 = t1, t3 = random_clips(3, 7);
  t2[2] = unit(77);
  t2[3] = unit(78);
  t2[4] = mix(t1[4], unit(79));  // cosine ~0.71
  add_file(d, "audio", {"dub.mkv", t1, 1});
  add_file(d, "audio", {"dub.mkv", t2, 2});
  add_file(d, "audio", {"solo.mkv", random_clips(2, 3), 1});  // one track: not a container to compare
  add_file(d, "audio", {"plain.wav", random_clips(2, 4)});
  add_file(d, "audio", {"cut.mkv", t3, 1});
  FileSpec cut{"cut.mkv", {t3[0], t3[1]}, 3};
  add_file(d, "audio", cut);
  lssd::ModalityReader mr(d.string(), "audio");
  ls::Catalog cat(mr);
  ls::TracksReport rep = ls::track_consistency(mr, cat, 0.9);
  ASSERT_EQ(rep.containers.size(), 2u);  // cut.mkv, dub.mkv
  ASSERT_EQ(rep.pairs.size(), 2u);
  const ls::TrackPair& dub = rep.pairs[0];  // worst first: dub's min is ~0
  EXPECT_EQ(rep.containers[dub.container].rel_path, "dub.mkv");
  ASSERT_EQ(dub.cosine.size(), 5u);
  EXPECT_NEAR(dub.cosine[0], 1.0, 1e-6);
  EXPECT_NEAR(dub.cosine[1], 1.0, 1e-6);
  for (int c = 2; c < 5; ++c) EXPECT_LT(dub.cosine[c], 0.9) << c;
  ASSERT_EQ(dub.below.size(), 1u);  // clips 2..4 merged: 6..15 s
  EXPECT_EQ(dub.below[0].start_s, 6.0);
  EXPECT_EQ(dub.below[0].stop_s, 15.0);
  EXPECT_TRUE(dub.flagged());
  EXPECT_NEAR(dub.min, *std::min_element(dub.cosine.begin(), dub.cosine.end()), 1e-12);
  const ls::TrackPair& cutp = rep.pairs[1];
  EXPECT_EQ(cutp.clips_a, 3);
  EXPECT_EQ(cutp.clips_b, 2);
  EXPECT_TRUE(cutp.below.empty());
  ASSERT_EQ(cutp.unpaired.size(), 1u);  // the cut track lacks 6..9 s
  EXPECT_EQ(cutp.unpaired[0].start_s, 6.0);
  EXPECT_TRUE(cutp.flagged());
  // One container only; a file with fewer than two tracks is an error naming it.
  EXPECT_EQ(ls::track_consistency(mr, cat, 0.9, "data/dub.mkv").pairs.size(), 1u);
  try {
    ls::track_consistency(mr, cat, 0.9, "solo.mkv");
    FAIL() << "no error";
  } catch (const lssd::Error& e) {
    EXPECT_NE(std::string(e.what()).find("solo.mkv"), std::string::npos) << e.what();
  }
  fs::path none = temp_dir("no_tracks");
  add_file(none, "audio", {"plain.wav", random_clips(2, 4)});
  lssd::ModalityReader mr2(none.string(), "audio");
  EXPECT_THROW(ls::track_consistency(mr2, ls::Catalog(mr2), 0.9), lssd::Error);
}
