// The release's clip rules, as pure functions (no FFmpeg, no torch): which clips a file gives,
// which frames/samples each clip covers, and which 16 frames of a video clip are kept.
// See README.md, "The Python release's behaviour": "Clips" and "Video clip -> tensor" step 2.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lssd {

// A stream time base num/den (seconds per pts unit), den > 0, num > 0.
struct TimeBase {
  int64_t num = 1;
  int64_t den = 1;
};

struct VideoClip {
  int index = 0;
  double start_s = 0, stop_s = 0;  // [a, b] as the release reports it (float seconds)
  int64_t lo = 0, hi = 0;          // frame pts range: lo = floor(a/tb), hi = ceil(b/tb)
};

struct VideoClipPlan {
  bool skipped = false;  // fewer than 2 timestamps
  int64_t end_pts = 0;   // largest pts
  double end_s = 0;      // float(end_pts * tb), correctly rounded
  std::vector<VideoClip> clips;
};

// Plans the clips of a video stream from its timestamps (any order; only the count and the
// largest pts matter). The release's arithmetic: `end` = pts*tb is an exact fraction; clip
// bounds i*T are floats; `start+T < end` compares a float with the exact fraction;
// `end - last_stop` is a float subtraction (Fraction - float gives float in Python); the tail
// clip is [float(end) - T, end].
VideoClipPlan plan_video_clips(const std::vector<int64_t>& pts, TimeBase tb, double clip_len);
VideoClipPlan plan_video_clips(int64_t max_pts, size_t count, TimeBase tb, double clip_len);

// floor/ceil of seconds/tb as torchvision's read_video(pts_unit='sec') computes them for a
// float bound: math.floor(a * float(1/tb)).
int64_t seconds_to_pts_floor(double seconds, TimeBase tb);
int64_t seconds_to_pts_ceil(double seconds, TimeBase tb);

// Exact sign of (x - p/q) for a double x and a rational p/q (q > 0): -1, 0 or 1.
int compare_double_rational(double x, __int128 p, int64_t q);
// p/q rounded to the nearest double (as Python's float(Fraction)).
double rational_to_double(__int128 p, int64_t q);

// torch.linspace(start, end, steps) in float32 exactly as torch 1.13's CPU kernel computes it
// with the AVX2 kernels (scalar path with fused multiply-add, vectorized arange in blocks of
// 2x8 elements), which is what the release's uniform_temporal_subsample sees on an AVX2 build.
std::vector<float> torch_linspace_f32(float start, float end, int64_t steps);
// torch.clamp(torch.linspace(0, n-1, steps), 0, n-1).long(): pytorchvideo's
// uniform_temporal_subsample indices.
std::vector<int64_t> uniform_subsample_indices(int64_t n, int64_t steps);

// Which of a clip's n decoded frames the release keeps (indices into them, in order):
// when fps != target_fps, indices linspace(0, n-1, ceil(n/fps*target_fps)); then n_frames of
// those at linspace(0, t-1, n_frames). fps <= 0 (unknown rate) is treated as target_fps.
std::vector<int64_t> select_clip_frames(int64_t n, double fps, double target_fps, int n_frames);

struct AudioClip {
  int index = 0;
  int64_t start = 0, stop = 0;  // sample range [start, stop) at the native rate
  double start_s = 0, stop_s = 0;
};

struct AudioClipPlan {
  bool skipped = false;  // fewer than 2 samples
  std::vector<AudioClip> clips;
};

// Audio clips: [int(i*T*sr), int((i+1)*T*sr)) while (i+1)*T*sr < n; if none, [0, n); else if
// n - last_stop > int(T*sr/2), one more [n - int(T*sr), n).
AudioClipPlan plan_audio_clips(int64_t n, int sample_rate, double clip_len);
// The pieces of that rule for streaming: the i-th regular clip (valid once more than
// `(i+1)*T*sr` samples are known to exist) and the clip(s) decided at the end of the stream.
AudioClip audio_regular_clip(int i, int sample_rate, double clip_len);
bool audio_regular_clip_exists(int i, int64_t n_known, int sample_rate, double clip_len);
// Given the regular clips already emitted (count and last stop) and the final n: the extra
// clip to emit, if any (count == 0: [0, n); otherwise the tail clip).
bool audio_final_clip(int64_t n, int num_regular, int64_t last_stop, int sample_rate, double clip_len, AudioClip* out);

}  // namespace lssd
