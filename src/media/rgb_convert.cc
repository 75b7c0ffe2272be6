#include "media/rgb_convert.h"

#include <cstring>

extern "C" {
#include <libavutil/imgutils.h>
}

namespace lssd::media {

std::vector<uint8_t> RgbConverter::convert(const AVFrame* f, const std::string& path) {
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
  SwsContext* s =
      sws_getCachedContext(sws_.release(), w, h, fmt, w, h, AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr, nullptr, nullptr);
  sws_.reset(s);
  if (!s) throw ContentError("decode", "cannot convert frames to RGB", path);
  // Rows of a multiple of 16 bytes in a 16-byte-aligned vector: the very layout of the aligned
  // image below, so swscale writes the same bytes straight into the output.
  const int row = w * 3;
  if (row % 16 == 0 && reinterpret_cast<uintptr_t>(out.data()) % 16 == 0) {
    uint8_t* direct[4] = {out.data(), nullptr, nullptr, nullptr};
    const int stride[4] = {row, 0, 0, 0};
    sws_scale(s, f->data, f->linesize, 0, h, direct, stride);
    return out;
  }
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

}  // namespace lssd::media
