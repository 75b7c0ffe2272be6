// Which decoded frames make up each video clip, as the release's reader picks them
// (torchvision 0.14 read_video(pts_unit="sec") -> _read_from_stream), modelled on one sequential
// decode of the stream. Pure bookkeeping: frames are named by the caller (an id per decoded
// frame); the collector holds no pixels and no FFmpeg type.
//
// The release reads clip [a, b] as: lo = floor(a/tb), hi = ceil(b/tb); decode forward from a
// keyframe before lo, keeping every frame in a dict keyed by pts (a repeated pts keeps the frame
// decoded last); stop after the first frame with pts >= hi, or after 5 more such frames when
// `should_buffer`. The clip is then the frames with lo <= pts <= hi in pts order, preceded (when
// lo > 0 and no frame has pts lo) by the frame with the largest pts below lo.
// On one sequential decode, "from a keyframe before lo" becomes "from the first frame with
// pts >= lo" (every frame decoded before it has a pts below lo: the preceding-frame candidates).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "clips/clips.h"

namespace lssd {

// torchvision's should_buffer: true unless the video stream's extradata holds DivX user data
// ("DivX<ver>Build<build><c>" or "DivX<ver>b<build><c>", searched from the first "DivX" with
// Python's regex semantics) whose character <c> is not 'p' (packed B-frames).
bool release_should_buffer(const std::string& extradata);

// One complete clip: its frames in the release's order.
struct CollectedClip {
  int index = 0;
  std::vector<uint64_t> ids;  // caller's frame ids
  std::vector<int64_t> pts;   // their pts (the same order)
};

class ClipFrameCollector {
 public:
  // `clips` in index order with ascending lo (plan_video_clips gives that).
  ClipFrameCollector(std::vector<VideoClip> clips, bool should_buffer);

  // A decoded frame with a pts, in decode order; ids must be distinct.
  void add(int64_t pts, uint64_t id);
  // End of the stream: every clip whose read is not over yet is complete now.
  void finish();
  // The next clip in index order, once complete. Its ids stay valid until the next
  // take_released() call.
  bool pop_complete(CollectedClip* out);
  // Frame ids no longer needed by any clip (each reported once); the caller may free them.
  std::vector<uint64_t> take_released();

  // Frames referenced right now (memory bound: the frames of the clips in flight).
  size_t held() const { return refs_.size(); }
  // Clips popped so far.
  size_t popped() const { return next_pop_; }

 private:
  struct Frame {
    int64_t pts = 0;
    uint64_t id = 0;
  };
  struct Pending {
    VideoClip clip;
    bool started = false;                // a frame with pts >= lo was decoded
    bool over = false;                   // the read stopped (or the stream ended)
    int past_hi = 0;                     // frames with pts >= hi since the start
    std::map<int64_t, uint64_t> frames;  // lo <= pts <= hi
    bool has_preceding = false;
    Frame preceding;  // the largest pts below lo seen in the read
  };

  void feed(Pending& p, int64_t pts, uint64_t id);
  void hold(uint64_t id);
  void drop(uint64_t id);

  std::vector<Pending> pending_;
  size_t next_pop_ = 0;  // first clip not popped
  int stop_after_ = 6;   // frames >= hi that end a read
  bool has_best_ = false;
  Frame best_;  // the frame with the largest pts so far (ties: the later one)
  std::map<uint64_t, int> refs_;
  std::vector<uint64_t> released_;
};

}  // namespace lssd
