// lssd_audio_probe SAMPLES.f32 RATE OUT.npy [--stage STAGE] [--clip-len S] [--n-mels N]
//                  [--crop-h H] [--crop-w W] [--repeat R]
// lssd_audio_probe --batch JOBS.txt [same options as defaults]
// Reads raw little-endian float32 mono samples at RATE Hz and writes, as a float32 .npy:
//   crop (default): lssd::audio_to_logmel -> [1, crop_h, crop_w]
//   logmel:         AudioTransform::logmel_uncropped -> [1, n_mels, frames]
//   reference:      lssd::detail::audio_to_logmel_reference -> [1, n_mels, frames]
//   resample:       lssd::resample_audio(x, RATE, 48000) -> [n]
//   direct:         lssd::detail::resample_audio_direct(x, RATE, 48000) -> [n]
// --batch: one job per line, `SAMPLES.f32 RATE OUT.npy [STAGE [CLIP_LEN]]` (saves a process
// start per case). --repeat R runs each job R times (the first run is excluded from the timing
// as warm-up when R > 1). Prints one JSON line per job: shape, runs, seconds per run (mean,
// min, first), resampling-kernel cache stats.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "lssd/audio_transform.h"
#include "lssd/error.h"
#include "lssd/npy.h"

namespace {
double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
int usage() {
  std::cerr << "usage: lssd_audio_probe SAMPLES.f32 RATE OUT.npy [--stage crop|logmel|reference|resample|direct]\n"
               "       [--clip-len S] [--n-mels N] [--crop-h H] [--crop-w W] [--repeat R]\n"
               "   or: lssd_audio_probe --batch JOBS.txt [options]  (lines: SAMPLES RATE OUT [STAGE [CLIP_LEN]])\n";
  return 2;
}

std::vector<float> read_f32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw lssd::Error("probe", "cannot open " + path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> x(bytes.size() / sizeof(float));
  std::copy(bytes.begin(), bytes.begin() + static_cast<long>(x.size() * sizeof(float)),
            reinterpret_cast<char*>(x.data()));
  return x;
}

nlohmann::json run_job(const std::string& in, int rate, const std::string& out_path, const std::string& stage,
                       const lssd::AudioOptions& opts, int repeat) {
  const std::vector<float> x = read_f32(in);
  lssd::AudioTransform transform(opts);
  lssd::FloatArray out;
  std::vector<double> times;
  for (int r = 0; r < repeat; ++r) {
    const double t0 = now_s();
    if (stage == "crop") {
      out = lssd::audio_to_logmel(x.data(), x.size(), rate, opts);
    } else if (stage == "logmel") {
      out = transform.logmel_uncropped(x.data(), x.size(), rate);
    } else if (stage == "reference") {
      out = lssd::detail::audio_to_logmel_reference(x.data(), x.size(), rate, opts);
    } else if (stage == "resample" || stage == "direct") {
      std::vector<float> y = stage == "resample"
                                 ? lssd::resample_audio(x.data(), x.size(), rate, opts.sample_rate)
                                 : lssd::detail::resample_audio_direct(x.data(), x.size(), rate, opts.sample_rate);
      out.shape = {static_cast<int64_t>(y.size())};
      out.data = std::move(y);
    } else {
      throw lssd::ConfigError("unknown stage " + stage);
    }
    times.push_back(now_s() - t0);
  }
  lssd::write_npy(out_path, out);
  std::vector<double> timed(times.size() > 1 ? times.begin() + 1 : times.begin(), times.end());
  double sum = 0;
  for (double t : timed) sum += t;
  const auto stats = lssd::resample_cache_stats();
  return {{"out", out_path},
          {"shape", out.shape},
          {"runs", timed.size()},
          {"mean_s", sum / static_cast<double>(timed.size())},
          {"min_s", *std::min_element(timed.begin(), timed.end())},
          {"first_s", times.front()},
          {"kernel_cache", {{"entries", stats.entries}, {"builds", stats.builds}, {"bytes", stats.bytes}}}};
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> pos;
  lssd::AudioOptions opts;
  std::string stage = "crop", batch;
  int repeat = 1;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw lssd::ConfigError("missing value after " + a);
        return argv[++i];
      };
      if (a == "--stage")
        stage = next();
      else if (a == "--batch")
        batch = next();
      else if (a == "--clip-len")
        opts.clip_len = std::stod(next());
      else if (a == "--n-mels")
        opts.n_mels = std::stoi(next());
      else if (a == "--crop-h")
        opts.crop_h = std::stoi(next());
      else if (a == "--crop-w")
        opts.crop_w = std::stoi(next());
      else if (a == "--repeat")
        repeat = std::max(1, std::stoi(next()));
      else if (!a.empty() && a[0] == '-')
        return usage();
      else
        pos.push_back(a);
    }
    if (!batch.empty()) {
      if (!pos.empty()) return usage();
      std::ifstream jobs(batch);
      if (!jobs) throw lssd::Error("probe", "cannot open " + batch);
      std::string line;
      while (std::getline(jobs, line)) {
        std::istringstream ss(line);
        std::string in, rate, out, st = stage;
        if (!(ss >> in >> rate >> out)) continue;
        lssd::AudioOptions o = opts;
        std::string cl;
        if (ss >> st && ss >> cl) o.clip_len = std::stod(cl);
        std::cout << run_job(in, std::stoi(rate), out, st, o, repeat).dump() << std::endl;
      }
      return 0;
    }
    if (pos.size() != 3) return usage();
    std::cout << run_job(pos[0], std::stoi(pos[1]), pos[2], stage, opts, repeat).dump() << std::endl;
    return 0;
  } catch (const lssd::ConfigError& e) {
    std::cerr << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
