#include "lssd/discover.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "lssd/error.h"

namespace fs = std::filesystem;

namespace {
struct TempTree {
  fs::path root;
  TempTree() {
    root = fs::temp_directory_path() / ("lssd_disc_" + std::to_string(::getpid()) + "_" + std::to_string(rand()));
    fs::create_directories(root);
  }
  ~TempTree() {
    std::error_code ec;
    fs::permissions(root / "locked", fs::perms::owner_all, ec);
    fs::remove_all(root, ec);
  }
  void touch(const std::string& rel, const std::string& content = "x") {
    fs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel) << content;
  }
};
std::vector<std::string> rels(const lssd::DiscoverResult& r) {
  std::vector<std::string> v;
  for (const auto& f : r.files) v.push_back(f.rel_path);
  return v;
}
}  // namespace

TEST(Discover, ReleaseExtensionsSortedRecursive) {
  TempTree t;
  for (auto f : {"b/z.mp4", "a.wav", "b/a.avi", "c/d/e.flac", "x.opus", "y.mp3", "skip.txt", "up.MP4", "v.mkv"})
    t.touch(f);
  lssd::DiscoverOptions o;
  o.data_dir = t.root.string();
  lssd::MediaOptions m;
  auto r = lssd::discover(o, m);
  EXPECT_EQ(rels(r), (std::vector<std::string>{"a.wav", "b/a.avi", "b/z.mp4", "c/d/e.flac", "x.opus", "y.mp3"}));
  EXPECT_EQ(r.files[1].path, t.root.string() + "/b/a.avi");
  EXPECT_TRUE(r.files[1].is_video_ext);
  EXPECT_FALSE(r.files[1].is_audio_ext);
  EXPECT_TRUE(r.files[0].is_audio_ext);
  EXPECT_EQ(r.files[0].size, 1u);
  EXPECT_GT(r.files[0].mtime_ns, 0);
  // Case-insensitive matching and audio tracks of containers are opt-in.
  o.ext_case_insensitive = true;
  m.audio_from_video = true;
  r = lssd::discover(o, m);
  EXPECT_EQ(rels(r).size(), 8u);
  // USE_VIDEO False drops video-only files.
  o.use_video = false;
  m.audio_from_video = false;
  r = lssd::discover(o, m);
  EXPECT_EQ(rels(r), (std::vector<std::string>{"a.wav", "c/d/e.flac", "x.opus", "y.mp3"}));
}

TEST(Discover, SymlinkLoopAndUnreadableAreReportedNotFatal) {
  TempTree t;
  t.touch("a/one.mp4");
  fs::create_directory_symlink("..", t.root / "a" / "loop");
  fs::create_symlink(t.root / "missing.mp4", t.root / "dangling.mp4");
  t.touch("locked/two.mp4");
  fs::permissions(t.root / "locked", fs::perms::none);
  lssd::DiscoverOptions o;
  o.data_dir = t.root.string();
  auto r = lssd::discover(o, lssd::MediaOptions{});
  if (::geteuid() == 0) {  // root reads everything
    EXPECT_EQ(rels(r), (std::vector<std::string>{"a/one.mp4", "locked/two.mp4"}));
  } else {
    EXPECT_EQ(rels(r), (std::vector<std::string>{"a/one.mp4"}));
  }
  bool loop = false, dangling = false, locked = false;
  for (const auto& p : r.problems) {
    if (p.message.find("symlink loop") != std::string::npos) loop = true;
    if (p.message.find("broken symlink") != std::string::npos) dangling = true;
    if (p.path.find("locked") != std::string::npos) locked = true;
  }
  EXPECT_TRUE(loop);
  EXPECT_TRUE(dangling);
  if (::geteuid() != 0) {
    EXPECT_TRUE(locked);
  }
}

TEST(Discover, MissingRootOrAFileIsAUsageError) {
  auto message = [](const lssd::DiscoverOptions& o) -> std::string {
    try {
      lssd::discover(o, lssd::MediaOptions{});
    } catch (const lssd::ConfigError& e) {
      return e.message();
    }
    return "no ConfigError";
  };
  lssd::DiscoverOptions o;
  o.data_dir = "/nonexistent/lssd";
  EXPECT_NE(message(o).find("DATA.PATH_TO_DATA_DIR '/nonexistent/lssd' does not exist"), std::string::npos)
      << message(o);
  TempTree t;
  t.touch("clip.mp4");
  o.data_dir = (t.root / "clip.mp4").string();
  EXPECT_NE(message(o).find("is not a directory"), std::string::npos);
  EXPECT_NE(message(o).find("DATA.PATH_TO_FILE_LIST"), std::string::npos) << message(o);
  o.data_dir = "";
  EXPECT_NE(message(o).find("must be set"), std::string::npos);
  o.file_list = (t.root / "missing.txt").string();
  EXPECT_NE(message(o).find("DATA.PATH_TO_FILE_LIST"), std::string::npos) << message(o);
}

TEST(Discover, MediaLeftOutByExtensionAreCountedWithTheKeyThatIncludesThem) {
  TempTree t;
  for (auto f : {"a.mp4", "b.mkv", "c.mkv", "d.MOV", "e.MP4", "f.m4a", "notes.txt", "g.mp3"}) t.touch(f);
  lssd::DiscoverOptions o;
  o.data_dir = t.root.string();
  auto r = lssd::discover(o, lssd::MediaOptions{});
  EXPECT_EQ(r.ignored_extensions.at("mkv"), 2);
  EXPECT_EQ(r.ignored_extensions.at("txt"), 1);
  const std::string note = lssd::ignored_media_note(r, o);
  EXPECT_NE(note.find("left out by extension: 1 .MOV, 1 .MP4, 1 .m4a, 2 .mkv"), std::string::npos) << note;
  EXPECT_NE(note.find(".MP4 -> DATA.EXTENSIONS_CASE_INSENSITIVE True"), std::string::npos) << note;
  EXPECT_NE(note.find(".mkv -> DATA.VIDEO_EXTENSIONS"), std::string::npos) << note;
  EXPECT_NE(note.find(".MOV -> DATA.VIDEO_EXTENSIONS"), std::string::npos) << note;
  EXPECT_NE(note.find(".m4a -> DATA.AUDIO_EXTENSIONS"), std::string::npos) << note;
  EXPECT_EQ(note.find("txt"), std::string::npos) << note;  // not media: not mentioned
  // Video switched off: .mp4 files are a choice, not left out by the lists.
  o.use_video = false;
  r = lssd::discover(o, lssd::MediaOptions{});
  EXPECT_EQ(r.ignored_extensions.count("mp4"), 0u);
  // Nothing to say when every media file is taken.
  TempTree u;
  u.touch("x.wav");
  u.touch("readme.md");
  o.data_dir = u.root.string();
  EXPECT_EQ(lssd::ignored_media_note(lssd::discover(o, lssd::MediaOptions{}), o), "");
}

TEST(Discover, FileListMapping) {
  TempTree t;
  t.touch("in/a.mp4");
  t.touch("in/_up_/a.mp4");
  std::string abs = (t.root / "in" / "a.mp4").string();
  std::ofstream(t.root / "list.txt") << "# comment\n"
                                     << abs << "\n"
                                     << abs << "\nin/a.mp4\nin/./a.mp4\n"
                                     << "in/_up_/a.mp4\nin/missing.mp4\nnotes.txt\n";
  lssd::DiscoverOptions o;
  o.file_list = (t.root / "list.txt").string();
  o.data_dir = t.root.string();
  auto r = lssd::discover(o, lssd::MediaOptions{});
  // The absolute entry and the two relative spellings of it are one file: listed once.
  ASSERT_EQ(r.files.size(), 2u) << r.files.size();
  EXPECT_EQ(r.files[0].rel_path, "_abs" + abs);
  EXPECT_EQ(r.files[1].rel_path, "in/_up_/a.mp4");
  EXPECT_EQ(r.files[1].path, t.root.string() + "/in/_up_/a.mp4");
  EXPECT_EQ(r.problems.size(), 2u);
  EXPECT_EQ(lssd::list_entry_rel_path("../x/./y.mp4"), "_up_/x/y.mp4");
  EXPECT_EQ(lssd::list_entry_rel_path("/data/x.mp4"), "_abs/data/x.mp4");
}

TEST(Discover, ShardsPartitionStably) {
  TempTree t;
  for (int i = 0; i < 40; ++i) t.touch("d" + std::to_string(i % 3) + "/f" + std::to_string(i) + ".wav");
  lssd::DiscoverOptions o;
  o.data_dir = t.root.string();
  std::vector<std::string> all = rels(lssd::discover(o, lssd::MediaOptions{}));
  std::vector<std::string> joined;
  o.num_shards = 3;
  for (int s = 0; s < 3; ++s) {
    o.shard_id = s;
    auto r = lssd::discover(o, lssd::MediaOptions{});
    EXPECT_EQ(r.total_before_shard, 40u);
    EXPECT_GT(r.files.size(), 3u);
    for (auto& x : rels(r)) joined.push_back(x);
  }
  std::sort(joined.begin(), joined.end());
  EXPECT_EQ(joined, all);
  EXPECT_EQ(lssd::shard_of("a/b.wav", 7), lssd::shard_of("a/b.wav", 7));
}

TEST(Discover, ShardFromEnvironment) {
  lssd::DiscoverOptions o;
  ::setenv("SLURM_ARRAY_TASK_ID", "5", 1);
  ::setenv("SLURM_ARRAY_TASK_COUNT", "3", 1);
  ::setenv("SLURM_ARRAY_TASK_MIN", "4", 1);
  EXPECT_EQ(lssd::shard_from_environment(&o, false), "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT");
  EXPECT_EQ(o.shard_id, 1);
  EXPECT_EQ(o.num_shards, 3);
  lssd::DiscoverOptions keep;
  EXPECT_EQ(lssd::shard_from_environment(&keep, true), "config");
  EXPECT_EQ(keep.num_shards, 1);
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  ::unsetenv("SLURM_ARRAY_TASK_COUNT");
  ::unsetenv("SLURM_ARRAY_TASK_MIN");
  ::setenv("JOB_COMPLETION_INDEX", "2", 1);
  EXPECT_THROW(lssd::shard_from_environment(&o, false), lssd::ConfigError);
  ::setenv("LSSD_NUM_SHARDS", "4", 1);
  lssd::shard_from_environment(&o, false);
  EXPECT_EQ(o.shard_id, 2);
  EXPECT_EQ(o.num_shards, 4);
  ::unsetenv("JOB_COMPLETION_INDEX");
  ::unsetenv("LSSD_NUM_SHARDS");
}
