// Drives the media front-end for the oracle tests and benchmarks.
//   lssd_probe info FILE
//   lssd_probe video FILE OUT_DIR [--no-tensors] [--frames] [--clip-len T] [--threads N] [--decode-all]
//       OUT_DIR/result.json (ranges, pts, ...), clip_<i>.npy float32 [5,3,16,224,224],
//       with --frames also frames_<i>.npy uint8 [16,H,W,3]; --no-tensors decodes only;
//       --no-write computes the tensors but writes only result.json.
//   lssd_probe audio FILE OUT_DIR [--stream N] [--clip-len T] [--threads N]
//   --threads: FFmpeg decoder threads (default 1; 0: FFmpeg's choice); --decode-all: decode every
//   frame (MEDIA.SKIP_FRAMES False); --hash: sha256 of each clip's RGB frames and tensor in
//   result.json (frames_sha256, tensor_sha256); --yuv: also the clip tensors from the frames' 4:2:0
//   planes through the LibTorch conversion and transform (the GPU path's code, on the CPU):
//   clip_yuv_<i>.npy, and per clip yuv_rgb_max_abs_diff (uint8, against swscale's RGB) and
//   yuv_tensor_max_abs_diff (against clip_<i>.npy), or yuv: false when the frames have no planes;
//   --hwaccel none|cuda|auto: MEDIA.HWACCEL (NVDEC's clip tensors are copied to the host to be
//   written); result.json's "decoder" and "fallback" say which decoder gave the frames
//       OUT_DIR/result.json (ranges, sample rate, n), audio_<i>.npy float32 [samples].
// On an lssd::Error prints {"error", "stage"} as JSON and exits 3.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lssd/error.h"
#include "lssd/media.h"
#include "lssd/process.h"
#include "lssd/sha256.h"
#include "lssd/video_transform.h"

namespace {

void write_npy(const std::string& path, const std::string& descr, const std::vector<int64_t>& shape, const void* data,
               size_t bytes) {
  std::string shp = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    shp += std::to_string(shape[i]) + (shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
  shp += ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shp + ", }";
  const size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::ofstream f(path, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const auto len = static_cast<uint16_t>(header.size());
  const char lenb[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  f.write(lenb, 2);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  if (!f) throw std::runtime_error("cannot write " + path);
}

// Wall and process CPU time since construction.
struct Stopwatch {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double c0 = cpu_now();
  static double cpu_now() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
  double wall_s() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
  double cpu_s() const { return cpu_now() - c0; }
};

// The --yuv comparison of one clip: its planes through the LibTorch path against the RGB path's
// frames and tensor t. False when the clip has no planes.
bool compare_yuv(const lssd::VideoClipFrames& c, const lssd::FloatArray& t, const std::string& out_dir,
                 const lssd::VideoOptions& vopts, nlohmann::json* rec) {
  if (c.yuv.empty()) return false;
  int rgb_diff = 0;
  for (size_t i = 0; i < c.yuv.size(); ++i) {
    const std::vector<uint8_t> rgb = lssd::yuv420_to_rgb24(c.yuv[i]);
    for (size_t k = 0; k < rgb.size(); ++k) rgb_diff = std::max(rgb_diff, std::abs(int{rgb[k]} - int{c.frames[i][k]}));
  }
  const lssd::FloatArray y = lssd::yuv420_clip_tensor(c.yuv, vopts);
  float tensor_diff = 0;
  for (size_t k = 0; k < y.numel(); ++k) tensor_diff = std::max(tensor_diff, std::abs(y.data[k] - t.data[k]));
  (*rec)["yuv_rgb_max_abs_diff"] = rgb_diff;
  (*rec)["yuv_tensor_max_abs_diff"] = tensor_diff;
  if (!out_dir.empty())
    write_npy(out_dir + "/clip_yuv_" + std::to_string(c.index) + ".npy", "<f4", y.shape, y.ptr(),
              y.numel() * sizeof(float));
  return true;
}

int usage() {
  std::cerr << "usage: lssd_probe info FILE | video FILE OUT_DIR [--no-tensors|--no-write] [--frames] [--clip-len T] |"
               " audio FILE OUT_DIR [--stream N] [--clip-len T]  (also --threads N, --decode-all, --hash, --yuv, "
               "--hwaccel H)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  lssd::tune_allocator();
  if (argc < 3) return usage();
  const std::string cmd = argv[1], file = argv[2];
  std::string out_dir = argc > 3 ? argv[3] : "";
  bool tensors = true, frames = false, write = true;
  int stream = -1;
  double clip_len = 3.0;
  int threads = 1;               // FFmpeg decoder threads (0: FFmpeg's choice)
  bool skip = true;              // MEDIA.SKIP_FRAMES
  bool hash = false;             // sha256 of each clip's RGB frames and tensor in result.json
  bool yuv = false;              // also the tensors from the 4:2:0 planes (yuv420_clip_tensor)
  std::string hwaccel = "none";  // MEDIA.HWACCEL
  for (int i = 4; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--no-tensors")
      tensors = false;
    else if (a == "--no-write")
      write = false;
    else if (a == "--frames")
      frames = true;
    else if (a == "--hash")
      hash = true;
    else if (a == "--yuv")
      yuv = true;
    else if (a == "--hwaccel" && i + 1 < argc)
      hwaccel = argv[++i];
    else if (a == "--stream" && i + 1 < argc)
      stream = std::stoi(argv[++i]);
    else if (a == "--clip-len" && i + 1 < argc)
      clip_len = std::stod(argv[++i]);
    else if (a == "--threads" && i + 1 < argc)
      threads = std::stoi(argv[++i]);
    else if (a == "--decode-all")
      skip = false;
    else
      return usage();
  }
  lssd::MediaOptions mopts;
  mopts.decode_threads = threads;
  mopts.skip_unneeded_frames = skip;
  mopts.yuv_planes = yuv;
  nlohmann::json j;
  try {
    mopts.hwaccel = lssd::resolve_hwaccel(hwaccel);
  } catch (const lssd::Error& e) {
    std::cout << nlohmann::json{{"error", e.what()}, {"stage", e.stage()}}.dump() << "\n";
    return 2;
  }
  try {
    if (cmd == "info") {
      const auto info = lssd::probe_media(file, mopts);
      j["path"] = info.path;
      j["format"] = info.format;
      j["duration_s"] = info.duration_s;
      for (const auto& s : info.streams) {
        j["streams"].push_back({{"index", s.index},
                                {"type", s.type},
                                {"codec", s.codec},
                                {"language", s.language},
                                {"channels", s.channels},
                                {"sample_rate", s.sample_rate},
                                {"avg_fps", s.avg_fps},
                                {"width", s.width},
                                {"height", s.height}});
      }
      std::cout << j.dump(1) << "\n";
      return 0;
    }
    if (out_dir.empty()) return usage();
    if (cmd == "video") {
      lssd::VideoOptions vopts;
      vopts.clip_len = clip_len;
      lssd::VideoTransform transform(vopts);
      nlohmann::json clips = nlohmann::json::array();
      lssd::ClipSink<lssd::VideoClipFrames> sink;
      sink.planned = [&](int n) { j["planned"].push_back(n); };
      sink.clip = [&](lssd::VideoClipFrames&& c) {
        clips.push_back({{"index", c.index},
                         {"pts", c.pts},
                         {"clip_pts", c.clip_pts},
                         {"num_decoded", c.num_decoded},
                         {"width", c.width},
                         {"height", c.height}});
        if (hash) {
          lssd::Sha256 h;
          for (const auto& f : c.frames) h.update(f.data(), f.size());
          clips.back()["frames_sha256"] = h.hex_digest();
        }
        if (frames && !c.frames.empty()) {  // NVDEC: the RGB frames stay on the GPU
          std::vector<uint8_t> all;
          for (const auto& f : c.frames) all.insert(all.end(), f.begin(), f.end());
          write_npy(out_dir + "/frames_" + std::to_string(c.index) + ".npy", "|u1",
                    {static_cast<int64_t>(c.frames.size()), c.height, c.width, 3}, all.data(), all.size());
        }
        if (tensors) {
          const lssd::FloatArray t =
              c.nv12.empty() ? transform(c.frames, c.width, c.height) : lssd::to_host(lssd::nv12_clip_tensor(c, vopts));
          if (hash) {
            lssd::Sha256 h;
            h.update(t.ptr(), t.numel() * sizeof(float));
            clips.back()["tensor_sha256"] = h.hex_digest();
          }
          if (write)
            write_npy(out_dir + "/clip_" + std::to_string(c.index) + ".npy", "<f4", t.shape, t.ptr(),
                      t.numel() * sizeof(float));
          if (yuv) clips.back()["yuv"] = compare_yuv(c, t, write ? out_dir : "", vopts, &clips.back());
        }
      };
      sink.withdraw = [&](int first) {  // withdrawn clips: their files are rewritten by the second pass
        nlohmann::json kept = nlohmann::json::array();
        for (auto& c : clips)
          if (c["index"].get<int>() < first) kept.push_back(c);
        clips = kept;
      };
      const Stopwatch sw;
      const auto r = lssd::decode_video_clips(file, vopts, mopts, sink);
      j["front_end_s"] = sw.wall_s();  // decode + plan + RGB + transform, in this process
      j["front_end_cpu_s"] = sw.cpu_s();
      j["skipped"] = r.skipped_short;
      j["avg_fps"] = r.avg_fps;
      j["stream_index"] = r.stream_index;
      j["ranges"] = r.ranges;
      j["num_clips"] = r.num_clips;
      j["timestamp_source"] = r.timestamp_source;
      j["num_timestamps"] = r.num_timestamps;
      j["packet_timestamps"] = r.packet_timestamps;
      j["decoded_frames"] = r.decoded_frames;
      j["decode_errors"] = r.decode_errors;
      j["decode_passes"] = r.decode_passes;
      j["restart_from"] = r.restart_from.value_or(-1);
      j["should_buffer"] = r.should_buffer;
      j["decoder"] = r.decoder;
      j["fallback"] = r.fallback;
      j["clips"] = clips;
    } else if (cmd == "audio") {
      lssd::AudioOptions aopts;
      aopts.clip_len = clip_len;
      nlohmann::json clips = nlohmann::json::array();
      lssd::ClipSink<lssd::AudioClipSamples> sink;
      sink.planned = [&](int n) { j["planned"].push_back(n); };
      sink.clip = [&](lssd::AudioClipSamples&& c) {
        clips.push_back({{"index", c.index}, {"start", c.start}, {"stop", c.stop}, {"samples", c.mono.size()}});
        if (tensors) {
          write_npy(out_dir + "/audio_" + std::to_string(c.index) + ".npy", "<f4",
                    {static_cast<int64_t>(c.mono.size())}, c.mono.data(), c.mono.size() * sizeof(float));
        }
      };
      const auto r =
          lssd::decode_audio_clips(file, stream >= 0 ? std::optional<int>(stream) : std::nullopt, aopts, mopts, sink);
      j["skipped"] = r.skipped_short;
      j["sample_rate"] = r.sample_rate;
      j["channels"] = r.channels;
      j["num_samples"] = r.num_samples;
      j["ranges"] = r.ranges;
      j["num_clips"] = r.num_clips;
      j["stream_index"] = r.stream_index;
      j["language"] = r.language;
      j["clips"] = clips;
    } else {
      return usage();
    }
  } catch (const lssd::Error& e) {
    nlohmann::json err{{"error", e.what()}, {"stage", e.stage()}};
    std::cout << err.dump() << "\n";
    if (!out_dir.empty()) std::ofstream(out_dir + "/result.json") << err.dump() << "\n";
    return 3;
  }
  std::ofstream(out_dir + "/result.json") << j.dump(1) << "\n";
  std::cout << j.dump() << "\n";
  return 0;
}
