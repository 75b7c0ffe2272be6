#include "clips/audio_clip_stream.h"

#include <algorithm>

#include "lssd/error.h"

namespace lssd {

AudioClipStream::AudioClipStream(int sample_rate, double clip_len)
    : sr_(sample_rate), clip_len_(clip_len), window_(static_cast<int64_t>(clip_len * sample_rate)) {
  if (sample_rate <= 0) throw Error("clips", "invalid sample rate");
}

void AudioClipStream::emit(const AudioClip& c, const OnClip& on_clip) {
  if (c.start < buf_start_) throw Error("clips", "internal: audio window too short");
  const int64_t a = c.start - buf_start_;
  const int64_t b = std::max(a, std::min(c.stop, count_) - buf_start_);
  on_clip(c, std::vector<float>(buf_.begin() + a, buf_.begin() + b));
}

void AudioClipStream::append(const float* samples, size_t n, const OnClip& on_clip) {
  buf_.insert(buf_.end(), samples, samples + n);
  count_ += static_cast<int64_t>(n);
  while (audio_regular_clip_exists(next_regular_, count_, sr_, clip_len_)) {
    const AudioClip c = audio_regular_clip(next_regular_, sr_, clip_len_);
    emit(c, on_clip);
    last_stop_ = c.stop;
    ++next_regular_;
  }
  // Drop what no clip can need any more: before the next regular clip's start and before the
  // last int(T*sr) samples (the tail clip). In halves, so that erasing stays amortised O(1).
  const int64_t keep_from = std::min(audio_regular_clip(next_regular_, sr_, clip_len_).start, count_ - window_);
  const int64_t drop = keep_from - buf_start_;
  if (drop > 0 && static_cast<size_t>(drop) * 2 >= buf_.size()) {
    buf_.erase(buf_.begin(), buf_.begin() + drop);
    buf_start_ = keep_from;
  }
}

bool AudioClipStream::finish(const OnClip& on_clip) {
  if (count_ < 2) return false;
  AudioClip extra;
  if (audio_final_clip(count_, next_regular_, last_stop_, sr_, clip_len_, &extra)) emit(extra, on_clip);
  return true;
}

}  // namespace lssd
