// Audio transform: shapes, truncation / padding, silence, a tone's mel bin, the resampling
// kernel cache, native rates, CenterCrop, the fast path against the operator-for-operator
// reference, the sparse resampler, errors and concurrent use.
// (tests/oracle/test_audio_transform_oracle.py compares with torchaudio itself.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <thread>
#include <vector>

#include "lssd/audio_transform.h"
#include "lssd/error.h"

namespace {

std::vector<float> tone(double freq, int rate, double seconds, double amp = 0.5) {
  const size_t n = static_cast<size_t>(std::llround(seconds * rate));
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i)
    x[i] = static_cast<float>(amp * std::sin(2.0 * M_PI * freq * static_cast<double>(i) / rate));
  return x;
}

std::vector<float> noise(size_t n, unsigned seed) {
  std::vector<float> x(n);
  uint32_t s = seed * 2654435761u + 1u;
  for (auto& v : x) {
    s = s * 1664525u + 1013904223u;
    v = static_cast<float>((static_cast<double>(s >> 8) / 16777216.0 - 0.5) * 0.6);
  }
  return x;
}

float at(const lssd::FloatArray& a, int64_t m, int64_t t) { return a.data[static_cast<size_t>(m * a.shape[2] + t)]; }

// Mean over frames [t0, t1) of one mel band.
double band_mean(const lssd::FloatArray& a, int64_t m, int64_t t0, int64_t t1) {
  double s = 0;
  for (int64_t t = t0; t < t1; ++t) s += at(a, m, t);
  return s / static_cast<double>(t1 - t0);
}

int64_t loudest_band(const lssd::FloatArray& a, int64_t t0, int64_t t1) {
  int64_t best = 0;
  for (int64_t m = 1; m < a.shape[1]; ++m)
    if (band_mean(a, m, t0, t1) > band_mean(a, best, t0, t1)) best = m;
  return best;
}

// The HTK mel band whose centre is nearest to `freq` (n_mels bands over 0..sr/2).
int64_t expected_band(double freq, int n_mels = 96, int sr = 48000) {
  auto mel = [](double f) { return 2595.0 * std::log10(1.0 + f / 700.0); };
  const double step = mel(sr / 2) / (n_mels + 1);
  return static_cast<int64_t>(std::llround(mel(freq) / step)) - 1;  // centre of band m: (m+1)*step
}

const float kFloorDb = static_cast<float>(10.0 * std::log10(static_cast<double>(1e-10f)));

}  // namespace

TEST(AudioTransform, DefaultShapes) {
  lssd::AudioTransform t;
  EXPECT_EQ(t.target_samples(), 144000);
  EXPECT_EQ(t.n_frames(), 288);
  const auto x = noise(144000, 1);
  const auto out = t(x, 48000);
  EXPECT_EQ(out.shape, (std::vector<int64_t>{1, 96, 288}));
  EXPECT_EQ(out.numel(), 96u * 288u);
  const auto full = t.logmel_uncropped(x.data(), x.size(), 48000);
  EXPECT_EQ(full.shape, (std::vector<int64_t>{1, 96, 288}));
  EXPECT_EQ(full.data, out.data);  // CenterCrop is a no-op at 3 s
  for (float v : out.data) ASSERT_TRUE(std::isfinite(v));
}

TEST(AudioTransform, TruncatesLongInput) {
  lssd::AudioTransform t;
  auto x = noise(48000 * 5, 2);
  const auto longer = t(x, 48000);
  x.resize(144000);
  EXPECT_EQ(longer.data, t(x, 48000).data);
}

TEST(AudioTransform, ZeroPadsShortInput) {
  lssd::AudioTransform t;
  auto x = noise(48000, 3);  // 1 s
  const auto short_out = t(x, 48000);
  x.resize(144000, 0.0f);
  EXPECT_EQ(short_out.data, t(x, 48000).data);
  // The padded tail is silence: frames well past 1 s sit at the floor.
  for (int64_t m = 0; m < 96; ++m) EXPECT_FLOAT_EQ(at(short_out, m, 200), kFloorDb);
}

TEST(AudioTransform, SilenceIsMinus100Db) {
  lssd::AudioTransform t;
  EXPECT_NEAR(kFloorDb, -100.0f, 1e-4f);
  const std::vector<float> zeros(100000, 0.0f);
  for (int rate : {48000, 44100, 16000}) {
    const auto out = t(zeros, rate);
    for (float v : out.data) ASSERT_FLOAT_EQ(v, kFloorDb) << rate;
  }
  const auto empty = lssd::audio_to_logmel(nullptr, 0, 44100, lssd::AudioOptions{});
  EXPECT_EQ(empty.shape, (std::vector<int64_t>{1, 96, 288}));
  for (float v : empty.data) ASSERT_FLOAT_EQ(v, kFloorDb);
}

TEST(AudioTransform, ToneLandsInItsMelBand) {
  lssd::AudioTransform t;
  for (double f : {250.0, 1000.0, 3000.0, 6500.0}) {
    const auto out = t(tone(f, 48000, 3.0), 48000);
    EXPECT_EQ(loudest_band(out, 10, 278), expected_band(f)) << f << " Hz";
  }
}

TEST(AudioTransform, NativeRates) {
  lssd::AudioTransform t;
  const double f = 1000.0;
  const auto ref = t(tone(f, 48000, 3.0), 48000);
  const int64_t band = expected_band(f);
  ASSERT_EQ(loudest_band(ref, 10, 278), band);
  for (int rate : {48000, 44100, 16000, 22050, 8000}) {
    for (double seconds : {1.5, 3.0, 4.2}) {
      const auto out = t(tone(f, rate, seconds), rate);
      ASSERT_EQ(out.shape, (std::vector<int64_t>{1, 96, 288})) << rate;
      for (float v : out.data) ASSERT_TRUE(std::isfinite(v));
      const int64_t frames = std::min<int64_t>(278, static_cast<int64_t>(seconds * 48000 / 501) - 10);
      EXPECT_EQ(loudest_band(out, 10, frames), band) << rate << " Hz, " << seconds << " s";
      // Same tone, same level: the loudest band agrees with the 48 kHz one to a fraction of a dB.
      EXPECT_NEAR(band_mean(out, band, 10, frames), band_mean(ref, band, 10, frames), 0.2) << rate;
    }
  }
  // Nothing above the native Nyquist frequency but the resampler's leakage: 8 kHz input has its
  // bands above 4 kHz far below the tone.
  const auto low = t(tone(f, 8000, 3.0), 8000);
  EXPECT_LT(band_mean(low, expected_band(8000.0), 10, 278), band_mean(low, band, 10, 278) - 60.0);
}

TEST(AudioTransform, KernelCacheIsReused) {
  const auto x = noise(30000, 4);
  const auto before = lssd::resample_cache_stats();
  lssd::AudioTransform a;
  const auto r1 = a(x, 11025);  // a rate no other test uses
  const auto after_first = lssd::resample_cache_stats();
  EXPECT_EQ(after_first.builds, before.builds + 1);
  EXPECT_GT(after_first.bytes, 0u);
  lssd::AudioTransform b;  // another instance shares the process-wide cache
  const auto r2 = b(x, 11025);
  (void)a(x, 11025);
  (void)lssd::resample_audio(x.data(), x.size(), 11025, 48000);
  EXPECT_EQ(lssd::resample_cache_stats().builds, after_first.builds);
  EXPECT_EQ(r1.data, r2.data);
  (void)a(x, 48000);  // no resampling, no kernel
  EXPECT_EQ(lssd::resample_cache_stats().builds, after_first.builds);
}

TEST(AudioTransform, ResampleLengthsAndIdentity) {
  const auto x = noise(44100, 5);
  EXPECT_EQ(lssd::resample_audio(x.data(), x.size(), 44100, 48000).size(), 48000u);
  EXPECT_EQ(lssd::resample_audio(x.data(), 1001, 16000, 48000).size(), 3003u);
  EXPECT_EQ(lssd::resample_audio(x.data(), 1000, 44100, 48000).size(), 1089u);  // ceil(1000*160/147)
  EXPECT_EQ(lssd::resample_audio(x.data(), x.size(), 48000, 48000), x);
  EXPECT_TRUE(lssd::resample_audio(x.data(), 0, 44100, 48000).empty());
}

TEST(AudioTransform, SparseResamplerMatchesKernel) {
  for (int rate : {44100, 16000, 22050, 32000, 96000}) {
    const auto x = noise(static_cast<size_t>(rate) / 2, 6);
    const auto k = lssd::resample_audio(x.data(), x.size(), rate, 48000);
    const auto d = lssd::detail::resample_audio_direct(x.data(), x.size(), rate, 48000);
    ASSERT_EQ(k.size(), d.size()) << rate;
    float worst = 0;
    for (size_t i = 0; i < k.size(); ++i) worst = std::max(worst, std::abs(k[i] - d[i]));
    EXPECT_LT(worst, 5e-5f) << rate;  // torchaudio's float32 kernel is itself ~1e-5 off
  }
  // A prime rate takes the sparse path (a full kernel would be 48000 x 44071 taps).
  const auto before = lssd::resample_cache_stats().builds;
  const auto x = tone(1000.0, 44057, 1.0);
  const auto y = lssd::resample_audio(x.data(), x.size(), 44057, 48000);
  EXPECT_EQ(y.size(), 48000u);
  EXPECT_EQ(lssd::resample_cache_stats().builds, before);
  const auto out = lssd::AudioTransform()(x, 44057);
  EXPECT_EQ(loudest_band(out, 10, 85), expected_band(1000.0));
}

TEST(AudioTransform, FastPathMatchesReference) {
  lssd::AudioOptions o;
  for (int rate : {48000, 44100, 16000}) {
    auto x = noise(static_cast<size_t>(rate) * 2, 7);
    const auto t = tone(440.0, rate, 2.0, 0.3);
    for (size_t i = 0; i < x.size(); ++i) x[i] = 0.1f * x[i] + t[i];
    const auto fast = lssd::AudioTransform(o).logmel_uncropped(x.data(), x.size(), rate);
    const auto ref = lssd::detail::audio_to_logmel_reference(x.data(), x.size(), rate, o);
    ASSERT_EQ(fast.shape, ref.shape);
    float worst = 0;
    for (size_t i = 0; i < fast.numel(); ++i) worst = std::max(worst, std::abs(fast.data[i] - ref.data[i]));
    EXPECT_LT(worst, 1e-4f) << rate;  // only the mel sum's order differs (a few float ulps)
  }
}

TEST(AudioTransform, CenterCropPadsAndCrops) {
  const auto x = noise(48000 * 5, 8);
  {  // 2 s: 192 frames, zero-padded 48 + 48 to 288 (zeros, not the -100 dB floor)
    lssd::AudioOptions o;
    o.clip_len = 2.0;
    lssd::AudioTransform t(o);
    EXPECT_EQ(t.n_frames(), 192);
    const auto full = t.logmel_uncropped(x.data(), x.size(), 48000);
    const auto out = t(x, 48000);
    ASSERT_EQ(out.shape, (std::vector<int64_t>{1, 96, 288}));
    for (int64_t m = 0; m < 96; ++m) {
      for (int64_t c = 0; c < 288; ++c) {
        const float want = (c < 48 || c >= 240) ? 0.0f : at(full, m, c - 48);
        ASSERT_EQ(at(out, m, c), want) << m << "," << c;
      }
    }
  }
  {  // 2.01 s: 96480 samples, 193 frames, padded 47 left and 48 right
    lssd::AudioOptions o;
    o.clip_len = 2.01;
    lssd::AudioTransform t(o);
    EXPECT_EQ(t.n_frames(), 193);
    const auto full = t.logmel_uncropped(x.data(), x.size(), 48000);
    const auto out = t(x, 48000);
    EXPECT_EQ(at(out, 5, 46), 0.0f);
    EXPECT_EQ(at(out, 5, 47), at(full, 5, 0));
    EXPECT_EQ(at(out, 5, 239), at(full, 5, 192));
    EXPECT_EQ(at(out, 5, 240), 0.0f);
  }
  {  // 4 s: 384 frames, the middle 288 (offset round(96 / 2) = 48)
    lssd::AudioOptions o;
    o.clip_len = 4.0;
    lssd::AudioTransform t(o);
    const auto full = t.logmel_uncropped(x.data(), x.size(), 48000);
    const auto out = t(x, 48000);
    for (int64_t m = 0; m < 96; m += 7)
      for (int64_t c = 0; c < 288; ++c) ASSERT_EQ(at(out, m, c), at(full, m, c + 48));
  }
  {  // 289 frames into 288: offset int(round(0.5)) = 0 (half to even, as Python)
    lssd::AudioOptions o;
    o.clip_len = 144501.0 / 48000.0;
    lssd::AudioTransform t(o);
    ASSERT_EQ(t.n_frames(), 289);
    const auto full = t.logmel_uncropped(x.data(), x.size(), 48000);
    const auto out = t(x, 48000);
    EXPECT_EQ(at(out, 3, 0), at(full, 3, 0));
    EXPECT_EQ(at(out, 3, 287), at(full, 3, 287));
  }
  {  // 291 frames into 288: offset int(round(1.5)) = 2
    lssd::AudioOptions o;
    o.clip_len = (144000.0 + 3 * 501) / 48000.0;
    lssd::AudioTransform t(o);
    ASSERT_EQ(t.n_frames(), 291);
    const auto full = t.logmel_uncropped(x.data(), x.size(), 48000);
    const auto out = t(x, 48000);
    EXPECT_EQ(at(out, 3, 0), at(full, 3, 2));
  }
}

TEST(AudioTransform, Errors) {
  lssd::AudioTransform t;
  const auto x = noise(1000, 9);
  EXPECT_THROW(t(x, 0), lssd::Error);
  EXPECT_THROW(t(x, -44100), lssd::Error);
  EXPECT_THROW(lssd::resample_audio(x.data(), x.size(), 44100, 0), lssd::Error);
  lssd::AudioOptions bad;
  bad.hop_length = 0;
  EXPECT_THROW(lssd::AudioTransform{bad}, lssd::ConfigError);
  bad = lssd::AudioOptions{};
  bad.clip_len = 0.005;  // 240 samples: too short for reflect padding of 512
  EXPECT_THROW(lssd::AudioTransform{bad}, lssd::ConfigError);
}

TEST(AudioTransform, ConcurrentCallsAgree) {
  const auto x = noise(44100 * 3, 10);
  lssd::AudioTransform t;
  const auto want = t(x, 44100);
  std::vector<lssd::FloatArray> got(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&, i] {
      for (int r = 0; r < 3; ++r) got[i] = (i % 2) ? t(x, 44100) : lssd::audio_to_logmel(x.data(), x.size(), 44100, {});
    });
  for (auto& th : threads) th.join();
  for (const auto& g : got) EXPECT_EQ(g.data, want.data);
}
