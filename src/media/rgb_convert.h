// Private to src/media/: a decoded frame -> RGB24 as the release gets it (PyAV 10's
// VideoFrame.to_rgb()). Also what tests compare other conversions with.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "media/ffmpeg.h"

namespace lssd::media {

// RGB24 conversion as PyAV 10's VideoFrame.to_rgb(): sws_getCachedContext(w, h, fmt -> w, h,
// rgb24, SWS_BILINEAR), no colorspace change, into a 16-byte-aligned image; a frame that is
// already rgb24 is copied as is.
class RgbConverter {
 public:
  // f: any pixel format swscale reads. Returns h*w*3 bytes, packed rows. Throws ContentError
  // ("decode") when swscale cannot convert the format, Error when out of memory.
  std::vector<uint8_t> convert(const AVFrame* f, const std::string& path);

 private:
  SwsPtr sws_;
  AvBufferPtr buf_;
  int linesize_[4] = {0, 0, 0, 0};
  int bw_ = 0, bh_ = 0;
};

}  // namespace lssd::media
