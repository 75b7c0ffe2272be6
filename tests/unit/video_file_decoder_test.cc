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

}  // namespace
}  // namespace lssd
