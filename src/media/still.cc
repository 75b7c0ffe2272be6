// Stills: one video frame at a time t (decode_video_still) and a JPEG of an RGB image
// (encode_jpeg), for lssd-read report's thumbnails.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

extern "C" {
#include <libavutil/imgutils.h>
}

#include "lssd/media.h"
#include "media/ffmpeg.h"

namespace lssd {

using namespace media;  // NOLINT: the module's own FFmpeg layer

namespace {

// Ends the decode loop once the frame at t is known.
struct StillFound {};

// The size that fits `w` x `h` (display width: w x sample aspect ratio) into max_w x max_h.
std::pair<int, int> fitted_size(const AVFrame* f, int max_w, int max_h) {
  const int w = f->width, h = f->height;
  double dw = w;
  if (f->sample_aspect_ratio.num > 0 && f->sample_aspect_ratio.den > 0) dw = w * rational_value(f->sample_aspect_ratio);
  double s = 1.0;
  if (max_w > 0) s = std::min(s, max_w / dw);
  if (max_h > 0) s = std::min(s, static_cast<double>(max_h) / h);
  if (s >= 1.0 && dw == w) return {w, h};
  const int ow = std::max(1, static_cast<int>(std::lround(dw * std::min(s, 1.0))));
  const int oh = std::max(1, static_cast<int>(std::lround(h * std::min(s, 1.0))));
  return {ow, oh};
}

// The frame in RGB24, ow x oh: at its own size as PyAV's to_rgb() (SWS_BILINEAR, no colorspace
// change), else scaled with area averaging.
RgbImage to_rgb(const AVFrame* f, int ow, int oh, const std::string& path) {
  const auto fmt = static_cast<AVPixelFormat>(f->format);
  const bool same = ow == f->width && oh == f->height;
  SwsPtr sws(sws_getContext(f->width, f->height, fmt, ow, oh, AV_PIX_FMT_RGB24, same ? SWS_BILINEAR : SWS_AREA, nullptr,
                            nullptr, nullptr));
  if (!sws) throw ContentError("decode", "cannot convert the frame to RGB", path);
  uint8_t* data[4] = {nullptr};
  int linesize[4] = {0};
  if (av_image_alloc(data, linesize, ow, oh, AV_PIX_FMT_RGB24, 16) < 0) throw Error("decode", "out of memory", path);
  AvBufferPtr buf(data[0]);
  sws_scale(sws.get(), f->data, f->linesize, 0, f->height, data, linesize);
  RgbImage img;
  img.width = ow;
  img.height = oh;
  img.rgb.resize(static_cast<size_t>(ow) * oh * 3);
  for (int y = 0; y < oh; ++y)
    std::memcpy(img.rgb.data() + static_cast<size_t>(y) * ow * 3, buf.get() + static_cast<ptrdiff_t>(y) * linesize[0],
                static_cast<size_t>(ow) * 3);
  return img;
}

}  // namespace

VideoStill decode_video_still(const std::string& path, double t_s, const MediaOptions& opts, int max_width,
                              int max_height) {
  if (!std::isfinite(t_s)) throw Error("decode", "the still's time is not a finite number", path);
  FfmpegLogScope log_scope(path);
  Deadline deadline(opts.deadline_s);
  FormatPtr ctx = open_input(path, &deadline, /*genpts=*/true);
  const int index = first_video_stream(ctx.get());
  if (index < 0) throw ContentError("decode", "no video stream", path);
  const AVStream* st = ctx->streams[index];
  const double tb = rational_value(st->time_base);
  if (tb <= 0) throw ContentError("decode", "the video stream has no time base", path);
  discard_all_but(ctx.get(), index);
  CodecPtr cc = open_decoder(st, opts, path);
  // The target on the stream's clock; a time beyond any pts is clamped (it shows the last frame).
  const double target_d = std::clamp(t_s / tb, -9.0e18, 9.0e18);
  const auto target = static_cast<int64_t>(std::floor(target_d));
  if (t_s > 0) av_seek_frame(ctx.get(), index, target, AVSEEK_FLAG_BACKWARD);  // failing: from the start
  FramePtr shown;
  double shown_pts = 0;
  try {
    decode_stream(ctx.get(), cc.get(), index, deadline, path, [&](const AVFrame* f) {
      const int64_t pts = f->best_effort_timestamp;
      const bool after = pts != AV_NOPTS_VALUE && static_cast<double>(pts) > target_d;
      if (after && shown) throw StillFound{};
      shown = ref_frame(f);
      shown_pts = pts == AV_NOPTS_VALUE ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(pts) * tb;
      if (after) throw StillFound{};
    });
  } catch (const StillFound&) {
  }
  if (!shown) throw ContentError("decode", "no decodable video frame" + ffmpeg_said(), path);
  const auto [ow, oh] = fitted_size(shown.get(), max_width, max_height);
  VideoStill out;
  out.image = to_rgb(shown.get(), ow, oh, path);
  out.pts_s = shown_pts;
  return out;
}

std::vector<uint8_t> encode_jpeg(const RgbImage& image, int qscale) {
  if (image.width <= 0 || image.height <= 0 || image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
    throw Error("encode", "not an RGB24 image of its stated size");
  if (qscale < 2 || qscale > 31) throw Error("encode", "JPEG qscale must be within 2..31");
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
  if (!codec) throw Error("encode", "this FFmpeg has no MJPEG encoder");
  CodecPtr cc(avcodec_alloc_context3(codec));
  if (!cc) throw Error("encode", "out of memory");
  cc->width = image.width;
  cc->height = image.height;
  cc->pix_fmt = AV_PIX_FMT_YUV420P;
  cc->color_range = AVCOL_RANGE_JPEG;  // full range: plain YUV420P is then standard JPEG
  cc->time_base = AVRational{1, 25};
  cc->flags |= AV_CODEC_FLAG_QSCALE;
  cc->global_quality = FF_QP2LAMBDA * qscale;
  cc->thread_count = 1;
  int r = avcodec_open2(cc.get(), codec, nullptr);
  if (r < 0) throw Error("encode", "cannot open the MJPEG encoder: " + av_error_string(r));

  FramePtr frame = new_frame();
  frame->format = AV_PIX_FMT_YUV420P;
  frame->width = image.width;
  frame->height = image.height;
  frame->color_range = AVCOL_RANGE_JPEG;
  frame->pts = 0;
  frame->quality = cc->global_quality;  // the MPEG-video encoders take a fixed qscale per frame
  r = av_frame_get_buffer(frame.get(), 0);
  if (r < 0) throw Error("encode", "out of memory");
  SwsPtr sws(sws_getContext(image.width, image.height, AV_PIX_FMT_RGB24, image.width, image.height, AV_PIX_FMT_YUV420P,
                            SWS_BICUBIC, nullptr, nullptr, nullptr));
  if (!sws) throw Error("encode", "cannot convert RGB to YUV");
  const int* bt601 = sws_getCoefficients(SWS_CS_ITU601);
  sws_setColorspaceDetails(sws.get(), bt601, /*srcRange=*/1, bt601, /*dstRange=*/1, 0, 1 << 16, 1 << 16);
  const uint8_t* src[4] = {image.rgb.data(), nullptr, nullptr, nullptr};
  const int src_stride[4] = {image.width * 3, 0, 0, 0};
  sws_scale(sws.get(), src, src_stride, 0, image.height, frame->data, frame->linesize);

  std::vector<uint8_t> out;
  PacketPtr pkt = new_packet();
  auto drain = [&] {
    while (avcodec_receive_packet(cc.get(), pkt.get()) == 0) {
      out.insert(out.end(), pkt->data, pkt->data + pkt->size);
      av_packet_unref(pkt.get());
    }
  };
  r = avcodec_send_frame(cc.get(), frame.get());
  if (r < 0) throw Error("encode", "MJPEG encoding failed: " + av_error_string(r));
  drain();
  avcodec_send_frame(cc.get(), nullptr);
  drain();
  if (out.empty()) throw Error("encode", "the MJPEG encoder gave no data");
  return out;
}

}  // namespace lssd
