// Every configuration key, declared once: name, type, default, whether it changes outputs,
// and a one-line comment. The release's yacs keys keep their names and defaults; ours follow
// the same style. Options structs (include/lssd/options.h) are filled from these in
// src/config/config_options.cc; a key that has an options member takes its default from that member's
// initialiser (D below), so each default is written once.
#include "lssd/config_keys.h"
#include "lssd/options.h"

namespace lssd {
namespace {

const PipelineOptions D{};  // the defaults, as options.h writes them

// yacs literals of C++ values.
std::string lit(const ConfigValue& v) { return v.to_literal(); }
std::string lit(bool v) { return v ? "True" : "False"; }
std::string lit(int v) { return std::to_string(v); }
std::string lit(double v) {
  ConfigValue c;
  c.type = ValueType::Float;
  c.f = v;
  return lit(c);
}
std::string lit(const std::string& v) {
  ConfigValue c;
  c.type = ValueType::String;
  c.s = v;
  return lit(c);
}
std::string lit(const std::vector<std::string>& v) {
  ConfigValue c;
  c.type = ValueType::StringList;
  c.sl = v;
  return lit(c);
}
std::string ints(std::initializer_list<long long> v) {
  ConfigValue c;
  c.type = ValueType::IntList;
  c.il = v;
  return lit(c);
}

// DIST.NUM_GPUS's literal: all, a count or a list of device indices.
std::string gpus(const EncoderOptions& e) {
  if (e.num_gpus == EncoderOptions::kAllGpus) return "all";
  if (e.num_gpus > 0) return lit(e.num_gpus);
  ConfigValue c;
  c.type = ValueType::IntList;
  c.il.assign(e.gpu_ids.begin(), e.gpu_ids.end());
  return lit(c);
}

using T = ValueType;
using U = KeyUse;
constexpr bool kPath = true;  // KeySpec::is_path

// The release's keys (KeyUse::Used).
void add_release_keys(std::vector<KeySpec>& keys) {
  keys.insert(
      keys.end(),
      {
          // ---- the release's keys ----
          {"TEST.BATCH_SIZE", T::Int, lit(D.encoder.batch_size), false, "clips of one modality per encoder forward"},
          {"TEST.CHECKPOINT_FILE_PATH", T::String, "\"\"", false,
           "release checkpoint (.pyth); tools/lssd_export.py turns it into the encoder files below", U::Used, kPath},
          {"TEST.CLIP_LEN", T::Float, lit(kReleaseClipLen), true, "clip length in seconds (video and audio)"},
          {"DIST.NUM_GPUS", T::Devices, gpus(D.encoder), false,
           "CUDA devices with an encoder replica: all (every visible one), a count N (the first N), or a list of "
           "device indices; replicas share the decode workers (CPU: one replica)"},
          {"DIST.NUM_SHARDS", T::Int, lit(D.discover.num_shards), false,
           "split the sorted inputs into this many shards (default from SLURM_ARRAY_TASK_COUNT)"},
          {"DIST.SHARD_ID", T::Int, lit(D.discover.shard_id), false,
           "which shard this process runs (default from SLURM_ARRAY_TASK_ID / JOB_COMPLETION_INDEX)"},
          {"DIST.NUM_WORKERS", T::Int, lit(D.num_workers), false,
           "decode worker threads (capped at the input count, and on CPU runs at the CPU count)"},
          {"MODEL.VIDEO", T::String, "\"MViT\"", false, "video encoder architecture (only MViT exists)"},
          {"MODEL.AUDIO", T::String, "\"MViT\"", false, "audio encoder architecture (only MViT exists)"},
          {"MVIT.SIZE", T::String, "\"S\"", true,
           "MViTv2 size, S (depth 16) or B (depth 24); must match the encoder files"},
          {"MVIT.PATCH_OVERLAP", T::Bool, "False", true, "overlapping patch embedding; must match the encoder files"},
          {"DATA.PATH_TO_DATA_DIR", T::String, lit(D.discover.data_dir), false, "input root, searched recursively",
           U::Used, kPath},
          {"DATA.USE_VIDEO", T::Bool, lit(D.discover.use_video), false, "compute video embeddings"},
          {"DATA.USE_AUDIO", T::Bool, lit(D.discover.use_audio), false, "compute audio embeddings"},
          {"VIDEO.T", T::Float, "3.0", false,
           "the release's video clip duration; clips follow TEST.CLIP_LEN (a different value is a warning)"},
          {"VIDEO.N_FRAMES", T::Int, lit(D.video.n_frames), true, "frames per video clip"},
          {"VIDEO.CROP_SIZE", T::IntList, ints({D.video.crop_h, D.video.crop_w}), true, "FiveCrop size [h, w]"},
          {"VIDEO.CROP_SCALES", T::IntList, ints({D.video.short_side, 320}), true,
           "short-side scales; inference uses the first only"},
          {"AUDIO.N_FFT", T::Int, lit(D.audio.n_fft), true, "STFT size (and window length)"},
          {"AUDIO.HOP_LENGTH", T::Int, lit(D.audio.hop_length), true, "STFT hop in samples at 48 kHz"},
          {"AUDIO.N_MELS", T::Int, lit(D.audio.n_mels), true, "mel bins"},
          {"AUDIO.CROP_SIZE", T::IntList, ints({D.audio.crop_h, D.audio.crop_w}), true,
           "log-mel center crop [mels, frames]"},
          {"OUTPUT_DIR", T::String, lit(D.output_dir), false, "where embeddings, manifests and logs go", U::Used,
           kPath},
          {"RNG_SEED", T::Int, "1", false, "the release's seed; inference draws no random numbers"},
      });
}

// The release's keys that change nothing here (KeyUse::Ignored).
void add_release_ignored_keys(std::vector<KeySpec>& keys) {
  keys.insert(
      keys.end(),
      {
          // ---- the rest of the release's tree: a released config.yaml may set any of them ----
          // Ignored: the release's tower builder overwrites them per tower from MVIT.SIZE and
          // MVIT.PATCH_OVERLAP, or they only matter for training or torch.distributed.
          {"TEST.DATASET", T::String, "\"\"", false,
           "ignored: the release's dataset class; lssd walks DATA.PATH_TO_DATA_DIR", U::Ignored},
          {"DIST.BACKEND", T::String, "\"nccl\"", false,
           "ignored: torch.distributed backend (lssd uses no torch.distributed)", U::Ignored},
          {"MVIT.MODE", T::String, "\"conv\"", false, "ignored: set by the tower builder (pooling mode)", U::Ignored},
          {"MVIT.CLS_EMBED_ON", T::Bool, "True", false, "ignored: set by the tower builder (cls token)", U::Ignored},
          {"MVIT.PATCH_KERNEL", T::List, "[3, 7, 7]", false,
           "ignored: set by the tower builder from MVIT.PATCH_OVERLAP", U::Ignored},
          {"MVIT.PATCH_STRIDE", T::List, "[2, 4, 4]", false,
           "ignored: set by the tower builder from MVIT.PATCH_OVERLAP", U::Ignored},
          {"MVIT.PATCH_PADDING", T::List, "[2, 4, 4]", false,
           "ignored: set by the tower builder from MVIT.PATCH_OVERLAP", U::Ignored},
          {"MVIT.PATCH_2D", T::Bool, "False", false, "ignored: set by the tower builder (2-D patches for audio)",
           U::Ignored},
          {"MVIT.EMBED_DIM", T::Int, "96", false, "ignored: set by the tower builder", U::Ignored},
          {"MVIT.NUM_HEADS", T::Int, "1", false, "ignored: set by the tower builder", U::Ignored},
          {"MVIT.MLP_RATIO", T::Float, "4.0", false, "ignored: set by the tower builder", U::Ignored},
          {"MVIT.QKV_BIAS", T::Bool, "True", false, "ignored: set by the tower builder", U::Ignored},
          {"MVIT.DROPPATH_RATE", T::Float, "0.1", false, "ignored: set by the tower builder; training only",
           U::Ignored},
          {"MVIT.DEPTH", T::Int, "16", false, "ignored: set by the tower builder from MVIT.SIZE (S 16, B 24)",
           U::Ignored},
          {"MVIT.NORM", T::String, "\"layernorm\"", false, "ignored: set by the tower builder", U::Ignored},
          {"MVIT.DIM_MUL", T::List, "[]", false,
           "ignored: set by the tower builder from MVIT.SIZE ([[block, mul], ...])", U::Ignored},
          {"MVIT.HEAD_MUL", T::List, "[]", false,
           "ignored: set by the tower builder from MVIT.SIZE ([[block, mul], ...])", U::Ignored},
          {"MVIT.POOL_KV_STRIDE", T::List, "[]", false, "ignored: set by the tower builder ([[block, t, h, w], ...])",
           U::Ignored},
          {"MVIT.POOL_KV_STRIDE_ADAPTIVE", T::NoneOr, "None", false, "ignored: set by the tower builder", U::Ignored},
          {"MVIT.POOL_Q_STRIDE", T::List, "[]", false, "ignored: set by the tower builder ([[block, t, h, w], ...])",
           U::Ignored},
          {"MVIT.POOL_KVQ_KERNEL", T::NoneOr, "None", false, "ignored: set by the tower builder", U::Ignored},
          {"MVIT.ZERO_DECAY_POS_CLS", T::Bool, "True", false, "ignored: set by the tower builder; training only",
           U::Ignored},
          {"MVIT.DROPOUT_RATE", T::Float, "0.0", false, "ignored: training only (dropout is off at inference)",
           U::Ignored},
          {"MVIT.USE_ABS_POS", T::Bool, "True", false, "ignored: set by the tower builder (no absolute position)",
           U::Ignored},
          {"MVIT.REL_POS_SPATIAL", T::Bool, "False", false, "ignored: set by the tower builder", U::Ignored},
          {"MVIT.REL_POS_TEMPORAL", T::Bool, "False", false, "ignored: set by the tower builder", U::Ignored},
          {"MVIT.REL_POS_ZERO_INIT", T::Bool, "False", false, "ignored: initialisation only", U::Ignored},
          {"MVIT.RESIDUAL_POOLING", T::Bool, "False", false, "ignored: set by the tower builder", U::Ignored},
          {"MVIT.DIM_MUL_IN_ATT", T::Bool, "False", false, "ignored: set by the tower builder", U::Ignored},
      });
}

// The release's keys that only take their default (KeyUse::DefaultOnly).
void add_release_default_only_keys(std::vector<KeySpec>& keys) {
  keys.insert(
      keys.end(),
      {
          // Default only: the tower builder keeps these, and other values change the towers (for
          // some, the checkpoint's keys); lssd's towers implement the defaults only.
          {"MVIT.POOL_FIRST", T::Bool, "False", false, "must stay False: pooling before the qkv projection",
           U::DefaultOnly},
          {"MVIT.LAYER_SCALE_INIT_VALUE", T::Float, "0.0", false, "must stay 0.0: no layer scale", U::DefaultOnly},
          {"MVIT.NORM_STEM", T::Bool, "False", false, "must stay False: no norm after the patch embedding",
           U::DefaultOnly},
          {"MVIT.SEP_POS_EMBED", T::Bool, "False", false, "must stay False: no separate position embeddings",
           U::DefaultOnly},
          {"MVIT.SEPARATE_QKV", T::Bool, "False", false, "must stay False: one qkv projection", U::DefaultOnly},
          {"MVIT.USE_MEAN_POOLING", T::Bool, "False", false, "must stay False: the towers' own output rule",
           U::DefaultOnly},
          {"MVIT.USE_FIXED_SINCOS_POS", T::Bool, "False", false, "must stay False: no sin-cos position embedding",
           U::DefaultOnly},
      });
}

// lssd's own keys.
void add_lssd_keys(std::vector<KeySpec>& keys) {
  keys.insert(
      keys.end(),
      {
          // ---- lssd's keys ----
          {"MODEL.VIDEO_ENCODER_FILE", T::String, lit(D.encoder.video_model), false,
           "exported TorchScript video encoder (video.pt from tools/lssd_export.py)", U::Used, kPath},
          {"MODEL.AUDIO_ENCODER_FILE", T::String, lit(D.encoder.audio_model), false,
           "exported TorchScript audio encoder (audio.pt from tools/lssd_export.py)", U::Used, kPath},
          {"RUNTIME.DEVICE", T::String, lit(D.encoder.device), false,
           "auto | cpu | cuda | cuda:N (auto: CUDA when available)"},
          {"RUNTIME.PRECISION", T::String, lit(D.encoder.precision), true,
           "auto | fp32 | fp16 | bf16 (auto: the release's fp16 autocast on CUDA, fp32 on CPU; bf16 on CPU: the "
           "fast export's bf16 kernels, faster only where the CPU has native bf16: AVX512-BF16, AMX)"},
          {"RUNTIME.CPU_MICRO_BATCH", T::Int, lit(D.encoder.cpu_micro_batch), false,
           "CPU only: inputs (crops) per encoder forward; 0 runs the whole TEST.BATCH_SIZE batch at once"},
          {"RUNTIME.NUM_THREADS", T::Int, lit(D.encoder.threads), false, "CPU threads for the encoder (0: all cores)"},
          {"RUNTIME.CPU_LANES", T::Int, lit(D.encoder.cpu_lanes), false,
           "CPU only: micro-batch forwards run at once, each on NUM_THREADS/LANES threads (0: one per thread; "
           "1: one forward at a time on every thread)"},
          {"RUNTIME.WORKER_NICE", T::Int, lit(D.worker_nice), false,
           "CPU runs: scheduling niceness (0..19) of the decode threads, so that the encoder preempts them"},
          {"DATA.PATH_TO_FILE_LIST", T::String, lit(D.discover.file_list), false,
           "a text file of input paths, one per line (instead of walking DATA.PATH_TO_DATA_DIR)", U::Used, kPath},
          {"DATA.VIDEO_EXTENSIONS", T::StringList, lit(D.discover.video_exts), false, "video file extensions"},
          {"DATA.AUDIO_EXTENSIONS", T::StringList, lit(D.discover.audio_exts), false, "audio file extensions"},
          {"DATA.EXTENSIONS_CASE_INSENSITIVE", T::Bool, lit(D.discover.ext_case_insensitive), false,
           "match extensions ignoring case (the release is case-sensitive)"},
          {"DATA.AUDIO_FROM_VIDEO", T::Bool, lit(D.media.audio_from_video), false,
           "also embed every audio track of video containers (one output per track, with language)"},
          {"DATA.VIDEO_CONTAINER_EXTENSIONS", T::StringList, lit(D.media.video_container_exts), false,
           "containers whose audio tracks DATA.AUDIO_FROM_VIDEO reads"},
          {"MEDIA.DECODE_THREADS", T::Int, lit(D.media.decode_threads), false,
           "FFmpeg decoder threads per file (0: the CPUs shared among the decode workers, so that one long "
           "file decodes on every core); DIST.NUM_WORKERS files decode at once"},
          {"MEDIA.SKIP_FRAMES", T::Bool, lit(D.media.skip_unneeded_frames), false,
           "decode only the frames clips keep (and those they reference); the same outputs either way"},
          {"MEDIA.HWACCEL", T::String, lit(D.media.hwaccel), false,
           "video decoding: none (FFmpeg on the CPU) | cuda (NVDEC through FFmpeg's cuda hwaccel for H.264, "
           "HEVC, VP9 in 8-bit 4:2:0; pixels converted and transformed on the GPU; a file it cannot "
           "decode falls back to the CPU) | auto (cuda when a CUDA device and the hwaccel exist, else none)"},
          {"MEDIA.DEADLINE_S", T::Float, lit(D.media.deadline_s), false,
           "wall-clock limit to decode one file (0: none)"},
          {"OUTPUT.DTYPE", T::String, lit(std::string(D.float16_output ? "float16" : "float32")), true,
           "embedding dtype on disk: float32 | float16"},
          {"LOG.PROGRESS_INTERVAL_S", T::Float, lit(D.progress_interval_s), false,
           "seconds between progress lines when not on a TTY"},
          // ---- the sharded layout and writers that share OUTPUT_DIR; none changes an embedding ----
          {"OUTPUT.LAYOUT", T::String, lit(D.layout), false,
           "files (one .npy per input) | shards (inputs' rows stacked in parts under <mtype>/parts/)"},
          {"OUTPUT.SHARD_INPUTS", T::Int, lit(D.shard_inputs), false,
           "shards layout: a part is sealed (fsynced, renamed, recorded) after this many inputs"},
          {"OUTPUT.SHARD_MB", T::Int, lit(D.shard_mb), false,
           "shards layout: ... or once its rows reach this many MiB"},
          {"DIST.MODE", T::String, lit(D.dist_mode), false,
           "hash (DIST.NUM_SHARDS/SHARD_ID split the inputs) | claim (processes sharing OUTPUT_DIR claim chunks of "
           "inputs; every input computed once)"},
          {"DIST.CLAIM_INPUTS", T::Int, lit(D.claim_inputs), false,
           "claim mode: consecutive inputs per claimed chunk (0: OUTPUT.SHARD_INPUTS)"},
          {"DIST.CLAIM_TIMEOUT_S", T::Float, lit(D.claim_timeout_s), false,
           "claim mode: a claim (or writer entry) untouched this long, by the file server's clock, is stale"},
          {"DIST.WRITER_ID", T::String, lit(D.writer_id), false,
           "this process's writer id (letters, digits, _ -), which names its parts, temporaries and (claim "
           "mode) its manifest and error log; \"\" = <host>-<pid>-<start time>"},
      });
}

}  // namespace

// The groups append in this order; it is the order of to_yaml() and of the model id
// (output_affecting_text()), so it must not change.
const std::vector<KeySpec>& declared_keys() {
  static const std::vector<KeySpec> keys = [] {
    std::vector<KeySpec> k;
    add_release_keys(k);
    add_release_ignored_keys(k);
    add_release_default_only_keys(k);
    add_lssd_keys(k);
    return k;
  }();
  return keys;
}

}  // namespace lssd
