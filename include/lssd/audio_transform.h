// Audio transform stage: the mono float samples of one clip at their native rate -> the audio
// encoder's input [1, n_mels, crop_w] (the release: [1,96,288]).
//
// What the release computes (torchaudio 0.13.1 / torchvision 0.14.1, all float32):
//   1. torchaudio.functional.resample(x, native_rate, 48000) when the rates differ (windowed
//      sinc, Hann, lowpass_filter_width 6, rolloff 0.99, gcd-reduced rates; the kernel is built
//      in float32 because the waveform is float32);
//   2. truncate or zero-pad at the end to int(clip_len * 48000) samples;
//   3. MelSpectrogram(48000, n_fft 1024, hop 501, n_mels 96): periodic Hann window, power 2,
//      center=True with reflect padding, HTK mel scale, f_min 0, f_max 24000, no norm;
//   4. AmplitudeToDB(): 10*log10(max(x, 1e-10)), no top_db;
//   5. torchvision CenterCrop([crop_h, crop_w]) (zero padding when smaller; offsets with
//      Python's round-half-to-even).
// The resampling, framing, FFT, |.|^2, clamp and log10 are LibTorch's own operators applied as
// torchaudio applies them (bit-identical resampled waveform); the mel product is a sparse sum
// instead of an (OpenBLAS) matmul, so the dB values differ from torchaudio's by a few float ulps
// (measured <= 2e-5 dB). The resampling conv1d (oneDNN) may use LibTorch's intra-op pool; the
// FFT (pocketfft) and the rest run on the calling thread.
//
// No LibTorch types here. Thread-safe: one AudioTransform may be used from several threads at
// once. Work runs on the calling thread and LibTorch's intra-op pool only; nothing here changes
// global LibTorch settings.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "lssd/array.h"
#include "lssd/options.h"

namespace lssd {

namespace detail {
// Steps 1-4 (uncropped) computed with torchaudio's operators one for one (stft, dense matmul):
// the slower reference that AudioTransform::logmel_uncropped is checked against. Equal to it up
// to a few float ulps (the fast path sums the mel product in another order).
FloatArray audio_to_logmel_reference(const float* mono, size_t n, int native_rate, const AudioOptions& opts);
}  // namespace detail

class AudioTransform {
 public:
  // Precomputes the STFT window and the mel filterbank. Throws lssd::ConfigError on invalid
  // options (non-positive sizes, a clip shorter than n_fft/2 + 1 samples at sample_rate).
  explicit AudioTransform(const AudioOptions& opts = AudioOptions{});
  ~AudioTransform();
  AudioTransform(const AudioTransform&) = default;
  AudioTransform& operator=(const AudioTransform&) = default;

  // `n` mono samples at `native_rate` Hz -> [1, crop_h, crop_w] log-mel (dB).
  // Throws lssd::Error("audio_transform", ...) when native_rate <= 0.
  FloatArray operator()(const float* mono, size_t n, int native_rate) const;
  FloatArray operator()(const std::vector<float>& mono, int native_rate) const {
    return (*this)(mono.data(), mono.size(), native_rate);
  }

  // The uncropped log-mel [1, n_mels, 1 + target_samples/hop] (steps 1-4).
  FloatArray logmel_uncropped(const float* mono, size_t n, int native_rate) const;

  const AudioOptions& options() const;
  int64_t target_samples() const;  // int(clip_len * sample_rate): 144000 by default
  int64_t n_frames() const;        // 1 + target_samples / hop_length: 288 by default

 private:
  friend FloatArray detail::audio_to_logmel_reference(const float*, size_t, int, const AudioOptions&);
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// audio_to_logmel(x, n, rate, opts) == AudioTransform(opts)(x, n, rate), with the
// AudioTransform of each distinct options value built once per process and reused.
FloatArray audio_to_logmel(const float* mono, size_t n, int native_rate, const AudioOptions& opts);

// torchaudio.functional.resample(x, orig_rate, new_rate) (defaults) on float32 mono samples:
// ceil(n * new_rate / orig_rate) samples out; a copy when the rates are equal.
// The kernel of each (orig, new) rate pair is built once per process and cached (shared by
// every AudioTransform; emptied when it passes 256 MiB). Bit-identical to torchaudio, except
// for rate pairs whose kernel would exceed 64 MiB (e.g. 44056 Hz: 6000 x 5521 taps; a prime
// rate: 48000 x ~44000 taps), which are computed sparsely without a kernel: the same formula
// with float64 taps, i.e. torchaudio's resampler with a float64 kernel to ~6e-8, and
// torchaudio's float32-kernel output to ~1e-5 (the error of that float32 kernel).
std::vector<float> resample_audio(const float* x, size_t n, int orig_rate, int new_rate);

// Introspection of the process-wide resampling-kernel cache (for tests and logs).
struct ResampleCacheStats {
  size_t entries = 0;  // kernels held now
  size_t builds = 0;   // kernels built since the process started
  size_t bytes = 0;    // memory held by the cached kernels
};
ResampleCacheStats resample_cache_stats();

namespace detail {
// The sparse (kernel-free) resampler used for huge rate pairs, exposed for tests.
std::vector<float> resample_audio_direct(const float* x, size_t n, int orig_rate, int new_rate);
}  // namespace detail

}  // namespace lssd
