// Every stage's options, with the release's defaults, in one place. Modules take these plain
// structs (never the config tree), so they can be tested without config files.
// src/config/config_options.cc fills them from the yacs-style keys; the key table (src/config/config_keys.cc)
// takes the default of every key that has a member here from these initialisers: each default
// is written once.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lssd/modality.h"

namespace lssd {

// The release's clip length (TEST.CLIP_LEN), shared by the video and audio options.
inline constexpr double kReleaseClipLen = 3.0;

// Which files to process and how to find them (discover stage).
struct DiscoverOptions {
  std::string data_dir;                                               // DATA.PATH_TO_DATA_DIR
  std::string file_list;                                              // DATA.PATH_TO_FILE_LIST
  bool use_video = true;                                              // DATA.USE_VIDEO
  bool use_audio = true;                                              // DATA.USE_AUDIO
  std::vector<std::string> video_exts{"mp4", "avi"};                  // DATA.VIDEO_EXTENSIONS
  std::vector<std::string> audio_exts{"mp3", "wav", "flac", "opus"};  // DATA.AUDIO_EXTENSIONS
  bool ext_case_insensitive = false;                                  // DATA.EXTENSIONS_CASE_INSENSITIVE
  int num_shards = 1;                                                 // DIST.NUM_SHARDS
  int shard_id = 0;                                                   // DIST.SHARD_ID
  std::string exclude_dir;  // OUTPUT_DIR: left out of the walk when it lies inside data_dir
};

// Opening and decoding untrusted media (media stage).
struct MediaOptions {
  double deadline_s = 600.0;  // MEDIA.DEADLINE_S: wall-clock limit for one file, 0 = none
  // Audio tracks of video containers are decoded as audio inputs (beyond the release).
  bool audio_from_video = false;  // DATA.AUDIO_FROM_VIDEO
  std::vector<std::string> video_container_exts{"mp4", "mkv", "avi", "mov", "webm"};
  // MEDIA.DECODE_THREADS: FFmpeg decoder threads per file; 0 = auto (lssd-infer: the CPUs
  // shared among its decode workers, so one long file decodes on every core; else FFmpeg's choice)
  int decode_threads = 0;
  // MEDIA.SKIP_FRAMES: decode only what the clips keep (frames that no clip keeps and nothing
  // references are not decoded); outputs are the same either way
  bool skip_unneeded_frames = true;
  // MEDIA.HWACCEL: none | cuda | auto (README "Decoding on the GPU"); lssd-infer resolves auto
  // (resolve_hwaccel, lssd/media.h) before decoding starts, so decoders see none or cuda
  std::string hwaccel = "none";
  // Not a key (tests and the probe): also deliver the kept frames' 4:2:0 planes
  // (VideoClipFrames::yuv) next to their RGB.
  bool yuv_planes = false;
};

// Clip planning and video tensors (clips + video transform stages).
struct VideoOptions {
  double clip_len = kReleaseClipLen;  // TEST.CLIP_LEN (seconds)
  double fps = 25.0;                  // fixed by the release: video is resampled to 25 fps
  int n_frames = 16;                  // VIDEO.N_FRAMES
  int short_side = 256;               // VIDEO.CROP_SCALES[0]
  int crop_h = 224;                   // VIDEO.CROP_SIZE[0]
  int crop_w = 224;                   // VIDEO.CROP_SIZE[1]
};

// Clip planning and log-mel tensors (clips + audio transform stages).
struct AudioOptions {
  double clip_len = kReleaseClipLen;  // TEST.CLIP_LEN (seconds)
  int sample_rate = 48000;            // fixed by the release: audio is resampled to 48 kHz
  int n_fft = 1024;                   // AUDIO.N_FFT
  int hop_length = 501;               // AUDIO.HOP_LENGTH
  int n_mels = 96;                    // AUDIO.N_MELS
  int crop_h = 96;                    // AUDIO.CROP_SIZE[0] (mel bins)
  int crop_w = 288;                   // AUDIO.CROP_SIZE[1] (frames)
};

// The TorchScript encoders (encoder stage).
struct EncoderOptions {
  std::string video_model;         // MODEL.VIDEO_ENCODER_FILE: exported video.pt
  std::string audio_model;         // MODEL.AUDIO_ENCODER_FILE: exported audio.pt
  std::string device = "auto";     // RUNTIME.DEVICE: auto|cpu|cuda|cuda:N
  std::string precision = "auto";  // RUNTIME.PRECISION: auto|fp32|fp16|bf16 (auto: fp16 autocast on CUDA, fp32 on CPU)
  int threads = 0;                 // RUNTIME.NUM_THREADS: 0 = all cores
  int cpu_micro_batch = 1;         // RUNTIME.CPU_MICRO_BATCH: inputs per forward on CPU (0 = whole batch)
  int cpu_lanes = 0;               // RUNTIME.CPU_LANES: CPU forwards run at once (0 = one per thread)
  int batch_size = 8;              // TEST.BATCH_SIZE (clips of one modality per forward)
  // DIST.NUM_GPUS: the CUDA devices that get an encoder replica each (src/pipeline/replicas.cc).
  // kAllGpus (`all`, the default; the release's default is 2): every visible device; N >= 1: the
  // first N visible devices (all of them where fewer are visible); gpu_ids (num_gpus 0): exactly
  // those device indices.
  static constexpr int kAllGpus = -1;
  int num_gpus = kAllGpus;
  std::vector<int> gpu_ids;
  // The exported tower of a modality (MODEL.VIDEO_ENCODER_FILE / MODEL.AUDIO_ENCODER_FILE).
  const std::string& model(Modality m) const { return m == Modality::Video ? video_model : audio_model; }
};

// The whole run (pipeline stage): every stage's options plus the run's own.
struct PipelineOptions {
  DiscoverOptions discover;
  MediaOptions media;
  VideoOptions video;
  AudioOptions audio;
  EncoderOptions encoder;
  std::string output_dir = "./tmp";  // OUTPUT_DIR
  int num_workers = 8;   // DIST.NUM_WORKERS: decode threads (capped at the job count; CPU runs: at the CPU count)
  int worker_nice = 10;  // RUNTIME.WORKER_NICE: CPU runs: niceness of the decode threads
  bool float16_output = false;  // OUTPUT.DTYPE float16
  // OUTPUT.LAYOUT: "files" (one .npy per input) or "shards" (inputs' rows stacked in parts, lssd/shards.h)
  std::string layout = "files";
  int shard_inputs = 1000;  // OUTPUT.SHARD_INPUTS: a part is sealed after this many inputs ...
  int shard_mb = 256;       // OUTPUT.SHARD_MB: ... or this many MiB of rows
  // DIST.MODE: "hash" (DIST.NUM_SHARDS/SHARD_ID split the inputs) or "claim" (processes that
  // share OUTPUT_DIR claim chunks of inputs, lssd/claims.h)
  std::string dist_mode = "hash";
  int claim_inputs = 0;               // DIST.CLAIM_INPUTS: inputs per claimed chunk (0: OUTPUT.SHARD_INPUTS)
  double claim_timeout_s = 600.0;     // DIST.CLAIM_TIMEOUT_S: a claim untouched this long is stale
  std::string writer_id;              // DIST.WRITER_ID: "" = <host>-<pid>-<start time>
  double progress_interval_s = 10.0;  // LOG.PROGRESS_INTERVAL_S
  bool overwrite = false;             // --overwrite: ignore earlier outputs
  bool retry_failed = false;          // --retry-failed: retry inputs that failed earlier on unchanged content
  std::optional<bool> status_line;    // progress: a redrawn status line (none: on a TTY) or log lines
  std::string config_yaml;            // the resolved config, written to OUTPUT_DIR/config.yaml
  std::string output_key_text;        // config keys that change outputs (part of the model id)
  // Size / overlap named by the config (empty: not named); must match the encoder files.
  std::string expect_size;
  std::optional<bool> expect_patch_overlap;
  std::string shard_source = "config";  // where num_shards/shard_id came from (for the log)
};

}  // namespace lssd
