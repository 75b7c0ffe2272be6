// A synthetic lssd output directory for the report benchmark (tools/bench/report_bench.py; not a
// test): N inputs in F top-level folders, written with the project's writer code (npy_bytes of
// lssd/npy.h, record_to_json and error_to_json of lssd/output.h) into S shard parts of the
// manifests and error logs, as a sharded lssd-infer run writes them. Files are written plainly
// (no fsync, no temporary names: a benchmark fixture, not an output that must survive a crash).
//
// Inputs (shares of N): video files .mp4 (--video-share) with a video record [M,5,D]; containers
// .mkv with 2 or 3 audio tracks (--multi-share; no video record, as a .mkv that is not in
// DATA.VIDEO_EXTENSIONS): track 2 a close copy of track 1 (a good dub), track 3 the same for the
// first half of the clips and unrelated after (a flagged pair); audio files .wav [M,D]; in each
// of video and audio, --dup-share of the ok files are near copies (noise 0.02) of another file of
// the same modality (dedup pairs); --fail-share failed inputs (a record with the error, and the
// error log line), --short-share skipped as too short. M: 1 to --max-clips. Clip vectors: a
// folder centre (N(0,1), normalised) x 0.8 + the file's own N(0,1) direction x 0.6, plus clip
// noise, then normalised: files of one folder score ~0.6, clips of one file ~0.9. D: --dim
// (default 32: a small stand-in for the 768 of real outputs, so that the directory stays small).
// Every vector comes from a std::mt19937_64 seeded from --seed and the input's index.
#include <CLI/CLI.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "lssd/npy.h"
#include "lssd/output.h"

namespace fs = std::filesystem;

namespace {

struct Args {
  std::string out;
  int64_t n = 100000, dim = 32, folders = 20, max_clips = 4;
  int shards = 4;
  double video_share = 0.55, multi_share = 0.03, dup_share = 0.01, fail_share = 0.005, short_share = 0.005;
  uint64_t seed = 20241206;
};

using Vec = std::vector<float>;

Vec gaussian(std::mt19937_64& rng, int64_t dim) {
  std::normal_distribution<double> nd;
  Vec v(static_cast<size_t>(dim));
  for (auto& x : v) x = static_cast<float>(nd(rng));
  return v;
}

void normalise(Vec& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  const double n = std::sqrt(s);
  if (n > 0)
    for (auto& x : v) x = static_cast<float>(x / n);
}

Vec mix(const Vec& a, double wa, const Vec& b, double wb) {
  Vec v(a.size());
  for (size_t k = 0; k < a.size(); ++k) v[k] = static_cast<float>(wa * a[k] + wb * b[k]);
  normalise(v);
  return v;
}

class Writer {
 public:
  explicit Writer(const Args& a) : a_(a) {
    for (const char* m : {"video", "audio"}) {
      fs::create_directories(fs::path(a.out) / m);
      for (int s = 0; s < a.shards; ++s)
        manifests_[m].emplace_back((fs::path(a.out) / m / lssd::manifest_name(s, a.shards)).string());
    }
    for (int s = 0; s < a.shards; ++s)
      errors_.emplace_back((fs::path(a.out) / lssd::errors_name(s, a.shards)).string());
  }

  // One record; for an ok one, its clips (video: each clip's 5 crops are the clip vector plus
  // a little noise).
  void add(lssd::Record r, const std::vector<Vec>& clips, int64_t input, std::mt19937_64& rng) {
    const std::string mtype = to_string(r.modality);
    const int shard = static_cast<int>(input % a_.shards);
    if (r.status == lssd::RecordStatus::Ok) {
      const auto m = static_cast<int64_t>(clips.size());
      const bool video = r.modality == lssd::Modality::Video;
      r.num_clips = m;
      r.shape = lssd::output_shape(r.modality, m, a_.dim);
      r.output = lssd::output_name(r.rel_path, r.track_index, r.track_language);
      lssd::FloatArray arr(r.shape);
      std::normal_distribution<double> nd(0.0, 0.01);
      for (int64_t i = 0; i < m; ++i) {
        r.ranges.push_back({3.0 * i, 3.0 * i + 3, video ? -1 : 144000 * i, video ? -1 : 144000 * (i + 1)});
        for (int64_t c = 0; c < (video ? 5 : 1); ++c)
          for (int64_t k = 0; k < a_.dim; ++k)
            arr.data[static_cast<size_t>(((video ? i * 5 + c : i)) * a_.dim + k)] =
                clips[static_cast<size_t>(i)][static_cast<size_t>(k)] + static_cast<float>(nd(rng));
      }
      const fs::path p = fs::path(a_.out) / mtype / r.output;
      fs::create_directories(p.parent_path());
      std::ofstream(p, std::ios::binary) << lssd::npy_bytes(arr);
    } else if (r.status == lssd::RecordStatus::Failed) {
      errors_[static_cast<size_t>(shard)]
          << lssd::error_to_json(r.path, mtype, r.error_stage, r.error_message, r.track_index, r.error_from_content)
          << "\n";
    }
    manifests_[mtype][static_cast<size_t>(shard)] << lssd::record_to_json(r) << "\n";
    ++records_;
  }
  int64_t records() const { return records_; }

 private:
  const Args& a_;
  std::map<std::string, std::vector<std::ofstream>> manifests_;
  std::vector<std::ofstream> errors_;
  int64_t records_ = 0;
};

lssd::Record base_record(lssd::Modality m, const std::string& rel, std::mt19937_64& rng) {
  lssd::Record r;
  r.modality = m;
  r.rel_path = rel;
  r.path = "/data/in/" + rel;
  r.size = 1000000 + rng() % 100000000;
  r.mtime_ns = 1700000000000000000LL;
  r.model_id = m == lssd::Modality::Video ? "synthvideo0000000" : "synthaudio0000000";
  r.dtype = "float32";
  r.fps = 25;
  r.sample_rate = 48000;
  std::lognormal_distribution<double> wall(std::log(2.0), 0.6);
  r.wall_s = wall(rng);
  return r;
}

// The clips of a file: the folder's centre and the file's own direction, plus clip noise.
std::vector<Vec> file_clips(const Vec& centre, int64_t m, std::mt19937_64& rng, int64_t dim) {
  // gaussian() has norm ~sqrt(dim): the weights below are those of unit directions.
  const Vec own = mix(centre, 0.8, gaussian(rng, dim), 0.6 / std::sqrt(static_cast<double>(dim)));
  std::vector<Vec> clips;
  for (int64_t i = 0; i < m; ++i)
    clips.push_back(mix(own, 1.0, gaussian(rng, dim), 0.3 / std::sqrt(static_cast<double>(dim))));
  return clips;
}

std::vector<Vec> near_copy(const std::vector<Vec>& src, std::mt19937_64& rng, int64_t dim) {
  std::vector<Vec> out;
  for (const auto& v : src) out.push_back(mix(v, 1.0, gaussian(rng, dim), 0.02 / std::sqrt(static_cast<double>(dim))));
  return out;
}

const char* kMessages[] = {"cannot open: Invalid data found when processing input (ffmpeg: moov atom not found)",
                           "no decodable video frame", "decode deadline of 600 s exceeded",
                           "cannot read stream info: End of file"};

int run(const Args& a) {
  std::vector<Vec> centres;
  std::mt19937_64 crng(a.seed);
  for (int64_t f = 0; f < a.folders; ++f) {
    centres.push_back(gaussian(crng, a.dim));
    normalise(centres.back());
  }
  Writer w(a);
  std::vector<std::vector<Vec>> last_ok(2);  // the last ok file's clips per modality (copied by a dup)
  int64_t inputs_v = 0, inputs_a = 0, inputs_c = 0, dups = 0, failed = 0, shorts = 0, clips = 0;
  for (int64_t i = 0; i < a.n; ++i) {
    std::mt19937_64 rng(a.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(i));
    std::uniform_real_distribution<double> u;
    const int64_t folder = static_cast<int64_t>(rng() % static_cast<uint64_t>(a.folders));
    const double kind = u(rng), fate = u(rng);
    const int64_t m = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(a.max_clips));
    const std::string dir = "f" + std::to_string(folder) + "/s" + std::to_string(i % 50) + "/";
    if (kind < a.multi_share) {  // a container with 2 or 3 audio tracks
      ++inputs_c;
      const int tracks = 2 + static_cast<int>(rng() % 2);
      const std::vector<Vec> t1 = file_clips(centres[folder], std::max<int64_t>(m, 2), rng, a.dim);
      std::vector<Vec> t3 = t1;
      for (size_t c = t3.size() / 2; c < t3.size(); ++c)
        t3[c] = file_clips(centres[(folder + 1) % a.folders], 1, rng, a.dim)[0];
      const char* langs[] = {"eng", "deu", "fra"};
      for (int t = 1; t <= tracks; ++t) {
        lssd::Record r = base_record(lssd::Modality::Audio, dir + "c" + std::to_string(i) + ".mkv", rng);
        r.track_index = t;
        r.track_language = langs[t - 1];
        r.tracks_total = tracks;
        const std::vector<Vec> v = t == 1 ? t1 : t == 2 ? near_copy(t1, rng, a.dim) : t3;
        clips += static_cast<int64_t>(v.size());
        w.add(r, v, i, rng);
      }
      continue;
    }
    const bool video = kind < a.multi_share + a.video_share;
    const lssd::Modality mod = video ? lssd::Modality::Video : lssd::Modality::Audio;
    (video ? inputs_v : inputs_a) += 1;
    lssd::Record r = base_record(mod, dir + (video ? "v" : "a") + std::to_string(i) + (video ? ".mp4" : ".wav"), rng);
    std::vector<Vec> v;
    if (fate < a.fail_share) {
      ++failed;
      r.status = lssd::RecordStatus::Failed;
      r.error_stage = fate < a.fail_share / 2 ? "open" : "decode";
      r.error_message = kMessages[rng() % 4];
      r.error_from_content = true;
      r.wall_s = 0;
    } else if (fate < a.fail_share + a.short_share) {
      ++shorts;
      r.status = lssd::RecordStatus::SkippedShort;
      r.wall_s = 0;
    } else {
      auto& last = last_ok[video ? 0 : 1];
      if (fate < a.fail_share + a.short_share + a.dup_share && !last.empty()) {
        ++dups;
        v = near_copy(last, rng, a.dim);
      } else {
        v = file_clips(centres[folder], m, rng, a.dim);
      }
      last = v;
      clips += static_cast<int64_t>(v.size());
    }
    w.add(r, v, i, rng);
  }
  std::cout << "synthetic output " << a.out << ": " << a.n << " inputs (" << inputs_v << " video, " << inputs_a
            << " audio, " << inputs_c << " containers with 2-3 audio tracks), " << w.records() << " records, " << clips
            << " clips of " << a.dim << " dims, " << dups << " near copies, " << failed << " failed, " << shorts
            << " too short, " << a.shards << " shards\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"synthetic lssd output directory for the report benchmark"};
  app.add_option("OUT", a.out, "output directory to write (must not exist)")->required();
  app.add_option("--n", a.n, "inputs")->capture_default_str();
  app.add_option("--dim", a.dim, "embedding width")->capture_default_str();
  app.add_option("--folders", a.folders, "top-level folders")->capture_default_str();
  app.add_option("--max-clips", a.max_clips, "clips per file: 1 to this")->capture_default_str();
  app.add_option("--shards", a.shards, "manifest and error log parts")->capture_default_str();
  app.add_option("--video-share", a.video_share, "share of video files")->capture_default_str();
  app.add_option("--multi-share", a.multi_share, "share of containers with 2-3 audio tracks")->capture_default_str();
  app.add_option("--dup-share", a.dup_share, "share of near copies")->capture_default_str();
  app.add_option("--fail-share", a.fail_share, "share of failed inputs")->capture_default_str();
  app.add_option("--short-share", a.short_share, "share of inputs too short")->capture_default_str();
  app.add_option("--seed", a.seed, "random seed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (fs::exists(a.out)) {
    std::cerr << "report_synth: " << a.out << " exists\n";
    return 2;
  }
  try {
    return run(a);
  } catch (const std::exception& e) {
    std::cerr << "report_synth: " << e.what() << "\n";
    return 1;
  }
}
