// Every configuration key, declared once: name, type, default, whether it changes outputs,
// and a one-line comment. The release's yacs keys keep their names and defaults; ours follow
// the same style. Options structs (include/lssd/options.h) are filled from these in config.cc.
#include "lssd/config.h"

namespace lssd {

const std::vector<KeySpec>& declared_keys() {
  using T = ValueType;
  static const std::vector<KeySpec> keys = {
      // ---- the release's keys ----
      {"TEST.BATCH_SIZE", T::Int, "8", false, "clips of one modality per encoder forward"},
      {"TEST.CHECKPOINT_FILE_PATH", T::String, "\"\"", false,
       "release checkpoint (.pyth); tools/lssd_export.py turns it into the encoder files below"},
      {"TEST.CLIP_LEN", T::Float, "3.0", true, "clip length in seconds (video and audio)"},
      {"DIST.NUM_GPUS", T::Int, "2", false, "encoder replicas, one per CUDA device (CPU: always one)"},
      {"DIST.NUM_SHARDS", T::Int, "1", false,
       "split the sorted inputs into this many shards (default from SLURM_ARRAY_TASK_COUNT)"},
      {"DIST.SHARD_ID", T::Int, "0", false,
       "which shard this process runs (default from SLURM_ARRAY_TASK_ID / JOB_COMPLETION_INDEX)"},
      {"DIST.NUM_WORKERS", T::Int, "8", false,
       "decode worker threads (capped at the input count, and on CPU runs at the CPU count)"},
      {"MODEL.VIDEO", T::String, "\"MViT\"", false, "video encoder architecture (only MViT exists)"},
      {"MODEL.AUDIO", T::String, "\"MViT\"", false, "audio encoder architecture (only MViT exists)"},
      {"MVIT.SIZE", T::String, "\"S\"", true, "MViTv2 size, S (depth 16) or B (depth 24); must match the encoder files"},
      {"MVIT.PATCH_OVERLAP", T::Bool, "False", true, "overlapping patch embedding; must match the encoder files"},
      {"DATA.PATH_TO_DATA_DIR", T::String, "\"\"", false, "input root, searched recursively"},
      {"DATA.USE_VIDEO", T::Bool, "True", false, "compute video embeddings"},
      {"DATA.USE_AUDIO", T::Bool, "True", false, "compute audio embeddings"},
      {"VIDEO.T", T::Float, "3.0", false,
       "the release's video clip duration; clips follow TEST.CLIP_LEN (a different value is a warning)"},
      {"VIDEO.N_FRAMES", T::Int, "16", true, "frames per video clip"},
      {"VIDEO.CROP_SIZE", T::IntList, "[224, 224]", true, "FiveCrop size [h, w]"},
      {"VIDEO.CROP_SCALES", T::IntList, "[256, 320]", true,
       "short-side scales; inference uses the first only"},
      {"AUDIO.N_FFT", T::Int, "1024", true, "STFT size (and window length)"},
      {"AUDIO.HOP_LENGTH", T::Int, "501", true, "STFT hop in samples at 48 kHz"},
      {"AUDIO.N_MELS", T::Int, "96", true, "mel bins"},
      {"AUDIO.CROP_SIZE", T::IntList, "[96, 288]", true, "log-mel center crop [mels, frames]"},
      {"OUTPUT_DIR", T::String, "\"./tmp\"", false, "where embeddings, manifests and logs go"},
      {"RNG_SEED", T::Int, "1", false, "the release's seed; inference draws no random numbers"},
      // ---- lssd's keys ----
      {"MODEL.VIDEO_ENCODER_FILE", T::String, "\"\"", false,
       "exported TorchScript video encoder (video.pt from tools/lssd_export.py)"},
      {"MODEL.AUDIO_ENCODER_FILE", T::String, "\"\"", false,
       "exported TorchScript audio encoder (audio.pt from tools/lssd_export.py)"},
      {"RUNTIME.DEVICE", T::String, "\"auto\"", false, "auto | cpu | cuda | cuda:N (auto: CUDA when available)"},
      {"RUNTIME.PRECISION", T::String, "\"auto\"", true,
       "auto | fp32 | fp16 | bf16 (auto: the release's fp16 autocast on CUDA, fp32 on CPU)"},
      {"RUNTIME.CPU_MICRO_BATCH", T::Int, "1", false,
       "CPU only: inputs (crops) per encoder forward; 0 runs the whole TEST.BATCH_SIZE batch at once"},
      {"RUNTIME.NUM_THREADS", T::Int, "0", false, "CPU threads for the encoder (0: all cores)"},
      {"RUNTIME.CPU_LANES", T::Int, "0", false,
       "CPU only: micro-batch forwards run at once, each on NUM_THREADS/LANES threads (0: one per thread; "
       "1: one forward at a time on every thread)"},
      {"RUNTIME.WORKER_NICE", T::Int, "10", false,
       "CPU runs: scheduling niceness (0..19) of the decode threads, so that the encoder preempts them"},
      {"DATA.PATH_TO_FILE_LIST", T::String, "\"\"", false,
       "a text file of input paths, one per line (instead of walking DATA.PATH_TO_DATA_DIR)"},
      {"DATA.VIDEO_EXTENSIONS", T::StringList, "[\"mp4\", \"avi\"]", false, "video file extensions"},
      {"DATA.AUDIO_EXTENSIONS", T::StringList, "[\"mp3\", \"wav\", \"flac\", \"opus\"]", false,
       "audio file extensions"},
      {"DATA.EXTENSIONS_CASE_INSENSITIVE", T::Bool, "False", false,
       "match extensions ignoring case (the release is case-sensitive)"},
      {"DATA.AUDIO_FROM_VIDEO", T::Bool, "False", false,
       "also embed every audio track of video containers (one output per track, with language)"},
      {"DATA.VIDEO_CONTAINER_EXTENSIONS", T::StringList, "[\"mp4\", \"mkv\", \"avi\", \"mov\", \"webm\"]", false,
       "containers whose audio tracks DATA.AUDIO_FROM_VIDEO reads"},
      {"MEDIA.DECODE_THREADS", T::Int, "1", false,
       "FFmpeg decoder threads per file (0: FFmpeg's choice); DIST.NUM_WORKERS files decode at once"},
      {"MEDIA.DEADLINE_S", T::Float, "600.0", false, "wall-clock limit to decode one file (0: none)"},
      {"OUTPUT.DTYPE", T::String, "\"float32\"", true, "embedding dtype on disk: float32 | float16"},
      {"LOG.PROGRESS_INTERVAL_S", T::Float, "10.0", false, "seconds between progress lines when not on a TTY"},
  };
  return keys;
}

}  // namespace lssd
