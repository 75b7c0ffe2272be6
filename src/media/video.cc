// Video: the clips of the first video stream, read as the release reads them (lssd/media.h).
#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <vector>

extern "C" {
#include <libavutil/imgutils.h>
}

#include "lssd/clip_frames.h"
#include "lssd/clips.h"
#include "lssd/media.h"
#include "media/ffmpeg.h"

namespace lssd {
using namespace media;  // NOLINT: the module's own FFmpeg layer

namespace {

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
}  // namespace lssd
