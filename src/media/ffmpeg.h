// The media module's FFmpeg layer, private to src/media/ (nothing here leaves the module):
// RAII owners for every FFmpeg object, the per-file deadline, FFmpeg's log routed through
// spdlog, opening a whitelisted container through the file protocol, and the packet and decode
// loops that the video and audio decoders share.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "lssd/error.h"
#include "lssd/options.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libswscale/swscale.h>
}

namespace lssd::media {

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

// av_strerror's text for an FFmpeg error code.
std::string av_error_string(int err);
// Whether an FFmpeg error code is a system errno (I/O, memory, permissions; EINVAL excepted, as
// FFmpeg returns it for malformed data) rather than a verdict on the data.
bool av_system_error(int err);
// Throws `message` for a failed FFmpeg call that returned `err`: as ContentError when err says the
// data is bad (invalid data, unsupported feature, EINVAL, ...), as lssd::Error carrying the errno
// when the cause is the system's (I/O, memory, permissions): a rerun may succeed then.
[[noreturn]] void throw_av_error(int err, const std::string& stage, const std::string& message,
                                 const std::string& path);
// New frames and packets; a frame reference to src. Throw lssd::Error("decode") when out of memory.
FramePtr new_frame();
PacketPtr new_packet();
FramePtr ref_frame(const AVFrame* src);

// The longest video duration accepted (seconds): beyond it a file is refused before planning.
constexpr double kMaxDurationS = 1e6;

// A wall-clock deadline for one file, checked by FFmpeg's interrupt callback (blocking I/O)
// and by the decode loops between packets.
class Deadline {
 public:
  explicit Deadline(double seconds)
      : active_(seconds > 0),
        until_(std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
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

// Names the file that FFmpeg's messages on this thread are about, for one scope (debug level,
// "FILE: ffmpeg <component>: text"); the last error FFmpeg logged for it is kept (ffmpeg_said).
class FfmpegLogScope {
 public:
  explicit FfmpegLogScope(const std::string& path);
  ~FfmpegLogScope();
  FfmpegLogScope(const FfmpegLogScope&) = delete;
  FfmpegLogScope& operator=(const FfmpegLogScope&) = delete;

 private:
  const std::string* previous_;
};
// " (ffmpeg: <its last error for the current file>)", or "" when it said nothing.
std::string ffmpeg_said();

// Opens a whitelisted container through the file protocol (plain local regular files only) and
// reads its stream info. genpts: AVFMT_FLAG_GENPTS, as PyAV opens every input (libavformat
// then fills in packet pts that the container leaves unset, e.g. AVI packets of streams with
// B-frames). Throws lssd::Error("open") naming the cause.
FormatPtr open_input(const std::string& path, Deadline* deadline, bool genpts = false);

// A stream's "language" tag ("" when none); a rational as a double (0 for x/0).
std::string stream_language(const AVStream* st);
double rational_value(AVRational r);
// The stream's duration in seconds as the container states it (the file's when the stream has
// none); 0 when unknown or implausible. An estimate: only for progress.
double stream_seconds(const AVFormatContext* ctx, const AVStream* st);
// Keeps only one stream's packets coming out of the demuxer.
void discard_all_but(AVFormatContext* ctx, int index);
// The index of the first video stream, -1 if none.
int first_video_stream(const AVFormatContext* ctx);
// A decoder for the stream (MEDIA.DECODE_THREADS threads); configure (when given) adjusts the
// context before it opens (e.g. the cuda hwaccel). Throws lssd::Error("decode").
CodecPtr open_decoder(const AVStream* st, const MediaOptions& mopts, const std::string& path,
                      const std::function<void(AVCodecContext*)>& configure = {});

// Reads the packets of one stream (the others are discarded) until the end or a read error,
// calling on_packet for each; the deadline is checked between packets. Returns the read
// errors (0 or 1: a read error in the data ends the stream, like EOF). Throws lssd::Error
// ("read", with the errno) for a system error (EIO: a failing disk or network file system), so
// that the input is retried by a rerun instead of recorded with the clips read so far.
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
      if (av_system_error(r)) throw Error("read", "read error: " + av_error_string(r), path, -r);
      return 1;
    }
    if (pkt->stream_index == stream_index) on_packet(pkt.get());
    av_packet_unref(pkt.get());
  }
}

// Runs the decoder over one stream's packets: before_send(packet) before each packet goes in
// (e.g. to set the decoder's skip_frame for it), on_frame for every decoded frame, in output
// order, then a flush. Undecodable packets are skipped (as the release's PyAV loop ends a clip's
// read at the first error, a damaged file is not bit-compatible anyway). Returns the errors seen.
template <typename BeforeSend, typename OnFrame>
int64_t decode_stream_with(AVFormatContext* ctx, AVCodecContext* cc, int stream_index, const Deadline& deadline,
                           const std::string& path, BeforeSend&& before_send, OnFrame&& on_frame) {
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
    before_send(pkt);
    int s = avcodec_send_packet(cc, pkt);
    if (s == AVERROR(EAGAIN)) {  // the decoder holds output first (frame threads): take it, resend
      drain();
      s = avcodec_send_packet(cc, pkt);
    }
    if (s < 0) ++errors;
    drain();
  });
  avcodec_send_packet(cc, nullptr);
  drain();
  return errors;
}

template <typename OnFrame>
int64_t decode_stream(AVFormatContext* ctx, AVCodecContext* cc, int stream_index, const Deadline& deadline,
                      const std::string& path, OnFrame&& on_frame) {
  return decode_stream_with(
      ctx, cc, stream_index, deadline, path, [](const AVPacket*) {}, std::forward<OnFrame>(on_frame));
}
}  // namespace lssd::media
