#include "clips/clips.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "lssd/error.h"

namespace lssd {
namespace {

void check_clip_len(double clip_len) {
  if (!(clip_len > 0) || !std::isfinite(clip_len)) {
    throw Error("clips", "clip length must be a positive number, got " + std::to_string(clip_len));
  }
}

// Floor division of a 128-bit numerator by a positive denominator.
void floor_divmod(__int128 p, int64_t q, __int128* k, __int128* r) {
  *k = p / q;
  *r = p % q;
  if (*r < 0) {
    *r += q;
    *k -= 1;
  }
}

// float(Fraction(den, num)): the inverse time base as Python computes it.
double inverse_time_base(TimeBase tb) { return rational_to_double(tb.den, tb.num); }

}  // namespace

double rational_to_double(__int128 p, int64_t q) {
  constexpr __int128 kExact = __int128{1} << 53;
  if (p > -kExact && p < kExact && q < (int64_t{1} << 53)) {
    return static_cast<double>(static_cast<int64_t>(p)) / static_cast<double>(q);  // one rounding
  }
  return static_cast<double>(static_cast<long double>(p) / static_cast<long double>(q));
}

int compare_double_rational(double x, __int128 p, int64_t q) {
  if (std::isnan(x)) return 1;
  if (std::isinf(x)) return x > 0 ? 1 : -1;
  __int128 k, r;
  floor_divmod(p, q, &k, &r);  // p/q = k + r/q, 0 <= r < q
  const double fx = std::floor(x);
  // Integer parts first. |fx| beyond 2^100 cannot be near a 128-bit k from int64 pts.
  if (fx >= 0x1p100) return 1;
  if (fx <= -0x1p100) return -1;
  const __int128 ix = static_cast<__int128>(fx);
  if (ix < k) return -1;
  if (ix > k) return 1;
  // Same integer part: compare the fractions f = x - fx (exact, in [0, 1)) and r/q.
  const double f = x - fx;
  if (r == 0) return f > 0 ? 1 : 0;
  if (f == 0) return -1;
  int e = 0;
  const double mant = std::frexp(f, &e);                                // f = mant * 2^e, mant in [0.5, 1), e <= 0
  const auto m = static_cast<unsigned __int128>(std::ldexp(mant, 53));  // f = m * 2^(e-53)
  const int s = 53 - e;                                                 // f = m / 2^s, s >= 53
  // Compare m*q with r*2^s.
  const unsigned __int128 lhs = m * static_cast<unsigned __int128>(q);  // < 2^116
  if (s >= 128) return -1;                                              // r >= 1: r*2^s > lhs
  const unsigned __int128 hi = lhs >> s;
  const unsigned __int128 lo_bits = lhs & ((static_cast<unsigned __int128>(1) << s) - 1);
  const auto ur = static_cast<unsigned __int128>(r);
  if (hi < ur) return -1;
  if (hi > ur) return 1;
  return lo_bits > 0 ? 1 : 0;
}

int64_t seconds_to_pts_floor(double seconds, TimeBase tb) {
  return static_cast<int64_t>(std::floor(seconds * inverse_time_base(tb)));
}

int64_t seconds_to_pts_ceil(double seconds, TimeBase tb) {
  return static_cast<int64_t>(std::ceil(seconds * inverse_time_base(tb)));
}

VideoClipPlan plan_video_clips(const std::vector<int64_t>& pts, TimeBase tb, double clip_len) {
  if (pts.empty()) return plan_video_clips(0, 0, tb, clip_len);
  return plan_video_clips(*std::max_element(pts.begin(), pts.end()), pts.size(), tb, clip_len);
}

VideoClipPlan plan_video_clips(int64_t max_pts, size_t count, TimeBase tb, double clip_len) {
  check_clip_len(clip_len);
  if (tb.num <= 0 || tb.den <= 0) throw Error("clips", "invalid time base");
  VideoClipPlan plan;
  if (count < 2) {
    plan.skipped = true;
    return plan;
  }
  const double T = clip_len;
  const __int128 end_p = static_cast<__int128>(max_pts) * tb.num;  // end = end_p / tb.den exactly
  plan.end_pts = max_pts;
  plan.end_s = rational_to_double(end_p, tb.den);
  // Regular clips [i*T, (i+1)*T] while (i+1)*T < end (float vs exact fraction).
  for (int i = 0;; ++i) {
    const double a = i * T;
    const double b = (i + 1) * T;
    if (compare_double_rational(b, end_p, tb.den) >= 0) break;
    VideoClip c;
    c.index = i;
    c.start_s = a;
    c.stop_s = b;
    c.lo = seconds_to_pts_floor(a, tb);
    c.hi = seconds_to_pts_ceil(b, tb);
    plan.clips.push_back(c);
  }
  if (plan.clips.empty()) {
    VideoClip c;
    c.start_s = 0.0;
    c.stop_s = plan.end_s;
    c.lo = 0;
    c.hi = max_pts;  // ceil(end / tb) with end an exact fraction
    plan.clips.push_back(c);
  } else {
    const double last_stop = plan.clips.back().stop_s;
    if (plan.end_s - last_stop > T / 2) {  // Fraction - float is a float subtraction
      VideoClip c;
      c.index = static_cast<int>(plan.clips.size());
      c.start_s = plan.end_s - T;
      c.stop_s = plan.end_s;
      c.lo = seconds_to_pts_floor(c.start_s, tb);
      c.hi = max_pts;
      plan.clips.push_back(c);
    }
  }
  return plan;
}

std::vector<float> torch_linspace_f32(float start, float end, int64_t steps) {
  std::vector<float> out;
  if (steps <= 0) return out;
  out.resize(static_cast<size_t>(steps));
  if (steps == 1) {
    out[0] = start;
    return out;
  }
  const float step = (end - start) / static_cast<float>(steps - 1);
  const int64_t halfway = steps / 2;
  // The scalar lambda (compiled with FMA contraction in torch's AVX2 kernels).
  auto scalar = [&](int64_t idx) -> float {
    if (idx < halfway) return std::fmaf(step, static_cast<float>(idx), start);
    return std::fmaf(-step, static_cast<float>(steps - idx - 1), end);
  };
  // Vectorized<float>::arange(base, step): base + i*step, rounded twice.
  constexpr int64_t kVec = 8;
  auto vec = [&](int64_t idx) {
    const float base = scalar(idx);
    out[static_cast<size_t>(idx)] = base;
    for (int64_t k = 1; k < kVec; ++k) {
      volatile float prod = static_cast<float>(k) * step;  // no contraction here
      out[static_cast<size_t>(idx + k)] = base + prod;
    }
  };
  int64_t i = 0;
  for (; i <= steps - 2 * kVec; i += 2 * kVec) {
    vec(i);
    vec(i + kVec);
  }
  for (; i < steps; ++i) out[static_cast<size_t>(i)] = scalar(i);
  return out;
}

std::vector<int64_t> uniform_subsample_indices(int64_t n, int64_t steps) {
  const std::vector<float> ls = torch_linspace_f32(0.0f, static_cast<float>(n - 1), steps);
  std::vector<int64_t> out(ls.size());
  const float hi = static_cast<float>(n - 1);
  for (size_t i = 0; i < ls.size(); ++i) {
    const float v = std::min(std::max(ls[i], 0.0f), hi);
    out[i] = static_cast<int64_t>(v);  // .long() truncates toward zero
  }
  return out;
}

std::vector<int64_t> select_clip_frames(int64_t n, double fps, double target_fps, int n_frames) {
  if (n <= 0) return {};
  std::vector<int64_t> idx;
  if (fps > 0 && fps != target_fps) {
    const auto m = static_cast<int64_t>(std::ceil(static_cast<double>(n) / fps * target_fps));
    idx = uniform_subsample_indices(n, m);
  } else {
    idx.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
  }
  const std::vector<int64_t> sel = uniform_subsample_indices(static_cast<int64_t>(idx.size()), n_frames);
  std::vector<int64_t> out(sel.size());
  for (size_t j = 0; j < sel.size(); ++j) out[j] = idx[static_cast<size_t>(sel[j])];
  return out;
}

AudioClip audio_regular_clip(int i, int sample_rate, double clip_len) {
  AudioClip c;
  c.index = i;
  c.start = static_cast<int64_t>(i * clip_len * sample_rate);
  c.stop = static_cast<int64_t>((i + 1) * clip_len * sample_rate);
  c.start_s = static_cast<double>(c.start) / sample_rate;
  c.stop_s = static_cast<double>(c.stop) / sample_rate;
  return c;
}

bool audio_regular_clip_exists(int i, int64_t n_known, int sample_rate, double clip_len) {
  return (i + 1) * clip_len * sample_rate < static_cast<double>(n_known);
}

bool audio_final_clip(int64_t n, int num_regular, int64_t last_stop, int sample_rate, double clip_len, AudioClip* out) {
  if (n < 2) return false;
  AudioClip c;
  c.index = num_regular;
  if (num_regular == 0) {
    c.start = 0;
    c.stop = n;
  } else {
    const double len = clip_len * sample_rate;
    if (!(n - last_stop > static_cast<int64_t>(len / 2))) return false;
    c.start = n - static_cast<int64_t>(len);
    c.stop = n;
  }
  c.start_s = static_cast<double>(c.start) / sample_rate;
  c.stop_s = static_cast<double>(c.stop) / sample_rate;
  *out = c;
  return true;
}

AudioClipPlan plan_audio_clips(int64_t n, int sample_rate, double clip_len) {
  check_clip_len(clip_len);
  if (sample_rate <= 0) throw Error("clips", "invalid sample rate");
  AudioClipPlan plan;
  if (n < 2) {
    plan.skipped = true;
    return plan;
  }
  for (int i = 0; audio_regular_clip_exists(i, n, sample_rate, clip_len); ++i) {
    plan.clips.push_back(audio_regular_clip(i, sample_rate, clip_len));
  }
  AudioClip extra;
  const int64_t last_stop = plan.clips.empty() ? 0 : plan.clips.back().stop;
  if (audio_final_clip(n, static_cast<int>(plan.clips.size()), last_stop, sample_rate, clip_len, &extra)) {
    plan.clips.push_back(extra);
  }
  return plan;
}

}  // namespace lssd
