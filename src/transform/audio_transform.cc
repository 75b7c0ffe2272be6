// Audio transform: mono samples -> log-mel [1, n_mels, crop_w], mirroring torchaudio 0.13.1's
// resample / MelSpectrogram / AmplitudeToDB and torchvision 0.14.1's CenterCrop operator by
// operator (same LibTorch kernels, same order, same dtypes), so the numbers match the Python
// release. See include/lssd/audio_transform.h.
#include "lssd/audio_transform.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <numeric>
#include <string>
#include <tuple>

#include "lssd/error.h"

namespace lssd {
namespace {

constexpr const char* kStage = "audio_transform";
constexpr int64_t kLowpassWidth = 6;  // torchaudio default lowpass_filter_width
constexpr double kRolloff = 0.99;     // torchaudio default rolloff
// A reduced rate pair whose kernel would exceed this many bytes is resampled sparsely.
constexpr size_t kMaxKernelBytes = size_t{64} << 20;
// Total bytes of cached kernels; beyond it the cache is emptied before adding a new kernel.
constexpr size_t kMaxCacheBytes = size_t{256} << 20;

struct RatePlan {
  int64_t orig = 0, next = 0;  // gcd-reduced rates
  double base = 0.0;           // min(orig, next) * rolloff
  int64_t width = 0;           // ceil(lowpass_width * orig / base)
};

RatePlan plan_rates(int orig_rate, int new_rate) {
  RatePlan p;
  const int64_t g = std::gcd(static_cast<int64_t>(orig_rate), static_cast<int64_t>(new_rate));
  p.orig = orig_rate / g;
  p.next = new_rate / g;
  p.base = static_cast<double>(std::min(p.orig, p.next));
  p.base *= kRolloff;
  p.width = static_cast<int64_t>(std::ceil(static_cast<double>(kLowpassWidth * p.orig) / p.base));
  return p;
}

size_t kernel_bytes(const RatePlan& p) {
  return static_cast<size_t>(p.next) * static_cast<size_t>(2 * p.width + p.orig) * sizeof(float);
}

// torchaudio.functional._get_sinc_resample_kernel(..., dtype=torch.float32), op for op.
at::Tensor build_kernel(const RatePlan& p) {
  using torch::indexing::None;
  using torch::indexing::Slice;
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  at::Tensor idx = torch::arange(-p.width, p.width + p.orig, f32).index({None, None}) / p.orig;
  at::Tensor t = torch::arange(0, -p.next, -1, f32).index({Slice(), None, None}) / p.next + idx;
  t *= p.base;
  t = t.clamp_(-kLowpassWidth, kLowpassWidth);
  at::Tensor window = torch::cos(t * M_PI / kLowpassWidth / 2).pow(2);
  t *= M_PI;
  const double scale = p.base / static_cast<double>(p.orig);
  at::Tensor kernels = torch::where(t == 0, torch::tensor(1.0).to(t), t.sin() / t);
  kernels *= window * scale;
  return kernels.contiguous();
}

struct KernelCache {
  std::mutex mu;
  std::map<std::pair<int64_t, int64_t>, at::Tensor> kernels;
  size_t builds = 0;
  size_t bytes = 0;
};

KernelCache& kernel_cache() {
  static KernelCache* cache = new KernelCache();  // never destroyed: safe at exit
  return *cache;
}

at::Tensor cached_kernel(const RatePlan& p) {
  KernelCache& c = kernel_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  const auto key = std::make_pair(p.orig, p.next);
  auto it = c.kernels.find(key);
  if (it != c.kernels.end()) return it->second;
  at::Tensor k = build_kernel(p);
  const size_t b = kernel_bytes(p);
  if (c.bytes + b > kMaxCacheBytes) {  // tensors in use elsewhere stay alive (refcounted)
    c.kernels.clear();
    c.bytes = 0;
  }
  c.kernels.emplace(key, k);
  c.bytes += b;
  ++c.builds;
  return k;
}

int64_t resampled_length(const RatePlan& p, int64_t n) {
  return static_cast<int64_t>(std::ceil(static_cast<double>(p.next * n) / static_cast<double>(p.orig)));
}

// torchaudio.functional._apply_sinc_resample_kernel on a [1, n] float32 tensor. With max_out
// >= 0 only the input prefix that the first max_out outputs depend on is used: those outputs are
// bit-identical (checked against torchaudio), the rest are not computed.
at::Tensor resample_with_kernel(at::Tensor wav, const RatePlan& p, int64_t max_out) {
  if (max_out >= 0) {
    const int64_t blocks = std::max<int64_t>((max_out + p.next - 1) / p.next, 1);
    const int64_t need = (blocks - 1) * p.orig + p.width + p.orig;  // inputs [0, need) are used
    if (wav.size(-1) > need) wav = wav.index({torch::indexing::Slice(), torch::indexing::Slice(0, need)});
  }
  const int64_t length = wav.size(-1);
  at::Tensor kernel = cached_kernel(p);
  at::Tensor x = at::constant_pad_nd(wav, {p.width, p.width + p.orig}, 0);
  at::Tensor y = at::conv1d(x.index({torch::indexing::Slice(), torch::indexing::None}), kernel, {}, {p.orig});
  y = y.transpose(1, 2).reshape({1, -1});
  int64_t out_len = resampled_length(p, length);
  if (max_out >= 0) out_len = std::min(out_len, max_out);
  return y.index({"...", torch::indexing::Slice(0, out_len)});
}

// The same filter evaluated tap by tap (float64) over the taps inside the window only.
std::vector<float> resample_direct(const float* x, int64_t n, const RatePlan& p, int64_t max_out) {
  int64_t out_len = resampled_length(p, n);
  if (max_out >= 0) out_len = std::min(out_len, max_out);
  std::vector<float> out(static_cast<size_t>(std::max<int64_t>(out_len, 0)), 0.0f);
  const double lw = static_cast<double>(kLowpassWidth);
  const double scale = p.base / static_cast<double>(p.orig);
  const int64_t K = 2 * p.width + p.orig;
  std::vector<double> taps;
  for (int64_t phase = 0; phase < p.next; ++phase) {
    // kernel[phase][k] = f(t), t = (k - width) / orig - phase / next, scaled by base.
    const double shift = static_cast<double>(phase) / static_cast<double>(p.next);
    const double span = lw / p.base * static_cast<double>(p.orig);
    int64_t k_lo = static_cast<int64_t>(std::floor(shift * p.orig - span)) + p.width - 1;
    int64_t k_hi = static_cast<int64_t>(std::ceil(shift * p.orig + span)) + p.width + 1;
    k_lo = std::max<int64_t>(k_lo, 0);
    k_hi = std::min<int64_t>(k_hi, K - 1);
    taps.assign(static_cast<size_t>(std::max<int64_t>(k_hi - k_lo + 1, 0)), 0.0);
    for (int64_t k = k_lo; k <= k_hi; ++k) {
      double t = (static_cast<double>(k - p.width) / static_cast<double>(p.orig) - shift) * p.base;
      if (t <= -lw || t >= lw) continue;  // clamped: the window is ~0 there
      const double w = std::cos(t * M_PI / lw / 2.0);
      t *= M_PI;
      const double s = t == 0.0 ? 1.0 : std::sin(t) / t;
      taps[static_cast<size_t>(k - k_lo)] = s * w * w * scale;
    }
    for (int64_t j = phase, b = 0; j < out_len; j += p.next, ++b) {
      // input index of tap k for block b: b*orig + k - width
      double acc = 0.0;
      const int64_t i0 = b * p.orig - p.width;
      for (int64_t k = k_lo; k <= k_hi; ++k) {
        const int64_t i = i0 + k;
        if (i < 0 || i >= n) continue;
        acc += taps[static_cast<size_t>(k - k_lo)] * static_cast<double>(x[i]);
      }
      out[static_cast<size_t>(j)] = static_cast<float>(acc);
    }
  }
  return out;
}

void check_rate(int rate, const char* what) {
  if (rate <= 0) throw Error(kStage, std::string(what) + " sample rate must be positive, got " + std::to_string(rate));
}

// Resamples [1, n] float32 (contiguous) from orig_rate to new_rate; with max_out >= 0, at most
// the first max_out output samples.
at::Tensor resample_tensor(const at::Tensor& wav, int orig_rate, int new_rate, int64_t max_out = -1) {
  if (orig_rate == new_rate) return wav;
  const RatePlan p = plan_rates(orig_rate, new_rate);
  const int64_t n = wav.size(-1);
  if (n == 0) return torch::zeros({1, 0}, torch::kFloat32);
  if (kernel_bytes(p) <= kMaxKernelBytes) return resample_with_kernel(wav, p, max_out);
  std::vector<float> y = resample_direct(wav.data_ptr<float>(), n, p, max_out);
  return torch::from_blob(y.data(), {1, static_cast<int64_t>(y.size())}, torch::kFloat32).clone();
}

struct OptionsKey {
  std::tuple<double, int, int, int, int, int, int> v;
  explicit OptionsKey(const AudioOptions& o)
      : v(o.clip_len, o.sample_rate, o.n_fft, o.hop_length, o.n_mels, o.crop_h, o.crop_w) {}
  bool operator<(const OptionsKey& other) const { return v < other.v; }
};

}  // namespace

struct AudioTransform::Impl {
  AudioOptions opts;
  int64_t target = 0;           // samples after truncation / padding
  int64_t frames = 0;           // STFT frames
  at::Tensor window;            // [n_fft] periodic Hann
  at::Tensor fb;                // [n_fft/2+1, n_mels] HTK mel filterbank
  std::vector<float> window_v;  // window as a plain vector
  // The filterbank by mel band: the band's first non-zero frequency bin and its weights.
  std::vector<int64_t> band_start;
  std::vector<std::vector<float>> band_w;

  explicit Impl(const AudioOptions& o) : opts(o) {
    if (!(o.clip_len > 0) || o.sample_rate <= 0 || o.n_fft <= 0 || o.hop_length <= 0 || o.n_mels <= 0 ||
        o.crop_h <= 0 || o.crop_w <= 0)
      throw ConfigError(
          "audio options must be positive (clip_len, sample_rate, n_fft, hop_length, "
          "n_mels, crop size)");
    target = static_cast<int64_t>(o.clip_len * static_cast<double>(o.sample_rate));
    if (target <= o.n_fft / 2)
      throw ConfigError("audio clip of " + std::to_string(target) + " samples is too short for n_fft " +
                        std::to_string(o.n_fft) + " (reflect padding needs more than n_fft/2)");
    const int64_t pad = o.n_fft / 2;
    frames = 1 + (target + 2 * pad - o.n_fft) / o.hop_length;

    c10::InferenceMode guard;
    // torchaudio.transforms.Spectrogram: window_fn(win_length) = torch.hann_window(n_fft).
    window = torch::hann_window(o.n_fft);
    // torchaudio.functional.melscale_fbanks(n_fft//2+1, 0.0, float(sr//2), n_mels, sr, None, "htk").
    const int64_t n_freqs = o.n_fft / 2 + 1;
    const double f_min = 0.0;
    const double f_max = static_cast<double>(o.sample_rate / 2);
    at::Tensor all_freqs = torch::linspace(0, o.sample_rate / 2, n_freqs);
    const double m_min = 2595.0 * std::log10(1.0 + (f_min / 700.0));
    const double m_max = 2595.0 * std::log10(1.0 + (f_max / 700.0));
    at::Tensor m_pts = torch::linspace(m_min, m_max, o.n_mels + 2);
    // _mel_to_hz: 700.0 * (10.0 ** (mels / 2595.0) - 1.0); `10.0 ** t` is tensor(10.0) ** t.
    at::Tensor f_pts = 700.0 * (torch::pow(torch::tensor(10.0, torch::kFloat32), m_pts / 2595.0) - 1.0);
    // _create_triangular_filterbank
    using torch::indexing::None;
    using torch::indexing::Slice;
    at::Tensor f_diff = f_pts.index({Slice(1, None)}) - f_pts.index({Slice(None, -1)});
    at::Tensor slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1);
    at::Tensor zero = torch::zeros(1);
    at::Tensor down = (-1.0 * slopes.index({Slice(), Slice(None, -2)})) / f_diff.index({Slice(None, -1)});
    at::Tensor up = slopes.index({Slice(), Slice(2, None)}) / f_diff.index({Slice(1, None)});
    fb = torch::max(zero, torch::min(down, up)).contiguous();

    window_v.assign(window.data_ptr<float>(), window.data_ptr<float>() + o.n_fft);
    const float* f = fb.data_ptr<float>();
    band_start.assign(static_cast<size_t>(o.n_mels), 0);
    band_w.assign(static_cast<size_t>(o.n_mels), {});
    for (int64_t m = 0; m < o.n_mels; ++m) {
      int64_t lo = n_freqs, hi = -1;
      for (int64_t k = 0; k < n_freqs; ++k) {
        if (f[k * o.n_mels + m] != 0.0f) {
          lo = std::min(lo, k);
          hi = std::max(hi, k);
        }
      }
      band_start[static_cast<size_t>(m)] = hi < 0 ? 0 : lo;
      for (int64_t k = lo; k <= hi; ++k) band_w[static_cast<size_t>(m)].push_back(f[k * o.n_mels + m]);
    }
  }

  // Resampled, truncated or zero-padded [1, target] float32 waveform (steps 1-2).
  at::Tensor waveform(const float* mono, size_t n, int native_rate) const {
    using torch::indexing::Slice;
    check_rate(native_rate, "native");
    at::Tensor wav = torch::from_blob(const_cast<float*>(mono), {1, static_cast<int64_t>(n)}, torch::kFloat32);
    if (native_rate != opts.sample_rate) wav = resample_tensor(wav, native_rate, opts.sample_rate, target);
    const int64_t len = wav.size(-1);
    if (len >= target) return wav.index({Slice(), Slice(0, target)}).contiguous();
    return at::constant_pad_nd(wav, {0, target - len}, 0).contiguous();
  }

  // Steps 1-4, fast: the same float operations as logmel_reference (framing and windowing as
  // torch.stft does them, LibTorch's FFT, |.|^2 as LibTorch's vectorised complex abs does it,
  // the mel product as a sparse sum in ascending frequency order (the order of a reference
  // BLAS sgemm; all terms are >= 0, so any order is within a few float ulps), LibTorch's
  // clamp/log10), without the dense matmul, the transposes and most temporaries.
  at::Tensor logmel_fast(const float* mono, size_t n, int native_rate) const {
    const at::Tensor wav = waveform(mono, n, native_rate);
    const float* w = wav.data_ptr<float>();
    const int64_t n_fft = opts.n_fft, hop = opts.hop_length, pad = n_fft / 2;
    // center=True, reflect padding, frames of n_fft every hop, times the window.
    at::Tensor framed = torch::empty({1, frames, n_fft}, torch::kFloat32);
    float* fr = framed.data_ptr<float>();
    for (int64_t t = 0; t < frames; ++t) {
      float* row = fr + t * n_fft;
      const int64_t s0 = t * hop - pad;
      for (int64_t k = 0; k < n_fft; ++k) {
        int64_t i = s0 + k;
        if (i < 0)
          i = -i;
        else if (i >= target)
          i = 2 * (target - 1) - i;
        row[k] = w[i] * window_v[static_cast<size_t>(k)];
      }
    }
    // torch.stft's own transform: _fft_r2c over the last dim, onesided, no normalisation.
    const at::Tensor spec = at::_fft_r2c(framed, {2}, /*normalization=*/0, /*onesided=*/true).contiguous();
    const int64_t n_freqs = spec.size(2);
    // |X|^2 as LibTorch computes abs().pow(2.0) on complex float: sqrt(re*re + im*im), squared.
    std::vector<float> power(static_cast<size_t>(frames * n_freqs));
    const float* ri = reinterpret_cast<const float*>(spec.data_ptr<c10::complex<float>>());
    for (size_t i = 0; i < power.size(); ++i) {
      const float re = ri[2 * i], im = ri[2 * i + 1];
      const float a = std::sqrt(re * re + im * im);
      power[i] = a * a;
    }
    at::Tensor mel = torch::empty({1, opts.n_mels, frames}, torch::kFloat32);
    float* out = mel.data_ptr<float>();
    for (int64_t m = 0; m < opts.n_mels; ++m) {
      const std::vector<float>& bw = band_w[static_cast<size_t>(m)];
      const float* col = power.data() + band_start[static_cast<size_t>(m)];
      const size_t nb = bw.size();
      for (int64_t t = 0; t < frames; ++t) {
        const float* row = col + t * n_freqs;
        float acc = 0.0f;
        for (size_t k = 0; k < nb; ++k) acc += row[k] * bw[k];
        out[m * frames + t] = acc;
      }
    }
    // AmplitudeToDB(stype="power", top_db=None): its "- 10 * db_multiplier" term is 0.
    return 10.0 * torch::log10(torch::clamp(mel, 1e-10));
  }

  // Steps 1-4 with torchaudio's operators one for one: [1, n_mels, frames] float32 tensor.
  at::Tensor logmel_reference(const float* mono, size_t n, int native_rate) const {
    at::Tensor wav = waveform(mono, n, native_rate);
    // torch.stft(center=True, pad_mode="reflect") as torch/functional.py does it in 1.13.
    const int64_t pad = opts.n_fft / 2;
    at::Tensor padded = at::reflection_pad1d(wav.view({1, 1, target}), {pad, pad}).view({1, target + 2 * pad});
    at::Tensor spec = at::stft(padded, opts.n_fft, opts.hop_length, opts.n_fft, window,
                               /*normalized=*/false, /*onesided=*/true, /*return_complex=*/true);
    spec = spec.abs().pow(2.0);
    // MelScale: matmul(specgram.transpose(-1, -2), fb).transpose(-1, -2)
    at::Tensor mel = torch::matmul(spec.transpose(-1, -2), fb).transpose(-1, -2);
    // AmplitudeToDB(stype="power", top_db=None): db_multiplier = log10(max(1e-10, 1.0)) = 0.
    return (10.0 * torch::log10(torch::clamp(mel, 1e-10))).contiguous();
  }
};

AudioTransform::AudioTransform(const AudioOptions& opts) : impl_(std::make_shared<const Impl>(opts)) {}
AudioTransform::~AudioTransform() = default;

const AudioOptions& AudioTransform::options() const { return impl_->opts; }
int64_t AudioTransform::target_samples() const { return impl_->target; }
int64_t AudioTransform::n_frames() const { return impl_->frames; }

FloatArray AudioTransform::logmel_uncropped(const float* mono, size_t n, int native_rate) const {
  c10::InferenceMode guard;
  at::Tensor db = impl_->logmel_fast(mono, n, native_rate);
  FloatArray out({1, db.size(1), db.size(2)});
  std::memcpy(out.ptr(), db.data_ptr<float>(), out.numel() * sizeof(float));
  return out;
}

FloatArray AudioTransform::operator()(const float* mono, size_t n, int native_rate) const {
  const AudioOptions& o = impl_->opts;
  FloatArray full = logmel_uncropped(mono, n, native_rate);
  const int64_t h = full.shape[1], w = full.shape[2];
  if (h == o.crop_h && w == o.crop_w) return full;
  // torchvision.transforms.functional.center_crop: zero-pad (left/top get the smaller half)
  // when the crop is larger, then crop at int(round((size - crop) / 2.0)) (half to even).
  const int64_t pad_l = o.crop_w > w ? (o.crop_w - w) / 2 : 0;
  const int64_t pad_t = o.crop_h > h ? (o.crop_h - h) / 2 : 0;
  const int64_t pad_r = o.crop_w > w ? (o.crop_w - w + 1) / 2 : 0;
  const int64_t pad_b = o.crop_h > h ? (o.crop_h - h + 1) / 2 : 0;
  const int64_t ph = h + pad_t + pad_b, pw = w + pad_l + pad_r;
  const int64_t top = static_cast<int64_t>(std::nearbyint((ph - o.crop_h) / 2.0));
  const int64_t left = static_cast<int64_t>(std::nearbyint((pw - o.crop_w) / 2.0));
  FloatArray out({1, o.crop_h, o.crop_w});
  for (int64_t r = 0; r < o.crop_h; ++r) {
    const int64_t sr = top + r - pad_t;  // row in the unpadded image
    if (sr < 0 || sr >= h) continue;
    for (int64_t c = 0; c < o.crop_w; ++c) {
      const int64_t sc = left + c - pad_l;
      if (sc < 0 || sc >= w) continue;
      out.data[static_cast<size_t>(r * o.crop_w + c)] = full.data[static_cast<size_t>(sr * w + sc)];
    }
  }
  return out;
}

FloatArray audio_to_logmel(const float* mono, size_t n, int native_rate, const AudioOptions& opts) {
  static std::mutex mu;
  static auto* transforms = new std::map<OptionsKey, AudioTransform>();
  const AudioTransform* t = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu);
    const OptionsKey key(opts);
    auto it = transforms->find(key);
    if (it == transforms->end()) it = transforms->emplace(key, AudioTransform(opts)).first;
    t = &it->second;  // std::map nodes are stable; entries are never erased
  }
  return (*t)(mono, n, native_rate);
}

std::vector<float> resample_audio(const float* x, size_t n, int orig_rate, int new_rate) {
  check_rate(orig_rate, "original");
  check_rate(new_rate, "target");
  if (orig_rate == new_rate || n == 0) {
    if (orig_rate == new_rate) return std::vector<float>(x, x + n);
    return {};
  }
  c10::InferenceMode guard;
  at::Tensor wav = torch::from_blob(const_cast<float*>(x), {1, static_cast<int64_t>(n)}, torch::kFloat32);
  at::Tensor y = resample_tensor(wav, orig_rate, new_rate).contiguous();
  const float* p = y.data_ptr<float>();
  return std::vector<float>(p, p + y.numel());
}

ResampleCacheStats resample_cache_stats() {
  KernelCache& c = kernel_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  ResampleCacheStats s;
  s.entries = c.kernels.size();
  s.builds = c.builds;
  s.bytes = c.bytes;
  return s;
}

namespace detail {
FloatArray audio_to_logmel_reference(const float* mono, size_t n, int native_rate, const AudioOptions& opts) {
  c10::InferenceMode guard;
  const AudioTransform::Impl impl(opts);
  at::Tensor db = impl.logmel_reference(mono, n, native_rate).contiguous();
  FloatArray out({1, db.size(1), db.size(2)});
  std::memcpy(out.ptr(), db.data_ptr<float>(), out.numel() * sizeof(float));
  return out;
}

std::vector<float> resample_audio_direct(const float* x, size_t n, int orig_rate, int new_rate) {
  check_rate(orig_rate, "original");
  check_rate(new_rate, "target");
  if (orig_rate == new_rate) return std::vector<float>(x, x + n);
  if (n == 0) return {};
  return resample_direct(x, static_cast<int64_t>(n), plan_rates(orig_rate, new_rate), -1);
}
}  // namespace detail

}  // namespace lssd
