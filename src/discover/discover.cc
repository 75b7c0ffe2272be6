#include "lssd/discover.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "lssd/error.h"

namespace lssd {
namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ext_in(const std::string& ext, const std::vector<std::string>& list, bool ci) {
  for (const auto& e : list) {
    std::string want = e;
    if (!want.empty() && want[0] == '.') want = want.substr(1);
    if (ci ? lower(ext) == lower(want) : ext == want) return true;
  }
  return false;
}

std::string extension_of(const std::string& name) {
  auto slash = name.find_last_of('/');
  auto dot = name.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  return name.substr(dot + 1);
}

std::string join(const std::string& dir, const std::string& rel) {
  if (dir.empty()) return rel;
  if (dir.back() == '/') return dir + rel;
  return dir + "/" + rel;
}

struct Classifier {
  const DiscoverOptions& o;
  const MediaOptions& m;
  bool classify(InputFile* f) const {
    std::string ext = extension_of(f->rel_path);
    f->is_video_ext = o.use_video && ext_in(ext, o.video_exts, o.ext_case_insensitive);
    f->is_audio_ext = o.use_audio && ext_in(ext, o.audio_exts, o.ext_case_insensitive);
    f->is_container_ext = o.use_audio && m.audio_from_video && ext_in(ext, m.video_container_exts, true);
    return f->is_video_ext || f->is_audio_ext || f->is_container_ext;
  }
  // The extension is in a list whose modality is switched off (DATA.USE_VIDEO/USE_AUDIO False).
  bool named_by_a_disabled_list(const std::string& rel) const {
    std::string ext = extension_of(rel);
    return (!o.use_video && ext_in(ext, o.video_exts, o.ext_case_insensitive)) ||
           (!o.use_audio && ext_in(ext, o.audio_exts, o.ext_case_insensitive));
  }
};

// Extensions of formats FFmpeg reads, beyond the release's lists (for the "ignored" note).
const std::set<std::string> kOtherVideoExts = {"mkv", "mov", "webm", "m4v", "mpg", "mpeg", "ts",  "m2ts",
                                               "mts", "wmv", "flv",  "3gp", "ogv", "asf",  "vob", "mxf"};
const std::set<std::string> kOtherAudioExts = {"m4a", "aac", "ogg", "oga", "wma", "aif", "aiff",
                                               "mka", "wv",  "ac3", "amr", "caf", "au"};

std::string list_words(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s + "]";
}

bool stat_file(const std::string& path, InputFile* f, std::string* why) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    *why = std::string("cannot stat: ") + std::strerror(errno);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    *why = "not a regular file";
    return false;
  }
  f->size = static_cast<uint64_t>(st.st_size);
  f->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  return true;
}

using DirKey = std::pair<dev_t, ino_t>;

// What the walk carries through its recursion: the directories being walked (loop detection)
// and the one directory to leave out (OUTPUT_DIR), if it exists.
struct WalkState {
  std::set<DirKey> active;
  std::optional<DirKey> excluded;
};

// The canonical form of a path whose tail may not exist yet ("" when it cannot be resolved).
std::string canonical_or_empty(const std::string& p) {
  std::error_code ec;
  const fs::path c = fs::weakly_canonical(fs::absolute(p, ec), ec);
  return ec ? std::string() : c.lexically_normal().string();
}

// Whether `inner` names a directory strictly inside `outer` (both canonical).
bool strictly_inside(const std::string& inner, const std::string& outer) {
  if (inner.empty() || outer.empty() || inner.size() <= outer.size()) return false;
  const fs::path rel = fs::path(inner).lexically_relative(outer);
  return !rel.empty() && *rel.begin() != "..";
}

// Refuses OUTPUT_DIR == the data dir; sets up leaving OUTPUT_DIR out of the walk when it is inside.
void plan_exclusion(const DiscoverOptions& opts, WalkState* w, DiscoverResult* out) {
  if (opts.exclude_dir.empty()) return;
  const std::string data = canonical_or_empty(opts.data_dir), excl = canonical_or_empty(opts.exclude_dir);
  struct stat st {};
  if (!excl.empty() && excl == data)
    throw ConfigError("OUTPUT_DIR '" + opts.exclude_dir + "' is DATA.PATH_TO_DATA_DIR '" + opts.data_dir +
                      "' itself: outputs would mix with the inputs; choose another OUTPUT_DIR");
  if (::stat(opts.exclude_dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) w->excluded = DirKey(st.st_dev, st.st_ino);
  out->excluded_dir_inside = strictly_inside(excl, data);
}

void walk(const std::string& root, const std::string& rel_dir, WalkState* w, const Classifier& cls,
          DiscoverResult* out) {
  std::string dir = rel_dir.empty() ? root : join(root, rel_dir);
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    out->problems.push_back({dir, std::string("cannot stat directory: ") + std::strerror(errno)});
    return;
  }
  const DirKey key(st.st_dev, st.st_ino);
  if (w->excluded == key) {  // OUTPUT_DIR inside the data dir (perhaps through a symlink)
    out->excluded_dir_inside = true;
    return;
  }
  if (w->active.count(key)) {
    out->problems.push_back({dir, "symlink loop: this directory is already being walked; skipped"});
    return;
  }
  w->active.insert(key);
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  if (ec) {
    out->problems.push_back({dir, "cannot read directory: " + ec.message()});
    w->active.erase(key);
    return;
  }
  std::vector<std::string> names;
  for (; it != end; it.increment(ec)) {
    if (ec) {
      out->problems.push_back({dir, "error while listing: " + ec.message()});
      break;
    }
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    std::string rel = rel_dir.empty() ? name : rel_dir + "/" + name;
    std::string full = join(root, rel);
    struct stat s;
    if (::stat(full.c_str(), &s) != 0) {
      struct stat ls;
      bool dangling = ::lstat(full.c_str(), &ls) == 0 && S_ISLNK(ls.st_mode);
      InputFile probe;
      probe.rel_path = rel;
      if (cls.classify(&probe) || !dangling)
        out->problems.push_back(
            {full, dangling ? "broken symlink" : std::string("cannot stat: ") + std::strerror(errno)});
      continue;
    }
    if (S_ISDIR(s.st_mode)) {
      walk(root, rel, w, cls, out);
      continue;
    }
    InputFile f;
    f.rel_path = rel;
    f.path = full;
    if (!cls.classify(&f)) {
      if (!cls.named_by_a_disabled_list(rel)) ++out->ignored_extensions[extension_of(rel)];
      continue;
    }
    std::string why;
    if (!stat_file(full, &f, &why)) {
      out->problems.push_back({full, why});
      continue;
    }
    if (::access(full.c_str(), R_OK) != 0) {
      out->problems.push_back({full, std::string("not readable: ") + std::strerror(errno)});
      continue;
    }
    out->files.push_back(std::move(f));
  }
  w->active.erase(key);
}

}  // namespace

std::string list_entry_rel_path(const std::string& entry) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= entry.size()) {
    size_t j = entry.find('/', i);
    if (j == std::string::npos) j = entry.size();
    std::string p = entry.substr(i, j - i);
    if (!p.empty() && p != ".") parts.push_back(p == ".." ? "_up_" : p);
    i = j + 1;
  }
  std::string rel = !entry.empty() && entry[0] == '/' ? "_abs" : "";
  for (const auto& p : parts) rel += (rel.empty() ? "" : "/") + p;
  return rel;
}

int shard_of(const std::string& rel_path, int num_shards) {
  if (num_shards <= 1) return 0;
  uint64_t h = 1469598103934665603ULL;  // FNV-1a 64
  for (unsigned char c : rel_path) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return static_cast<int>(h % static_cast<uint64_t>(num_shards));
}

std::string shard_from_environment(DiscoverOptions* o, bool keys_set_explicitly) {
  if (keys_set_explicitly) return "config";
  auto env_int = [](const char* name, long* out) {
    const char* v = std::getenv(name);
    if (!v || !*v) return false;
    char* end = nullptr;
    long x = std::strtol(v, &end, 10);
    if (*end != '\0')
      throw ConfigError(std::string("environment variable ") + name + " is not an integer: '" + v + "'");
    *out = x;
    return true;
  };
  long id = 0, count = 0, min = 0;
  if (env_int("SLURM_ARRAY_TASK_ID", &id) && env_int("SLURM_ARRAY_TASK_COUNT", &count)) {
    env_int("SLURM_ARRAY_TASK_MIN", &min);
    o->shard_id = static_cast<int>(id - min);
    o->num_shards = static_cast<int>(count);
    if (o->shard_id < 0 || o->shard_id >= o->num_shards)
      throw ConfigError(
          "SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN must be in [0, SLURM_ARRAY_TASK_COUNT); use a "
          "contiguous --array=0-N");
    return "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT";
  }
  if (env_int("JOB_COMPLETION_INDEX", &id)) {
    if (!env_int("LSSD_NUM_SHARDS", &count))
      throw ConfigError("JOB_COMPLETION_INDEX is set but LSSD_NUM_SHARDS (the number of indices) is not");
    o->shard_id = static_cast<int>(id);
    o->num_shards = static_cast<int>(count);
    if (o->shard_id < 0 || o->shard_id >= o->num_shards)
      throw ConfigError("JOB_COMPLETION_INDEX must be in [0, LSSD_NUM_SHARDS)");
    return "JOB_COMPLETION_INDEX/LSSD_NUM_SHARDS";
  }
  return "default";
}

DiscoverResult discover(const DiscoverOptions& opts, const MediaOptions& media) {
  DiscoverResult out;
  Classifier cls{opts, media};
  if (!opts.file_list.empty()) {
    std::ifstream in(opts.file_list);
    if (!in)
      throw ConfigError("DATA.PATH_TO_FILE_LIST '" + opts.file_list + "' cannot be read (" + std::strerror(errno) +
                        ")");
    std::set<std::string> seen;
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      std::string path = opts.data_dir.empty() || line[0] == '/' ? line : join(opts.data_dir, line);
      std::string norm = fs::path(path).lexically_normal().string();
      if (!seen.insert(norm).second) continue;  // the same file listed twice
      InputFile f;
      f.path = path;
      f.rel_path = list_entry_rel_path(fs::path(line).lexically_normal().string());
      if (!cls.classify(&f)) {
        out.problems.push_back({path, "extension not in the video/audio extension lists; skipped"});
        continue;
      }
      std::string why;
      if (!stat_file(path, &f, &why)) {
        out.problems.push_back({path, why});
        continue;
      }
      out.files.push_back(std::move(f));
    }
  } else {
    if (opts.data_dir.empty()) throw ConfigError("DATA.PATH_TO_DATA_DIR (or DATA.PATH_TO_FILE_LIST) must be set");
    struct stat st;
    if (::stat(opts.data_dir.c_str(), &st) != 0)
      throw ConfigError("DATA.PATH_TO_DATA_DIR '" + opts.data_dir + "' does not exist (" + std::strerror(errno) + ")");
    if (!S_ISDIR(st.st_mode))
      throw ConfigError("DATA.PATH_TO_DATA_DIR '" + opts.data_dir +
                        "' is not a directory. To embed single files, list their paths in a text file (one per "
                        "line) and pass it as DATA.PATH_TO_FILE_LIST");
    WalkState w;
    plan_exclusion(opts, &w, &out);
    walk(opts.data_dir, "", &w, cls, &out);
  }
  std::sort(out.files.begin(), out.files.end(),
            [](const InputFile& a, const InputFile& b) { return a.rel_path < b.rel_path; });
  // Distinct list entries that map to one name (only possible through literal `_up_`/`_abs`
  // components) get a `~N` suffix, so outputs never collide.
  for (size_t i = 1; i < out.files.size(); ++i) {
    int n = 2;
    std::string base = out.files[i].rel_path;
    while (out.files[i].rel_path == out.files[i - 1].rel_path) out.files[i].rel_path = base + "~" + std::to_string(n++);
  }
  out.total_before_shard = out.files.size();
  if (opts.num_shards > 1) {
    std::vector<InputFile> mine;
    for (auto& f : out.files)
      if (shard_of(f.rel_path, opts.num_shards) == opts.shard_id) mine.push_back(std::move(f));
    out.files = std::move(mine);
  }
  return out;
}

std::string describe_extension_lists(const DiscoverOptions& opts) {
  return "video " + list_words(opts.video_exts) + ", audio " + list_words(opts.audio_exts) +
         (opts.ext_case_insensitive ? " (any case)" : " (case-sensitive)");
}

std::string audio_from_video_note(const DiscoverResult& found) {
  std::map<std::string, int64_t> all, audio_only;  // by extension
  int64_t n_all = 0, n_audio_only = 0;
  for (const InputFile& f : found.files) {
    if (!f.is_container_ext || f.is_audio_ext) continue;
    const std::string ext = "." + extension_of(f.rel_path);
    ++all[ext];
    ++n_all;
    if (!f.is_video_ext) ++audio_only[ext], ++n_audio_only;
  }
  if (n_all == 0) return "";
  auto words = [](const std::map<std::string, int64_t>& m) {
    std::string s;
    for (const auto& [ext, n] : m) s += (s.empty() ? "" : ", ") + std::to_string(n) + " " + ext;
    return s;
  };
  std::string note = "DATA.AUDIO_FROM_VIDEO: the audio tracks of " + std::to_string(n_all) +
                     " video container(s) are embedded as audio inputs (" + words(all) +
                     "; DATA.VIDEO_CONTAINER_EXTENSIONS)";
  if (n_audio_only > 0)
    note += "; " + std::to_string(n_audio_only) + " of them (" + words(audio_only) +
            ") only for their audio: DATA.VIDEO_EXTENSIONS does not name them, so their video is not embedded";
  return note;
}

std::string ignored_media_note(const DiscoverResult& found, const DiscoverOptions& opts) {
  std::string counts, advice;
  for (const auto& [ext, n] : found.ignored_extensions) {
    const std::string lo = lower(ext);
    std::string key;
    if (!opts.ext_case_insensitive && (ext_in(lo, opts.video_exts, false) || ext_in(lo, opts.audio_exts, false)))
      key = "DATA.EXTENSIONS_CASE_INSENSITIVE True";
    else if (kOtherVideoExts.count(lo))
      key = "DATA.VIDEO_EXTENSIONS";
    else if (kOtherAudioExts.count(lo))
      key = "DATA.AUDIO_EXTENSIONS";
    else
      continue;  // not media (.txt, .json, ...)
    counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " ." + ext;
    advice += (advice.empty() ? "" : ", ") + std::string(".") + ext + " -> " + key;
  }
  if (counts.empty()) return "";
  return "left out by extension: " + counts + " (the lists are " + describe_extension_lists(opts) +
         "; to include them: " + advice + ")";
}

}  // namespace lssd
