// lssd-catalog-bench: lssd-infer's bookkeeping at scale (tools/bench/catalog.py drives it).
//
//   lssd-catalog-bench make DIR --inputs N --layout files|shards --audio-model audio.pt [--writers W]
//                                [--out NAME]
//       DIR/in/d<NNNN>/f<NNNNNNN>.wav: N sparse input files (64-164 KB, no data), 1000 per folder
//       (kept when DIR/list.txt lists N already: two catalogues share the inputs);
//       DIR/list.txt: their relative paths (for DATA.PATH_TO_FILE_LIST); DIR/<NAME>/ (out): the catalogue
//       as lssd-infer would have left it after computing them all, in W writers' manifests
//       (manifest.<writer>.jsonl, 1000 consecutive inputs each in turn): M drawn from 1-40 clips,
//       1 % failed on content, records by record_to_json through JsonlAppender, outputs by the
//       project's writers: files, one .npy per input (npy_header, data left as a hole); shards,
//       ShardWriter parts of 1000 inputs (data left as holes). fsync off for this generator only.
//       The catalogue's audio tower is --audio-model (its sha256 makes the records' model id).
//   lssd-catalog-bench measure DIR [--list] [--audio-model audio.pt] [--out NAME]
//       The bookkeeping of an lssd-infer run over DIR/in into DIR/<NAME> (every input done), phase by
//       phase with the functions lssd-infer calls: discovery (the walk, or DIR/list.txt with
//       --list), planning (jobs), resume check (manifests read, every output validated), start-up
//       sweep (temporaries, unnamed parts; 10 temporaries of a gone writer are planted first).
//       Prints one JSON object: seconds (wall and process CPU)
//       and peak RSS (VmHWM, reset before each phase) per phase, and the counts.
//   lssd-catalog-bench evict DIR
//       Drops DIR's files from the page cache (posix_fadvise DONTNEED on every file): the data
//       pages only; directory entries and inodes stay cached (that needs
//       /proc/sys/vm/drop_caches, root).
#include <fcntl.h>
#include <ftw.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "lssd/claims.h"
#include "lssd/config.h"
#include "lssd/discover.h"
#include "lssd/encoder_info.h"
#include "lssd/error.h"
#include "lssd/npy.h"
#include "lssd/options.h"
#include "lssd/output.h"
#include "lssd/shards.h"
#include "pipeline/job_plan.h"

namespace fs = std::filesystem;
using namespace lssd;

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
double cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}
long status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
  return -1;
}
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

std::string arg(std::vector<std::string>& a, const std::string& name, const std::string& def) {
  for (size_t i = 0; i + 1 < a.size(); ++i)
    if (a[i] == name) return a[i + 1];
  return def;
}
bool flag(std::vector<std::string>& a, const std::string& name) {
  for (const auto& x : a)
    if (x == name) return true;
  return false;
}

// The config lssd-infer would run with over DIR (audio only, CPU, the tiny or any audio tower).
PipelineOptions options_for(const std::string& dir, const std::string& audio_model, bool list,
                            const std::string& out = "out") {
  Config cfg;
  std::vector<std::string> kv = {"DATA.PATH_TO_DATA_DIR",    dir + "/in", "OUTPUT_DIR",     dir + "/" + out,
                                 "MODEL.AUDIO_ENCODER_FILE", audio_model, "DATA.USE_VIDEO", "False",
                                 "RUNTIME.DEVICE",           "cpu"};
  if (list) kv.insert(kv.end(), {"DATA.PATH_TO_FILE_LIST", dir + "/list.txt"});
  cfg.merge_list(kv);
  return cfg.pipeline_options();
}

std::string audio_model_id(const PipelineOptions& o) {
  return model_id(encoder_file_sha256(o.encoder.audio_model), o.output_key_text, 0);
}

std::string rel_of(int64_t i) {
  char b[64];
  std::snprintf(b, sizeof b, "d%04lld/f%07lld.wav", static_cast<long long>(i / 1000), static_cast<long long>(i));
  return b;
}

int make(const std::string& dir, std::vector<std::string>& a) {
  const int64_t n = std::stoll(arg(a, "--inputs", "1000"));
  const std::string layout = arg(a, "--layout", "files");
  const int writers = std::stoi(arg(a, "--writers", "16"));
  const PipelineOptions o = options_for(dir, arg(a, "--audio-model", ""), false, arg(a, "--out", "out"));
  const std::string mid = audio_model_id(o);
  const double t0 = now_s();
  int64_t listed = 0;
  {
    std::ifstream old(dir + "/list.txt");
    for (std::string l; std::getline(old, l);) ++listed;
  }
  const bool make_inputs = listed != n;
  fs::create_directories(dir + "/in");
  std::ofstream list;
  if (make_inputs) list.open(dir + "/list.txt");
  std::mt19937_64 rng(26);
  std::vector<std::unique_ptr<JsonlAppender>> manifests;
  std::vector<std::unique_ptr<ShardWriter>> parts;
  const std::string root = o.output_dir + "/audio";
  fs::create_directories(root);
  for (int w = 0; w < writers; ++w) {
    const std::string id = "bench-w" + std::to_string(w);
    manifests.push_back(std::make_unique<JsonlAppender>(root + "/" + writer_manifest_name(id), /*durable=*/false));
    if (layout == "shards")
      parts.push_back(std::make_unique<ShardWriter>(
          ShardWriter::Options{root, id, NpyDtype::Float32, ShardLimits{1000, int64_t{1} << 40}, false, true},
          manifests.back().get()));
  }
  int64_t seq = 1, failed = 0, clips = 0;
  for (int64_t i = 0; i < n; ++i) {
    const std::string rel = rel_of(i);
    const std::string path = dir + "/in/" + rel;
    if (i % 1000 == 0) {
      if (make_inputs) fs::create_directories(fs::path(path).parent_path());
      if (layout == "files") fs::create_directories(fs::path(root + "/" + output_name(rel)).parent_path());
    }
    if (make_inputs) {
      const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(64000 + (i * 7919) % 100000)) != 0) {
        std::perror(path.c_str());
        return 1;
      }
      ::close(fd);
      list << rel << "\n";
    }
    struct stat st;
    ::stat(path.c_str(), &st);
    Record r;
    r.modality = Modality::Audio;
    r.path = path;
    r.rel_path = rel;
    r.size = static_cast<uint64_t>(st.st_size);
    r.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    r.model_id = mid;
    r.sample_rate = 8000;
    r.seq = seq++;
    r.wall_s = 0.05;
    const int w = static_cast<int>((i / 1000) % writers);
    if (rng() % 100 == 0) {  // a content failure
      r.status = RecordStatus::Failed;
      r.error_stage = "open";
      r.error_message = "cannot open: Invalid data found when processing input";
      r.error_from_content = true;
      manifests[w]->append(record_to_json(r));
      ++failed;
      continue;
    }
    const int64_t m = 1 + static_cast<int64_t>(rng() % 40);
    clips += m;
    for (int64_t c = 0; c < m; ++c) r.ranges.push_back({c * 3.0, c * 3.0 + 3.0, c * 24000, c * 24000 + 24000});
    r.dtype = "float32";
    FloatArray shape_only;
    shape_only.shape = output_shape(Modality::Audio, m);
    if (layout == "shards") {
      parts[w]->add(std::move(r), shape_only);
      continue;
    }
    r.status = RecordStatus::Ok;
    r.num_clips = m;
    r.shape = shape_only.shape;
    r.output = output_name(rel);
    const std::string npy = root + "/" + r.output;
    const std::string header = npy_header(r.shape, NpyDtype::Float32);
    const int of = ::open(npy.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (of < 0 || ::write(of, header.data(), header.size()) != static_cast<ssize_t>(header.size()) ||
        ::ftruncate(of, static_cast<off_t>(header.size() + FloatArray::numel_of(r.shape) * 4)) != 0) {
      std::perror(npy.c_str());
      return 1;
    }
    ::close(of);
    manifests[w]->append(record_to_json(r));
  }
  for (auto& p : parts) p->seal();
  std::cout << "{\"made\": \"" << dir << "\", \"layout\": \"" << layout << "\", \"inputs\": " << n
            << ", \"failed\": " << failed << ", \"clips\": " << clips << ", \"writers\": " << writers
            << ", \"seconds\": " << now_s() - t0 << "}\n";
  return 0;
}

// Leftovers of a killed run for the sweep to remove: 10 temporaries of a writer that is gone
// (planted by each measure, since the sweep removes them).
void plant_leftovers(const std::string& out_dir) {
  const std::string root = out_dir + "/audio";
  for (int k = 0; k < 10; ++k)
    std::ofstream(root + "/" + temporary_name("x" + std::to_string(k) + ".npy", "gone-writer", k)) << "partial";
}

struct Phase {
  std::string name;
  double wall = 0, cpu = 0;
  long peak_kb = 0;
};

int measure(const std::string& dir, std::vector<std::string>& a) {
  const bool list = flag(a, "--list");
  const PipelineOptions o = options_for(dir, arg(a, "--audio-model", ""), list, arg(a, "--out", "out"));
  plant_leftovers(o.output_dir);
  std::vector<Phase> phases;
  double w0 = 0, c0 = 0;
  auto begin = [&] {
    reset_peak_rss();
    w0 = now_s();
    c0 = cpu_s();
  };
  auto end = [&](const std::string& name) {
    phases.push_back({name, now_s() - w0, cpu_s() - c0, status_kb("VmHWM:")});
  };
  begin();
  const DiscoverResult found = discover(o.discover, o.media);
  end("discovery");
  begin();
  const std::vector<Job> jobs = make_jobs(found, o.discover);
  end("planning");
  begin();
  const std::string mid = audio_model_id(o);
  ResumeIndex index(o.output_dir);
  std::vector<std::string> warnings;
  index.update(&warnings, true);
  const ResumePlan plan = plan_resume(
      jobs, found.files, index, [&](Modality) { return mid; }, "float32", false);
  end("resume check");
  begin();
  WriterRegistry registry(o.output_dir, this_writer(""), o.claim_timeout_s);
  registry.enter();
  size_t swept = 0;
  for (const Modality m : kModalities) {
    const std::string root = (fs::path(o.output_dir) / to_string(m)).string();
    if (!fs::exists(root)) continue;
    swept += remove_stale_temporaries(root, true, [&](const std::string& w) { return registry.gone(w); });
    const auto named = plan.parts_named[m];
    std::error_code ec;
    for (auto it = fs::directory_iterator(root + "/parts", ec); !ec && it != fs::directory_iterator(); it.increment(ec))
      (void)named.count("parts/" + it->path().filename().string());
  }
  registry.leave();
  end("sweep");
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::cout << "{\"dir\": \"" << dir << "\", \"discovery\": \"" << (list ? "list" : "walk")
            << "\", \"inputs\": " << found.files.size() << ", \"jobs\": " << jobs.size()
            << ", \"todo\": " << plan.todo.size() << ", \"resumed\": " << plan.resumed
            << ", \"failed_earlier\": " << plan.failed_earlier << ", \"records\": " << index.size()
            << ", \"swept\": " << swept << ", \"phases\": [";
  for (size_t i = 0; i < phases.size(); ++i)
    std::cout << (i ? ", " : "") << "{\"phase\": \"" << phases[i].name << "\", \"wall_s\": " << phases[i].wall
              << ", \"cpu_s\": " << phases[i].cpu << ", \"peak_rss_mb\": " << phases[i].peak_kb / 1024.0 << "}";
  std::cout << "], \"max_rss_mb\": " << ru.ru_maxrss / 1024.0 << "}\n";
  return plan.todo.empty() ? 0 : 1;
}

int evict(const std::string& dir) {
  static size_t files = 0;
  files = 0;
  const int rc = ::nftw(
      dir.c_str(),
      [](const char* p, const struct stat* st, int type, struct FTW*) {
        if (type == FTW_F && S_ISREG(st->st_mode)) {
          const int fd = ::open(p, O_RDONLY | O_CLOEXEC);
          if (fd >= 0) {
            ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            ::close(fd);
            ++files;
          }
        }
        return 0;
      },
      64, FTW_PHYS);
  std::cout << "{\"evicted_files\": " << files << "}\n";
  return rc == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() < 2) {
    std::cerr << "usage: lssd-catalog-bench make|measure|evict DIR [options] (see tools/bench/catalog_bench.cc)\n";
    return 2;
  }
  try {
    if (a[0] == "make") return make(a[1], a);
    if (a[0] == "measure") return measure(a[1], a);
    if (a[0] == "evict") return evict(a[1]);
  } catch (const std::exception& e) {
    std::cerr << "lssd-catalog-bench: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "unknown command " << a[0] << "\n";
  return 2;
}
