// Stills for lssd-read report's thumbnails: decode_video_still gives, at a frame's own size, the
// very bytes of that frame as the clip decoder delivers it (the frame that shows at t: the last
// with pts <= t), scales down to fit keeping the aspect ratio, and names the file when it cannot;
// encode_jpeg writes a JPEG of the image's size; base64_encode as RFC 4648.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "lssd/bytes.h"
#include "lssd/error.h"
#include "lssd/media.h"

namespace lssd {
namespace {

const std::string kVideo = std::string(LSSD_SOURCE_DIR) + "/sample_data/video/ucf/testsrc2_320x240_25fps_2.0s.mp4";

// The frames decode_video_clips delivers for the file, by pts (the 16 kept frames of each clip).
std::map<int64_t, std::vector<uint8_t>> clip_frames(const std::string& path) {
  std::map<int64_t, std::vector<uint8_t>> frames;
  ClipSink<VideoClipFrames> sink;
  sink.clip = [&](VideoClipFrames&& c) {
    for (size_t i = 0; i < c.pts.size(); ++i) frames[c.pts[i]] = c.frames[i];
  };
  sink.withdraw = [](int) {};
  decode_video_clips(path, VideoOptions{}, MediaOptions{}, sink);
  return frames;
}

double mean_of(const std::vector<uint8_t>& v) {
  double s = 0;
  for (uint8_t x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

// Every few of the clip decoder's frames of `path` (w x h, `fps`): the still at the frame's pts,
// and half a frame after, is that frame, byte for byte.
void expect_stills_are_clip_frames(const std::string& path, int w, int h, double fps) {
  SCOPED_TRACE(path);
  const auto frames = clip_frames(path);
  ASSERT_GE(frames.size(), 10u);
  const MediaInfo info = probe_media(path, MediaOptions{});
  const StreamInfo* vs = nullptr;
  for (const auto& s : info.streams)
    if (s.type == "video") vs = &s;
  ASSERT_NE(vs, nullptr);
  const double tb = static_cast<double>(vs->time_base_num) / static_cast<double>(vs->time_base_den);
  int checked = 0;
  for (const auto& [pts, rgb] : frames) {
    if (checked++ % 4) continue;            // a few frames spread over the file
    for (const double into : {0.0, 0.5}) {  // at the frame's pts, and half a frame after
      const double t = static_cast<double>(pts) * tb + into / fps;
      const VideoStill s = decode_video_still(path, t, MediaOptions{});
      ASSERT_EQ(s.image.width, w);
      ASSERT_EQ(s.image.height, h);
      EXPECT_NEAR(s.pts_s, static_cast<double>(pts) * tb, 1e-9) << "t " << t;
      EXPECT_TRUE(s.image.rgb == rgb) << "t " << t << ": the bytes differ from the clip decoder's";
    }
  }
  // Before the first frame: the first; past the end: the last (the clips may end before it).
  EXPECT_TRUE(decode_video_still(path, -5, MediaOptions{}).image.rgb == frames.begin()->second);
  const VideoStill last = decode_video_still(path, 1e7, MediaOptions{});
  const double last_clip_frame = static_cast<double>(frames.rbegin()->first) * tb;
  EXPECT_GE(last.pts_s, last_clip_frame - 1e-9);
  if (std::abs(last.pts_s - last_clip_frame) < 1e-9) {
    EXPECT_TRUE(last.image.rgb == frames.rbegin()->second);
  }
}

TEST(MediaStill, AtItsOwnSizeTheStillIsTheClipDecodersFrameThatShowsAtT) {
  expect_stills_are_clip_frames(kVideo, 320, 240, 25);  // H.264, one keyframe; one clip to the last frame
  // MPEG-4 part 2 in AVI, a keyframe every 12 frames: the still seeks to the one before t.
  expect_stills_are_clip_frames(std::string(LSSD_SOURCE_DIR) + "/sample_data/video/avi/testsrc_320x240_30fps_7.5s.avi",
                                320, 240, 30);
}

TEST(MediaStill, ScaledDownToFitKeepingTheAspectRatio) {
  const VideoStill full = decode_video_still(kVideo, 1.0, MediaOptions{});
  const VideoStill small = decode_video_still(kVideo, 1.0, MediaOptions{}, 160, 90);
  EXPECT_EQ(small.image.width, 120);  // 320x240 into 160x90: the height decides
  EXPECT_EQ(small.image.height, 90);
  EXPECT_EQ(small.image.rgb.size(), 120u * 90u * 3u);
  EXPECT_NEAR(mean_of(small.image.rgb), mean_of(full.image.rgb), 3.0);  // the same picture, averaged
  const VideoStill wide = decode_video_still(kVideo, 1.0, MediaOptions{}, 64, 0);
  EXPECT_EQ(wide.image.width, 64);
  EXPECT_EQ(wide.image.height, 48);
  const VideoStill larger_box = decode_video_still(kVideo, 1.0, MediaOptions{}, 1000, 1000);  // never scaled up
  EXPECT_EQ(larger_box.image.width, 320);
  EXPECT_TRUE(larger_box.image.rgb == full.image.rgb);
}

TEST(MediaStill, NamesTheFileWhenThereIsNoStill) {
  const std::string audio = std::string(LSSD_SOURCE_DIR) + "/sample_data/audio/speech/german_16kHz_mono_7.5s.wav";
  try {
    decode_video_still(audio, 1.0, MediaOptions{});
    FAIL() << "no error for an audio file";
  } catch (const Error& e) {
    EXPECT_EQ(e.stage(), "decode");
    EXPECT_EQ(e.file(), audio);
    EXPECT_NE(std::string(e.what()).find("no video stream"), std::string::npos) << e.what();
  }
  EXPECT_THROW(decode_video_still("/nonexistent/x.mp4", 1.0, MediaOptions{}), Error);
  EXPECT_THROW(decode_video_still(kVideo, std::nan(""), MediaOptions{}), Error);
}

// The size in a JPEG's start-of-frame segment (baseline SOF0), found by walking the segments.
std::pair<int, int> jpeg_size(const std::vector<uint8_t>& j) {
  size_t i = 2;
  while (i + 9 < j.size() && j[i] == 0xFF) {
    const int marker = j[i + 1];
    const size_t len = static_cast<size_t>(j[i + 2] << 8 | j[i + 3]);
    if (marker == 0xC0) return {j[i + 7] << 8 | j[i + 8], j[i + 5] << 8 | j[i + 6]};  // width, height
    i += 2 + len;
  }
  return {0, 0};
}

TEST(MediaStill, EncodeJpegWritesAJpegOfTheImagesSize) {
  RgbImage img;
  img.width = 33;  // odd sizes: 4:2:0 rounds the chroma planes up
  img.height = 17;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) img.rgb.insert(img.rgb.end(), {uint8_t(x * 7), uint8_t(y * 15), 128});
  const std::vector<uint8_t> j = encode_jpeg(img);
  ASSERT_GT(j.size(), 100u);
  EXPECT_EQ(j[0], 0xFF);
  EXPECT_EQ(j[1], 0xD8);  // SOI
  EXPECT_EQ(j[j.size() - 2], 0xFF);
  EXPECT_EQ(j[j.size() - 1], 0xD9);  // EOI
  EXPECT_EQ(jpeg_size(j), std::make_pair(33, 17));
  // A still of the sample video: a few KB at 120x90.
  const auto still = encode_jpeg(decode_video_still(kVideo, 1.0, MediaOptions{}, 160, 90).image);
  EXPECT_EQ(jpeg_size(still), std::make_pair(120, 90));
  EXPECT_LT(still.size(), 20000u);
  EXPECT_LT(encode_jpeg(img, 31).size(), encode_jpeg(img, 2).size());  // qscale: 2 best, 31 smallest

  RgbImage empty;
  EXPECT_THROW(encode_jpeg(empty), Error);
  EXPECT_THROW(encode_jpeg(img, 1), Error);
  img.rgb.pop_back();
  EXPECT_THROW(encode_jpeg(img), Error);
}

TEST(Bytes, Base64AsRfc4648) {
  auto b64 = [](const std::string& s) { return base64_encode(s.data(), s.size()); };
  EXPECT_EQ(b64(""), "");
  EXPECT_EQ(b64("f"), "Zg==");
  EXPECT_EQ(b64("fo"), "Zm8=");
  EXPECT_EQ(b64("foo"), "Zm9v");
  EXPECT_EQ(b64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(b64(std::string("\xff\x00\xfe", 3)), "/wD+");
  std::string big(10 << 20, 'a');  // past one encoder chunk (3 MiB)
  const std::string e = b64(big);
  EXPECT_EQ(e.size(), (big.size() + 2) / 3 * 4);
  EXPECT_EQ(e.substr(0, 8), "YWFhYWFh");
  EXPECT_EQ(e.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace lssd
