// The release's audio clip rule over a stream of mono samples (see clips.h): each clip comes out
// as soon as it is known to exist, and only a rolling window of samples is kept (the pending
// clip and the last int(T*sr) samples for the tail clip, decided at the end of the stream), so
// memory does not grow with the length of a file. Pure bookkeeping, no FFmpeg.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "clips/clips.h"

namespace lssd {

class AudioClipStream {
 public:
  // A complete clip and its samples (stop - start, fewer for a file shorter than the clip).
  using OnClip = std::function<void(const AudioClip&, std::vector<float>&& samples)>;

  AudioClipStream(int sample_rate, double clip_len);

  // Appends n samples; on_clip for every regular clip now known to exist, in index order.
  void append(const float* samples, size_t n, const OnClip& on_clip);
  // The end of the stream: the tail clip, or the one clip [0, n) of a short file, when the rule
  // gives one. Returns false when the stream had fewer than 2 samples (skipped, as the release).
  bool finish(const OnClip& on_clip);

  int64_t samples() const { return count_; }       // appended so far
  size_t buffered() const { return buf_.size(); }  // held now (the memory bound)

 private:
  void emit(const AudioClip& c, const OnClip& on_clip);

  int sr_;
  double clip_len_;
  int64_t window_;          // int(T*sr): the tail clip's length
  std::vector<float> buf_;  // samples [buf_start_, count_)
  int64_t buf_start_ = 0;
  int64_t count_ = 0;
  int next_regular_ = 0;
  int64_t last_stop_ = 0;
};

}  // namespace lssd
