#include "media/video_decode.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>

#include "clips/clip_frames.h"
#include "media/nvdec_cuda.h"
#include "media/rgb_convert.h"

namespace lssd::media {
namespace {

// The planes of an 8-bit 4:2:0 frame of even height (the frames swscale's to_rgb converts with
// its unscaled yuv420p converter), rows packed; nothing for any other frame.
std::optional<YuvFrame420> yuv420_planes(const AVFrame* f) {
  const auto fmt = static_cast<AVPixelFormat>(f->format);
  if ((fmt != AV_PIX_FMT_YUV420P && fmt != AV_PIX_FMT_YUVJ420P) || f->height % 2 != 0) return std::nullopt;
  YuvFrame420 out;
  out.width = f->width;
  out.height = f->height;
  out.full_range = fmt == AV_PIX_FMT_YUVJ420P;
  auto copy = [&](int plane, int w, int h, std::vector<uint8_t>* dst) {
    dst->resize(static_cast<size_t>(w) * static_cast<size_t>(h));
    for (int y = 0; y < h; ++y)
      std::memcpy(dst->data() + static_cast<size_t>(y) * static_cast<size_t>(w),
                  f->data[plane] + static_cast<ptrdiff_t>(y) * f->linesize[plane], static_cast<size_t>(w));
  };
  copy(0, f->width, f->height, &out.y);
  copy(1, (f->width + 1) / 2, (f->height + 1) / 2, &out.u);
  copy(2, (f->width + 1) / 2, (f->height + 1) / 2, &out.v);
  return out;
}

// A decoded frame a clip may take: a reference to FFmpeg's frame (CPU decoding), or (NVDEC) its
// NV12 planes, copied out of the decoder's small surface pool as soon as it is decoded.
struct KeptFrame {
  FramePtr frame;
  std::shared_ptr<const DeviceTensor> nv12;
  int width = 0, height = 0;
};

KeptFrame keep_frame(const AVFrame* f, const std::string& path) {
  KeptFrame k;
  k.width = f->width;
  k.height = f->height;
  if (f->format != AV_PIX_FMT_CUDA)
    k.frame = ref_frame(f);
  else if (is_cuda_nv12(f))
    k.nv12 = copy_cuda_nv12(f, path);
  // else: a GPU frame copy_cuda_nv12 does not take; a clip that keeps it falls back to the CPU
  return k;
}

// Turns a clip's decoded frames into its VideoClipFrames: the kept frames in RGB24 (and, when
// asked, their 4:2:0 planes).
class ClipMaker {
 public:
  // nvdec: the frames must be NVDEC's (else NvdecFallback); full_range: theirs (CudaDecode).
  ClipMaker(const std::string& path, bool yuv, bool nvdec, const bool* full_range)
      : path_(path), yuv_(yuv), nvdec_(nvdec), full_range_(full_range) {}

  // frames/pts: the clip's frames in the release's order; keep: the indices it keeps.
  VideoClipFrames make(int index, const std::vector<const KeptFrame*>& frames, const std::vector<int64_t>& pts,
                       const std::vector<int64_t>& keep) {
    if (frames.empty() || keep.empty())
      throw ContentError("decode", "clip " + std::to_string(index) + " has no frames", path_);
    VideoClipFrames out;
    out.index = index;
    out.num_decoded = static_cast<int>(pts.size());
    out.clip_pts = pts;
    out.width = frames[static_cast<size_t>(keep.front())]->width;
    out.height = frames[static_cast<size_t>(keep.front())]->height;
    bool all_yuv = yuv_ && !nvdec_;
    for (const int64_t k : keep) {
      const KeptFrame* kf = frames[static_cast<size_t>(k)];
      if (kf->width != out.width || kf->height != out.height)
        throw ContentError("decode", "frame size changes within clip " + std::to_string(index), path_);
      out.pts.push_back(pts[static_cast<size_t>(k)]);
      if (nvdec_) {
        if (!kf->nv12)
          throw NvdecFallback{"frame pts " + std::to_string(out.pts.back()) +
                              (kf->frame ? " was decoded on the CPU (the hwaccel refused the stream)"
                                         : " is not an NV12 surface (10-bit, 4:4:4 or cropped)")};
        out.nv12.push_back(kf->nv12);
        out.nv12_full_range = *full_range_;
        continue;
      }
      if (!kf->frame) throw Error("decode", "a GPU frame in a CPU decode", path_);
      const AVFrame* f = kf->frame.get();
      out.frames.push_back(rgb_.convert(f, path_));
      if (all_yuv) {
        std::optional<YuvFrame420> planes = yuv420_planes(f);
        all_yuv = planes.has_value();
        if (all_yuv) out.yuv.push_back(std::move(*planes));
      }
    }
    if (!all_yuv) out.yuv.clear();
    return out;
  }

 private:
  const std::string& path_;
  bool yuv_, nvdec_;
  const bool* full_range_;
  RgbConverter rgb_;
};

// The stream's decoder, opened afresh for one pass.
struct Opened {
  std::unique_ptr<CudaDecode> cuda = std::make_unique<CudaDecode>();  // cc->opaque with nvdec
  FormatPtr ctx;
  CodecPtr cc;
};

Opened open_stream(const DecodeContext& c) {
  Opened o;
  const int index = c.facts.index;
  o.ctx = open_input(c.path, c.deadline, /*genpts=*/true);
  if (first_video_stream(o.ctx.get()) != index) throw Error("open", "stream layout changed between opens", c.path);
  discard_all_but(o.ctx.get(), index);
  CudaDecode* cuda = o.cuda.get();
  // With nvdec, a decoder the hwaccel cannot be attached to falls back to the CPU like a frame
  // the hwaccel did not decode.
  auto attach = [cuda](AVCodecContext* cc) {
    try {
      attach_cuda_hwaccel(cc, cuda);
    } catch (const Error& e) {
      throw NvdecFallback{e.message()};
    }
  };
  o.cc = c.nvdec ? open_decoder(o.ctx->streams[index], c.media, c.path, attach)
                 : open_decoder(o.ctx->streams[index], c.media, c.path);
  return o;
}

// Thrown out of a frame callback when decode_selected's assumptions fail.
struct Abandon {
  std::string why;
};

}  // namespace

SelectedFrames select_frames(const std::vector<int64_t>& sorted_pts, const std::vector<VideoClip>& clips,
                             const VideoStreamFacts& facts, const VideoOptions& vopts) {
  ClipFrameCollector collector(clips, facts.should_buffer);
  for (size_t i = 0; i < sorted_pts.size(); ++i) collector.add(sorted_pts[i], i);
  collector.finish();
  SelectedFrames sel;
  CollectedClip c;
  while (collector.pop_complete(&c)) {
    std::vector<int64_t> kept;
    if (!c.pts.empty())
      for (const int64_t k :
           select_clip_frames(static_cast<int64_t>(c.pts.size()), facts.avg_fps, vopts.fps, vopts.n_frames))
        kept.push_back(c.pts[static_cast<size_t>(k)]);
    for (const int64_t p : kept) sel.last_use[p] = sel.kept.size();
    sel.clip_pts.push_back(c.pts);
    sel.kept.push_back(std::move(kept));
  }
  return sel;
}

DecodePass decode_collecting(const DecodeContext& c, const std::vector<VideoClip>& clips, size_t first,
                             const std::function<void(VideoClipFrames&&)>& on_clip) {
  const VideoStreamFacts& facts = c.facts;
  const VideoOptions& vopts = c.video;
  Opened s = open_stream(c);
  ClipFrameCollector collector(std::vector<VideoClip>(clips.begin() + static_cast<ptrdiff_t>(first), clips.end()),
                               facts.should_buffer);
  ClipMaker maker(c.path, c.media.yuv_planes, c.nvdec, &s.cuda->full_range);
  std::map<uint64_t, KeptFrame> held;
  auto deliver = [&] {
    CollectedClip clip;
    while (collector.pop_complete(&clip)) {
      std::vector<const KeptFrame*> frames;
      for (const uint64_t id : clip.ids) frames.push_back(&held.at(id));
      const auto keep =
          select_clip_frames(static_cast<int64_t>(clip.ids.size()), facts.avg_fps, vopts.fps, vopts.n_frames);
      VideoClipFrames out = maker.make(clip.index, frames, clip.pts, keep);
      c.deadline->excluding([&] { on_clip(std::move(out)); });
    }
    for (const uint64_t id : collector.take_released()) held.erase(id);
  };
  DecodePass pass;
  uint64_t next_id = 0;
  pass.errors = decode_stream(s.ctx.get(), s.cc.get(), facts.index, *c.deadline, c.path, [&](const AVFrame* f) {
    if (f->pts == AV_NOPTS_VALUE) return;  // PyAV gives pts None; the release's lists drop those
    pass.frames.add(f->pts);
    const uint64_t id = next_id++;
    held[id] = keep_frame(f, c.path);
    collector.add(f->pts, id);
    deliver();
  });
  collector.finish();
  deliver();
  return pass;
}

DecodePass decode_selected(const DecodeContext& c, const SelectedFrames& sel, const std::set<int64_t>& frame_pts,
                           const std::function<void(VideoClipFrames&&)>& on_clip) {
  Opened s = open_stream(c);
  ClipMaker maker(c.path, c.media.yuv_planes, c.nvdec, &s.cuda->full_range);
  std::map<int64_t, KeptFrame> held;  // kept frames by pts
  size_t next = 0;                    // the next clip to deliver
  auto deliver = [&] {
    while (next < sel.kept.size() &&
           std::all_of(sel.kept[next].begin(), sel.kept[next].end(), [&](int64_t p) { return held.count(p) > 0; })) {
      std::vector<const KeptFrame*> frames;
      std::vector<int64_t> keep;
      for (size_t i = 0; i < sel.kept[next].size(); ++i) {
        frames.push_back(&held.at(sel.kept[next][i]));
        keep.push_back(static_cast<int64_t>(i));
      }
      VideoClipFrames out = maker.make(static_cast<int>(next), frames, sel.kept[next], keep);
      out.clip_pts = sel.clip_pts[next];
      out.num_decoded = static_cast<int>(sel.clip_pts[next].size());
      c.deadline->excluding([&] { on_clip(std::move(out)); });
      for (auto it = held.begin(); it != held.end();)
        it = sel.last_use.at(it->first) <= next ? held.erase(it) : std::next(it);
      ++next;
    }
  };
  DecodePass pass;
  int64_t last = std::numeric_limits<int64_t>::min();
  AVCodecContext* cc = s.cc.get();
  auto before_send = [&](const AVPacket* pkt) {
    cc->skip_frame = pkt->pts != AV_NOPTS_VALUE && sel.last_use.count(pkt->pts) ? AVDISCARD_DEFAULT : AVDISCARD_NONREF;
  };
  try {
    pass.errors =
        decode_stream_with(s.ctx.get(), cc, c.facts.index, *c.deadline, c.path, before_send, [&](const AVFrame* f) {
          if (f->pts == AV_NOPTS_VALUE) throw Abandon{"a frame without pts"};
          if (!frame_pts.count(f->pts)) throw Abandon{"frame pts " + std::to_string(f->pts) + " is no packet's"};
          if (f->pts <= last) throw Abandon{"frames out of pts order"};
          last = f->pts;
          pass.frames.add(f->pts);
          if (sel.last_use.count(f->pts)) held[f->pts] = keep_frame(f, c.path);
          deliver();
        });
  } catch (const Abandon& a) {
    pass.complete = false;
    pass.why = a.why;
    return pass;
  }
  if (pass.errors > 0) {
    pass.complete = false;
    pass.why = std::to_string(pass.errors) + " decode error(s)";
  } else if (next < sel.kept.size()) {
    pass.complete = false;
    pass.why = "clip " + std::to_string(next) + " lacks a kept frame";
  }
  return pass;
}

}  // namespace lssd::media
