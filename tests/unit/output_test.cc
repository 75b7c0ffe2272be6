#include "lssd/output.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "lssd/error.h"
#include "lssd/npy.h"
#include "temp_dir.h"

namespace fs = std::filesystem;

namespace {
fs::path temp_dir(const std::string& name) { return lssd::test::temp_dir("output", name); }
lssd::Record sample_record() {
  lssd::Record r;
  r.modality = lssd::Modality::Audio;
  r.path = "in/x.wav";
  r.rel_path = "x.wav";
  r.output = "x.wav.npy";
  r.size = 123;
  r.mtime_ns = 1700000000123456789LL;
  r.status = lssd::RecordStatus::Ok;
  r.num_clips = 2;
  r.shape = {2, 768};
  r.ranges = {{0.0, 3.0, 0, 144000}, {2.0, 5.0, 96000, 240000}};
  r.sample_rate = 48000;
  r.model_id = "abc";
  r.dtype = "float32";
  return r;
}
}  // namespace

TEST(Output, NamesAreCollisionFreeAndSafe) {
  EXPECT_EQ(lssd::output_name("a/b.mp4"), "a/b.mp4.npy");
  EXPECT_NE(lssd::output_name("a/b.mp4"), lssd::output_name("a/b.avi"));
  EXPECT_EQ(lssd::output_name("m.mkv", 1, "eng"), "m.mkv.a1-eng.npy");
  EXPECT_EQ(lssd::output_name("m.mkv", 2, ""), "m.mkv.a2-und.npy");
  EXPECT_EQ(lssd::output_name("m.mkv", 2, "../Zh Hant"), "m.mkv.a2-zhhant.npy");
  EXPECT_TRUE(lssd::is_safe_relative("a/b.npy"));
  for (auto bad : {"", "/abs.npy", "../x.npy", "a/../../x", "a//b", "./a"})
    EXPECT_FALSE(lssd::is_safe_relative(bad)) << bad;
}

TEST(Output, RecordRoundTripIncludingNonUtf8) {
  lssd::Record r = sample_record();
  r.path = std::string("in/caf\xe9-\xff.wav");  // Latin-1 bytes, not UTF-8
  r.rel_path = "caf\xe9-\xff.wav";
  r.track_index = 1;
  r.track_language = "deu";
  r.tracks_total = 2;
  r.error_message = "bad \xfe byte";
  r.error_stage = "decode";
  std::string line = lssd::record_to_json(r);
  EXPECT_NE(line.find("\\\\xe9"), std::string::npos) << line;  // readable escape
  EXPECT_NE(line.find("path_hex"), std::string::npos);
  lssd::Record b = lssd::record_from_json(line, "t");
  EXPECT_EQ(b.path, r.path);
  EXPECT_EQ(b.rel_path, r.rel_path);
  EXPECT_EQ(b.error_message, r.error_message);
  EXPECT_EQ(b.ranges.size(), 2u);
  EXPECT_EQ(b.ranges[1].stop_sample, 240000);
  EXPECT_EQ(b.mtime_ns, r.mtime_ns);
  EXPECT_EQ(b.track_language, "deu");
  EXPECT_EQ(b.tracks_total, 2);
  EXPECT_EQ(b.key(), r.key());
  // UTF-8 names stay as they are.
  r.path = "in/日本語.wav";
  r.rel_path = "日本語.wav";
  r.error_message = "ok";
  line = lssd::record_to_json(r);
  EXPECT_EQ(line.find("_hex"), std::string::npos) << line;
  EXPECT_EQ(lssd::record_from_json(line, "t").path, r.path);
}

TEST(Output, ManifestLastRecordWinsAndTornLineIsSkipped) {
  fs::path d = temp_dir("manifest");
  {
    lssd::JsonlAppender a((d / "manifest.jsonl").string());
    lssd::Record r = sample_record();
    r.status = lssd::RecordStatus::Failed;
    a.append(lssd::record_to_json(r));
    r.status = lssd::RecordStatus::Ok;
    a.append(lssd::record_to_json(r));
    r.rel_path = "y.wav";
    a.append(lssd::record_to_json(r));
  }
  { std::ofstream(d / "manifest.shard-0001-of-0002.jsonl") << lssd::record_to_json(sample_record()).substr(0, 40); }
  std::vector<std::string> warnings;
  auto recs = lssd::read_manifest_dir(d.string(), &warnings);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].status, lssd::RecordStatus::Ok);
  EXPECT_EQ(recs[1].rel_path, "y.wav");
  EXPECT_EQ(warnings.size(), 1u);
  // Appending after a torn line starts a fresh line.
  {
    lssd::JsonlAppender a((d / "manifest.shard-0001-of-0002.jsonl").string());
    lssd::Record r = sample_record();
    r.rel_path = "z.wav";
    a.append(lssd::record_to_json(r));
  }
  // The appender cut the torn line off first: the file reads cleanly, with the new record.
  warnings.clear();
  EXPECT_EQ(lssd::read_manifest_dir(d.string(), &warnings).size(), 3u);
  EXPECT_TRUE(warnings.empty());
  // A malformed line in the middle names the file and line.
  {
    std::ofstream(d / "manifest.shard-0001-of-0002.jsonl") << "{not json}\n"
                                                           << lssd::record_to_json(sample_record()) << "\n";
  }
  try {
    lssd::read_manifest_dir(d.string());
    FAIL();
  } catch (const lssd::Error& e) {
    EXPECT_NE(std::string(e.what()).find("manifest.shard-0001-of-0002.jsonl:1"), std::string::npos) << e.what();
  }
  fs::remove_all(d);
}

TEST(Output, SafeOutputPathRefusesSymlinkEscape) {
  fs::path d = temp_dir("safe");
  fs::path outside = temp_dir("outside");
  std::string p = lssd::safe_output_path(d.string(), "a/b/c.npy");
  EXPECT_TRUE(fs::is_directory(d / "a" / "b"));
  EXPECT_EQ(p, (d / "a/b/c.npy").string());
  fs::create_directory_symlink(outside, d / "link");
  EXPECT_THROW(lssd::safe_output_path(d.string(), "link/x.npy"), lssd::Error);
  EXPECT_THROW(lssd::safe_output_path(d.string(), "../x.npy"), lssd::Error);
  fs::remove_all(d);
  fs::remove_all(outside);
}

TEST(Output, OutputValidity) {
  fs::path d = temp_dir("valid");
  lssd::FloatArray a({2, 768});
  lssd::write_npy((d / "x.npy").string(), a);
  EXPECT_TRUE(lssd::output_is_valid((d / "x.npy").string(), {2, 768}));
  EXPECT_FALSE(lssd::output_is_valid((d / "x.npy").string(), {3, 768}));
  EXPECT_FALSE(lssd::output_is_valid((d / "missing.npy").string(), {2, 768}));
  fs::resize_file(d / "x.npy", 200);
  EXPECT_FALSE(lssd::output_is_valid((d / "x.npy").string(), {2, 768}));
  // float16: the size lssd writes for it; as float32 the header is read and its shape agrees.
  lssd::write_npy((d / "h.npy").string(), a, lssd::NpyDtype::Float16);
  EXPECT_TRUE(lssd::output_is_valid((d / "h.npy").string(), {2, 768}, lssd::NpyDtype::Float16));
  EXPECT_TRUE(lssd::output_is_valid((d / "h.npy").string(), {2, 768}));
  EXPECT_FALSE(lssd::output_is_valid((d / "h.npy").string(), {3, 768}, lssd::NpyDtype::Float16));
  // A longer header than lssd writes (another writer's): read, and valid.
  {
    std::ofstream f(d / "long.npy", std::ios::binary);
    f << lssd::npy_header({2, 768}, lssd::NpyDtype::Float32, 256) << std::string(2 * 768 * 4, '\0');
  }
  EXPECT_TRUE(lssd::output_is_valid((d / "long.npy").string(), {2, 768}));
  EXPECT_FALSE(lssd::output_is_valid((d / "long.npy").string(), {1, 768}));
  EXPECT_FALSE(lssd::output_is_valid(d.string(), {2, 768}));  // a directory
  fs::remove_all(d);
}

TEST(Output, ModelIdNamesTheVideoReadingRule) {
  const std::string file = std::string(64, 'a'), keys = "TEST.CLIP_LEN=3.0\n";
  // Before the reading rule had a version, every id was sha256(file "\n" keys)[:16]: audio ids
  // keep that form (the audio reader did not change), video ids of rule 2 differ from it.
  const std::string before = lssd::model_id(file, keys, 0);
  EXPECT_EQ(before.size(), 16u);
  EXPECT_NE(lssd::model_id(file, keys, 2), before);
  EXPECT_NE(lssd::model_id(file, keys, 2), lssd::model_id(file, keys, 3));
  EXPECT_EQ(lssd::model_id(file, keys, 2), lssd::model_id(file, keys, 2));
  EXPECT_NE(lssd::model_id(file, keys, 0), lssd::model_id(file, "TEST.CLIP_LEN=2.0\n", 0));
}

TEST(Output, RecordKeepsTheTimestampSource) {
  lssd::Record r = sample_record();
  r.modality = lssd::Modality::Video;
  r.timestamps = "frames";
  EXPECT_EQ(lssd::record_from_json(lssd::record_to_json(r), "t").timestamps, "frames");
  r.modality = lssd::Modality::Audio;  // not written for audio
  EXPECT_EQ(lssd::record_to_json(r).find("timestamps"), std::string::npos);
}

TEST(Output, PruneErrorLogKeepsOneEntryPerFailedInput) {
  fs::path d = temp_dir("prune");
  const std::string log = (d / "errors.jsonl").string();
  EXPECT_EQ(lssd::prune_error_log(log, [](const std::string&, const std::string&) { return true; }),
            0u);  // no file yet
  {
    std::ofstream f(log);
    f << lssd::error_to_json("in/a.mp4", "video", "open", "bad") << "\n"
      << lssd::error_to_json("in/b\xff.wav", "audio", "decode", "bad") << "\n"
      << "not json\n"
      << lssd::error_to_json("elsewhere/c.mp4", "video", "open", "bad") << "\n";
  }
  const std::set<std::string> retried{"in/a.mp4", "in/b\xff.wav"};
  EXPECT_EQ(lssd::prune_error_log(log, [&](const std::string& p, const std::string&) { return retried.count(p) > 0; }),
            2u);
  std::ifstream in(log);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(all.find("a.mp4"), std::string::npos);
  EXPECT_EQ(all.find("b\\\\xff"), std::string::npos);
  EXPECT_NE(all.find("not json"), std::string::npos);
  EXPECT_NE(all.find("elsewhere/c.mp4"), std::string::npos);
  fs::remove_all(d);
}

TEST(RecordEnums, NamesRoundTripAndUnknownTextIsRefused) {
  for (auto s : {lssd::RecordStatus::Ok, lssd::RecordStatus::Failed, lssd::RecordStatus::SkippedShort,
                 lssd::RecordStatus::SkippedNoAudio}) {
    lssd::RecordStatus back = lssd::RecordStatus::Ok;
    EXPECT_TRUE(lssd::parse_status(lssd::to_string(s), &back));
    EXPECT_EQ(back, s);
  }
  lssd::RecordStatus st = lssd::RecordStatus::Failed;
  EXPECT_FALSE(lssd::parse_status("OK", &st));
  EXPECT_EQ(st, lssd::RecordStatus::Failed);
  lssd::Modality m = lssd::Modality::Audio;
  EXPECT_TRUE(lssd::parse_modality("video", &m));
  EXPECT_EQ(m, lssd::Modality::Video);
  EXPECT_FALSE(lssd::parse_modality("Video", &m));
  EXPECT_STREQ(lssd::to_string(lssd::Modality::Audio), "audio");
}

TEST(RecordEnums, AManifestLineWithAnUnknownStatusIsAnErrorNamingTheFile) {
  lssd::Record r;
  r.rel_path = "a.wav";
  std::string line = lssd::record_to_json(r);
  line.replace(line.find("\"ok\""), 4, "\"done\"");
  try {
    lssd::record_from_json(line, "out/audio/manifest.jsonl");
    FAIL() << "no throw";
  } catch (const lssd::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown status 'done'"), std::string::npos) << e.what();
    EXPECT_EQ(e.file(), "out/audio/manifest.jsonl");
  }
}
