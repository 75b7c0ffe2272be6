// Video: the clips of the first video stream, read as the release reads them (lssd/media.h):
// the timestamps, the clip plan and its passes; the decode passes are in video_decode.cc.
#include <algorithm>
#include <set>
#include <vector>

#include <spdlog/spdlog.h>

#include "clips/clip_frames.h"
#include "clips/clips.h"
#include "lssd/media.h"
#include "media/video_decode.h"

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

VideoStreamFacts video_stream_facts(const AVFormatContext* ctx, const std::string& path) {
  VideoStreamFacts v;
  v.index = first_video_stream(ctx);
  if (v.index < 0) throw ContentError("open", "no video stream", path);
  const AVStream* st = ctx->streams[v.index];
  if (st->time_base.num <= 0 || st->time_base.den <= 0) throw ContentError("open", "invalid time base", path);
  v.tb = TimeBase{st->time_base.num, st->time_base.den};
  v.avg_fps = rational_value(st->avg_frame_rate);
  v.lavc = extradata_has_lavc(ctx);
  const std::string format = ctx->iformat && ctx->iformat->name ? ctx->iformat->name : "";
  v.stored_pts = format == "mov,mp4,m4a,3gp,3g2,mj2" || format == "matroska,webm";
  const AVCodecParameters* par = st->codecpar;
  if (par->extradata && par->extradata_size > 0) {
    v.should_buffer = release_should_buffer(
        std::string(reinterpret_cast<const char*>(par->extradata), static_cast<size_t>(par->extradata_size)));
  }
  return v;
}

// A crafted file can claim an absurd duration with two packets (pts 0 and 2^62): the plan would
// hold billions of clips. Refuses durations beyond kMaxDurationS (about 11.6 days).
VideoClipPlan plan_from(const PtsStats& s, TimeBase tb, double clip_len, const std::string& path) {
  if (s.count >= 2) {
    const double end_s = static_cast<double>(s.max) * tb.num / tb.den;
    if (end_s > kMaxDurationS) {
      throw ContentError("open",
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

// The video stream's packets: every pts (the release's list when it reads timestamps from
// packets, discard-flagged packets included), and the pts of the frames a decoder will return
// (packets not flagged discard, e.g. outside an MP4 edit list), sorted.
struct DemuxedPts {
  PtsStats all;
  std::vector<int64_t> frames;
};

// Demux-only pass over the video stream.
DemuxedPts demux_packet_pts(AVFormatContext* ctx, int stream_index, const Deadline& deadline, const std::string& path) {
  discard_all_but(ctx, stream_index);
  DemuxedPts d;
  for_each_packet(ctx, stream_index, deadline, path, [&](const AVPacket* pkt) {
    if (pkt->pts == AV_NOPTS_VALUE) return;
    d.all.add(pkt->pts);
    if (!(pkt->flags & AV_PKT_FLAG_DISCARD)) d.frames.push_back(pkt->pts);
  });
  std::sort(d.frames.begin(), d.frames.end());
  return d;
}

PtsStats stats_of(const std::vector<int64_t>& pts) {
  PtsStats s;
  for (const int64_t p : pts) s.add(p);
  return s;
}

// Decoding only what the clips keep needs each frame's pts before decoding: the container's
// stored packet pts, one frame per packet, none repeated.
bool can_select(const VideoStreamFacts& facts, const MediaOptions& mopts, const DemuxedPts& d) {
  return mopts.skip_unneeded_frames && facts.stored_pts &&
         std::adjacent_find(d.frames.begin(), d.frames.end()) == d.frames.end();
}

void set_ranges(const VideoClipPlan& plan, VideoFileResult* result) {
  for (const auto& c : plan.clips) result->ranges.emplace_back(c.start_s, c.stop_s);
  result->num_clips = static_cast<int>(plan.clips.size());
}

// The default passes: decode everything with the packets' plan; with the "frames" rule, the
// decoded frames decide, and clips they plan otherwise are decoded again (one more pass).
void decode_all(const std::string& path, const VideoOptions& vopts, const MediaOptions& mopts, Deadline* deadline,
                const VideoStreamFacts& facts, const DemuxedPts& packets, const ClipSink<VideoClipFrames>& sink,
                VideoFileResult* result) {
  VideoClipPlan plan = plan_from(packets.all, facts.tb, vopts.clip_len, path);
  auto decode = [&](size_t first) {
    ++result->decode_passes;
    return decode_collecting(path, mopts, deadline, facts, vopts, plan.clips, first, sink.clip);
  };
  DecodePass pass = decode(0);
  result->num_timestamps = packets.all.count;
  if (!facts.lavc) {
    VideoClipPlan framed = plan_from(pass.frames, facts.tb, vopts.clip_len, path);
    result->num_timestamps = pass.frames.count;
    if (!same_clips(plan, framed)) {
      const size_t k = first_difference(plan, framed);
      plan = std::move(framed);
      result->restart_from = static_cast<int>(k);
      sink.withdraw(static_cast<int>(k));
      if (sink.planned) sink.planned(static_cast<int>(plan.clips.size()));
      if (!plan.skipped && k < plan.clips.size()) pass = decode(k);
    }
  }
  result->decoded_frames = pass.frames.count;
  result->decode_errors = pass.errors;
  result->skipped_short = plan.skipped;
  if (plan.skipped) return;
  if (pass.frames.count == 0) throw ContentError("decode", "no frame could be decoded", path);
  set_ranges(plan, result);
}

// Decodes only what the clips keep (decode_selected), the plan made from the packets' pts (for
// the "frames" rule: of the packets that give frames). False when the decoded frames did not
// bear the packets out: the clips delivered were withdrawn, and decode_all must run.
bool decode_kept(const std::string& path, const VideoOptions& vopts, const MediaOptions& mopts, Deadline* deadline,
                 const VideoStreamFacts& facts, const DemuxedPts& packets, const ClipSink<VideoClipFrames>& sink,
                 VideoFileResult* result) {
  const PtsStats frames = stats_of(packets.frames);
  const VideoClipPlan plan = plan_from(facts.lavc ? packets.all : frames, facts.tb, vopts.clip_len, path);
  result->num_timestamps = facts.lavc ? packets.all.count : frames.count;
  if (plan.skipped) {
    result->skipped_short = true;
    return true;
  }
  const SelectedFrames sel = select_frames(packets.frames, plan.clips, facts, vopts);
  const std::set<int64_t> frame_pts(packets.frames.begin(), packets.frames.end());
  ++result->decode_passes;
  const DecodePass pass = decode_selected(path, mopts, deadline, facts, sel, frame_pts, sink.clip);
  if (!pass.complete) {
    spdlog::debug("{}: decoding every frame after all: {}", path, pass.why);
    sink.withdraw(0);
    return false;
  }
  result->decoded_frames = pass.frames.count;
  result->decode_errors = pass.errors;
  set_ranges(plan, result);
  return true;
}

}  // namespace

VideoFileResult decode_video_clips(const std::string& path, const VideoOptions& vopts, const MediaOptions& mopts,
                                   const ClipSink<VideoClipFrames>& sink) {
  FfmpegLogScope log_scope(path);
  Deadline deadline(mopts.deadline_s);
  VideoStreamFacts facts;
  DemuxedPts packets;
  {
    FormatPtr ctx = open_input(path, &deadline, /*genpts=*/true);
    facts = video_stream_facts(ctx.get(), path);
    packets = demux_packet_pts(ctx.get(), facts.index, deadline, path);
  }
  auto fresh = [&] {
    VideoFileResult r;
    r.stream_index = facts.index;
    r.avg_fps = facts.avg_fps;
    r.should_buffer = facts.should_buffer;
    r.timestamp_source = facts.lavc ? "packets" : "frames";
    r.packet_timestamps = packets.all.count;
    return r;
  };
  VideoFileResult result = fresh();
  const bool select = can_select(facts, mopts, packets);
  const PtsStats first = select && !facts.lavc ? stats_of(packets.frames) : packets.all;
  const VideoClipPlan plan = plan_from(first, facts.tb, vopts.clip_len, path);
  if (sink.planned) sink.planned(static_cast<int>(plan.clips.size()));
  if (select) {
    if (decode_kept(path, vopts, mopts, &deadline, facts, packets, sink, &result)) return result;
    result = fresh();
    result.decode_passes = 1;  // the abandoned pass
  }
  if (facts.lavc && plan.skipped) {  // the release's own list: nothing to decode
    result.skipped_short = true;
    result.num_timestamps = packets.all.count;
    return result;
  }
  decode_all(path, vopts, mopts, &deadline, facts, packets, sink, &result);
  return result;
}

}  // namespace lssd
