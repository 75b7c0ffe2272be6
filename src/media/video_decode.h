// Private to src/media/: the video decode passes that VideoFileDecoder (video_file_decoder.h)
// runs, and what they share.
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "clips/clips.h"
#include "lssd/media.h"
#include "media/ffmpeg.h"

namespace lssd::media {

// The first video stream of a file and what the release's reader derives from it.
struct VideoStreamFacts {
  int index = -1;
  TimeBase tb;
  double avg_fps = 0;
  bool lavc = false;          // first stream's extradata has "Lavc": timestamps from packets
  bool should_buffer = true;  // torchvision's read_video buffering (DivX user data)
  bool stored_pts = false;    // the container stores every packet's pts (MP4/MOV, Matroska/WebM)
};

// How many timestamps, and the largest: all a clip plan depends on.
struct PtsStats {
  int64_t count = 0;
  int64_t max = std::numeric_limits<int64_t>::min();
  void add(int64_t pts) {
    ++count;
    max = std::max(max, pts);
  }
};

// What one decode pass saw.
struct DecodePass {
  PtsStats frames;       // decoded frames with a pts
  int64_t errors = 0;    // packets or frames the decoder refused
  bool complete = true;  // decode_selected: its assumptions held (else its clips are withdrawn)
  std::string why;       // ... and why not
};

// Which frames each clip of a plan takes, and which 16 it keeps, when the decoder returns one
// frame per timestamp in pts order: the release's frame rule (ClipFrameCollector) run over the
// sorted timestamps.
struct SelectedFrames {
  std::vector<std::vector<int64_t>> clip_pts;  // per clip, the release's order
  std::vector<std::vector<int64_t>> kept;      // per clip, the selected pts (VIDEO.N_FRAMES)
  std::map<int64_t, size_t> last_use;          // a kept pts -> the last clip that keeps it
};
SelectedFrames select_frames(const std::vector<int64_t>& sorted_pts, const std::vector<VideoClip>& clips,
                             const VideoStreamFacts& facts, const VideoOptions& vopts);

// What every decode pass over one file reads: the file, the options, its deadline (the clock
// stops while a clip is handed on) and its video stream.
struct DecodeContext {
  const std::string& path;
  const VideoOptions& video;
  const MediaOptions& media;
  Deadline* deadline;
  const VideoStreamFacts& facts;
  bool nvdec = false;  // decode through the cuda hwaccel (media/nvdec_cuda.h): clips carry NV12 on the GPU
};

// Thrown by a pass with nvdec set when the hwaccel did not decode a kept frame (FFmpeg fell back
// to its software decoder: an unsupported profile or size): the file is decoded on the CPU.
struct NvdecFallback {
  std::string why;
};

// Decodes the file once, in order, and delivers the clips of `clips` from index `first` on:
// each clip's frames as the release's reader picks them among the decoded frames.
DecodePass decode_collecting(const DecodeContext& c, const std::vector<VideoClip>& clips, size_t first,
                             const std::function<void(VideoClipFrames&&)>& on_clip);

// Decodes only what the clips keep: a packet whose pts no clip keeps is sent with the decoder's
// skip_frame = AVDISCARD_NONREF (a frame nothing references is not decoded at all; reference
// frames still are). Each clip's frames are `sel`'s, computed from the packets' pts; the decoded
// frames must bear that out (every pts among `frame_pts`, in increasing order, no decode error,
// every kept frame decoded), else the pass stops with complete = false.
DecodePass decode_selected(const DecodeContext& c, const SelectedFrames& sel, const std::set<int64_t>& frame_pts,
                           const std::function<void(VideoClipFrames&&)>& on_clip);

}  // namespace lssd::media
