#include "lssd/reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "lssd/error.h"
#include "lssd/npy.h"
#include "lssd/output.h"
#include "temp_dir.h"

namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) { return lssd::test::temp_dir("reader", name); }

lssd::FloatArray pattern(const std::vector<int64_t>& shape, float seed) {
  lssd::FloatArray a(shape);
  for (size_t i = 0; i < a.numel(); ++i) a.data[i] = seed + 0.001f * static_cast<float>(i % 977) - 0.3f;
  return a;
}

// Writes one ok record (npy + manifest line) the way the pipeline does.
lssd::Record add_ok(const fs::path& root, const std::string& mtype, const std::string& rel, int64_t m, float seed,
                    const std::string& manifest = "manifest.jsonl", int track = -1) {
  lssd::Record r;
  EXPECT_TRUE(lssd::parse_modality(mtype, &r.modality));
  r.path = "data/" + rel;
  r.rel_path = rel;
  r.track_index = track;
  if (track >= 0) {
    r.track_language = "eng";
    r.tracks_total = 2;
  }
  r.output = lssd::output_name(rel, track, r.track_language);
  r.status = lssd::RecordStatus::Ok;
  r.num_clips = m;
  r.shape = mtype == "video" ? std::vector<int64_t>{m, 5, 768} : std::vector<int64_t>{m, 768};
  for (int64_t i = 0; i < m; ++i) {
    if (mtype == "audio")
      r.ranges.push_back({3.0 * i, 3.0 * i + 3, 48000 * 3 * i, 48000 * 3 * (i + 1)});
    else
      r.ranges.push_back({3.0 * i, 3.0 * i + 3, -1, -1});
  }
  r.fps = 25;
  r.sample_rate = 48000;
  r.dtype = "float32";
  r.model_id = "m";
  fs::path mdir = root / mtype;
  lssd::write_npy(lssd::safe_output_path(mdir.string(), r.output), pattern(r.shape, seed));
  lssd::JsonlAppender((mdir / manifest).string()).append(lssd::record_to_json(r));
  return r;
}

void add_failed(const fs::path& root, const std::string& mtype, const std::string& rel,
                const std::string& manifest = "manifest.jsonl") {
  lssd::Record r;
  EXPECT_TRUE(lssd::parse_modality(mtype, &r.modality));
  r.path = "data/" + rel;
  r.rel_path = rel;
  r.status = lssd::RecordStatus::Failed;
  r.error_stage = "open";
  r.error_message = "broken";
  lssd::JsonlAppender((root / mtype / manifest).string()).append(lssd::record_to_json(r));
}

std::vector<std::string> rels(const std::vector<lssd::Record>& v) {
  std::vector<std::string> r;
  for (const auto& x : v) r.push_back(x.rel_path + (x.track_index >= 0 ? "#" + std::to_string(x.track_index) : ""));
  return r;
}

}  // namespace

TEST(Reader, RecordsInReaderOrderWithLastRecordWinning) {
  fs::path d = temp_dir("order");
  add_ok(d, "audio", "b/z.wav", 2, 0.1f);
  add_ok(d, "audio", "a.mp4", 1, 0.2f, "manifest.jsonl", 2);
  add_failed(d, "audio", "c.wav");
  add_ok(d, "audio", "a.mp4", 1, 0.3f, "manifest.jsonl", 1);
  add_ok(d, "audio", "B.wav", 3, 0.4f);
  add_ok(d, "audio", "b/z.wav", 1, 0.5f);  // redone: the last record wins
  lssd::OutputReader rd(d.string());
  ASSERT_EQ(rd.modalities(), std::vector<std::string>{"audio"});
  const lssd::ModalityReader& mr = rd.modality("audio");
  EXPECT_EQ(mr.layout(), lssd::OutputLayout::Ours);
  EXPECT_EQ(rels(mr.records()), (std::vector<std::string>{"B.wav", "a.mp4#1", "a.mp4#2", "b/z.wav", "c.wav"}));
  EXPECT_EQ(mr.records()[3].num_clips, 1);
  EXPECT_EQ(mr.records()[4].status, lssd::RecordStatus::Failed);
  EXPECT_THROW(mr.load(mr.records()[4]), lssd::Error);
  std::string dtype;
  lssd::FloatArray a = mr.load(mr.records()[3], &dtype);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{1, 768}));
  EXPECT_EQ(a.data, pattern({1, 768}, 0.5f).data);
  EXPECT_EQ(dtype, "float32");
  EXPECT_THROW(rd.modality("video"), lssd::Error);
}

TEST(Reader, PostprocessReturnsOkRecordsInOrder) {
  fs::path d = temp_dir("post");
  add_ok(d, "video", "y.mp4", 2, 0.1f);
  add_failed(d, "video", "bad.mp4");
  add_ok(d, "video", "x.avi", 1, 0.2f);
  auto recs = lssd::postprocess(d.string(), "video");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].first, "data/x.avi");
  EXPECT_EQ(recs[1].first, "data/y.mp4");
  EXPECT_EQ(recs[0].second.shape, (std::vector<int64_t>{1, 5, 768}));
  EXPECT_EQ(recs[1].second.data, pattern({2, 5, 768}, 0.1f).data);
  EXPECT_THROW(lssd::postprocess(d.string(), "audio"), lssd::Error);
  EXPECT_THROW(lssd::postprocess(d.string(), "text"), lssd::ConfigError);
}

TEST(Reader, TruncatedNpyIsAnErrorNamingTheFile) {
  fs::path d = temp_dir("trunc");
  lssd::Record r = add_ok(d, "audio", "t.wav", 2, 0.1f);
  fs::path npy = d / "audio" / r.output;
  fs::resize_file(npy, fs::file_size(npy) - 100);
  lssd::ModalityReader mr(d.string(), "audio");
  try {
    mr.load(mr.records().at(0));
    FAIL() << "no error";
  } catch (const lssd::Error& e) {
    EXPECT_NE(std::string(e.what()).find(npy.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  EXPECT_THROW(lssd::postprocess(d.string(), "audio"), lssd::Error);
  // A file with the wrong shape for its record.
  lssd::write_npy(npy.string(), pattern({3, 768}, 0.f));
  try {
    mr.load(mr.records().at(0));
    FAIL() << "no error";
  } catch (const lssd::Error& e) {
    EXPECT_NE(std::string(e.what()).find("differs from the manifest"), std::string::npos) << e.what();
  }
}

TEST(Reader, MalformedManifestLineNamesFileAndLine) {
  fs::path d = temp_dir("badline");
  add_ok(d, "audio", "a.wav", 1, 0.1f);
  {
    std::ofstream f(d / "audio" / "manifest.jsonl", std::ios::app);
    f << "{not json\n";
  }
  add_ok(d, "audio", "b.wav", 1, 0.1f);
  try {
    lssd::OutputReader rd(d.string());
    FAIL() << "no error";
  } catch (const lssd::Error& e) {
    EXPECT_NE(std::string(e.what()).find("manifest.jsonl:2"), std::string::npos) << e.what();
  }
}

TEST(Reader, ShardSplitDirectoryReadsAsOne) {
  fs::path d = temp_dir("shards");
  add_ok(d, "video", "d.mp4", 1, 0.1f, lssd::manifest_name(1, 2));
  add_ok(d, "video", "a.mp4", 2, 0.2f, lssd::manifest_name(0, 2));
  add_ok(d, "video", "c.mp4", 1, 0.3f, lssd::manifest_name(1, 2));
  add_ok(d, "video", "b.mp4", 1, 0.4f, lssd::manifest_name(0, 2));
  add_ok(d, "audio", "s.wav", 1, 0.4f, lssd::manifest_name(0, 2));
  lssd::OutputReader rd(d.string());
  EXPECT_EQ(rd.modalities(), (std::vector<std::string>{"video", "audio"}));
  EXPECT_EQ(rels(rd.modality("video").records()), (std::vector<std::string>{"a.mp4", "b.mp4", "c.mp4", "d.mp4"}));
  auto recs = lssd::postprocess(d.string(), "video");
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[2].second.data, pattern({1, 5, 768}, 0.3f).data);
}

TEST(Reader, Float16OutputsLoadAsFloat) {
  fs::path d = temp_dir("half");
  lssd::Record r = add_ok(d, "audio", "h.wav", 1, 0.25f);
  lssd::FloatArray a = pattern({1, 768}, 0.25f);
  lssd::write_npy((d / "audio" / r.output).string(), a, lssd::NpyDtype::Float16);
  lssd::ModalityReader mr(d.string(), "audio");
  std::string dtype;
  lssd::FloatArray b = mr.load(mr.records()[0], &dtype);
  EXPECT_EQ(dtype, "float16");
  for (size_t i = 0; i < a.numel(); ++i) EXPECT_NEAR(a.data[i], b.data[i], 1e-3);
}

TEST(Reader, ReleaseExportRoundTrip) {
  fs::path d = temp_dir("rel_src"), out = temp_dir("rel_out");
  add_ok(d, "video", "v2.mp4", 2, 0.1f);
  add_ok(d, "video", "v1.mp4", 1, 0.2f);
  add_failed(d, "video", "v0.mp4");
  add_ok(d, "audio", "a.wav", 3, 0.3f);
  lssd::OutputReader rd(d.string());
  EXPECT_EQ(lssd::export_release(rd.modality("video"), out.string()), 2u);
  EXPECT_EQ(lssd::export_release(rd.modality("audio"), out.string()), 1u);
  EXPECT_TRUE(fs::exists(out / "video" / "video.pt"));
  EXPECT_EQ(lssd::detect_layout(out.string(), "video"), lssd::OutputLayout::Release);
  for (const char* m : {"video", "audio"}) {
    auto a = lssd::postprocess(d.string(), m), b = lssd::postprocess(out.string(), m);
    ASSERT_EQ(a.size(), b.size()) << m;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].first, b[i].first);
      EXPECT_EQ(a[i].second.shape, b[i].second.shape);
      EXPECT_EQ(a[i].second.data, b[i].second.data);
    }
  }
  lssd::ModalityReader ra(out.string(), "audio");
  ASSERT_EQ(ra.records().size(), 1u);
  EXPECT_EQ(ra.records()[0].sample_rate, 48000);
  EXPECT_EQ(ra.records()[0].ranges[2].start_sample, 288000);
  EXPECT_DOUBLE_EQ(ra.records()[0].ranges[2].start_s, 6.0);
  std::ifstream f(out / "audio" / "metadata.json");
  std::string meta((std::istreambuf_iterator<char>(f)), {});
  EXPECT_NE(meta.find("[[0,144000],[144000,288000],[288000,432000]]"), std::string::npos) << meta;
  EXPECT_NE(meta.find("\"sample_rate\": [48000]"), std::string::npos) << meta;
}

TEST(Reader, ReleaseMetadataKeepsNonUtf8PathBytes) {
  lssd::ReleaseMetadata m;
  m.filepath = {std::string("in/caf\xe9.wav"), "in/\"q\".wav"};
  m.range = {{{0, 48000}}, {{0, 96000}}};
  m.sample_rate = {48000, 16000};
  std::string text = lssd::release_metadata_json(m, true, true);
  EXPECT_NE(text.find("caf\\udce9.wav"), std::string::npos) << text;  // what Python's json.dump writes
  fs::path d = temp_dir("meta");
  lssd::write_file_atomic((d / "metadata.json").string(), text);
  lssd::ReleaseMetadata back = lssd::read_release_metadata((d / "metadata.json").string());
  EXPECT_EQ(back.filepath, m.filepath);
  EXPECT_EQ(back.range, m.range);
  EXPECT_EQ(back.sample_rate, m.sample_rate);
}

TEST(Reader, TorchStylePrinting) {
  // Expected strings are Python torch 1.13's str(tensor).
  lssd::FloatArray a({2, 3});
  a.data = {0.5f, -1.25f, 3.0f, 0.0f, 2.0f, -0.0001f};
  EXPECT_EQ(lssd::torch_style_str(a),
            "tensor([[ 5.0000e-01, -1.2500e+00,  3.0000e+00],\n        [ 0.0000e+00,  2.0000e+00, -1.0000e-04]])");
  lssd::FloatArray b({2, 1000});
  for (size_t i = 0; i < b.numel(); ++i) b.data[i] = static_cast<float>(i) / 7.0f - 100.0f;
  EXPECT_EQ(lssd::torch_style_str(b),
            "tensor([[-100.0000,  -99.8571,  -99.7143,  ...,   42.4286,   42.5714,\n           42.7143],\n"
            "        [  42.8571,   43.0000,   43.1429,  ...,  185.2857,  185.4286,\n          185.5714]])");
  lssd::FloatArray c({2, 2});
  c.data = {1, 2, 3, 4};
  EXPECT_EQ(lssd::torch_style_str(c), "tensor([[1., 2.],\n        [3., 4.]])");
  lssd::FloatArray e({30});
  for (size_t i = 0; i < e.numel(); ++i) e.data[i] = static_cast<float>(i) / 3.0f;
  EXPECT_EQ(lssd::torch_style_str(e),
            "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n"
            "        3.0000, 3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667,\n"
            "        6.0000, 6.3333, 6.6667, 7.0000, 7.3333, 7.6667, 8.0000, 8.3333, 8.6667,\n"
            "        9.0000, 9.3333, 9.6667])");
}
