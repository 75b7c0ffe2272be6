#include "pipeline/progress.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

namespace lssd {
namespace {

// One 100-clip video among nine 1-clip videos: after the nine short ones (9 s), a file count
// would say 90 % done and ~1 s left; counted in clips it is ~8 % and ~100 s.
TEST(Progress, EtaOfFilesOfVeryDifferentLengthsCountsClips) {
  std::vector<EtaEstimator::Input> inputs(10, {1'000'000, Modality::Video, ""});
  inputs[9].bytes = 100'000'000;
  EtaEstimator eta(inputs);
  for (size_t i = 0; i < 10; ++i) eta.planned(i, i == 9 ? 100 : 1);
  for (size_t i = 0; i < 9; ++i) {
    eta.delivered(i, 1);
    eta.clips_done(i, 1);
    eta.encoded(Modality::Video, 1, 1.0, static_cast<double>(i + 1));
    eta.ended(i);
  }
  const auto s = eta.snapshot(9.0);
  EXPECT_EQ(s.inputs_finished, 9u);
  EXPECT_EQ(s.clips_done, 9);
  EXPECT_DOUBLE_EQ(s.clips_expected, 109.0);
  EXPECT_NEAR(s.fraction, 9.0 / 109.0, 1e-12);
  ASSERT_TRUE(s.eta_s.has_value());
  EXPECT_NEAR(*s.eta_s, 100.0, 1e-9);  // 100 clips left at 1 clip/s
}

TEST(Progress, UnplannedInputsAreEstimatedFromTheirSize) {
  // Two audio inputs: one planned (10 clips, 1 MB), one not yet opened (5 MB): 50 clips expected.
  EtaEstimator eta({{1'000'000, Modality::Audio, ""}, {5'000'000, Modality::Audio, ""}});
  auto s = eta.snapshot(1.0);
  EXPECT_NEAR(s.clips_expected, 6e6 / 48e3, 1e-9);  // nothing planned yet: a typical rate (128 kbit/s)
  EXPECT_FALSE(s.eta_s.has_value());                // nothing done yet
  EXPECT_TRUE(s.estimating);
  eta.planned(0, 10);
  s = eta.snapshot(1.0);
  EXPECT_DOUBLE_EQ(s.clips_expected, 60.0);
  // Video and audio are estimated apart (a video clip is 5 forwards): a planned video does not
  // change the audio estimate, and weighs 5x in the fraction.
  EtaEstimator mixed({{1'000'000, Modality::Video, ""}, {1'000'000, Modality::Audio, ""}});
  mixed.planned(0, 2);
  mixed.planned(1, 2);
  mixed.delivered(0, 1);
  mixed.clips_done(0, 1);
  EXPECT_NEAR(mixed.snapshot(1.0).fraction, 5.0 / 12.0, 1e-12);
}

TEST(Progress, EndedInputsCountWhatTheyDelivered) {
  EtaEstimator eta({{1000, Modality::Video, ""}, {1000, Modality::Video, ""}});
  eta.planned(0, 10);
  eta.planned(1, 10);
  eta.delivered(0, 3);  // failed after 3 clips
  eta.ended(0);
  auto s = eta.snapshot(2.0);
  EXPECT_DOUBLE_EQ(s.clips_expected, 13.0);
  EXPECT_EQ(s.inputs_finished, 0u);  // its 3 clips are not embedded yet
  eta.clips_done(0, 3);
  s = eta.snapshot(3.0);
  EXPECT_EQ(s.inputs_finished, 1u);
  // A re-plan withdraws clips and plans again.
  eta.delivered(1, 4);
  eta.delivered(1, -2);
  eta.planned(1, 5);
  EXPECT_DOUBLE_EQ(eta.snapshot(3.0).clips_expected, 8.0);
  eta.delivered(1, 3);
  eta.clips_done(1, 5);
  eta.ended(1);
  s = eta.snapshot(4.0);
  EXPECT_EQ(s.inputs_finished, 2u);
  EXPECT_DOUBLE_EQ(*s.eta_s, 0.0);
  EXPECT_DOUBLE_EQ(s.fraction, 1.0);
}

TEST(Progress, LineShowsClipsAndEta) {
  EtaEstimator::Snapshot s;
  s.inputs = 13;
  s.inputs_finished = 11;
  s.clips_done = 40;
  s.clips_expected = 108;
  s.fraction = 0.37;
  s.eta_s = 3725.0;
  const std::string line = ProgressReporter::line(s, 2, 20.0);
  EXPECT_NE(line.find(" 37% | inputs 11/13 (failed 2) | clips 40/~108 | 2.00 clips/s | ETA 1h02m"), std::string::npos)
      << line;
  s.eta_s = 59.6;
  EXPECT_NE(ProgressReporter::line(s, 0, 20.0).find("ETA 1m00s"), std::string::npos);
  s.eta_s.reset();
  EXPECT_NE(ProgressReporter::line(s, 0, 20.0).find("ETA estimating"), std::string::npos);
  s.estimating = false;
  EXPECT_NE(ProgressReporter::line(s, 0, 20.0).find("ETA ?"), std::string::npos);
}

// Audio clips done, video clips planned but none encoded: what a video clip costs is unknown (5
// to 60 audio clips, by the towers), so no ETA until one is.
TEST(Progress, NoEtaBeforeEachModalityWithWorkLeftHasAnEncodedClip) {
  EtaEstimator eta({{1'000'000, Modality::Audio, ".wav"}, {1'000'000, Modality::Video, ".mp4"}});
  eta.planned(0, 2);
  eta.planned(1, 4);
  eta.delivered(0, 2);
  eta.clips_done(0, 2);
  eta.encoded(Modality::Audio, 2, 0.2, 1.0);  // the encoder began at 0.8 s
  eta.ended(0);
  auto s = eta.snapshot(1.0);
  EXPECT_TRUE(s.estimating);
  EXPECT_FALSE(s.eta_s.has_value());
  eta.delivered(1, 1);
  eta.clips_done(1, 1);
  eta.encoded(Modality::Video, 1, 6.0, 7.0);  // a video clip costs 60 audio clips here
  s = eta.snapshot(7.0);
  EXPECT_FALSE(s.estimating);
  ASSERT_TRUE(s.eta_s.has_value());
  // 3 video clips left at the rate since the encoder began (6.2 s for 2 + 60 audio clips' worth).
  EXPECT_NEAR(*s.eta_s, 6.2 * (3 * 60.0) / (2 + 60.0), 1e-9);
}

// A run over a mixed set, simulated: audio files first (as sorted paths often come), WAV at
// 32 kB/s and MP3 at 16 kB/s, then videos of three containers at different bitrates, 3 s to
// 10 min long; a video clip costs the encoder 20x an audio clip; the encoder starts 5 s into the
// run. The first ETA the estimator gives (it says "estimating" before) must put the end within 2x
// of the real end.
struct SimFile {
  const char* kind;
  Modality modality;
  double seconds;
  double bytes_per_s;
};

TEST(Progress, FirstEstimateOfAMixedSetIsWithinTwiceTheTruth) {
  constexpr Modality V = Modality::Video, A = Modality::Audio;
  const std::vector<SimFile> files = {{".wav", A, 4, 32e3},   {".wav", A, 60, 32e3},   {".mp3", A, 30, 16e3},
                                      {".mp3", A, 240, 16e3}, {".flac", A, 10, 90e3},  {".wav", A, 3.5, 32e3},
                                      {".mp4", V, 5, 100e3},  {".mp4", V, 120, 100e3}, {".avi", V, 10, 200e3},
                                      {".mkv", V, 300, 80e3}, {".mp4", V, 600, 100e3}, {".avi", V, 3.2, 200e3},
                                      {".mp4", V, 45, 100e3}};
  const PerModality<double> cost{2.0, 0.1};  // encoder seconds per clip
  std::vector<EtaEstimator::Input> inputs;
  std::vector<int64_t> clips;
  double total = 0;
  for (const SimFile& f : files) {
    inputs.push_back({static_cast<uint64_t>(f.seconds * f.bytes_per_s), f.modality, f.kind});
    clips.push_back(std::max<int64_t>(1, static_cast<int64_t>(f.seconds / 3)));
    total += static_cast<double>(clips.back()) * cost[f.modality];
  }
  EtaEstimator eta(inputs);
  double t = 5;  // the towers load and the first clip decodes before the encoder starts
  total += t;
  std::optional<double> first;  // predicted total time at the first ETA
  bool estimated_before = false;
  for (size_t i = 0; i < files.size() && !first; ++i) {
    eta.planned(i, clips[i]);
    for (int64_t c = 0; c < clips[i] && !first; ++c) {
      eta.delivered(i, 1);
      t += cost[files[i].modality];
      eta.encoded(files[i].modality, 1, cost[files[i].modality], t);
      eta.clips_done(i, 1);
      const auto s = eta.snapshot(t);
      if (s.estimating) estimated_before = true;
      if (!s.estimating && s.eta_s) first = t + *s.eta_s;
    }
    eta.ended(i);
  }
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(estimated_before);
  EXPECT_GE(*first, total / 2) << "first estimate " << *first << " s, truth " << total << " s";
  EXPECT_LE(*first, total * 2) << "first estimate " << *first << " s, truth " << total << " s";
}

}  // namespace
}  // namespace lssd
