#include "pipeline/assembler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "lssd/npy.h"

namespace fs = std::filesystem;

namespace lssd {
namespace {

// An assembler over a fresh OUTPUT_DIR, with its logs.
struct Fixture {
  fs::path dir;
  Tally tally;
  std::atomic<int64_t> in_flight{0};
  std::unique_ptr<JsonlAppender> vman, aman, errors;
  std::unique_ptr<Assembler> a;

  explicit Fixture(const std::string& name) {
    dir = fs::temp_directory_path() / ("lssd_asm_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    vman = std::make_unique<JsonlAppender>((dir / "video" / "manifest.jsonl").string());
    aman = std::make_unique<JsonlAppender>((dir / "audio" / "manifest.jsonl").string());
    errors = std::make_unique<JsonlAppender>((dir / "errors.jsonl").string());
    AssemblerSinks sinks;
    sinks.output_dir = dir.string();
    sinks.manifests = {vman.get(), aman.get()};
    sinks.errors = errors.get();
    sinks.model_id = [](Modality m) { return std::string(m == Modality::Video ? "vid" : "aid"); };
    a = std::make_unique<Assembler>(std::move(sinks), &tally, &in_flight);
  }
  ~Fixture() { fs::remove_all(dir); }
  std::vector<Record> records(const std::string& m) { return read_manifest_dir((dir / m).string()); }
};

Record audio_record(const std::string& rel) {
  Record r;
  r.modality = lssd::Modality::Audio;
  r.path = "in/" + rel;
  r.rel_path = rel;
  return r;
}

std::vector<float> row(float v) { return std::vector<float>(4, v); }

TEST(Assembler, ClipsInAnyOrderAreWrittenInClipOrderOnceAllAreIn) {
  Fixture f("order");
  const uint64_t u = f.a->begin(audio_record("x.wav"));
  EXPECT_EQ(f.in_flight.load(), 1);
  f.a->add(u, 2, 0, row(2).data(), 4);
  f.a->add(u, 0, 0, row(0).data(), 4);
  f.a->end(u, 3);  // 3 clips planned: not complete yet
  EXPECT_TRUE(f.records("audio").empty());
  f.a->add(u, 1, 0, row(1).data(), 4);
  ASSERT_EQ(f.records("audio").size(), 1u);
  const Record r = f.records("audio")[0];
  EXPECT_EQ(r.status, lssd::RecordStatus::Ok);
  EXPECT_EQ(r.model_id, "aid");
  EXPECT_EQ(r.shape, (std::vector<int64_t>{3, 4}));
  const FloatArray a = read_npy((f.dir / "audio" / r.output).string());
  EXPECT_EQ(a.data, (std::vector<float>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}));
  EXPECT_EQ(f.in_flight.load(), 0);
  EXPECT_EQ(f.tally.written.load(), 1);
}

TEST(Assembler, VideoRowsBecomeClipsTimesFiveCrops) {
  Fixture f("video");
  Record r = audio_record("v.mp4");
  r.modality = lssd::Modality::Video;
  const uint64_t u = f.a->begin(r);
  std::vector<float> crops(5 * 3, 1.0f);
  f.a->end(u, 1);
  f.a->add(u, 0, 0, crops.data(), crops.size());
  ASSERT_EQ(f.records("video").size(), 1u);
  EXPECT_EQ(f.records("video")[0].shape, (std::vector<int64_t>{1, 5, 3}));
}

TEST(Assembler, FailureRecordsOnceAndLaterClipsAreIgnored) {
  Fixture f("fail");
  const uint64_t u = f.a->begin(audio_record("bad.wav"));
  f.a->add(u, 0, 0, row(0).data(), 4);
  f.a->fail(u, "decode", "broken");
  f.a->add(u, 1, 0, row(1).data(), 4);  // an in-flight clip of the failed unit
  f.a->end(u, 2);
  f.a->fail(u, "decode", "again");  // already recorded
  ASSERT_EQ(f.records("audio").size(), 1u);
  EXPECT_EQ(f.records("audio")[0].status, lssd::RecordStatus::Failed);
  EXPECT_EQ(f.records("audio")[0].error_message, "broken");
  std::ifstream e(f.dir / "errors.jsonl");
  std::string line, all;
  int lines = 0;
  while (std::getline(e, line)) ++lines;
  EXPECT_EQ(lines, 1);
  EXPECT_EQ(f.tally.failed.load(), 1);
  EXPECT_EQ(f.in_flight.load(), 0);
}

TEST(Assembler, WithdrawnClipsOfAnOlderPlanAreDropped) {
  Fixture f("withdraw");
  const uint64_t u = f.a->begin(audio_record("w.wav"));
  f.a->add(u, 0, 0, row(0).data(), 4);
  f.a->add(u, 1, 0, row(9).data(), 4);  // of the first plan
  const int g = f.a->withdraw(u, 1);    // clips >= 1 withdrawn
  EXPECT_EQ(g, 1);
  f.a->add(u, 2, 0, row(9).data(), 4);  // late, old plan: dropped
  f.a->add(u, 1, g, row(1).data(), 4);  // the new plan's clip 1
  f.a->end(u, 2);
  ASSERT_EQ(f.records("audio").size(), 1u);
  const FloatArray a = read_npy((f.dir / "audio" / f.records("audio")[0].output).string());
  EXPECT_EQ(a.data, (std::vector<float>{0, 0, 0, 0, 1, 1, 1, 1}));
}

TEST(Assembler, TooShortAndSilentAreRecordedWithTheirStatus) {
  Fixture f("skip");
  const uint64_t u = f.a->begin(audio_record("one.wav"));
  f.a->skipped_short(u, audio_record("one.wav"));
  Record silent = audio_record("s.mkv");
  f.a->no_audio(silent);
  const auto recs = f.records("audio");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].status, lssd::RecordStatus::SkippedShort);
  EXPECT_EQ(recs[1].status, lssd::RecordStatus::SkippedNoAudio);
  EXPECT_EQ(f.tally.skipped_short.load(), 1);
  EXPECT_EQ(f.tally.no_audio.load(), 1);
  EXPECT_EQ(f.in_flight.load(), 0);
}

TEST(Assembler, AnUnwritableOutputFailsThatOutputOnly) {
  Fixture f("unwritable");
  fs::create_directories(f.dir / "audio");
  std::ofstream(f.dir / "audio" / "sub") << "a file where a directory is needed";
  const uint64_t u = f.a->begin(audio_record("sub/x.wav"));
  f.a->end(u, 1);
  f.a->add(u, 0, 0, row(0).data(), 4);
  ASSERT_EQ(f.records("audio").size(), 1u);
  EXPECT_EQ(f.records("audio")[0].status, lssd::RecordStatus::Failed);
  EXPECT_EQ(f.records("audio")[0].error_stage, "output");
  EXPECT_FALSE(f.a->fatal());  // not a full disk: the run goes on
}

}  // namespace
}  // namespace lssd
