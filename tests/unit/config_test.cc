#include "lssd/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "lssd/error.h"

namespace fs = std::filesystem;
using lssd::Config;
using lssd::ConfigError;

namespace {
std::string write_temp(const std::string& name, const std::string& text) {
  fs::path p = fs::temp_directory_path() / ("lssd_cfg_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p) << text;
  return p.string();
}
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Config, ReleaseDefaults) {
  Config c;
  EXPECT_EQ(c.get_int("TEST.BATCH_SIZE"), 8);
  EXPECT_EQ(c.get_string("TEST.CHECKPOINT_FILE_PATH"), "");
  EXPECT_DOUBLE_EQ(c.get_float("TEST.CLIP_LEN"), 3.0);
  EXPECT_EQ(c.get_int("DIST.NUM_GPUS"), 2);
  EXPECT_EQ(c.get_int("DIST.NUM_SHARDS"), 1);
  EXPECT_EQ(c.get_int("DIST.SHARD_ID"), 0);
  EXPECT_EQ(c.get_int("DIST.NUM_WORKERS"), 8);
  EXPECT_EQ(c.get_string("MODEL.VIDEO"), "MViT");
  EXPECT_EQ(c.get_string("MODEL.AUDIO"), "MViT");
  EXPECT_EQ(c.get_string("MVIT.SIZE"), "S");
  EXPECT_FALSE(c.get_bool("MVIT.PATCH_OVERLAP"));
  EXPECT_TRUE(c.get_bool("DATA.USE_VIDEO"));
  EXPECT_TRUE(c.get_bool("DATA.USE_AUDIO"));
  EXPECT_DOUBLE_EQ(c.get_float("VIDEO.T"), 3.0);
  EXPECT_EQ(c.get_int("VIDEO.N_FRAMES"), 16);
  EXPECT_EQ(c.get_int_list("VIDEO.CROP_SIZE"), (std::vector<long long>{224, 224}));
  EXPECT_EQ(c.get_int_list("VIDEO.CROP_SCALES"), (std::vector<long long>{256, 320}));
  EXPECT_EQ(c.get_int("AUDIO.N_FFT"), 1024);
  EXPECT_EQ(c.get_int("AUDIO.HOP_LENGTH"), 501);
  EXPECT_EQ(c.get_int("AUDIO.N_MELS"), 96);
  EXPECT_EQ(c.get_int_list("AUDIO.CROP_SIZE"), (std::vector<long long>{96, 288}));
  EXPECT_EQ(c.get_string("OUTPUT_DIR"), "./tmp");
  EXPECT_EQ(c.get_int("RNG_SEED"), 1);
  EXPECT_EQ(c.get_string_list("DATA.VIDEO_EXTENSIONS"), (std::vector<std::string>{"mp4", "avi"}));
  EXPECT_EQ(c.get_string_list("DATA.AUDIO_EXTENSIONS"),
            (std::vector<std::string>{"mp3", "wav", "flac", "opus"}));
}

TEST(Config, EveryKeyDeclaredOnceWithComment) {
  std::set<std::string> seen;
  for (const auto& k : lssd::declared_keys()) {
    EXPECT_TRUE(seen.insert(k.key).second) << "declared twice: " << k.key;
    EXPECT_GT(std::string(k.comment).size(), 5u) << k.key;
  }
}

TEST(Config, ValueTypes) {
  Config c;
  c.merge_list({"TEST.BATCH_SIZE", "4", "TEST.CLIP_LEN", "2.5", "MVIT.PATCH_OVERLAP", "True", "DATA.USE_AUDIO",
                "False", "VIDEO.CROP_SIZE", "[112,128]", "OUTPUT_DIR", "out/dir", "MVIT.SIZE", "'B'",
                "DATA.AUDIO_EXTENSIONS", "['wav', \"m4a\"]", "MEDIA.DEADLINE_S", "1e2", "DIST.SHARD_ID", "-0"});
  EXPECT_EQ(c.get_int("TEST.BATCH_SIZE"), 4);
  EXPECT_DOUBLE_EQ(c.get_float("TEST.CLIP_LEN"), 2.5);
  EXPECT_TRUE(c.get_bool("MVIT.PATCH_OVERLAP"));
  EXPECT_FALSE(c.get_bool("DATA.USE_AUDIO"));
  EXPECT_EQ(c.get_int_list("VIDEO.CROP_SIZE"), (std::vector<long long>{112, 128}));
  EXPECT_EQ(c.get_string("OUTPUT_DIR"), "out/dir");
  EXPECT_EQ(c.get_string("MVIT.SIZE"), "B");
  EXPECT_EQ(c.get_string_list("DATA.AUDIO_EXTENSIONS"), (std::vector<std::string>{"wav", "m4a"}));
  EXPECT_DOUBLE_EQ(c.get_float("MEDIA.DEADLINE_S"), 100.0);
  // An int is accepted for a float key (yacs would refuse; nothing is lost).
  c.set("TEST.CLIP_LEN", "4");
  EXPECT_DOUBLE_EQ(c.get_float("TEST.CLIP_LEN"), 4.0);
  // Tuples as in Python literals.
  c.set("AUDIO.CROP_SIZE", "(96, 200)");
  EXPECT_EQ(c.get_int_list("AUDIO.CROP_SIZE"), (std::vector<long long>{96, 200}));
  // Empty list.
  c.set("DATA.VIDEO_EXTENSIONS", "[]");
  EXPECT_TRUE(c.get_string_list("DATA.VIDEO_EXTENSIONS").empty());
}

TEST(Config, MergeOrderFileThenList) {
  std::string f = write_temp("order.yaml",
                             "TEST:\n  BATCH_SIZE: 2\n  CLIP_LEN: 5.0\nMVIT:\n  SIZE: B\n  PATCH_OVERLAP: True\n"
                             "VIDEO:\n  CROP_SIZE: [200, 200]\nOUTPUT_DIR: from_file\n");
  Config c;
  c.merge_file(f);
  EXPECT_EQ(c.get_int("TEST.BATCH_SIZE"), 2);
  EXPECT_EQ(c.get_string("MVIT.SIZE"), "B");
  EXPECT_TRUE(c.get_bool("MVIT.PATCH_OVERLAP"));
  EXPECT_EQ(c.get_int_list("VIDEO.CROP_SIZE"), (std::vector<long long>{200, 200}));
  c.merge_list({"TEST.BATCH_SIZE", "4", "OUTPUT_DIR", "from_list"});
  EXPECT_EQ(c.get_int("TEST.BATCH_SIZE"), 4);              // list wins over file
  EXPECT_DOUBLE_EQ(c.get_float("TEST.CLIP_LEN"), 5.0);      // file wins over default
  EXPECT_EQ(c.get_string("OUTPUT_DIR"), "from_list");
  EXPECT_EQ(c.get_int("AUDIO.N_MELS"), 96);                 // default kept
  // A later file merge overrides again, key by key.
  std::string g = write_temp("order2.yaml", "TEST:\n  BATCH_SIZE: 16\n");
  c.merge_file(g);
  EXPECT_EQ(c.get_int("TEST.BATCH_SIZE"), 16);
  EXPECT_EQ(c.get_string("OUTPUT_DIR"), "from_list");
  fs::remove(f);
  fs::remove(g);
}

TEST(Config, QuotedYamlNumberIsAString) {
  std::string f = write_temp("quoted.yaml", "OUTPUT_DIR: \"2024\"\nTEST:\n  BATCH_SIZE: \"4\"\n");
  Config c;
  std::string err = error_of([&] { c.merge_file(f); });
  EXPECT_NE(err.find("TEST.BATCH_SIZE"), std::string::npos) << err;
  fs::remove(f);
}

TEST(Config, UnknownKeyNamesClosest) {
  Config c;
  std::string err = error_of([&] { c.merge_list({"TEST.BATCH_SZE", "4"}); });
  EXPECT_NE(err.find("TEST.BATCH_SZE"), std::string::npos) << err;
  EXPECT_NE(err.find("did you mean 'TEST.BATCH_SIZE'"), std::string::npos) << err;
  err = error_of([&] { c.set("audio.n_mels", "4"); });
  EXPECT_NE(err.find("AUDIO.N_MELS"), std::string::npos) << err;
  std::string f = write_temp("unknown.yaml", "TEST:\n  CLIP_LENGTH: 3.0\n");
  err = error_of([&] { c.merge_file(f); });
  EXPECT_NE(err.find("TEST.CLIP_LENGTH"), std::string::npos) << err;
  EXPECT_NE(err.find("TEST.CLIP_LEN'"), std::string::npos) << err;
  fs::remove(f);
}

TEST(Config, WrongTypesNameTheKey) {
  struct Case {
    const char* key;
    const char* value;
  } cases[] = {
      {"TEST.BATCH_SIZE", "four"},   {"TEST.BATCH_SIZE", "4.5"},      {"TEST.BATCH_SIZE", "True"},
      {"TEST.CLIP_LEN", "long"},     {"MVIT.PATCH_OVERLAP", "1"},     {"MVIT.PATCH_OVERLAP", "yes"},
      {"VIDEO.CROP_SIZE", "224"},    {"VIDEO.CROP_SIZE", "[224,a]"},  {"VIDEO.CROP_SIZE", "[224, 1.5]"},
      {"DATA.AUDIO_EXTENSIONS", "wav"}, {"DATA.AUDIO_EXTENSIONS", "[1, 2]"}, {"OUTPUT_DIR", "[a, b]"},
      {"TEST.CLIP_LEN", "nan"},
  };
  for (const auto& tc : cases) {
    Config c;
    std::string err = error_of([&] { c.set(tc.key, tc.value); });
    EXPECT_NE(err.find(tc.key), std::string::npos) << tc.key << " " << tc.value << ": " << err;
    EXPECT_NE(err.find("wrong type"), std::string::npos) << err;
  }
  // A wrong type inside a file names the file and the key.
  std::string f = write_temp("badtype.yaml", "DIST:\n  NUM_GPUS: two\n");
  Config c;
  std::string err = error_of([&] { c.merge_file(f); });
  EXPECT_NE(err.find("DIST.NUM_GPUS"), std::string::npos) << err;
  EXPECT_NE(err.find(f), std::string::npos) << err;
  fs::remove(f);
}

TEST(Config, OddTokenCount) {
  Config c;
  std::string err = error_of([&] { c.merge_list({"TEST.BATCH_SIZE", "4", "OUTPUT_DIR"}); });
  EXPECT_NE(err.find("odd number"), std::string::npos) << err;
  EXPECT_NE(err.find("OUTPUT_DIR"), std::string::npos) << err;
}

TEST(Config, BadFiles) {
  Config c;
  EXPECT_NE(error_of([&] { c.merge_file("/nonexistent/lssd.yaml"); }).find("cannot read"), std::string::npos);
  std::string f = write_temp("broken.yaml", "TEST: [unclosed\n");
  EXPECT_NE(error_of([&] { c.merge_file(f); }).find("not valid YAML"), std::string::npos);
  fs::remove(f);
}

TEST(Config, OptionValidation) {
  Config c;
  c.set("TEST.BATCH_SIZE", "0");
  EXPECT_THROW(c.encoder_options(), ConfigError);
  c.set("TEST.BATCH_SIZE", "1");
  c.set("RUNTIME.DEVICE", "tpu");
  EXPECT_THROW(c.encoder_options(), ConfigError);
  c.set("RUNTIME.DEVICE", "cuda:1");
  EXPECT_EQ(c.encoder_options().device, "cuda:1");
  c.set("DIST.SHARD_ID", "3");
  c.set("DIST.NUM_SHARDS", "3");
  EXPECT_THROW(c.discover_options(), ConfigError);
  c.set("MODEL.VIDEO", "ResNet");
  EXPECT_THROW(c.encoder_options(), ConfigError);
}

TEST(Config, YamlRoundTrip) {
  Config a;
  a.merge_list({"TEST.BATCH_SIZE", "3", "OUTPUT_DIR", "a dir/with: colon", "DATA.AUDIO_EXTENSIONS", "[wav]",
                "TEST.CLIP_LEN", "2.0"});
  std::string f = write_temp("round.yaml", a.to_yaml());
  Config b;
  b.merge_file(f);
  EXPECT_EQ(a.to_yaml(), b.to_yaml());
  EXPECT_EQ(b.get_string("OUTPUT_DIR"), "a dir/with: colon");
  EXPECT_NE(a.to_yaml().find("BATCH_SIZE: 3  # "), std::string::npos);
  fs::remove(f);
}

TEST(Config, ModelIdTextTracksOutputKeys) {
  Config a, b;
  EXPECT_EQ(a.output_affecting_text(), b.output_affecting_text());
  b.set("TEST.BATCH_SIZE", "1");  // batching does not change outputs
  EXPECT_EQ(a.output_affecting_text(), b.output_affecting_text());
  b.set("TEST.CLIP_LEN", "2.0");
  EXPECT_NE(a.output_affecting_text(), b.output_affecting_text());
}
