#include "lssd/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
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
  // A departure from the release's defaults: every visible GPU (the release: 2).
  EXPECT_EQ(c.at("DIST.NUM_GPUS").to_literal(), "all");
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
  EXPECT_EQ(c.get_string_list("DATA.AUDIO_EXTENSIONS"), (std::vector<std::string>{"mp3", "wav", "flac", "opus"}));
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
  c.merge_list({"TEST.BATCH_SIZE",
                "4",
                "TEST.CLIP_LEN",
                "2.5",
                "MVIT.PATCH_OVERLAP",
                "True",
                "DATA.USE_AUDIO",
                "False",
                "VIDEO.CROP_SIZE",
                "[112,128]",
                "OUTPUT_DIR",
                "out/dir",
                "MVIT.SIZE",
                "'B'",
                "DATA.AUDIO_EXTENSIONS",
                "['wav', \"m4a\"]",
                "MEDIA.DEADLINE_S",
                "1e2",
                "DIST.SHARD_ID",
                "-0"});
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
  EXPECT_EQ(c.get_int("TEST.BATCH_SIZE"), 4);           // list wins over file
  EXPECT_DOUBLE_EQ(c.get_float("TEST.CLIP_LEN"), 5.0);  // file wins over default
  EXPECT_EQ(c.get_string("OUTPUT_DIR"), "from_list");
  EXPECT_EQ(c.get_int("AUDIO.N_MELS"), 96);  // default kept
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
      {"TEST.BATCH_SIZE", "four"},      {"TEST.BATCH_SIZE", "4.5"},          {"TEST.BATCH_SIZE", "True"},
      {"TEST.CLIP_LEN", "long"},        {"MVIT.PATCH_OVERLAP", "1"},         {"MVIT.PATCH_OVERLAP", "yes"},
      {"VIDEO.CROP_SIZE", "224"},       {"VIDEO.CROP_SIZE", "[224,a]"},      {"VIDEO.CROP_SIZE", "[224, 1.5]"},
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

TEST(Config, ValidationMessagesRepeatTheValue) {
  Config c;
  c.set("OUTPUT.DTYPE", "float64");
  try {
    c.pipeline_options();
    FAIL() << "OUTPUT.DTYPE float64 accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.message(), "OUTPUT.DTYPE must be float32 or float16 (got float64)");
  }
  Config d;
  d.set("VIDEO.CROP_SIZE", "[0, 224]");
  try {
    d.video_options();
    FAIL() << "VIDEO.CROP_SIZE [0, 224] accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(e.message().find("(got [0, 224])"), std::string::npos) << e.message();
  }
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

// ---- the rest of the release's config tree (a released config.yaml may set any key) ----

namespace {
const std::vector<std::string> kReleaseOnlyKeys = {"TEST.DATASET",
                                                   "DIST.BACKEND",
                                                   "MVIT.MODE",
                                                   "MVIT.POOL_FIRST",
                                                   "MVIT.CLS_EMBED_ON",
                                                   "MVIT.PATCH_KERNEL",
                                                   "MVIT.PATCH_STRIDE",
                                                   "MVIT.PATCH_PADDING",
                                                   "MVIT.PATCH_2D",
                                                   "MVIT.EMBED_DIM",
                                                   "MVIT.NUM_HEADS",
                                                   "MVIT.MLP_RATIO",
                                                   "MVIT.QKV_BIAS",
                                                   "MVIT.DROPPATH_RATE",
                                                   "MVIT.LAYER_SCALE_INIT_VALUE",
                                                   "MVIT.DEPTH",
                                                   "MVIT.NORM",
                                                   "MVIT.DIM_MUL",
                                                   "MVIT.HEAD_MUL",
                                                   "MVIT.POOL_KV_STRIDE",
                                                   "MVIT.POOL_KV_STRIDE_ADAPTIVE",
                                                   "MVIT.POOL_Q_STRIDE",
                                                   "MVIT.POOL_KVQ_KERNEL",
                                                   "MVIT.ZERO_DECAY_POS_CLS",
                                                   "MVIT.NORM_STEM",
                                                   "MVIT.SEP_POS_EMBED",
                                                   "MVIT.DROPOUT_RATE",
                                                   "MVIT.USE_ABS_POS",
                                                   "MVIT.REL_POS_SPATIAL",
                                                   "MVIT.REL_POS_TEMPORAL",
                                                   "MVIT.REL_POS_ZERO_INIT",
                                                   "MVIT.RESIDUAL_POOLING",
                                                   "MVIT.DIM_MUL_IN_ATT",
                                                   "MVIT.SEPARATE_QKV",
                                                   "MVIT.USE_MEAN_POOLING",
                                                   "MVIT.USE_FIXED_SINCOS_POS"};
const std::vector<std::string> kTowerKeys = {
    "MVIT.POOL_FIRST",   "MVIT.LAYER_SCALE_INIT_VALUE", "MVIT.NORM_STEM",           "MVIT.SEP_POS_EMBED",
    "MVIT.SEPARATE_QKV", "MVIT.USE_MEAN_POOLING",       "MVIT.USE_FIXED_SINCOS_POS"};
const lssd::KeySpec* spec_of(const std::string& key) {
  for (const auto& k : lssd::declared_keys())
    if (key == k.key) return &k;
  return nullptr;
}
const std::string kReleaseTree = std::string(LSSD_SOURCE_DIR) + "/tests/data/configs/release_tree.yaml";
}  // namespace

TEST(ConfigReleaseTree, The36KeysWithTheReleaseDefaults) {
  EXPECT_EQ(kReleaseOnlyKeys.size(), 36u);
  size_t release_only = 0;
  for (const auto& k : lssd::declared_keys()) release_only += k.use != lssd::KeyUse::Used;
  EXPECT_EQ(release_only, 36u);
  for (const auto& key : kReleaseOnlyKeys) {
    const lssd::KeySpec* k = spec_of(key);
    ASSERT_NE(k, nullptr) << key;
    bool tower = std::find(kTowerKeys.begin(), kTowerKeys.end(), key) != kTowerKeys.end();
    EXPECT_EQ(k->use, tower ? lssd::KeyUse::DefaultOnly : lssd::KeyUse::Ignored) << key;
    EXPECT_FALSE(k->affects_output) << key;  // never part of the model id
  }
  Config c;
  EXPECT_EQ(c.get_string("TEST.DATASET"), "");
  EXPECT_EQ(c.get_string("DIST.BACKEND"), "nccl");
  EXPECT_EQ(c.get_string("MVIT.MODE"), "conv");
  EXPECT_EQ(c.get_int("MVIT.DEPTH"), 16);
  EXPECT_EQ(c.get_int("MVIT.EMBED_DIM"), 96);
  EXPECT_DOUBLE_EQ(c.get_float("MVIT.MLP_RATIO"), 4.0);
  EXPECT_DOUBLE_EQ(c.get_float("MVIT.DROPPATH_RATE"), 0.1);
  EXPECT_TRUE(c.get_bool("MVIT.CLS_EMBED_ON"));
  EXPECT_FALSE(c.get_bool("MVIT.USE_MEAN_POOLING"));
  EXPECT_EQ(c.at("MVIT.PATCH_KERNEL").to_literal(), "[3, 7, 7]");
  EXPECT_EQ(c.at("MVIT.DIM_MUL").to_literal(), "[]");
  EXPECT_EQ(c.at("MVIT.POOL_KVQ_KERNEL").to_literal(), "None");
  EXPECT_EQ(c.at("MVIT.POOL_KV_STRIDE_ADAPTIVE").to_literal(), "None");
  EXPECT_TRUE(c.ignored_settings().empty());
  EXPECT_NO_THROW(c.check_default_only_keys());
}

TEST(ConfigReleaseTree, ListsOfListsAndNone) {
  Config c;
  c.merge_list({"MVIT.DIM_MUL", "[[1, 2.0], [3, 2.0], [14, 2.0]]", "MVIT.POOL_Q_STRIDE", "[[0,1,1,1],[1,1,2,2]]",
                "MVIT.POOL_KVQ_KERNEL", "[3, 3, 3]", "MVIT.POOL_KV_STRIDE_ADAPTIVE", "None", "MVIT.HEAD_MUL",
                "((1, 2.0), (3, 2.0))", "MVIT.PATCH_KERNEL", "[7, 7]"});
  EXPECT_EQ(c.at("MVIT.DIM_MUL").to_literal(), "[[1, 2.0], [3, 2.0], [14, 2.0]]");
  EXPECT_EQ(c.at("MVIT.POOL_Q_STRIDE").to_literal(), "[[0, 1, 1, 1], [1, 1, 2, 2]]");
  EXPECT_EQ(c.at("MVIT.POOL_KVQ_KERNEL").to_literal(), "[3, 3, 3]");
  EXPECT_EQ(c.at("MVIT.POOL_KV_STRIDE_ADAPTIVE").to_literal(), "None");
  EXPECT_EQ(c.at("MVIT.HEAD_MUL").to_literal(), "[[1, 2.0], [3, 2.0]]");
  EXPECT_EQ(c.at("MVIT.PATCH_KERNEL").to_literal(), "[7, 7]");
  c.set("MVIT.POOL_KVQ_KERNEL", "null");
  EXPECT_EQ(c.at("MVIT.POOL_KVQ_KERNEL").to_literal(), "None");
  // A None-default key takes any value, as in yacs.
  c.set("MVIT.POOL_KV_STRIDE_ADAPTIVE", "4");
  EXPECT_EQ(c.at("MVIT.POOL_KV_STRIDE_ADAPTIVE").to_literal(), "4");
  // Wrong types name the key, as for every other key.
  struct Case {
    const char* key;
    const char* value;
  } cases[] = {{"MVIT.DIM_MUL", "3"},          {"MVIT.DIM_MUL", "[[1, 2.0], [3, 2.0]"},
               {"MVIT.DEPTH", "24.5"},         {"MVIT.DEPTH", "[24]"},
               {"MVIT.USE_MEAN_POOLING", "1"}, {"MVIT.MLP_RATIO", "big"},
               {"DIST.BACKEND", "[nccl]"},     {"MVIT.POOL_KVQ_KERNEL", "[3, 3"},
               {"MVIT.DIM_MUL", "[[1, , 2]]"}, {"VIDEO.CROP_SIZE", "[[224, 224]]"}};
  for (const auto& tc : cases) {
    std::string err = error_of([&] { Config().set(tc.key, tc.value); });
    EXPECT_NE(err.find(tc.key), std::string::npos) << tc.key << " " << tc.value << ": " << err;
    EXPECT_NE(err.find("wrong type"), std::string::npos) << tc.key << " " << tc.value << ": " << err;
  }
}

TEST(ConfigReleaseTree, ReleasedConfigFileLoadsAndListsIgnoredKeys) {
  Config c;
  ASSERT_NO_THROW(c.merge_file(kReleaseTree));
  EXPECT_EQ(c.get_int("MVIT.DEPTH"), 24);
  EXPECT_EQ(c.get_string("MVIT.SIZE"), "S");
  EXPECT_EQ(c.get_string("TEST.DATASET"), "lssd");
  EXPECT_EQ(c.at("MVIT.DIM_MUL").to_literal(), "[[2, 2.0], [5, 2.0], [21, 2.0]]");
  EXPECT_EQ(c.at("MVIT.POOL_Q_STRIDE").to_literal(),
            "[[0, 1, 1, 1], [1, 1, 1, 1], [2, 1, 2, 2], [3, 1, 1, 1], [5, 1, 2, 2], [21, 1, 2, 2]]");
  EXPECT_EQ(c.at("MVIT.POOL_KV_STRIDE").to_literal(), "[]");
  EXPECT_EQ(c.at("MVIT.POOL_KVQ_KERNEL").to_literal(), "[3, 3, 3]");
  // Every ignored key the file names is listed; the tower keys are at their defaults.
  std::vector<std::string> ignored = c.ignored_settings();
  EXPECT_EQ(ignored.size(), 29u);
  EXPECT_NE(std::find(ignored.begin(), ignored.end(), "MVIT.DEPTH 24"), ignored.end());
  EXPECT_NE(std::find(ignored.begin(), ignored.end(), "DIST.BACKEND nccl"), ignored.end());
  EXPECT_NO_THROW(c.check_default_only_keys());
  EXPECT_NO_THROW(c.encoder_options());
  // They change no output: the model id text is the defaults'.
  EXPECT_EQ(c.output_affecting_text(), Config().output_affecting_text());
  // A yacs None written as YAML null (or left empty) is None.
  std::string f = write_temp("nulls.yaml", "MVIT:\n  POOL_KVQ_KERNEL: null\n  POOL_KV_STRIDE_ADAPTIVE:\n");
  c.merge_file(f);
  EXPECT_EQ(c.at("MVIT.POOL_KVQ_KERNEL").to_literal(), "None");
  EXPECT_EQ(c.at("MVIT.POOL_KV_STRIDE_ADAPTIVE").to_literal(), "None");
  fs::remove(f);
  // The resolved config (OUTPUT_DIR/config.yaml) loads back to the same values.
  std::string g = write_temp("tree_round.yaml", c.to_yaml());
  Config b;
  b.merge_file(g);
  EXPECT_EQ(b.to_yaml(), c.to_yaml());
  fs::remove(g);
}

TEST(ConfigReleaseTree, TowerKeysAwayFromTheirDefaultAreRefusedByName) {
  struct Case {
    const char* key;
    const char* value;
    const char* shown;
  } cases[] = {{"MVIT.USE_MEAN_POOLING", "True", "MVIT.USE_MEAN_POOLING True"},
               {"MVIT.POOL_FIRST", "True", "MVIT.POOL_FIRST True"},
               {"MVIT.LAYER_SCALE_INIT_VALUE", "1e-5", "MVIT.LAYER_SCALE_INIT_VALUE 1.0000000000000001e-05"},
               {"MVIT.NORM_STEM", "true", "MVIT.NORM_STEM True"},
               {"MVIT.SEP_POS_EMBED", "True", "MVIT.SEP_POS_EMBED True"},
               {"MVIT.SEPARATE_QKV", "True", "MVIT.SEPARATE_QKV True"},
               {"MVIT.USE_FIXED_SINCOS_POS", "True", "MVIT.USE_FIXED_SINCOS_POS True"}};
  for (const auto& tc : cases) {
    Config c;
    c.set(tc.key, tc.value);
    std::string err = error_of([&] { c.pipeline_options(); });
    EXPECT_NE(err.find(tc.shown), std::string::npos) << err;
    EXPECT_NE(err.find("not supported"), std::string::npos) << err;
  }
  // From a file too, and explicit defaults are fine.
  std::string f = write_temp("meanpool.yaml", "MVIT:\n  USE_MEAN_POOLING: True\n");
  Config c;
  c.merge_file(f);
  EXPECT_NE(error_of([&] { c.encoder_options(); }).find("MVIT.USE_MEAN_POOLING True"), std::string::npos);
  fs::remove(f);
  Config d;
  d.merge_list({"MVIT.USE_MEAN_POOLING", "False", "MVIT.LAYER_SCALE_INIT_VALUE", "0"});
  EXPECT_NO_THROW(d.check_default_only_keys());
}

// The key table takes its defaults from the options structs: a default Config gives the
// default-constructed options, field by field.
TEST(Config, DefaultsAreTheOptionsStructsDefaults) {
  const lssd::PipelineOptions d{};
  Config c;
  c.set("DATA.PATH_TO_DATA_DIR", "x");  // required by pipeline_options()
  const lssd::PipelineOptions o = c.pipeline_options();
  EXPECT_EQ(o.encoder.batch_size, d.encoder.batch_size);
  EXPECT_EQ(o.encoder.num_gpus, d.encoder.num_gpus);
  EXPECT_EQ(o.encoder.gpu_ids, d.encoder.gpu_ids);
  EXPECT_EQ(o.encoder.device, d.encoder.device);
  EXPECT_EQ(o.encoder.precision, d.encoder.precision);
  EXPECT_EQ(o.encoder.threads, d.encoder.threads);
  EXPECT_EQ(o.encoder.cpu_micro_batch, d.encoder.cpu_micro_batch);
  EXPECT_EQ(o.encoder.cpu_lanes, d.encoder.cpu_lanes);
  EXPECT_EQ(o.video.clip_len, d.video.clip_len);
  EXPECT_EQ(o.audio.clip_len, d.audio.clip_len);
  EXPECT_EQ(o.video.n_frames, d.video.n_frames);
  EXPECT_EQ(o.video.crop_h, d.video.crop_h);
  EXPECT_EQ(o.video.crop_w, d.video.crop_w);
  EXPECT_EQ(o.video.short_side, d.video.short_side);
  EXPECT_EQ(o.audio.n_fft, d.audio.n_fft);
  EXPECT_EQ(o.audio.hop_length, d.audio.hop_length);
  EXPECT_EQ(o.audio.n_mels, d.audio.n_mels);
  EXPECT_EQ(o.audio.crop_h, d.audio.crop_h);
  EXPECT_EQ(o.audio.crop_w, d.audio.crop_w);
  EXPECT_EQ(o.discover.use_video, d.discover.use_video);
  EXPECT_EQ(o.discover.use_audio, d.discover.use_audio);
  EXPECT_EQ(o.discover.video_exts, d.discover.video_exts);
  EXPECT_EQ(o.discover.audio_exts, d.discover.audio_exts);
  EXPECT_EQ(o.discover.ext_case_insensitive, d.discover.ext_case_insensitive);
  EXPECT_EQ(o.media.audio_from_video, d.media.audio_from_video);
  EXPECT_EQ(o.media.video_container_exts, d.media.video_container_exts);
  EXPECT_EQ(o.media.decode_threads, d.media.decode_threads);
  EXPECT_EQ(o.media.deadline_s, d.media.deadline_s);
  EXPECT_EQ(o.output_dir, d.output_dir);
  EXPECT_EQ(o.num_workers, d.num_workers);
  EXPECT_EQ(o.worker_nice, d.worker_nice);
  EXPECT_EQ(o.float16_output, d.float16_output);
  EXPECT_EQ(o.progress_interval_s, d.progress_interval_s);
}
