// Config -> the stages' option structs (include/lssd/options.h), each value checked: a bad
// one throws ConfigError naming the key and its value.
#include <algorithm>
#include <filesystem>

#include "lssd/claims.h"
#include "lssd/config.h"
#include "lssd/discover.h"
#include "lssd/error.h"

namespace lssd {

void Config::require(bool ok, const std::string& msg) const {
  if (ok) return;
  const std::string key = msg.substr(0, msg.find_first_of(" /["));
  auto it = values_.find(key);
  throw ConfigError(it == values_.end() ? msg : msg + " (got " + it->second.to_literal() + ")");
}

DiscoverOptions Config::discover_options() const {
  DiscoverOptions o;
  o.data_dir = get_string("DATA.PATH_TO_DATA_DIR");
  o.file_list = get_string("DATA.PATH_TO_FILE_LIST");
  o.use_video = get_bool("DATA.USE_VIDEO");
  o.use_audio = get_bool("DATA.USE_AUDIO");
  o.video_exts = get_string_list("DATA.VIDEO_EXTENSIONS");
  o.audio_exts = get_string_list("DATA.AUDIO_EXTENSIONS");
  o.ext_case_insensitive = get_bool("DATA.EXTENSIONS_CASE_INSENSITIVE");
  o.num_shards = static_cast<int>(get_int("DIST.NUM_SHARDS"));
  o.shard_id = static_cast<int>(get_int("DIST.SHARD_ID"));
  require(o.num_shards >= 1, "DIST.NUM_SHARDS must be >= 1");
  require(o.shard_id >= 0 && o.shard_id < o.num_shards, "DIST.SHARD_ID must be in [0, DIST.NUM_SHARDS)");
  return o;
}

MediaOptions Config::media_options() const {
  MediaOptions o;
  o.deadline_s = get_float("MEDIA.DEADLINE_S");
  require(o.deadline_s >= 0, "MEDIA.DEADLINE_S must be >= 0");
  o.decode_threads = static_cast<int>(get_int("MEDIA.DECODE_THREADS"));
  require(o.decode_threads >= 0, "MEDIA.DECODE_THREADS must be >= 0");
  o.skip_unneeded_frames = get_bool("MEDIA.SKIP_FRAMES");
  o.hwaccel = get_string("MEDIA.HWACCEL");
  require(o.hwaccel == "none" || o.hwaccel == "cuda" || o.hwaccel == "auto",
          "MEDIA.HWACCEL must be none, cuda or auto");
  o.audio_from_video = get_bool("DATA.AUDIO_FROM_VIDEO");
  o.video_container_exts = get_string_list("DATA.VIDEO_CONTAINER_EXTENSIONS");
  return o;
}

VideoOptions Config::video_options() const {
  VideoOptions o;
  o.clip_len = get_float("TEST.CLIP_LEN");
  require(o.clip_len > 0, "TEST.CLIP_LEN must be > 0");
  o.n_frames = static_cast<int>(get_int("VIDEO.N_FRAMES"));
  require(o.n_frames >= 1, "VIDEO.N_FRAMES must be >= 1");
  const auto& crop = get_int_list("VIDEO.CROP_SIZE");
  require(crop.size() == 2 && crop[0] > 0 && crop[1] > 0, "VIDEO.CROP_SIZE must be [h, w] > 0");
  o.crop_h = static_cast<int>(crop[0]);
  o.crop_w = static_cast<int>(crop[1]);
  const auto& scales = get_int_list("VIDEO.CROP_SCALES");
  require(!scales.empty() && scales[0] > 0, "VIDEO.CROP_SCALES needs a first scale > 0");
  o.short_side = static_cast<int>(scales[0]);
  require(o.short_side >= std::max(o.crop_h, o.crop_w), "VIDEO.CROP_SCALES[0] must be >= the crop size");
  return o;
}

AudioOptions Config::audio_options() const {
  AudioOptions o;
  o.clip_len = get_float("TEST.CLIP_LEN");
  require(o.clip_len > 0, "TEST.CLIP_LEN must be > 0");
  o.n_fft = static_cast<int>(get_int("AUDIO.N_FFT"));
  o.hop_length = static_cast<int>(get_int("AUDIO.HOP_LENGTH"));
  o.n_mels = static_cast<int>(get_int("AUDIO.N_MELS"));
  require(o.n_fft > 0 && o.hop_length > 0 && o.n_mels > 0, "AUDIO.N_FFT/HOP_LENGTH/N_MELS must be > 0");
  const auto& crop = get_int_list("AUDIO.CROP_SIZE");
  require(crop.size() == 2 && crop[0] > 0 && crop[1] > 0, "AUDIO.CROP_SIZE must be [mels, frames] > 0");
  o.crop_h = static_cast<int>(crop[0]);
  o.crop_w = static_cast<int>(crop[1]);
  return o;
}

EncoderOptions Config::encoder_options() const {
  EncoderOptions o;
  o.video_model = get_string("MODEL.VIDEO_ENCODER_FILE");
  o.audio_model = get_string("MODEL.AUDIO_ENCODER_FILE");
  o.device = get_string("RUNTIME.DEVICE");
  require(o.device == "auto" || o.device == "cpu" || o.device.rfind("cuda", 0) == 0,
          "RUNTIME.DEVICE must be auto, cpu, cuda or cuda:N");
  o.precision = get_string("RUNTIME.PRECISION");
  require(o.precision == "auto" || o.precision == "fp32" || o.precision == "fp16" || o.precision == "bf16",
          "RUNTIME.PRECISION must be auto, fp32, fp16 or bf16");
  o.threads = static_cast<int>(get_int("RUNTIME.NUM_THREADS"));
  require(o.threads >= 0, "RUNTIME.NUM_THREADS must be >= 0");
  o.cpu_micro_batch = static_cast<int>(get_int("RUNTIME.CPU_MICRO_BATCH"));
  o.cpu_lanes = static_cast<int>(get_int("RUNTIME.CPU_LANES"));
  require(o.cpu_lanes >= 0, "RUNTIME.CPU_LANES must be >= 0");
  require(o.cpu_micro_batch >= 0, "RUNTIME.CPU_MICRO_BATCH must be >= 0");
  o.batch_size = static_cast<int>(get_int("TEST.BATCH_SIZE"));
  require(o.batch_size >= 1, "TEST.BATCH_SIZE must be >= 1");
  const ConfigValue& gpus = at("DIST.NUM_GPUS");  // ValueType::Devices: all, a count (i) or a list (il)
  for (long long d : gpus.il) {
    require(d >= 0 && d < (1 << 16) && std::count(gpus.il.begin(), gpus.il.end(), d) == 1,
            "DIST.NUM_GPUS must list distinct CUDA device indices >= 0");
    o.gpu_ids.push_back(static_cast<int>(d));
  }
  o.num_gpus = gpus.s == "all" ? EncoderOptions::kAllGpus : o.gpu_ids.empty() ? static_cast<int>(gpus.i) : 0;
  require(gpus.s == "all" || o.num_gpus >= 1 || !o.gpu_ids.empty(),
          "DIST.NUM_GPUS must be all, a count >= 1 or a list of CUDA device indices (RUNTIME.DEVICE cpu runs on the "
          "CPU)");
  for (const char* k : {"MODEL.VIDEO", "MODEL.AUDIO"})
    require(get_string(k) == "MViT", std::string(k) + " must be MViT (the only LSSD encoder)");
  require(get_string("MVIT.SIZE") == "S" || get_string("MVIT.SIZE") == "B", "MVIT.SIZE must be S or B");
  check_default_only_keys();
  return o;
}

PipelineOptions Config::pipeline_options() const {
  PipelineOptions o;
  o.discover = discover_options();
  o.shard_source = shard_from_environment(&o.discover, is_set("DIST.NUM_SHARDS") || is_set("DIST.SHARD_ID"));
  o.media = media_options();
  o.video = video_options();
  o.audio = audio_options();
  o.encoder = encoder_options();
  o.output_dir = get_string("OUTPUT_DIR");
  require(!o.output_dir.empty(), "OUTPUT_DIR must not be empty");
  o.discover.exclude_dir = o.output_dir;
  o.num_workers = static_cast<int>(get_int("DIST.NUM_WORKERS"));
  require(o.num_workers >= 1, "DIST.NUM_WORKERS must be >= 1");
  o.worker_nice = static_cast<int>(get_int("RUNTIME.WORKER_NICE"));
  require(o.worker_nice >= 0 && o.worker_nice <= 19, "RUNTIME.WORKER_NICE must be 0..19");
  const std::string& dtype = get_string("OUTPUT.DTYPE");
  require(dtype == "float32" || dtype == "float16", "OUTPUT.DTYPE must be float32 or float16");
  o.float16_output = dtype == "float16";
  o.layout = get_string("OUTPUT.LAYOUT");
  require(o.layout == "files" || o.layout == "shards", "OUTPUT.LAYOUT must be files or shards");
  o.shard_inputs = static_cast<int>(get_int("OUTPUT.SHARD_INPUTS"));
  require(o.shard_inputs >= 1, "OUTPUT.SHARD_INPUTS must be >= 1");
  o.shard_mb = static_cast<int>(get_int("OUTPUT.SHARD_MB"));
  require(o.shard_mb >= 1, "OUTPUT.SHARD_MB must be >= 1");
  o.dist_mode = get_string("DIST.MODE");
  require(o.dist_mode == "hash" || o.dist_mode == "claim", "DIST.MODE must be hash or claim");
  o.claim_inputs = static_cast<int>(get_int("DIST.CLAIM_INPUTS"));
  require(o.claim_inputs >= 0, "DIST.CLAIM_INPUTS must be >= 0");
  o.claim_timeout_s = get_float("DIST.CLAIM_TIMEOUT_S");
  require(o.claim_timeout_s > 0, "DIST.CLAIM_TIMEOUT_S must be > 0");
  o.writer_id = get_string("DIST.WRITER_ID");
  require(o.writer_id.empty() || is_valid_writer_id(o.writer_id),
          "DIST.WRITER_ID must be 1-64 letters, digits, '_' or '-'");
  if (o.dist_mode == "claim") {
    // Every process sees every input and claims chunks: no hash shard (not from Slurm either).
    require(!is_set("DIST.NUM_SHARDS") || get_int("DIST.NUM_SHARDS") == 1,
            "DIST.NUM_SHARDS must be 1 with DIST.MODE claim (processes claim chunks instead)");
    o.discover.num_shards = 1;
    o.discover.shard_id = 0;
    o.shard_source = "DIST.MODE claim: every input, in claimed chunks";
  }
  o.progress_interval_s = get_float("LOG.PROGRESS_INTERVAL_S");
  require(o.progress_interval_s > 0, "LOG.PROGRESS_INTERVAL_S must be > 0");
  std::error_code ec;
  o.config_yaml = with_absolute_paths(std::filesystem::current_path(ec).string()).to_yaml();
  o.output_key_text = output_affecting_text();
  if (is_set("MVIT.SIZE")) o.expect_size = get_string("MVIT.SIZE");
  if (is_set("MVIT.PATCH_OVERLAP")) o.expect_patch_overlap = get_bool("MVIT.PATCH_OVERLAP");
  return o;
}

}  // namespace lssd
