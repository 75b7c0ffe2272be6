// FFmpeg demuxing/decoding behind lssd/media.h. Every FFmpeg object lives in a unique_ptr with
// its own deleter; nothing FFmpeg-typed leaves this file.
#include "lssd/media.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdarg>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>

#include "lssd/clip_frames.h"
#include "lssd/clips.h"
#include "lssd/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/imgutils.h>
#include <libavutil/samplefmt.h>
#include <libswscale/swscale.h>
}

namespace lssd {
namespace {

struct FormatDeleter {
  void operator()(AVFormatContext* p) const { avformat_close_input(&p); }
};
struct CodecDeleter {
  void operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
};
struct FrameDeleter {
  void operator()(AVFrame* p) const { av_frame_free(&p); }
};
struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsDeleter {
  void operator()(SwsContext* p) const { sws_freeContext(p); }
};
struct DictDeleter {
  void operator()(AVDictionary* p) const { av_dict_free(&p); }
};
struct AvFreeDeleter {
  void operator()(uint8_t* p) const { av_free(p); }
};
using FormatPtr = std::unique_ptr<AVFormatContext, FormatDeleter>;
using CodecPtr = std::unique_ptr<AVCodecContext, CodecDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using SwsPtr = std::unique_ptr<SwsContext, SwsDeleter>;
using DictPtr = std::unique_ptr<AVDictionary, DictDeleter>;
using AvBufferPtr = std::unique_ptr<uint8_t, AvFreeDeleter>;

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

// The longest video duration accepted (seconds): beyond it a file is refused before planning.
constexpr double kMaxDurationS = 1e6;

// The whitelisted demuxers, as FFmpeg names them.
const std::vector<std::string> kDemuxers = {
    "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi", "wav", "w64", "flac", "mp3", "ogg",
    "aac", "aiff", "mpegts", "flv", "asf"};

std::string demuxer_whitelist_string() {
  std::string s;
  for (const auto& d : kDemuxers) s += (s.empty() ? "" : ",") + d;
  return s;
}

// A wall-clock deadline for one file, checked by FFmpeg's interrupt callback (blocking I/O)
// and by the decode loops between packets.
class Deadline {
 public:
  explicit Deadline(double seconds)
      : active_(seconds > 0),
        until_(std::chrono::steady_clock::now() +
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                   std::chrono::duration<double>(active_ ? seconds : 0.0))),
        seconds_(seconds) {}
  bool expired() const { return active_ && std::chrono::steady_clock::now() > until_; }
  void check(const std::string& path) const {
    if (expired()) throw Error("decode", "deadline of " + std::to_string(seconds_) + " s exceeded", path);
  }
  static int callback(void* opaque) { return static_cast<const Deadline*>(opaque)->expired() ? 1 : 0; }
  // Runs f (a consumer callback: transforms, a queue push that waits for the encoder) with the
  // clock stopped: the deadline bounds decoding, not how fast the rest of the pipeline is.
  template <typename F>
  void excluding(F&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    struct Extend {
      Deadline* d;
      std::chrono::steady_clock::time_point t0;
      ~Extend() { d->until_ += std::chrono::steady_clock::now() - t0; }
    } extend{this, t0};
    f();
  }

 private:
  bool active_;
  std::chrono::steady_clock::time_point until_;
  double seconds_;
};

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

// " (ffmpeg: <its last error for this file>)", or "" when it said nothing.
std::string ffmpeg_said() { return t_last_ffmpeg_error.empty() ? "" : " (ffmpeg: " + t_last_ffmpeg_error + ")"; }

// Names the file FFmpeg's messages on this thread are about, for one scope.
class FfmpegLogScope {
 public:
  explicit FfmpegLogScope(const std::string& path) : previous_(t_log_file) {
    route_ffmpeg_log();
    t_log_file = &path;
    t_last_ffmpeg_error.clear();
  }
  ~FfmpegLogScope() { t_log_file = previous_; }
  FfmpegLogScope(const FfmpegLogScope&) = delete;
  FfmpegLogScope& operator=(const FfmpegLogScope&) = delete;

 private:
  const std::string* previous_;
};

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
  if (::stat(path.c_str(), &st) != 0) throw Error("open", "no such file", path);
  if (!S_ISREG(st.st_mode)) throw Error("open", "not a regular file", path);
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

// Opens a whitelisted container through the file protocol. genpts: AVFMT_FLAG_GENPTS, as PyAV
// opens every input (libavformat then fills in packet pts that the container leaves unset,
// e.g. AVI packets of streams with B-frames).
FormatPtr open_input(const std::string& path, Deadline* deadline, bool genpts = false) {
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
      throw Error("open", "container format '" + detected + "' is not allowed", path);
    }
    throw Error("open", "cannot open: " + av_error_string(r) + ffmpeg_said(), path);
  }
  FormatPtr ctx(raw);
  const std::string name = ctx->iformat && ctx->iformat->name ? ctx->iformat->name : "";
  if (std::find(kDemuxers.begin(), kDemuxers.end(), name) == kDemuxers.end()) {
    throw Error("open", "container format '" + name + "' is not allowed", path);
  }
  const int s = avformat_find_stream_info(ctx.get(), nullptr);
  if (s < 0) throw Error("open", "cannot read stream info: " + av_error_string(s) + ffmpeg_said(), path);
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
  if (st->duration != AV_NOPTS_VALUE && st->duration > 0) s = static_cast<double>(st->duration) * rational_value(st->time_base);
  else if (ctx->duration != AV_NOPTS_VALUE && ctx->duration > 0) s = static_cast<double>(ctx->duration) / AV_TIME_BASE;
  return s > 0 && s < kMaxDurationS ? s : 0.0;
}

// Keep only one stream's packets coming out of the demuxer.
void discard_all_but(AVFormatContext* ctx, int index) {
  for (unsigned i = 0; i < ctx->nb_streams; ++i) {
    ctx->streams[i]->discard = static_cast<int>(i) == index ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
  }
}

CodecPtr open_decoder(const AVStream* st, const MediaOptions& mopts, const std::string& path) {
  const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
  if (!codec) {
    throw Error("decode", std::string("no decoder for codec ") + avcodec_get_name(st->codecpar->codec_id), path);
  }
  CodecPtr cc(avcodec_alloc_context3(codec));
  if (!cc) throw Error("decode", "out of memory", path);
  int r = avcodec_parameters_to_context(cc.get(), st->codecpar);
  if (r < 0) throw Error("decode", "codec parameters: " + av_error_string(r), path);
  cc->pkt_timebase = st->time_base;
  cc->thread_count = std::max(0, mopts.decode_threads);
  r = avcodec_open2(cc.get(), codec, nullptr);
  if (r < 0) throw Error("decode", "cannot open decoder: " + av_error_string(r), path);
  return cc;
}

// Reads the packets of one stream (the others are discarded) until the end or a read error,
// calling on_packet for each; the deadline is checked between packets. Returns the read
// errors (0 or 1: a read error ends the stream, like EOF).
template <typename OnPacket>
int64_t for_each_packet(AVFormatContext* ctx, int stream_index, const Deadline& deadline, const std::string& path,
                        OnPacket&& on_packet) {
  PacketPtr pkt = new_packet();
  for (;;) {
    deadline.check(path);
    const int r = av_read_frame(ctx, pkt.get());
    if (r == AVERROR_EOF) return 0;
    if (r < 0) {
      deadline.check(path);
      return 1;
    }
    if (pkt->stream_index == stream_index) on_packet(pkt.get());
    av_packet_unref(pkt.get());
  }
}

// Runs the decoder over one stream's packets: on_frame for every decoded frame, in output order,
// then a flush. Undecodable packets are skipped (as the release's PyAV loop ends a clip's read
// at the first error, a damaged file is not bit-compatible anyway). Returns the errors seen.
template <typename OnFrame>
int64_t decode_stream(AVFormatContext* ctx, AVCodecContext* cc, int stream_index, const Deadline& deadline,
                      const std::string& path, OnFrame&& on_frame) {
  FramePtr frame = new_frame();
  int64_t errors = 0;
  auto drain = [&]() {
    for (;;) {
      const int r = avcodec_receive_frame(cc, frame.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      if (r < 0) {
        ++errors;
        return;
      }
      on_frame(frame.get());
      av_frame_unref(frame.get());
    }
  };
  errors += for_each_packet(ctx, stream_index, deadline, path, [&](const AVPacket* pkt) {
    const int s = avcodec_send_packet(cc, pkt);
    if (s < 0 && s != AVERROR(EAGAIN)) ++errors;
    drain();
  });
  avcodec_send_packet(cc, nullptr);
  drain();
  return errors;
}

int first_video_stream(const AVFormatContext* ctx) {
  for (unsigned i = 0; i < ctx->nb_streams; ++i) {
    if (ctx->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) return static_cast<int>(i);
  }
  return -1;
}

// torchvision's _can_read_timestamps_from_packets: the container's first stream's extradata
// contains "Lavc".
bool extradata_has_lavc(const AVFormatContext* ctx) {
  if (ctx->nb_streams == 0) return false;
  const AVCodecParameters* par = ctx->streams[0]->codecpar;
  if (!par->extradata || par->extradata_size < 4) return false;
  static const char kLavc[] = "Lavc";
  const uint8_t* b = par->extradata;
  const uint8_t* e = b + par->extradata_size;
  return std::search(b, e, kLavc, kLavc + 4) != e;
}

// RGB24 conversion as PyAV 10's VideoFrame.to_rgb(): sws_getCachedContext(w, h, fmt -> w, h,
// rgb24, SWS_BILINEAR), no colorspace change, into a 16-byte-aligned image; a frame that is
// already rgb24 is copied as is.
class RgbConverter {
 public:
  std::vector<uint8_t> convert(const AVFrame* f, const std::string& path) {
    const int w = f->width, h = f->height;
    const auto fmt = static_cast<AVPixelFormat>(f->format);
    std::vector<uint8_t> out(static_cast<size_t>(w) * h * 3);
    if (fmt == AV_PIX_FMT_RGB24) {
      for (int y = 0; y < h; ++y) {
        std::memcpy(out.data() + static_cast<size_t>(y) * w * 3, f->data[0] + static_cast<ptrdiff_t>(y) * f->linesize[0],
                    static_cast<size_t>(w) * 3);
      }
      return out;
    }
    SwsContext* s = sws_getCachedContext(sws_.release(), w, h, fmt, w, h, AV_PIX_FMT_RGB24, SWS_BILINEAR,
                                         nullptr, nullptr, nullptr);
    sws_.reset(s);
    if (!s) throw Error("decode", "cannot convert frames to RGB", path);
    if (!buf_ || w != bw_ || h != bh_) {
      uint8_t* data[4] = {nullptr};
      const int r = av_image_alloc(data, linesize_, w, h, AV_PIX_FMT_RGB24, 16);
      if (r < 0) throw Error("decode", "out of memory", path);
      buf_.reset(data[0]);
      bw_ = w;
      bh_ = h;
    }
    uint8_t* dst[4] = {buf_.get(), nullptr, nullptr, nullptr};
    sws_scale(s, f->data, f->linesize, 0, h, dst, linesize_);
    for (int y = 0; y < h; ++y) {
      std::memcpy(out.data() + static_cast<size_t>(y) * w * 3, buf_.get() + static_cast<ptrdiff_t>(y) * linesize_[0],
                  static_cast<size_t>(w) * 3);
    }
    return out;
  }

 private:
  SwsPtr sws_;
  AvBufferPtr buf_;
  int linesize_[4] = {0, 0, 0, 0};
  int bw_ = 0, bh_ = 0;
};

std::string media_type_name(AVMediaType t) {
  switch (t) {
    case AVMEDIA_TYPE_VIDEO: return "video";
    case AVMEDIA_TYPE_AUDIO: return "audio";
    case AVMEDIA_TYPE_SUBTITLE: return "subtitle";
    case AVMEDIA_TYPE_DATA: return "data";
    default: return "other";
  }
}

// Float conversion of one sample as libswresample does it (to AV_SAMPLE_FMT_FLT).
inline float sample_to_float(const uint8_t* p, AVSampleFormat packed_fmt) {
  switch (packed_fmt) {
    case AV_SAMPLE_FMT_U8: return static_cast<float>(static_cast<int>(*p) - 0x80) * (1.0f / (1 << 7));
    case AV_SAMPLE_FMT_S16: {
      int16_t v;
      std::memcpy(&v, p, sizeof v);
      return static_cast<float>(v) * (1.0f / (1 << 15));
    }
    case AV_SAMPLE_FMT_S32: {
      int32_t v;
      std::memcpy(&v, p, sizeof v);
      return static_cast<float>(v) * (1.0f / (1U << 31));
    }
    case AV_SAMPLE_FMT_S64: {
      int64_t v;
      std::memcpy(&v, p, sizeof v);
      return static_cast<float>(v) * (1.0f / static_cast<float>(UINT64_C(1) << 63));
    }
    case AV_SAMPLE_FMT_FLT: {
      float v;
      std::memcpy(&v, p, sizeof v);
      return v;
    }
    case AV_SAMPLE_FMT_DBL: {
      double v;
      std::memcpy(&v, p, sizeof v);
      return static_cast<float>(v);
    }
    default: return 0.0f;
  }
}

}  // namespace

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

// ---- video -------------------------------------------------------------------------------

namespace {

// The first video stream of a file and what the release's reader derives from it.
struct VideoStreamFacts {
  int index = -1;
  TimeBase tb;
  double avg_fps = 0;
  bool lavc = false;           // first stream's extradata has "Lavc": timestamps from packets
  bool should_buffer = true;   // torchvision's read_video buffering (DivX user data)
};

VideoStreamFacts video_stream_facts(const AVFormatContext* ctx, const std::string& path) {
  VideoStreamFacts v;
  v.index = first_video_stream(ctx);
  if (v.index < 0) throw Error("open", "no video stream", path);
  const AVStream* st = ctx->streams[v.index];
  if (st->time_base.num <= 0 || st->time_base.den <= 0) throw Error("open", "invalid time base", path);
  v.tb = TimeBase{st->time_base.num, st->time_base.den};
  v.avg_fps = rational_value(st->avg_frame_rate);
  v.lavc = extradata_has_lavc(ctx);
  const AVCodecParameters* par = st->codecpar;
  if (par->extradata && par->extradata_size > 0) {
    v.should_buffer = release_should_buffer(
        std::string(reinterpret_cast<const char*>(par->extradata), static_cast<size_t>(par->extradata_size)));
  }
  return v;
}

// How many timestamps, and the largest: all a clip plan depends on.
struct PtsStats {
  int64_t count = 0;
  int64_t max = std::numeric_limits<int64_t>::min();
  void add(int64_t pts) {
    ++count;
    max = std::max(max, pts);
  }
};

// A crafted file can claim an absurd duration with two packets (pts 0 and 2^62): the plan would
// hold billions of clips. Refuses durations beyond kMaxDurationS (about 11.6 days).
VideoClipPlan plan_from(const PtsStats& s, TimeBase tb, double clip_len, const std::string& path) {
  if (s.count >= 2) {
    const double end_s = static_cast<double>(s.max) * tb.num / tb.den;
    if (end_s > kMaxDurationS) {
      throw Error("open",
                  "implausible duration: last timestamp at " + std::to_string(end_s) + " s (limit " +
                      std::to_string(static_cast<int64_t>(kMaxDurationS)) + " s)",
                  path);
    }
  }
  return plan_video_clips(s.max, static_cast<size_t>(s.count), tb, clip_len);
}

bool same_clips(const VideoClipPlan& a, const VideoClipPlan& b) {
  if (a.skipped != b.skipped || a.clips.size() != b.clips.size()) return false;
  for (size_t i = 0; i < a.clips.size(); ++i) {
    const VideoClip &x = a.clips[i], &y = b.clips[i];
    if (x.lo != y.lo || x.hi != y.hi || x.start_s != y.start_s || x.stop_s != y.stop_s) return false;
  }
  return true;
}

// The first clip index at which two plans differ (the clips before it are read identically:
// a clip's frames depend only on its lo/hi and on the decoded frames).
size_t first_difference(const VideoClipPlan& a, const VideoClipPlan& b) {
  size_t k = 0;
  while (k < a.clips.size() && k < b.clips.size() && a.clips[k].lo == b.clips[k].lo && a.clips[k].hi == b.clips[k].hi &&
         a.clips[k].start_s == b.clips[k].start_s && a.clips[k].stop_s == b.clips[k].stop_s)
    ++k;
  return k;
}

// Demux-only pass: the pts of the video stream's packets, as the release lists them when it
// reads timestamps from packets (every packet with a pts, discard-flagged ones included).
PtsStats demux_packet_pts(AVFormatContext* ctx, int stream_index, const Deadline& deadline, const std::string& path) {
  discard_all_but(ctx, stream_index);
  PtsStats stats;
  for_each_packet(ctx, stream_index, deadline, path, [&](const AVPacket* pkt) {
    if (pkt->pts != AV_NOPTS_VALUE) stats.add(pkt->pts);
  });
  return stats;
}

// One decode pass over the first video stream: every decoded frame's pts into `frames`, the
// clips of `clips` from index `first` on collected and delivered through on_clip.
class VideoClipDecoder {
 public:
  VideoClipDecoder(const std::string& path, const VideoOptions& vopts, const VideoStreamFacts& facts)
      : path_(path), vopts_(vopts), facts_(facts) {}

  struct Pass {
    PtsStats frames;
    int64_t errors = 0;
  };

  Pass run(const MediaOptions& mopts, Deadline* deadline, const std::vector<VideoClip>& clips, size_t first,
           const std::function<void(VideoClipFrames&&)>& on_clip) {
    FormatPtr ctx = open_input(path_, deadline, /*genpts=*/true);
    if (first_video_stream(ctx.get()) != facts_.index) throw Error("open", "stream layout changed between opens", path_);
    discard_all_but(ctx.get(), facts_.index);
    CodecPtr cc = open_decoder(ctx->streams[facts_.index], mopts, path_);
    ClipFrameCollector collector(std::vector<VideoClip>(clips.begin() + static_cast<ptrdiff_t>(first), clips.end()),
                                 facts_.should_buffer);
    Pass pass;
    uint64_t next_id = 0;
    pass.errors = decode_stream(ctx.get(), cc.get(), facts_.index, *deadline, path_, [&](const AVFrame* f) {
      if (f->pts == AV_NOPTS_VALUE) return;  // PyAV gives pts None; the release's lists drop those
      pass.frames.add(f->pts);
      const uint64_t id = next_id++;
      held_.emplace(id, ref_frame(f));
      collector.add(f->pts, id);
      deliver(collector, *deadline, on_clip);
    });
    collector.finish();
    deliver(collector, *deadline, on_clip);
    held_.clear();
    return pass;
  }

 private:
  void deliver(ClipFrameCollector& collector, Deadline& deadline, const std::function<void(VideoClipFrames&&)>& on_clip) {
    CollectedClip c;
    while (collector.pop_complete(&c)) {
      VideoClipFrames out = convert(c);
      deadline.excluding([&] { on_clip(std::move(out)); });
    }
    for (const uint64_t id : collector.take_released()) held_.erase(id);
  }

  // The clip's frames -> the 16 selected RGB frames.
  VideoClipFrames convert(const CollectedClip& c) {
    if (c.ids.empty()) throw Error("decode", "clip " + std::to_string(c.index) + " has no frames", path_);
    const auto sel = select_clip_frames(static_cast<int64_t>(c.ids.size()), facts_.avg_fps, vopts_.fps, vopts_.n_frames);
    VideoClipFrames out;
    out.index = c.index;
    out.num_decoded = static_cast<int>(c.ids.size());
    out.clip_pts = c.pts;
    const AVFrame* first = held_.at(c.ids[static_cast<size_t>(sel.front())]).get();
    out.width = first->width;
    out.height = first->height;
    for (const int64_t k : sel) {
      const AVFrame* f = held_.at(c.ids[static_cast<size_t>(k)]).get();
      if (f->width != out.width || f->height != out.height) {
        throw Error("decode", "frame size changes within clip " + std::to_string(c.index), path_);
      }
      out.pts.push_back(c.pts[static_cast<size_t>(k)]);
      out.frames.push_back(rgb_.convert(f, path_));
    }
    return out;
  }

  const std::string& path_;
  const VideoOptions& vopts_;
  const VideoStreamFacts& facts_;
  std::map<uint64_t, FramePtr> held_;
  RgbConverter rgb_;
};

}  // namespace

VideoFileResult decode_video_clips(const std::string& path, const VideoOptions& vopts, const MediaOptions& mopts,
                                   const ClipSink<VideoClipFrames>& sink) {
  FfmpegLogScope log_scope(path);
  Deadline deadline(mopts.deadline_s);
  VideoFileResult result;
  VideoStreamFacts facts;
  PtsStats packets;
  {
    FormatPtr ctx = open_input(path, &deadline, /*genpts=*/true);
    facts = video_stream_facts(ctx.get(), path);
    packets = demux_packet_pts(ctx.get(), facts.index, deadline, path);
  }
  result.stream_index = facts.index;
  result.avg_fps = facts.avg_fps;
  result.should_buffer = facts.should_buffer;
  result.timestamp_source = facts.lavc ? "packets" : "frames";
  result.packet_timestamps = packets.count;
  VideoClipPlan plan = plan_from(packets, facts.tb, vopts.clip_len, path);
  if (sink.planned) sink.planned(static_cast<int>(plan.clips.size()));
  if (facts.lavc && plan.skipped) {  // the release's own list: nothing to decode
    result.skipped_short = true;
    result.num_timestamps = packets.count;
    return result;
  }
  // Decode with the packets' plan; with the "frames" rule, the decoded frames decide.
  VideoClipDecoder decoder(path, vopts, facts);
  auto decode = [&](size_t first) {
    ++result.decode_passes;
    return decoder.run(mopts, &deadline, plan.clips, first, sink.clip);
  };
  VideoClipDecoder::Pass pass = decode(0);
  result.num_timestamps = packets.count;
  if (!facts.lavc) {
    VideoClipPlan framed = plan_from(pass.frames, facts.tb, vopts.clip_len, path);
    result.num_timestamps = pass.frames.count;
    if (!same_clips(plan, framed)) {
      const size_t k = first_difference(plan, framed);
      plan = std::move(framed);
      result.restart_from = static_cast<int>(k);
      sink.withdraw(static_cast<int>(k));
      if (sink.planned) sink.planned(static_cast<int>(plan.clips.size()));
      if (!plan.skipped && k < plan.clips.size()) pass = decode(k);
    }
  }
  result.decoded_frames = pass.frames.count;
  result.decode_errors = pass.errors;
  if (plan.skipped) {
    result.skipped_short = true;
    return result;
  }
  if (pass.frames.count == 0) throw Error("decode", "no frame could be decoded", path);
  for (const auto& c : plan.clips) result.ranges.emplace_back(c.start_s, c.stop_s);
  result.num_clips = static_cast<int>(plan.clips.size());
  return result;
}

// ---- audio -------------------------------------------------------------------------------

AudioFileResult decode_audio_clips(const std::string& path, int audio_stream, const AudioOptions& aopts,
                                   const MediaOptions& mopts, const ClipSink<AudioClipSamples>& sink) {
  FfmpegLogScope log_scope(path);
  Deadline deadline(mopts.deadline_s);
  AudioFileResult result;
  FormatPtr ctx = open_input(path, &deadline);
  int as = audio_stream;
  if (as < 0) {
    as = av_find_best_stream(ctx.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (as < 0) throw Error("open", "no audio stream", path);
  } else if (as >= static_cast<int>(ctx->nb_streams) ||
             ctx->streams[as]->codecpar->codec_type != AVMEDIA_TYPE_AUDIO) {
    throw Error("open", "stream " + std::to_string(as) + " is not an audio stream", path);
  }
  const AVStream* st = ctx->streams[as];
  result.stream_index = as;
  result.language = stream_language(st);
  result.sample_rate = st->codecpar->sample_rate;
  result.channels = st->codecpar->ch_layout.nb_channels;
  const int sr = result.sample_rate;
  if (sr <= 0) throw Error("open", "unknown sample rate", path);
  discard_all_but(ctx.get(), as);
  CodecPtr cc = open_decoder(st, mopts, path);

  const double T = aopts.clip_len;
  const auto window = static_cast<int64_t>(T * sr);  // int(T*sr): the tail clip's length
  std::vector<float> buf;                            // mono samples [buf_start, count)
  int64_t buf_start = 0;
  int64_t count = 0;
  int next_regular = 0;
  int64_t last_stop = 0;

  auto emit = [&](const AudioClip& c) {
    AudioClipSamples out;
    out.index = c.index;
    out.start = c.start;
    out.stop = c.stop;
    out.start_s = c.start_s;
    out.stop_s = c.stop_s;
    out.sample_rate = sr;
    const int64_t a = std::max(c.start, buf_start) - buf_start;
    const int64_t b = std::min(c.stop, count) - buf_start;
    if (c.start < buf_start) throw Error("decode", "internal: audio window too short", path);
    out.mono.assign(buf.begin() + a, buf.begin() + std::max(a, b));
    result.ranges.emplace_back(c.start, c.stop);
    deadline.excluding([&] { sink.clip(std::move(out)); });
  };
  if (sink.planned) {
    const double seconds = stream_seconds(ctx.get(), st);
    if (seconds > 0) {
      const AudioClipPlan p = plan_audio_clips(static_cast<int64_t>(seconds * sr), sr, T);
      sink.planned(static_cast<int>(p.clips.size()));
    }
  }

  decode_stream(ctx.get(), cc.get(), as, deadline, path, [&](const AVFrame* f) {
    const int n = f->nb_samples;
    const int ch = f->ch_layout.nb_channels;
    if (n <= 0 || ch <= 0) return;
    const auto fmt = static_cast<AVSampleFormat>(f->format);
    const bool planar = av_sample_fmt_is_planar(fmt) != 0;
    const AVSampleFormat packed = av_get_packed_sample_fmt(fmt);
    const int bps = av_get_bytes_per_sample(packed);
    const size_t old = buf.size();
    buf.resize(old + static_cast<size_t>(n));
    float* dst = buf.data() + old;
    for (int j = 0; j < n; ++j) {
      float sum = 0.0f;
      for (int c = 0; c < ch; ++c) {
        const uint8_t* p = planar ? f->extended_data[c] + static_cast<ptrdiff_t>(j) * bps
                                  : f->extended_data[0] + (static_cast<ptrdiff_t>(j) * ch + c) * bps;
        const float v = sample_to_float(p, packed);
        sum = c == 0 ? v : sum + v;
      }
      dst[j] = ch == 1 ? sum : (ch == 2 ? sum / 2.0f : sum / static_cast<float>(ch));
    }
    count += n;
    // Regular clips that are now known to exist.
    while (audio_regular_clip_exists(next_regular, count, sr, T)) {
      const AudioClip c = audio_regular_clip(next_regular, sr, T);
      emit(c);
      last_stop = c.stop;
      ++next_regular;
    }
    // Drop what no clip can need any more: before the next regular clip's start and before the
    // last int(T*sr) samples (the tail clip).
    const int64_t next_start = audio_regular_clip(next_regular, sr, T).start;
    const int64_t keep_from = std::min(next_start, count - window);
    const int64_t drop = keep_from - buf_start;
    if (drop > 0 && static_cast<size_t>(drop) * 2 >= buf.size()) {
      buf.erase(buf.begin(), buf.begin() + drop);
      buf_start = keep_from;
    }
  });
  result.num_samples = count;
  if (count < 2) {
    result.skipped_short = true;
    result.ranges.clear();
    return result;
  }
  AudioClip extra;
  if (audio_final_clip(count, next_regular, last_stop, sr, T, &extra)) emit(extra);
  result.num_clips = static_cast<int>(result.ranges.size());
  return result;
}

}  // namespace lssd
