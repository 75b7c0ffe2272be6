// Private to src/media/: one video file's decoding as an object that owns its state (the path
// and options, the wall-clock deadline, the first video stream's facts, the demuxed packet
// timestamps, the result being filled), as torchcodec's SingleStreamDecoder does.
// decode_video_clips() (lssd/media.h) is `VideoFileDecoder(...).run()`. The passes it runs
// (video_decode.h) read the file through a DecodeContext; another decoder (NVDEC) plugs in there.
#pragma once
#include <string>
#include <vector>

#include "lssd/media.h"
#include "media/video_decode.h"

namespace lssd::media {

// The video stream's packets: every pts (the release's list when it reads timestamps from
// packets, discard-flagged packets included), and the pts of the frames a decoder will return
// (packets not flagged discard, e.g. outside an MP4 edit list), sorted.
struct DemuxedPts {
  PtsStats all;
  std::vector<int64_t> frames;
};

class VideoFileDecoder {
 public:
  // The references must outlive the decoder. Nothing is opened before run().
  VideoFileDecoder(const std::string& path, const VideoOptions& video, const MediaOptions& media,
                   const ClipSink<VideoClipFrames>& sink);
  VideoFileDecoder(const VideoFileDecoder&) = delete;
  VideoFileDecoder& operator=(const VideoFileDecoder&) = delete;

  // Demuxes the file (packet timestamps, a first plan: sink.planned), then decodes it: only the
  // kept frames where the container allows (MEDIA.SKIP_FRAMES), else every frame, once more from
  // the first clip whose plan the decoded frames change. Clips go to sink.clip as they complete;
  // sink.withdraw takes back clips of a plan that changed. With MEDIA.HWACCEL cuda the frames come
  // from NVDEC where it takes the stream; where it does not, or when it fails to decode a kept
  // frame (its clips are withdrawn), the file is decoded on the CPU (result.decoder, .fallback;
  // the first such file of a process is a warning). Call once. Throws lssd::Error
  // (ContentError for what the file's content causes) as decode_video_clips says.
  VideoFileResult run();

 private:
  void demux();
  VideoFileResult fresh_result() const;
  DecodeContext context() { return {path_, video_, media_, &deadline_, facts_, nvdec_}; }
  VideoFileResult run_passes();
  void fall_back(const std::string& why);
  DecodePass decode_from(const std::vector<VideoClip>& clips, size_t first);
  void decode_all();
  bool decode_kept();

  const std::string& path_;
  const VideoOptions& video_;
  const MediaOptions& media_;
  const ClipSink<VideoClipFrames>& sink_;
  FfmpegLogScope log_scope_;
  Deadline deadline_;
  VideoStreamFacts facts_;
  DemuxedPts packets_;
  bool nvdec_ = false;    // MEDIA.HWACCEL cuda and NVDEC takes the stream (media/nvdec_cuda.h)
  std::string fallback_;  // with MEDIA.HWACCEL cuda: why the file decodes on the CPU
  VideoFileResult result_;
};

}  // namespace lssd::media
