#include "lssd/shards.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "lssd/error.h"
#include "lssd/npy.h"
#include "lssd/output.h"
#include "lssd/reader.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using namespace lssd;

namespace {

fs::path temp_dir(const std::string& name) { return lssd::test::temp_dir("shards", name); }

FloatArray rows(int64_t m, float base, bool video = false) {
  FloatArray a(video ? std::vector<int64_t>{m, 5, 4} : std::vector<int64_t>{m, 4});
  for (size_t i = 0; i < a.data.size(); ++i) a.data[i] = base + static_cast<float>(i) * 0.25f;
  return a;
}

Record audio_record(const std::string& rel, int64_t m) {
  Record r;
  r.modality = Modality::Audio;
  r.path = "in/" + rel;
  r.rel_path = rel;
  r.size = 10;
  r.mtime_ns = 5;
  r.model_id = "mid";
  for (int64_t i = 0; i < m; ++i) r.ranges.push_back({i * 3.0, i * 3.0 + 3.0, i * 100, i * 100 + 100});
  r.sample_rate = 100;
  return r;
}

std::vector<std::string> temporaries(const fs::path& root) {
  std::vector<std::string> out;
  for (auto& e : fs::recursive_directory_iterator(root))
    if (is_temporary_name(e.path().filename().string())) out.push_back(e.path().string());
  return out;
}

}  // namespace

TEST(Npy, HeaderPaddingAndPartialReads) {
  const fs::path d = temp_dir("npy");
  EXPECT_EQ(npy_header({2, 768}, NpyDtype::Float32).size() % 64, 0u);
  EXPECT_EQ(npy_header({0, 5, 768}, NpyDtype::Float16, kPartHeaderBytes).size(), kPartHeaderBytes);
  EXPECT_EQ(npy_header({1000000000000LL, 5, 768}, NpyDtype::Float32, kPartHeaderBytes).size(), kPartHeaderBytes);
  // npy_bytes is the header plus the data, as before (files layout outputs are unchanged).
  const FloatArray a = rows(3, 1.0f, true);
  EXPECT_EQ(npy_bytes(a).size(), npy_header(a.shape, NpyDtype::Float32).size() + a.data.size() * 4);
  for (NpyDtype dt : {NpyDtype::Float32, NpyDtype::Float16}) {
    const std::string p = (d / (dt == NpyDtype::Float32 ? "a32.npy" : "a16.npy")).string();
    write_npy(p, a, dt);
    const NpyInfo info = read_npy_info(p);
    EXPECT_EQ(info.shape, a.shape);
    EXPECT_EQ(info.dtype, dt);
    NpyDtype got;
    const FloatArray whole = read_npy(p);
    const FloatArray mid = read_npy_rows(p, 1, 2, &got);
    EXPECT_EQ(got, dt);
    EXPECT_EQ(mid.shape, (std::vector<int64_t>{2, 5, 4}));
    EXPECT_TRUE(std::equal(mid.data.begin(), mid.data.end(), whole.data.begin() + 20));
    EXPECT_THROW(read_npy_rows(p, 2, 2), Error);  // beyond the array
  }
  // A truncated file is refused by every reader, naming it.
  const std::string p = (d / "a32.npy").string();
  fs::resize_file(p, fs::file_size(p) - 4);
  for (auto f :
       {+[](const std::string& x) { read_npy_info(x); }, +[](const std::string& x) { read_npy_rows(x, 0, 1); }}) {
    try {
      f(p);
      ADD_FAILURE() << "a truncated file was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.file(), p);
      EXPECT_NE(e.message().find("truncated"), std::string::npos) << e.message();
    }
  }
}

TEST(Npy, TemporaryNamesNameTheirWriter) {
  std::string w;
  EXPECT_TRUE(is_temporary_name(temporary_name("x.npy", "node1-42-abc", 7), &w));
  EXPECT_EQ(w, "node1-42-abc");
  EXPECT_TRUE(is_temporary_name(".tmp.x.mp4.npy.42", &w));  // an older lssd's: no writer
  EXPECT_EQ(w, "");
  EXPECT_FALSE(is_temporary_name("x.npy"));
}

TEST(Shards, PartsAreValidNpyAndRecordsFollowTheSeal) {
  const fs::path d = temp_dir("seal");
  JsonlAppender manifest((d / "audio" / "manifest.jsonl").string());
  std::vector<uint64_t> sealed;
  ShardWriter w({(d / "audio").string(), "w1", NpyDtype::Float32, ShardLimits{3, 1LL << 30}, true}, &manifest,
                [&](const std::vector<std::pair<Record, uint64_t>>& recs) {
                  for (const auto& r : recs) sealed.push_back(r.second);
                });
  w.add(audio_record("a.wav", 2), rows(2, 0.0f), 10);
  w.add(audio_record("b.wav", 1), rows(1, 100.0f), 11);
  // Not sealed yet: no record, no part under its final name, one temporary of writer w1.
  EXPECT_TRUE(read_manifest_dir((d / "audio").string()).empty());
  EXPECT_FALSE(fs::exists(d / "audio" / part_name("w1", 1)));
  ASSERT_EQ(temporaries(d).size(), 1u);
  std::string who;
  EXPECT_TRUE(is_temporary_name(fs::path(temporaries(d)[0]).filename().string(), &who));
  EXPECT_EQ(who, "w1");
  w.add(audio_record("c.wav", 3), rows(3, 200.0f), 12);  // the third input seals the part
  EXPECT_EQ(sealed, (std::vector<uint64_t>{10, 11, 12}));
  EXPECT_TRUE(temporaries(d).empty());
  const std::string part = (d / "audio" / part_name("w1", 1)).string();
  EXPECT_EQ(read_npy_info(part).shape, (std::vector<int64_t>{6, 4}));
  const std::vector<Record> recs = read_manifest_dir((d / "audio").string());
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[1].output, part_name("w1", 1));
  EXPECT_EQ(recs[1].row, 2);
  EXPECT_EQ(recs[1].version, kShardRecordVersion);
  // The reader gives each input its rows, bit for bit.
  ModalityReader mr(d.string(), Modality::Audio);
  for (size_t i = 0; i < 3; ++i) {
    const FloatArray want = rows(recs[i].num_clips, i * 100.0f);
    EXPECT_EQ(mr.load(mr.records()[i]).data, want.data) << i;
  }
  // Another writer continues after a writer id's existing parts (never replacing one).
  w.add(audio_record("d.wav", 1), rows(1, 300.0f));
  w.seal();
  ShardWriter again({(d / "audio").string(), "w1", NpyDtype::Float32, ShardLimits{}, true}, &manifest);
  again.add(audio_record("e.wav", 1), rows(1, 400.0f));
  again.seal();
  EXPECT_TRUE(fs::exists(d / "audio" / part_name("w1", 3)));
  EXPECT_EQ(read_manifest_dir((d / "audio").string()).size(), 5u);
}

TEST(Shards, ByteLimitSealsAndUnsealedPartsAreDiscarded) {
  const fs::path d = temp_dir("limit");
  JsonlAppender manifest((d / "audio" / "manifest.jsonl").string());
  {
    ShardWriter w({(d / "audio").string(), "w2", NpyDtype::Float16, ShardLimits{100, 40}, true}, &manifest);
    w.add(audio_record("a.wav", 5), rows(5, 0.0f));  // 5 x 4 x 2 bytes = 40: sealed
    EXPECT_EQ(w.parts_sealed(), 1);
    w.add(audio_record("b.wav", 1), rows(1, 0.0f));
    // destroyed without seal(): the open part goes, nothing names it
  }
  EXPECT_TRUE(temporaries(d).empty());
  const std::vector<Record> recs = read_manifest_dir((d / "audio").string());
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].dtype, "float16");
}

TEST(Shards, AWriteErrorNamesThePartAndReturnsItsRecords) {
  const fs::path d = temp_dir("error");
  JsonlAppender manifest((d / "audio" / "manifest.jsonl").string());
  std::ofstream(d / "audio" / "parts") << "a file where the parts directory goes";
  ShardWriter w({(d / "audio").string(), "w3", NpyDtype::Float32, ShardLimits{}, true}, &manifest);
  try {
    w.add(audio_record("a.wav", 1), rows(1, 0.0f), 5);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(e.file().find(part_name("w3", 1)), std::string::npos) << e.what();
  }
  const auto lost = w.take_lost();
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].second, 5u);
  EXPECT_TRUE(read_manifest_dir((d / "audio").string()).empty());
}

TEST(Shards, PartNames) {
  std::string w;
  EXPECT_TRUE(is_part_name(part_name("node-1_x", 12), &w));
  EXPECT_EQ(w, "node-1_x");
  EXPECT_FALSE(is_part_name("parts/x.npy"));
  EXPECT_FALSE(is_part_name("a/b.wav.npy"));
}

TEST(Manifest, TheLargerSeqWinsWhateverTheFileOrder) {
  const fs::path d = temp_dir("seq");
  Record r = audio_record("a.wav", 1);
  r.status = RecordStatus::Ok;
  r.output = "a.wav.npy";
  r.seq = 20;
  JsonlAppender((d / "manifest.a.jsonl").string()).append(record_to_json(r));
  r.seq = 10;
  r.output = "older.npy";
  JsonlAppender((d / "manifest.b.jsonl").string()).append(record_to_json(r));
  std::vector<Record> recs = read_manifest_dir(d.string());
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].output, "a.wav.npy");
  SequenceClock clock;
  clock.observe(int64_t{1} << 62);
  EXPECT_GT(clock.next(), int64_t{1} << 62);
  const int64_t a = clock.next();
  EXPECT_GT(clock.next(), a);
}

TEST(Sweep, TemporariesOfLiveWritersStay) {
  const fs::path d = temp_dir("sweep");
  for (const char* n : {".tmp.@alive@x.npy.1", ".tmp.@dead@y.npy.2", ".tmp.old.npy.3"}) std::ofstream(d / n) << "x";
  const size_t removed = remove_stale_temporaries(d.string(), true, [](const std::string& w) { return w == "dead"; });
  EXPECT_EQ(removed, 2u);
  EXPECT_TRUE(fs::exists(d / ".tmp.@alive@x.npy.1"));
}
