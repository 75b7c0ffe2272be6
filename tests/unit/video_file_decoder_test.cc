#include "media/video_file_decoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lssd {
namespace {

struct Delivered {
  std::vector<int> planned, clips, withdrawn;
};

VideoFileResult decode(const std::string& rel, bool skip_frames, Delivered* d) {
  const std::string path = std::string(LSSD_SOURCE_DIR) + "/sample_data/video/" + rel;
  VideoOptions video;
  MediaOptions media;
  media.skip_unneeded_frames = skip_frames;
  ClipSink<VideoClipFrames> sink;
  sink.planned = [&](int n) { d->planned.push_back(n); };
  sink.clip = [&](VideoClipFrames&& c) { d->clips.push_back(c.index); };
  sink.withdraw = [&](int first) { d->withdrawn.push_back(first); };
  return media::VideoFileDecoder(path, video, media, sink).run();
}

TEST(VideoFileDecoder, AnMp4DecodesOnlyTheKeptFramesInOnePass) {
  Delivered d;
  const VideoFileResult r = decode("ucf/testsrc2_640x360_25fps_7.6s.mp4", true, &d);
  EXPECT_EQ(r.decode_passes, 1);
  EXPECT_FALSE(r.restart_from.has_value());
  EXPECT_EQ(r.num_clips, 3);
  EXPECT_EQ(d.planned, std::vector<int>{3});
  EXPECT_EQ(d.clips, (std::vector<int>{0, 1, 2}));
  EXPECT_LT(r.decoded_frames, 190);  // frames no clip keeps and nothing references are skipped
  EXPECT_EQ(r.timestamp_source, "frames");
}

TEST(VideoFileDecoder, AnEditListThatCutsFramesIsPlannedAgainFromTheFirstClipThatDiffers) {
  Delivered d;
  const VideoFileResult r = decode("encoders/h264_bframes_editlist_320x240_25fps_4.5s.mp4", false, &d);
  EXPECT_EQ(r.decode_passes, 2);
  ASSERT_TRUE(r.restart_from.has_value());
  EXPECT_EQ(d.withdrawn, std::vector<int>{*r.restart_from});
  EXPECT_EQ(d.planned.size(), 2u);  // the packets' plan, then the frames'
  EXPECT_EQ(static_cast<int>(r.ranges.size()), r.num_clips);
}

TEST(VideoFileDecoder, ABrokenFileIsAContentError) {
  Delivered d;
  try {
    decode("misc/broken.mp4", true, &d);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(e.from_content()) << e.what();
    EXPECT_EQ(e.stage(), "open");
  }
}

// MEDIA.HWACCEL cuda on a stream NVDEC does not take (MPEG-4 Part 2): the file decodes on the CPU,
// with the same clips, and the result says so (no GPU needed: the refusal comes first).
TEST(VideoFileDecoder, WithCudaAStreamNvdecDoesNotTakeDecodesOnTheCpu) {
  const std::string path =
      std::string(LSSD_SOURCE_DIR) + "/sample_data/video/encoders/mpeg4_asp_bframes_320x240_25fps_5.0s.avi";
  VideoOptions video;
  MediaOptions media;
  Delivered plain, cuda;
  const VideoFileResult a = decode("encoders/mpeg4_asp_bframes_320x240_25fps_5.0s.avi", true, &plain);
  media.hwaccel = "cuda";
  ClipSink<VideoClipFrames> sink;
  sink.clip = [&](VideoClipFrames&& c) {
    EXPECT_TRUE(c.nv12.empty());
    EXPECT_FALSE(c.frames.empty());
    cuda.clips.push_back(c.index);
  };
  sink.withdraw = [&](int first) { cuda.withdrawn.push_back(first); };
  const VideoFileResult b = media::VideoFileDecoder(path, video, media, sink).run();
  EXPECT_EQ(a.decoder, "cpu");
  EXPECT_EQ(a.fallback, "");
  EXPECT_EQ(b.decoder, "cpu");
  EXPECT_EQ(b.fallback.rfind("codec mpeg4:", 0), 0u) << b.fallback;
  EXPECT_EQ(cuda.clips, plain.clips);
}

// MEDIA.HWACCEL cuda on H.264 where NVDEC cannot start (this machine has no GPU; on a GPU the same
// path follows a frame the hwaccel did not decode): the clips delivered so far are withdrawn and
// the file decodes on the CPU with the same plan and the same frames.
TEST(VideoFileDecoder, WithCudaAFileNvdecCannotDecodeIsDecodedOnTheCpuWithTheSameClips) {
  if (resolve_hwaccel("auto") == "cuda") GTEST_SKIP() << "NVDEC is available here";
  const std::string rel = "ucf/testsrc2_640x360_25fps_7.6s.mp4";
  Delivered plain, cuda;
  std::vector<std::vector<uint8_t>> plain_frames, cuda_frames;
  {
    const std::string path = std::string(LSSD_SOURCE_DIR) + "/sample_data/video/" + rel;
    VideoOptions video;
    MediaOptions media;
    ClipSink<VideoClipFrames> sink;
    sink.clip = [&](VideoClipFrames&& c) {
      plain.clips.push_back(c.index);
      for (auto& f : c.frames) plain_frames.push_back(std::move(f));
    };
    sink.withdraw = [&](int first) { plain.withdrawn.push_back(first); };
    media::VideoFileDecoder(path, video, media, sink).run();
    media.hwaccel = "cuda";
    sink.clip = [&](VideoClipFrames&& c) {
      cuda.clips.push_back(c.index);
      for (auto& f : c.frames) cuda_frames.push_back(std::move(f));
    };
    sink.withdraw = [&](int first) { cuda.withdrawn.push_back(first); };
    const VideoFileResult r = media::VideoFileDecoder(path, video, media, sink).run();
    EXPECT_EQ(r.decoder, "cpu");
    EXPECT_EQ(r.fallback.rfind("NVDEC unavailable: ", 0), 0u) << r.fallback;
    EXPECT_EQ(r.num_clips, 3);
  }
  EXPECT_EQ(cuda.withdrawn, std::vector<int>{0});
  EXPECT_EQ(cuda.clips, plain.clips);
  EXPECT_TRUE(cuda_frames == plain_frames);
}

// MEDIA.HWACCEL resolves to none or cuda; where no CUDA device is, cuda is a config error naming
// the cause and auto is none.
TEST(VideoFileDecoder, HwaccelResolvesOrSaysWhy) {
  EXPECT_EQ(resolve_hwaccel("none"), "none");
  EXPECT_THROW(resolve_hwaccel("vaapi"), ConfigError);
  const std::string a = resolve_hwaccel("auto");
  if (a == "none") {
    try {
      resolve_hwaccel("cuda");
      ADD_FAILURE() << "cuda accepted without a device";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("MEDIA.HWACCEL cuda: "), std::string::npos) << e.what();
    }
  } else {
    EXPECT_EQ(a, "cuda");
    EXPECT_EQ(resolve_hwaccel("cuda"), "cuda");
  }
}

}  // namespace
}  // namespace lssd
