#include "pipeline/job_plan.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "lssd/error.h"

#include "lssd/npy.h"

namespace fs = std::filesystem;

namespace lssd {
namespace {

InputFile file(const std::string& rel, bool video, bool audio, bool container = false) {
  InputFile f;
  f.path = "in/" + rel;
  f.rel_path = rel;
  f.is_video_ext = video;
  f.is_audio_ext = audio;
  f.is_container_ext = container;
  f.size = 100;
  f.mtime_ns = 5;
  return f;
}

TEST(JobPlan, AJobPerFileAndModalityContainersForTheirTracks) {
  DiscoverResult found;
  found.files = {file("a.mp4", true, false, true), file("b.wav", false, true), file("c.mkv", false, false, true)};
  DiscoverOptions d;
  auto jobs = make_jobs(found, d);
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(jobs[0].modality, Modality::Video);
  EXPECT_TRUE(jobs[1].container_tracks);  // a.mp4's audio tracks
  EXPECT_EQ(jobs[2].file, 1u);
  EXPECT_TRUE(jobs[3].container_tracks);
  d.use_audio = false;
  EXPECT_EQ(make_jobs(found, d).size(), 1u);
}

struct OutDir {
  fs::path dir = fs::temp_directory_path() / ("lssd_plan_" + std::to_string(::getpid()));
  OutDir() { fs::remove_all(dir); }
  ~OutDir() { fs::remove_all(dir); }
  // An ok audio record with a real .npy, or another status.
  void record(const InputFile& f, const std::string& status, const std::string& model, int track = -1, int total = 0,
              bool from_content = false) {
    Record r;
    r.modality = lssd::Modality::Audio;
    r.path = f.path;
    r.rel_path = f.rel_path;
    r.size = f.size;
    r.mtime_ns = f.mtime_ns;
    EXPECT_TRUE(lssd::parse_status(status, &r.status));
    r.model_id = model;
    r.dtype = "float32";
    r.track_index = track;
    r.tracks_total = total;
    if (status == "failed") {
      r.error_stage = "open";
      r.error_message = "cannot open";
      r.error_from_content = from_content;
    }
    if (status == "ok") {
      r.output = output_name(f.rel_path, track, "und");
      r.shape = {1, 4};
      write_npy((dir / "audio" / r.output).string(), FloatArray({1, 4}), NpyDtype::Float32);
    }
    JsonlAppender((dir / "audio" / "manifest.jsonl").string()).append(record_to_json(r));
  }
};

TEST(JobPlan, ResumeKeepsCompleteOutputsOfTheSameModelOnly) {
  OutDir out;
  std::vector<InputFile> files = {file("a.wav", false, true), file("b.wav", false, true), file("c.wav", false, true),
                                  file("d.wav", false, true), file("e.mkv", false, false, true)};
  out.record(files[0], "ok", "m1");
  out.record(files[1], "ok", "old");     // another model: recomputed, counted
  out.record(files[2], "failed", "m1");  // failed earlier, not on its content (I/O, deadline...): retried
  out.record(files[3], "skipped_short", "m1");
  out.record(files[4], "ok", "m1", 1, 2);  // one of two tracks: the container runs again
  DiscoverResult found;
  found.files = files;
  const auto jobs = make_jobs(found, DiscoverOptions{});
  int calls = 0;
  const ResumePlan p = plan_resume(
      jobs, files, out.dir.string(),
      [&](Modality) {
        ++calls;
        return std::string("m1");
      },
      "float32", false, nullptr);
  ASSERT_EQ(p.todo.size(), 3u);
  EXPECT_EQ(p.todo[0].file, 1u);
  EXPECT_EQ(p.todo[1].file, 2u);
  EXPECT_EQ(p.todo[2].file, 4u);
  EXPECT_EQ(p.resumed, 2);
  EXPECT_EQ(p.other_model.audio, 1);
  EXPECT_EQ(p.other_dtype, 0);
  EXPECT_GT(calls, 0);
  // The second track arrives: the container is complete now (2 outputs).
  out.record(files[4], "ok", "m1", 2, 2);
  EXPECT_EQ(plan_resume(
                jobs, files, out.dir.string(), [](Modality) { return std::string("m1"); }, "float32", false, nullptr)
                .resumed,
            4);
  // A changed file (size) is recomputed.
  files[0].size = 101;
  EXPECT_EQ(plan_resume(
                jobs, files, out.dir.string(), [](Modality) { return std::string("m1"); }, "float32", false, nullptr)
                .resumed,
            3);
}

TEST(JobPlan, NoEarlierOutputsNoModelIdNeeded) {
  OutDir out;
  std::vector<InputFile> files = {file("a.wav", false, true)};
  DiscoverResult found;
  found.files = files;
  const ResumePlan p = plan_resume(
      make_jobs(found, DiscoverOptions{}), files, out.dir.string(),
      [](Modality) -> std::string { throw std::runtime_error("must not be asked"); }, "float32", false, nullptr);
  EXPECT_EQ(p.todo.size(), 1u);
}

ResumePlan plan_m1(const std::vector<InputFile>& files, const OutDir& out, bool retry_failed) {
  DiscoverResult found;
  found.files = files;
  return plan_resume(
      make_jobs(found, DiscoverOptions{}), files, out.dir.string(), [](Modality) { return std::string("m1"); },
      "float32", retry_failed, nullptr);
}

TEST(JobPlan, ContentFailuresOfUnchangedFilesAreNotRetried) {
  OutDir out;
  std::vector<InputFile> files = {file("a.wav", false, true), file("b.wav", false, true), file("c.wav", false, true),
                                  file("d.wav", false, true)};
  out.record(files[0], "failed", "m1", -1, 0, /*from_content=*/true);
  out.record(files[1], "failed", "m1", -1, 0, /*from_content=*/false);  // I/O, deadline, encoder: retried
  out.record(files[2], "failed", "old", -1, 0, /*from_content=*/true);  // another model (or reading rule)
  out.record(files[3], "ok", "m1");
  ResumePlan p = plan_m1(files, out, false);
  ASSERT_EQ(p.todo.size(), 2u);
  EXPECT_EQ(p.todo[0].file, 1u);
  EXPECT_EQ(p.todo[1].file, 2u);
  EXPECT_EQ(p.failed_earlier, 1);
  EXPECT_EQ(p.resumed, 1);
  // --retry-failed retries it.
  p = plan_m1(files, out, true);
  EXPECT_EQ(p.todo.size(), 3u);
  EXPECT_EQ(p.failed_earlier, 0);
  // The file changed (mtime): retried.
  files[0].mtime_ns = 6;
  p = plan_m1(files, out, false);
  EXPECT_EQ(p.todo.size(), 3u);
  EXPECT_EQ(p.failed_earlier, 0);
}

TEST(JobPlan, AContainerThatFailedBeforeItsTracksWereKnownIsNotRetriedUnlessItChanged) {
  OutDir out;
  std::vector<InputFile> files = {file("a.mkv", false, false, true)};
  out.record(files[0], "failed", "m1", -1, 0, /*from_content=*/true);  // the probe failed: no track known
  ResumePlan p = plan_m1(files, out, false);
  EXPECT_TRUE(p.todo.empty());
  EXPECT_EQ(p.failed_earlier, 1);
  // Fixed: a new file with two tracks, recorded; the old whole-container record stays in the
  // manifest but no longer stands, and the tracks keep the job done.
  files[0].size = 200;
  EXPECT_EQ(plan_m1(files, out, false).todo.size(), 1u);
  InputFile fixed = files[0];
  out.record(fixed, "ok", "m1", 1, 2);
  out.record(fixed, "ok", "m1", 2, 2);
  p = plan_m1(files, out, false);
  EXPECT_TRUE(p.todo.empty());
  EXPECT_EQ(p.resumed, 2);
  EXPECT_EQ(p.failed_earlier, 0);
}

TEST(JobPlan, OneTrackFailedOnContentTheOtherOk) {
  OutDir out;
  std::vector<InputFile> files = {file("a.mkv", false, false, true)};
  out.record(files[0], "ok", "m1", 1, 2);
  out.record(files[0], "failed", "m1", 2, 2, /*from_content=*/true);
  const ResumePlan p = plan_m1(files, out, false);
  EXPECT_TRUE(p.todo.empty());
  EXPECT_EQ(p.resumed, 1);
  EXPECT_EQ(p.failed_earlier, 1);
}

TEST(ResumeIndex, CatchesUpWithAppendedRecordsAndTheLargerSeqWins) {
  OutDir out;
  std::vector<InputFile> files = {file("a.wav", false, true), file("b.wav", false, true)};
  DiscoverResult found;
  found.files = files;
  const auto jobs = make_jobs(found, DiscoverOptions{});
  ResumeIndex index(out.dir.string());
  index.update(nullptr, false);
  EXPECT_EQ(index.size(), 0u);
  out.record(files[0], "ok", "m1");
  // Another writer's manifest, and a line it is still writing (no newline yet).
  fs::create_directories(out.dir / "audio");
  Record r;
  r.modality = Modality::Audio;
  r.path = files[1].path;
  r.rel_path = files[1].rel_path;
  r.size = files[1].size;
  r.mtime_ns = files[1].mtime_ns;
  r.status = RecordStatus::SkippedShort;
  r.model_id = "m1";
  r.seq = 7;
  const std::string line = record_to_json(r);
  { std::ofstream(out.dir / "audio" / "manifest.w2.jsonl", std::ios::binary) << line.substr(0, 20); }
  index.update(nullptr, false);
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(index.judge(jobs[0], files[0], "m1", "float32", false).done, 1);
  EXPECT_EQ(index.judge(jobs[1], files[1], "m1", "float32", false).done, 0);
  {
    std::ofstream(out.dir / "audio" / "manifest.w2.jsonl", std::ios::binary | std::ios::app) << line.substr(20) << "\n";
  }
  index.update(nullptr, false);
  EXPECT_EQ(index.judge(jobs[1], files[1], "m1", "float32", false).done, 1);
  EXPECT_EQ(index.max_seq(), 7);
  // An older record (smaller seq) read later does not replace it.
  r.status = RecordStatus::Failed;
  r.seq = 3;
  { std::ofstream(out.dir / "audio" / "manifest.w3.jsonl", std::ios::binary) << record_to_json(r) << "\n"; }
  index.update(nullptr, false);
  EXPECT_EQ(index.judge(jobs[1], files[1], "m1", "float32", false).done, 1);
  EXPECT_EQ(index.size(), 2u);
}

TEST(ResumeIndex, RecordSummaryReadsWhatTheFullParserReads) {
  Record r;
  r.modality = Modality::Audio;
  r.path = "in/caf\xe9 \"q\"\\/\t\u00e9.wav";  // not UTF-8, quotes, escapes
  r.rel_path = "caf\xe9 \"q\"\\/\t\xc3\xa9\xf0\x9f\x8e\xb5.wav";
  r.output = "parts/w.000001.npy";
  r.row = 12;
  r.seq = 99;
  r.size = 1234567890123ULL;
  r.mtime_ns = -5;
  r.status = RecordStatus::Failed;
  r.num_clips = 3;
  r.shape = {3, 768};
  r.ranges = {{0, 3, 0, 3}, {3, 6, 3, 6}};
  r.track_index = 2;
  r.tracks_total = 3;
  r.track_language = "d\"e";
  r.model_id = "abc";
  r.dtype = "float16";
  r.error_stage = "decode";
  r.error_message = "bad {[\"]} \xff";
  r.error_from_content = true;
  for (const std::string& line : {record_to_json(r), std::string(" ") + record_to_json(r) + " "}) {
    const RecordSummary s = record_summary_from_json(line, "x");
    EXPECT_EQ(s.rel_path, r.rel_path);
    EXPECT_EQ(s.output, r.output);
    EXPECT_EQ(s.row, 12);
    EXPECT_EQ(s.seq, 99);
    EXPECT_EQ(s.size, r.size);
    EXPECT_EQ(s.mtime_ns, -5);
    EXPECT_EQ(s.status, RecordStatus::Failed);
    EXPECT_TRUE(s.error_from_content);
    EXPECT_EQ(s.num_clips, 3);
    EXPECT_EQ(s.shape, r.shape);
    EXPECT_EQ(s.track_index, 2);
    EXPECT_EQ(s.tracks_total, 3);
    EXPECT_EQ(s.model_id, "abc");
    EXPECT_EQ(s.dtype, "float16");
  }
  // A malformed line is the full parser's error, naming the source.
  try {
    record_summary_from_json("{\"v\":1,", "m.jsonl:3");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), "m.jsonl:3");
  }
}

}  // namespace
}  // namespace lssd
