#include "media/ffmpeg.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <vector>

#include "lssd/media.h"

namespace lssd::media {

bool av_system_error(int err) {
  const int e = -err;  // AVERROR(e) is -e; FFmpeg's own codes (AVERROR_INVALIDDATA, ...) are tags far beyond errno
  return e > 0 && e < 4096 && e != EINVAL;
}

void throw_av_error(int err, const std::string& stage, const std::string& message, const std::string& path) {
  if (av_system_error(err)) throw Error(stage, message, path, -err);
  throw ContentError(stage, message, path);
}

std::string av_error_string(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof(buf));
  return buf;
}

FramePtr new_frame() {
  FramePtr f(av_frame_alloc());
  if (!f) throw Error("decode", "out of memory");
  return f;
}

PacketPtr new_packet() {
  PacketPtr p(av_packet_alloc());
  if (!p) throw Error("decode", "out of memory");
  return p;
}

FramePtr ref_frame(const AVFrame* src) {
  FramePtr f = new_frame();
  const int r = av_frame_ref(f.get(), src);
  if (r < 0) throw Error("decode", "av_frame_ref: " + av_error_string(r));
  return f;
}

namespace {

// The whitelisted demuxers, as FFmpeg names them.
const std::vector<std::string> kDemuxers = {"mov,mp4,m4a,3gp,3g2,mj2",
                                            "matroska,webm",
                                            "avi",
                                            "wav",
                                            "w64",
                                            "flac",
                                            "mp3",
                                            "ogg",
                                            "aac",
                                            "aiff",
                                            "mpegts",
                                            "flv",
                                            "asf"};

std::string demuxer_whitelist_string() {
  std::string s;
  for (const auto& d : kDemuxers) s += (s.empty() ? "" : ",") + d;
  return s;
}

// A wall-clock deadline for one file, checked by FFmpeg's interrupt callback (blocking I/O)

// FFmpeg's own messages go through spdlog, named after the file this thread is working on:
// debug level (lssd-infer -v) for warnings and errors, trace below. The last error of the
// current file is kept: error messages quote it ("moov atom not found").
thread_local const std::string* t_log_file = nullptr;
thread_local std::string t_last_ffmpeg_error;

void ffmpeg_log(void* avcl, int level, const char* fmt, va_list vl) {
  if (level > AV_LOG_WARNING) return;
  const bool error = level <= AV_LOG_ERROR;
  if (!error && !spdlog::should_log(spdlog::level::debug)) return;
  char line[1024];
  int print_prefix = 0;
  av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &print_prefix);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  if (text.empty()) return;
  if (error) t_last_ffmpeg_error = text;
  const AVClass* cls = avcl ? *static_cast<const AVClass* const*>(avcl) : nullptr;
  const char* who = cls && cls->item_name ? cls->item_name(avcl) : "ffmpeg";
  spdlog::debug("{}: ffmpeg {}: {}", t_log_file ? *t_log_file : std::string("(no file)"), who, text);
}

void route_ffmpeg_log() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_level(AV_LOG_WARNING);
    av_log_set_callback(&ffmpeg_log);
  });
}

// Plain local files only: no URL schemes or protocol prefixes (concat:, http:, pipe:, ...), and
// only regular files (no FIFOs or devices).
void check_local_path(const std::string& path) {
  if (path.empty()) throw Error("open", "empty path", path);
  const auto slash = path.find('/');
  const std::string head = path.substr(0, slash);
  if (head.find(':') != std::string::npos) {
    throw Error("open", "only plain file paths are accepted (no protocol or URL prefix)", path);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw Error("open", "no such file", path, errno);
  if (!S_ISREG(st.st_mode)) throw Error("open", "not a regular file", path);
  if (st.st_size == 0) throw ContentError("open", "empty file (0 bytes)", path);
}

// The demuxer FFmpeg would pick from the file's first bytes (for error messages only).
std::string detect_format_name(const std::string& path) {
  std::vector<uint8_t> buf(4096 + AVPROBE_PADDING_SIZE, 0);
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return "";
  const size_t n = std::fread(buf.data(), 1, 4096, f);
  std::fclose(f);
  const std::string filename = path;
  AVProbeData pd{};
  pd.filename = filename.c_str();
  pd.buf = buf.data();
  pd.buf_size = static_cast<int>(n);
  int score = 0;
  const AVInputFormat* fmt = av_probe_input_format2(&pd, 1, &score);
  return fmt && fmt->name ? fmt->name : "";
}

std::string media_type_name(AVMediaType t) {
  switch (t) {
    case AVMEDIA_TYPE_VIDEO: return "video";
    case AVMEDIA_TYPE_AUDIO: return "audio";
    case AVMEDIA_TYPE_SUBTITLE: return "subtitle";
    case AVMEDIA_TYPE_DATA: return "data";
    default: return "other";
  }
}

}  // namespace

FfmpegLogScope::FfmpegLogScope(const std::string& path) : previous_(t_log_file) {
  route_ffmpeg_log();
  t_log_file = &path;
  t_last_ffmpeg_error.clear();
}

FfmpegLogScope::~FfmpegLogScope() { t_log_file = previous_; }

std::string ffmpeg_said() { return t_last_ffmpeg_error.empty() ? "" : " (ffmpeg: " + t_last_ffmpeg_error + ")"; }

namespace {
// A WAV of 16-bit PCM: FFmpeg's WAV demuxer asks for its data to be probed for a compressed
// stream inside (S/PDIF, MP3 mislabelled as PCM), which runs every demuxer's probe each time the
// buffered data reach a power of two, until 32 packets, the probe size (5 MB) or the end of the
// file: for a 3.2 s 8 kHz file five rounds over the whole file, ~3 ms of CPU (more than decoding
// and the log-mel together). With the probe size cut to its minimum, the first packet (4 KiB)
// is probed once and the stream info is complete from the header: the same stream, the same
// samples (tools/bench/README.md, per-input overhead).
void limit_pcm_wav_probe(AVFormatContext* ctx) {
  if (!ctx->iformat || !ctx->iformat->name || std::string(ctx->iformat->name) != "wav" || ctx->nb_streams == 0) return;
  for (unsigned i = 0; i < ctx->nb_streams; ++i)
    if (ctx->streams[i]->codecpar->codec_id != AV_CODEC_ID_PCM_S16LE) return;
  ctx->probesize = 32;
}
}  // namespace

FormatPtr open_input(const std::string& path, Deadline* deadline, bool genpts) {
  route_ffmpeg_log();
  check_local_path(path);
  AVFormatContext* raw = avformat_alloc_context();
  if (!raw) throw Error("open", "out of memory", path);
  raw->interrupt_callback.callback = &Deadline::callback;
  raw->interrupt_callback.opaque = deadline;
  if (genpts) raw->flags |= AVFMT_FLAG_GENPTS;
  AVDictionary* raw_opts = nullptr;
  av_dict_set(&raw_opts, "protocol_whitelist", "file", 0);
  av_dict_set(&raw_opts, "format_whitelist", demuxer_whitelist_string().c_str(), 0);
  DictPtr opts(raw_opts);
  const std::string url = "file:" + path;
  AVDictionary* o = opts.release();
  const int r = avformat_open_input(&raw, url.c_str(), nullptr, &o);  // frees raw on failure
  av_dict_free(&o);
  if (r < 0) {
    if (deadline->expired()) throw Error("open", "deadline exceeded while opening", path);
    const std::string detected = detect_format_name(path);
    if (!detected.empty() && std::find(kDemuxers.begin(), kDemuxers.end(), detected) == kDemuxers.end()) {
      throw ContentError("open", "container format '" + detected + "' is not allowed", path);
    }
    throw_av_error(r, "open", "cannot open: " + av_error_string(r) + ffmpeg_said(), path);
  }
  FormatPtr ctx(raw);
  const std::string name = ctx->iformat && ctx->iformat->name ? ctx->iformat->name : "";
  if (std::find(kDemuxers.begin(), kDemuxers.end(), name) == kDemuxers.end()) {
    throw ContentError("open", "container format '" + name + "' is not allowed", path);
  }
  limit_pcm_wav_probe(ctx.get());
  const int s = avformat_find_stream_info(ctx.get(), nullptr);
  if (s < 0) throw_av_error(s, "open", "cannot read stream info: " + av_error_string(s) + ffmpeg_said(), path);
  deadline->check(path);
  return ctx;
}

std::string stream_language(const AVStream* st) {
  const AVDictionaryEntry* e = av_dict_get(st->metadata, "language", nullptr, 0);
  return e && e->value ? e->value : "";
}

double rational_value(AVRational r) { return r.den == 0 ? 0.0 : static_cast<double>(r.num) / r.den; }

// The stream's duration in seconds as the container states it (the file's when the stream has
// none); 0 when unknown or implausible. An estimate: only for progress.
double stream_seconds(const AVFormatContext* ctx, const AVStream* st) {
  double s = 0;
  if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
    s = static_cast<double>(st->duration) * rational_value(st->time_base);
  else if (ctx->duration != AV_NOPTS_VALUE && ctx->duration > 0)
    s = static_cast<double>(ctx->duration) / AV_TIME_BASE;
  return s > 0 && s < kMaxDurationS ? s : 0.0;
}

// Keep only one stream's packets coming out of the demuxer.
void discard_all_but(AVFormatContext* ctx, int index) {
  for (unsigned i = 0; i < ctx->nb_streams; ++i) {
    ctx->streams[i]->discard = static_cast<int>(i) == index ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
  }
}

CodecPtr open_decoder(const AVStream* st, const MediaOptions& mopts, const std::string& path,
                      const std::function<void(AVCodecContext*)>& configure) {
  const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
  if (!codec) {
    throw ContentError("decode", std::string("no decoder for codec ") + avcodec_get_name(st->codecpar->codec_id), path);
  }
  CodecPtr cc(avcodec_alloc_context3(codec));
  if (!cc) throw Error("decode", "out of memory", path);
  int r = avcodec_parameters_to_context(cc.get(), st->codecpar);
  if (r < 0) throw_av_error(r, "decode", "codec parameters: " + av_error_string(r), path);
  cc->pkt_timebase = st->time_base;
  cc->thread_count = std::max(0, mopts.decode_threads);
  if (configure) configure(cc.get());
  r = avcodec_open2(cc.get(), codec, nullptr);
  if (r < 0) throw_av_error(r, "decode", "cannot open decoder: " + av_error_string(r), path);
  return cc;
}

int first_video_stream(const AVFormatContext* ctx) {
  for (unsigned i = 0; i < ctx->nb_streams; ++i) {
    if (ctx->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) return static_cast<int>(i);
  }
  return -1;
}
}  // namespace lssd::media

namespace lssd {

using namespace media;  // NOLINT: the module's own FFmpeg layer

MediaInfo probe_media(const std::string& path, const MediaOptions& opts) {
  FfmpegLogScope log_scope(path);
  Deadline deadline(opts.deadline_s);
  FormatPtr ctx = open_input(path, &deadline);
  MediaInfo info;
  info.path = path;
  info.format = ctx->iformat->name;
  info.duration_s = ctx->duration > 0 ? static_cast<double>(ctx->duration) / AV_TIME_BASE : 0.0;
  for (unsigned i = 0; i < ctx->nb_streams; ++i) {
    const AVStream* st = ctx->streams[i];
    const AVCodecParameters* par = st->codecpar;
    StreamInfo s;
    s.index = static_cast<int>(i);
    s.type = media_type_name(par->codec_type);
    s.codec = avcodec_get_name(par->codec_id);
    s.language = stream_language(st);
    s.time_base_num = st->time_base.num;
    s.time_base_den = st->time_base.den;
    if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
      s.channels = par->ch_layout.nb_channels;
      s.sample_rate = par->sample_rate;
    } else if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
      s.width = par->width;
      s.height = par->height;
      s.avg_fps = rational_value(st->avg_frame_rate);
    }
    info.streams.push_back(std::move(s));
  }
  return info;
}

}  // namespace lssd
