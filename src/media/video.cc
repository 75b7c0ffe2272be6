// Video: the clips of the first video stream, read as the release reads them (lssd/media.h):
// the timestamps, the clip plan and its passes (VideoFileDecoder); the decode passes are in
// video_decode.cc.
#include "media/video_file_decoder.h"

#include <algorithm>
#include <atomic>
#include <set>
#include <vector>

#include <spdlog/spdlog.h>

#include "clips/clip_frames.h"
#include "clips/clips.h"
#include "lssd/media.h"
#include "media/nvdec_cuda.h"

namespace lssd::media {

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

}  // namespace

VideoFileDecoder::VideoFileDecoder(const std::string& path, const VideoOptions& video, const MediaOptions& media,
                                   const ClipSink<VideoClipFrames>& sink)
    : path_(path), video_(video), media_(media), sink_(sink), log_scope_(path), deadline_(media.deadline_s) {}

void VideoFileDecoder::demux() {
  FormatPtr ctx = open_input(path_, &deadline_, /*genpts=*/true);
  facts_ = video_stream_facts(ctx.get(), path_);
  if (media_.hwaccel == "cuda") {
    fallback_ = nvdec_refuses(ctx->streams[facts_.index]->codecpar);
    nvdec_ = fallback_.empty();
  }
  packets_ = demux_packet_pts(ctx.get(), facts_.index, deadline_, path_);
}

VideoFileResult VideoFileDecoder::fresh_result() const {
  VideoFileResult r;
  r.stream_index = facts_.index;
  r.avg_fps = facts_.avg_fps;
  r.should_buffer = facts_.should_buffer;
  r.timestamp_source = facts_.lavc ? "packets" : "frames";
  r.packet_timestamps = packets_.all.count;
  return r;
}

DecodePass VideoFileDecoder::decode_from(const std::vector<VideoClip>& clips, size_t first) {
  ++result_.decode_passes;
  return decode_collecting(context(), clips, first, sink_.clip);
}

// The default passes: decode everything with the packets' plan; with the "frames" rule, the
// decoded frames decide, and clips they plan otherwise are decoded again (one more pass).
void VideoFileDecoder::decode_all() {
  VideoClipPlan plan = plan_from(packets_.all, facts_.tb, video_.clip_len, path_);
  DecodePass pass = decode_from(plan.clips, 0);
  result_.num_timestamps = packets_.all.count;
  if (!facts_.lavc) {
    VideoClipPlan framed = plan_from(pass.frames, facts_.tb, video_.clip_len, path_);
    result_.num_timestamps = pass.frames.count;
    if (!same_clips(plan, framed)) {
      const size_t k = first_difference(plan, framed);
      plan = std::move(framed);
      result_.restart_from = static_cast<int>(k);
      sink_.withdraw(static_cast<int>(k));
      if (sink_.planned) sink_.planned(static_cast<int>(plan.clips.size()));
      if (!plan.skipped && k < plan.clips.size()) pass = decode_from(plan.clips, k);
    }
  }
  result_.decoded_frames = pass.frames.count;
  result_.decode_errors = pass.errors;
  result_.skipped_short = plan.skipped;
  if (plan.skipped) return;
  if (pass.frames.count == 0) throw ContentError("decode", "no frame could be decoded", path_);
  set_ranges(plan, &result_);
}

// Decodes only what the clips keep (decode_selected), the plan made from the packets' pts (for
// the "frames" rule: of the packets that give frames). False when the decoded frames did not
// bear the packets out: the clips delivered were withdrawn, and decode_all must run.
bool VideoFileDecoder::decode_kept() {
  const PtsStats frames = stats_of(packets_.frames);
  const VideoClipPlan plan = plan_from(facts_.lavc ? packets_.all : frames, facts_.tb, video_.clip_len, path_);
  result_.num_timestamps = facts_.lavc ? packets_.all.count : frames.count;
  if (plan.skipped) {
    result_.skipped_short = true;
    return true;
  }
  const SelectedFrames sel = select_frames(packets_.frames, plan.clips, facts_, video_);
  const std::set<int64_t> frame_pts(packets_.frames.begin(), packets_.frames.end());
  ++result_.decode_passes;
  const DecodePass pass = decode_selected(context(), sel, frame_pts, sink_.clip);
  if (!pass.complete) {
    spdlog::debug("{}: decoding every frame after all: {}", path_, pass.why);
    sink_.withdraw(0);
    return false;
  }
  result_.decoded_frames = pass.frames.count;
  result_.decode_errors = pass.errors;
  set_ranges(plan, &result_);
  return true;
}

// With MEDIA.HWACCEL cuda: this file decodes on the CPU. Said once per process as a warning (the
// manifest records every input's decoder), then at debug level.
void VideoFileDecoder::fall_back(const std::string& why) {
  static std::atomic<bool> warned{false};
  nvdec_ = false;
  fallback_ = why;
  if (!warned.exchange(true))
    spdlog::warn("{}: MEDIA.HWACCEL cuda: decoding on the CPU: {} (other such files: the manifest's \"decoder\")",
                 path_, why);
  else
    spdlog::debug("{}: MEDIA.HWACCEL cuda: decoding on the CPU: {}", path_, why);
}

VideoFileResult VideoFileDecoder::run() {
  demux();
  if (media_.hwaccel == "cuda" && !nvdec_) fall_back(fallback_);
  VideoFileResult r;
  try {
    r = run_passes();
  } catch (const NvdecFallback& f) {
    sink_.withdraw(0);
    fall_back(f.why);
    r = run_passes();
  }
  r.decoder = nvdec_ ? "nvdec" : "cpu";
  r.fallback = fallback_;
  return r;
}

VideoFileResult VideoFileDecoder::run_passes() {
  result_ = fresh_result();
  const bool select = can_select(facts_, media_, packets_);
  const PtsStats first = select && !facts_.lavc ? stats_of(packets_.frames) : packets_.all;
  const VideoClipPlan plan = plan_from(first, facts_.tb, video_.clip_len, path_);
  if (sink_.planned) sink_.planned(static_cast<int>(plan.clips.size()));
  if (select) {
    if (decode_kept()) return result_;
    result_ = fresh_result();
    result_.decode_passes = 1;  // the abandoned pass
  }
  if (facts_.lavc && plan.skipped) {  // the release's own list: nothing to decode
    result_.skipped_short = true;
    result_.num_timestamps = packets_.all.count;
    return result_;
  }
  decode_all();
  return result_;
}

}  // namespace lssd::media

namespace lssd {

VideoFileResult decode_video_clips(const std::string& path, const VideoOptions& vopts, const MediaOptions& mopts,
                                   const ClipSink<VideoClipFrames>& sink) {
  return media::VideoFileDecoder(path, vopts, mopts, sink).run();
}

}  // namespace lssd
