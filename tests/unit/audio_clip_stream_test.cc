#include "clips/audio_clip_stream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

namespace lssd {
namespace {

struct Got {
  std::vector<AudioClip> clips;
  std::vector<std::vector<float>> samples;
  size_t most_buffered = 0;
  bool ok = false;
};

// Streams samples 0, 1, 2, ... in chunks of `chunk` and collects the clips.
Got stream(int64_t n, int sr, double T, size_t chunk) {
  AudioClipStream s(sr, T);
  Got g;
  const AudioClipStream::OnClip on = [&](const AudioClip& c, std::vector<float>&& v) {
    g.clips.push_back(c);
    g.samples.push_back(std::move(v));
  };
  std::vector<float> buf;
  for (int64_t i = 0; i < n; i += static_cast<int64_t>(chunk)) {
    buf.resize(static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(chunk), n - i)));
    std::iota(buf.begin(), buf.end(), static_cast<float>(i));
    s.append(buf.data(), buf.size(), on);
    g.most_buffered = std::max(g.most_buffered, s.buffered());
  }
  g.ok = s.finish(on);
  return g;
}

TEST(AudioClipStream, SameClipsAsThePlanWhateverTheChunking) {
  for (int64_t n : {1, 2, 100, 144000, 144001, 216000, 216001, 240000, 335160, 1000000})
    for (size_t chunk : {1u, 1024u, 4608u, 100000u}) {
      if (chunk == 1 && n > 300000) continue;
      const int sr = 48000;
      const AudioClipPlan plan = plan_audio_clips(n, sr, 3.0);
      const Got g = stream(n, sr, 3.0, chunk);
      ASSERT_EQ(g.ok, !plan.skipped) << n;
      ASSERT_EQ(g.clips.size(), plan.clips.size()) << n << " " << chunk;
      for (size_t k = 0; k < plan.clips.size(); ++k) {
        EXPECT_EQ(g.clips[k].start, plan.clips[k].start) << n;
        EXPECT_EQ(g.clips[k].stop, plan.clips[k].stop) << n;
        ASSERT_EQ(g.samples[k].size(), static_cast<size_t>(plan.clips[k].stop - plan.clips[k].start));
        EXPECT_EQ(g.samples[k].front(), static_cast<float>(plan.clips[k].start));  // the right samples
        EXPECT_EQ(g.samples[k].back(), static_cast<float>(plan.clips[k].stop - 1));
      }
    }
}

TEST(AudioClipStream, MemoryStaysBoundedOverALongStream) {
  // 10 minutes at 16 kHz in 1024-sample chunks: at most about two clips of samples held.
  const Got g = stream(16000 * 600, 16000, 3.0, 1024);
  EXPECT_EQ(g.clips.size(), 200u);
  EXPECT_LE(g.most_buffered, static_cast<size_t>(2 * 3 * 16000 + 1024));
}

}  // namespace
}  // namespace lssd
