#include "lssd/pipeline.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <limits>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "lssd/audio_transform.h"
#include "lssd/discover.h"
#include "lssd/encoder.h"
#include "lssd/error.h"
#include "lssd/media.h"
#include "lssd/npy.h"
#include "lssd/output.h"
#include "lssd/sha256.h"
#include "lssd/video_transform.h"

namespace lssd {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Thrown out of a decode callback when the run is aborting (the encoder failed): the input is
// left unfinished, not recorded as failed.
struct RunAborted {};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Raises the calling thread's niceness (Linux: per thread; threads it starts inherit it).
void lower_thread_priority(int nice) {
  if (nice <= 0) return;
  errno = 0;
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), nice) != 0)
    spdlog::debug("setpriority({}) failed: {}", nice, std::strerror(errno));
}

// One unit of work: an input file for one modality. Audio tracks of a video container are one
// job that yields one output per track.
struct Job {
  size_t file = 0;
  Modality modality = Modality::Video;
  bool container_tracks = false;
};

// One clip on its way to the encoder.
struct ClipItem {
  uint64_t unit = 0;
  int clip = 0;
  int generation = 0;  // the unit's plan generation when the clip was queued (see withdraw)
  FloatArray tensor;   // [5,3,T,H,W] video or [1,mels,frames] audio
};

// Bounded per-modality clip queues; the encoder takes batches of one modality.
class ClipQueue {
 public:
  // greedy: pop_batch hands out whatever is queued at once, up to `batch` (CPU micro-batch
  // runs, where a forward's cost does not depend on the batch: no reason to wait for a full one).
  ClipQueue(size_t video_cap, size_t audio_cap, bool greedy) : cap_{video_cap, audio_cap}, greedy_(greedy) {}

  // Blocks while the modality's queue is full. Returns false if the queue was aborted.
  bool push(Modality m, ClipItem&& item) {
    std::unique_lock<std::mutex> lock(mu_);
    auto& q = q_[idx(m)];
    not_full_.wait(lock, [&] { return aborted_ || q.size() < cap_[idx(m)]; });
    if (aborted_) return false;
    q.push_back(std::move(item));
    not_empty_.notify_all();
    return true;
  }

  // Takes up to `batch` clips of one modality: a full batch as soon as one exists, else
  // whatever is there once the producers are done or nothing arrived for a short while.
  // Returns false when everything is drained and the producers are finished.
  bool pop_batch(size_t batch, Modality* m, std::vector<ClipItem>* out) {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (aborted_) return false;
      if (greedy_ && (!q_[0].empty() || !q_[1].empty())) {
        // The fuller queue first (relative to its capacity): its producers may be blocked.
        int k = q_[0].empty() ? 1
                : q_[1].empty() ? 0
                : q_[0].size() * cap_[1] >= q_[1].size() * cap_[0] ? 0
                                                                   : 1;
        take(k, batch, m, out);
        return true;
      }
      for (int k = 0; k < 2; ++k) {
        if (q_[k].size() >= batch || (!q_[k].empty() && (producers_done_ || stalled_))) {
          take(k, batch, m, out);
          return true;
        }
      }
      if (producers_done_ && q_[0].empty() && q_[1].empty()) return false;
      bool any = !q_[0].empty() || !q_[1].empty();
      // With clips waiting but no full batch, wait briefly for more, then run a partial batch.
      auto status = not_empty_.wait_for(lock, std::chrono::milliseconds(any ? 200 : 1000));
      stalled_ = any && status == std::cv_status::timeout;
    }
  }

  void producers_finished() {
    std::lock_guard<std::mutex> lock(mu_);
    producers_done_ = true;
    not_empty_.notify_all();
  }
  void abort() {
    std::lock_guard<std::mutex> lock(mu_);
    aborted_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  static int idx(Modality m) { return m == Modality::Video ? 0 : 1; }
  void take(int k, size_t batch, Modality* m, std::vector<ClipItem>* out) {
    *m = k == 0 ? Modality::Video : Modality::Audio;
    out->clear();
    while (!q_[k].empty() && out->size() < batch) {
      out->push_back(std::move(q_[k].front()));
      q_[k].pop_front();
    }
    stalled_ = false;
    not_full_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<ClipItem> q_[2];
  size_t cap_[2];
  bool greedy_;
  bool producers_done_ = false, aborted_ = false, stalled_ = false;
};

// Counters shared by the progress reporter and the summary.
struct Progress {
  std::atomic<int64_t> jobs_done{0}, ok{0}, failed{0}, skipped{0}, clips{0}, clips_planned{0};
  int64_t jobs_total = 0;
  int64_t resumed = 0;
};

// Collects each output's embeddings in clip order; writes the .npy and the manifest record
// once the decoder has said how many clips there are and all of them are embedded.
class Assembler {
 public:
  Assembler(const PipelineOptions& o, Progress* progress, JsonlAppender* video_manifest,
            JsonlAppender* audio_manifest, JsonlAppender* errors,
            std::function<std::string(bool video)> model_id)
      : o_(o),
        progress_(progress),
        manifest_{video_manifest, audio_manifest},
        errors_(errors),
        model_id_(std::move(model_id)) {}

  uint64_t begin(Record base) {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t id = next_++;
    Unit& u = units_[id];
    u.record = std::move(base);
    u.start = Clock::now();
    return id;
  }

  void add(uint64_t id, int clip, int generation, const float* row, size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    auto it = units_.find(id);
    if (it == units_.end()) return;  // the unit already failed
    Unit& u = it->second;
    if (generation < u.generation && clip >= u.withdrawn_from) return;  // a withdrawn clip
    if (u.rows.size() <= static_cast<size_t>(clip)) u.rows.resize(clip + 1);
    u.rows[clip].assign(row, row + n);
    ++u.received;
    maybe_finish(lock, id);
  }

  // The decoder planned again: clips from `first` on, queued or embedded, no longer count.
  // Returns the unit's new generation (clips queued from now on carry it).
  int withdraw(uint64_t id, int first) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = units_.find(id);
    if (it == units_.end()) return 0;
    Unit& u = it->second;
    for (size_t i = static_cast<size_t>(first); i < u.rows.size(); ++i)
      if (!u.rows[i].empty()) --u.received;
    if (u.rows.size() > static_cast<size_t>(first)) u.rows.resize(static_cast<size_t>(first));
    u.withdrawn_from = std::min(u.withdrawn_from, first);
    return ++u.generation;
  }

  // The decoder is done with this unit: `clips` clips were queued.
  void end(uint64_t id, int clips) {
    std::unique_lock<std::mutex> lock(mu_);
    auto it = units_.find(id);
    if (it == units_.end()) return;
    it->second.expected = clips;
    maybe_finish(lock, id);
  }

  void fail(uint64_t id, const std::string& stage, const std::string& message) {
    Record r;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = units_.find(id);
      if (it == units_.end()) return;
      r = std::move(it->second.record);
      r.wall_s = seconds_since(it->second.start);
      units_.erase(it);
    }
    record_failure(r, stage, message);
  }

  void record_failure(Record r, const std::string& stage, const std::string& message) {
    r.status = "failed";
    r.output.clear();
    r.error_stage = stage;
    r.error_message = message;
    r.num_clips = 0;
    r.shape.clear();
    spdlog::error("{}: [{}] {}", r.path, stage, message);
    append_manifest(r);
    append_or_stop(errors_, error_to_json(r.path, r.modality, stage, message));
    ++progress_->failed;
  }

  void skipped_short(uint64_t id, Record r) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      units_.erase(id);
    }
    std::string why = r.modality == "video" ? "fewer than 2 timestamps (" + r.timestamps + ")"
                                            : "fewer than 2 samples";
    spdlog::warn("{}: skipped as the release skips it ({}: {})", r.path, r.modality, why);
    skipped(std::move(r), "skipped_short");
  }

  // An input with nothing to embed (not an error): recorded with its status.
  void skipped(Record r, const std::string& status) {
    r.status = status;
    append_manifest(r);
    ++progress_->skipped;
  }

  // Sets the final metadata (ranges etc.) of a unit before it completes.
  template <class F>
  void update(uint64_t id, F&& f) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = units_.find(id);
    if (it != units_.end()) f(it->second.record);
  }

  size_t pending() {
    std::lock_guard<std::mutex> lock(mu_);
    return units_.size();
  }

 private:
  struct Unit {
    Record record;
    std::vector<std::vector<float>> rows;
    int received = 0;
    int expected = -1;
    int generation = 0;                                    // withdraw() calls so far
    int withdrawn_from = std::numeric_limits<int>::max();  // clips >= this of older generations are stale
    Clock::time_point start;
  };

  void maybe_finish(std::unique_lock<std::mutex>& lock, uint64_t id) {
    Unit& u = units_.at(id);
    if (u.expected < 0 || u.received < u.expected) return;
    Unit done = std::move(u);
    units_.erase(id);
    lock.unlock();
    write(std::move(done));
  }

  void write(Unit u) {
    Record& r = u.record;
    bool video = r.modality == "video";
    int64_t m = static_cast<int64_t>(u.rows.size());
    FloatArray a(video ? std::vector<int64_t>{m, 5, 768} : std::vector<int64_t>{m, 768});
    size_t per = a.numel() / std::max<int64_t>(m, 1);
    if (video && m > 0) {  // encoder rows are [5*768] per clip already
      a.shape[2] = static_cast<int64_t>(u.rows[0].size() / 5);
      per = u.rows[0].size();
    } else if (m > 0) {
      a.shape[1] = static_cast<int64_t>(u.rows[0].size());
      per = u.rows[0].size();
    }
    a.data.resize(per * m);
    for (int64_t i = 0; i < m; ++i) std::copy(u.rows[i].begin(), u.rows[i].end(), a.data.begin() + i * per);
    r.output = output_name(r.rel_path, r.track_index, r.track_language);
    r.num_clips = m;
    r.shape = a.shape;
    r.dtype = o_.float16_output ? "float16" : "float32";
    r.status = "ok";
    r.wall_s = seconds_since(u.start);
    try {
      std::string root = (fs::path(o_.output_dir) / r.modality).string();
      std::string path = safe_output_path(root, r.output);
      write_npy(path, a, o_.float16_output ? NpyDtype::Float16 : NpyDtype::Float32);
    } catch (const Error& e) {
      record_failure(r, "output", e.message());
      // A full or read-only output file system fails every later output too: stop the run.
      for (int err : {ENOSPC, EDQUOT, EROFS})
        if (e.message().find(std::strerror(err)) != std::string::npos) set_fatal(e.what());
      return;
    }
    append_manifest(r);
    ++progress_->ok;
    spdlog::debug("{}: {} clips -> {}/{}", r.path, m, r.modality, r.output);
  }

  // Every manifest record carries the model id, resolved here: the first call may wait for the
  // model file's hash (computed in the background while the run starts).
  void append_manifest(Record r) {
    const bool video = r.modality == "video";
    try {
      r.model_id = model_id_(video);
    } catch (const std::exception& e) {
      set_fatal(std::string("cannot identify the ") + (video ? "video" : "audio") + " model: " + e.what());
      return;
    }
    append_or_stop(manifest_[video ? 0 : 1], record_to_json(r));
  }

  // A manifest or error log that cannot be appended to (disk full, I/O error) ends the run: the
  // first such error is kept for run_pipeline to throw once the threads have stopped (throwing
  // here would escape a worker or encoder thread).
  void append_or_stop(JsonlAppender* log, const std::string& line) {
    try {
      log->append(line);
    } catch (const Error& e) {
      set_fatal(e.what());
    }
  }
  void set_fatal(const std::string& message) {
    std::lock_guard<std::mutex> lock(fatal_mu_);
    if (fatal_.exchange(true)) return;
    fatal_message_ = message;
    spdlog::error("stopping: {}", message);
  }

 public:
  bool fatal() const { return fatal_.load(); }
  std::string fatal_message() {
    std::lock_guard<std::mutex> lock(fatal_mu_);
    return fatal_message_;
  }

 private:
  std::atomic<bool> fatal_{false};
  std::mutex fatal_mu_;
  std::string fatal_message_;

  const PipelineOptions& o_;
  Progress* progress_;
  JsonlAppender* manifest_[2];
  JsonlAppender* errors_;
  std::function<std::string(bool video)> model_id_;
  std::mutex mu_;
  std::map<uint64_t, Unit> units_;
  uint64_t next_ = 0;
};

std::string model_id_for(const std::string& file_sha256, const PipelineOptions& o, bool video) {
  return model_id(file_sha256, o.output_key_text, video ? kVideoReadRule : 0);
}

void check_expectations(const EncoderInfo& info, const PipelineOptions& o) {
  if (!o.expect_size.empty() && info.size != o.expect_size)
    throw ConfigError("MVIT.SIZE is " + o.expect_size + " but " + info.path + " is size " + info.size);
  if (o.expect_patch_overlap >= 0 && info.patch_overlap != (o.expect_patch_overlap == 1))
    throw ConfigError(std::string("MVIT.PATCH_OVERLAP is ") + (o.expect_patch_overlap ? "True" : "False") + " but " +
                      info.path + " was exported with patch_overlap " + (info.patch_overlap ? "True" : "False"));
}

// Is this job's output already there, from a run with the same model id?
bool already_done(const Job& job, const InputFile& f, const std::map<std::string, std::vector<const Record*>>& by_input,
                  const std::string& model_id, const std::string& out_root) {
  auto it = by_input.find(std::string(to_string(job.modality)) + "\x1f" + f.rel_path);
  if (it == by_input.end()) return false;
  int tracks = 0, total = -1;
  for (const Record* r : it->second) {
    if (job.container_tracks && r->status == "skipped_no_audio")  // a silent container
      return r->size == f.size && r->mtime_ns == f.mtime_ns && r->model_id == model_id;
    bool is_track = r->track_index >= 0;
    if (is_track != job.container_tracks) continue;
    if (r->size != f.size || r->mtime_ns != f.mtime_ns || r->model_id != model_id) return false;
    if (r->status == "ok") {
      if (!output_is_valid((fs::path(out_root) / r->output).string(), r->shape)) return false;
    } else if (r->status != "skipped_short") {
      return false;
    }
    ++tracks;
    total = r->tracks_total;
  }
  if (tracks == 0) return false;
  return !job.container_tracks || tracks == total;
}

class ProgressReporter {
 public:
  ProgressReporter(const PipelineOptions& o, Progress* p) : p_(p), interval_(o.progress_interval_s) {
    tty_ = o.progress_mode == 1 || (o.progress_mode < 0 && ::isatty(STDERR_FILENO));
    start_ = Clock::now();
    thread_ = std::thread([this] { loop(); });
  }
  ~ProgressReporter() { stop(); }
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    cv_.notify_all();
    thread_.join();
    if (tty_) std::fprintf(stderr, "\r%s\n", line().c_str());
  }

 private:
  std::string line() {
    double t = seconds_since(start_);
    int64_t done = p_->jobs_done.load(), total = p_->jobs_total, clips = p_->clips.load();
    double rate = t > 0 ? clips / t : 0;
    std::string eta = "?";
    if (done > 0 && done < total) {
      double s = t / done * (total - done);
      char b[32];
      std::snprintf(b, sizeof b, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
      eta = b;
    } else if (done == total) {
      eta = "0s";
    }
    char buf[256];
    int width = 24;
    int fill = total > 0 ? static_cast<int>(width * done / total) : width;
    std::string bar = std::string(fill, '#') + std::string(width - fill, '.');
    std::snprintf(buf, sizeof buf, "[%s] files %lld/%lld (failed %lld) | clips %lld | %.2f clips/s | ETA %s",
                  bar.c_str(), static_cast<long long>(done), static_cast<long long>(total),
                  static_cast<long long>(p_->failed.load()), static_cast<long long>(clips), rate, eta.c_str());
    return buf;
  }
  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopped_) {
      cv_.wait_for(lock, std::chrono::duration<double>(tty_ ? 0.5 : interval_));
      if (stopped_) break;
      if (tty_) {
        std::fprintf(stderr, "\r%s\x1b[K", line().c_str());
        std::fflush(stderr);
      } else {
        spdlog::info("progress {}", line());
      }
    }
  }
  Progress* p_;
  double interval_;
  bool tty_ = false;
  Clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::thread thread_;
};

// A run killed mid-write (kill -9, power loss) leaves `.tmp.<name>.<n>` files (write_file_atomic)
// next to the outputs. Removes them under `root` (symlinks not followed): every one when this
// process is the only writer (one shard), else only those untouched for an hour (another shard
// may be writing its own right now). Returns how many were removed.
size_t remove_stale_temporaries(const std::string& root, bool sole_writer) {
  size_t removed = 0;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::error_code e2;
    if (!it->is_regular_file(e2) || it->path().filename().string().rfind(".tmp.", 0) != 0) continue;
    if (!sole_writer) {
      const auto t = fs::last_write_time(it->path(), e2);
      if (e2 || now - t < std::chrono::hours(1)) continue;
    }
    if (fs::remove(it->path(), e2)) ++removed;
  }
  return removed;
}

}  // namespace

RunSummary run_pipeline(const PipelineOptions& o, const std::atomic<bool>* stop) {
  auto t0 = Clock::now();
  RunSummary summary;
  auto stopping = [&] { return stop && stop->load(); };

  // Output directory first: a failure here is fatal before any work.
  std::error_code ec;
  fs::create_directories(o.output_dir, ec);
  if (ec) throw Error("output", "cannot create the output directory: " + ec.message(), o.output_dir);
  write_file_atomic((fs::path(o.output_dir) / "config.yaml").string(), o.config_yaml);

  // The model files' sha256 (part of the model id; ~0.6 s per S tower) is computed in the
  // background, both files at once, from here on: it is waited for only where an id is needed
  // (resuming over earlier outputs, writing a manifest record). A failure surfaces there, and
  // only for a modality that has inputs.
  // (Normal priority: building an Encoder waits for its file's hash too.)
  auto hash_async = [](bool wanted, const std::string& path) {
    return wanted && !path.empty() ? std::async(std::launch::async, encoder_file_sha256, path).share()
                                   : std::shared_future<std::string>();
  };
  std::shared_future<std::string> vhash = hash_async(o.discover.use_video, o.encoder.video_model);
  std::shared_future<std::string> ahash = hash_async(o.discover.use_audio, o.encoder.audio_model);

  DiscoverResult found = discover(o.discover, o.media);
  spdlog::info("found {} input files ({} before sharding; shard {}/{} from {})", found.files.size(),
               found.total_before_shard, o.discover.shard_id, o.discover.num_shards, o.shard_source);

  // Jobs in input order.
  std::vector<Job> jobs;
  for (size_t i = 0; i < found.files.size(); ++i) {
    const InputFile& f = found.files[i];
    if (f.is_video_ext && o.discover.use_video) jobs.push_back({i, Modality::Video, false});
    if (f.is_audio_ext && o.discover.use_audio) jobs.push_back({i, Modality::Audio, false});
    if (f.is_container_ext && !f.is_audio_ext && o.discover.use_audio) jobs.push_back({i, Modality::Audio, true});
  }
  bool need_video = false, need_audio = false;
  for (const auto& j : jobs) (j.modality == Modality::Video ? need_video : need_audio) = true;

  // Model identity (cheap: metadata and file hash) for the resume check.
  std::optional<EncoderInfo> vinfo, ainfo;
  if (need_video) {
    if (o.encoder.video_model.empty()) throw ConfigError("MODEL.VIDEO_ENCODER_FILE must name the exported video.pt");
    vinfo = read_encoder_info(o.encoder.video_model, /*hash=*/false);
    if (vinfo->modality != "video") throw ConfigError(o.encoder.video_model + " is not a video encoder");
    check_expectations(*vinfo, o);
  }
  if (need_audio) {
    if (o.encoder.audio_model.empty()) throw ConfigError("MODEL.AUDIO_ENCODER_FILE must name the exported audio.pt");
    ainfo = read_encoder_info(o.encoder.audio_model, /*hash=*/false);
    if (ainfo->modality != "audio") throw ConfigError(o.encoder.audio_model + " is not an audio encoder");
    check_expectations(*ainfo, o);
  }
  // Model ids, resolved once on first use (thread-safe).
  std::once_flag vid_once, aid_once;
  std::string vid, aid;
  auto model_id = [&](bool video) -> std::string {
    std::shared_future<std::string>& h = video ? vhash : ahash;
    if (!(video ? vinfo.has_value() : ainfo.has_value()) || !h.valid()) return "";
    std::call_once(video ? vid_once : aid_once, [&] { (video ? vid : aid) = model_id_for(h.get(), o, video); });
    return video ? vid : aid;
  };

  std::string vroot = (fs::path(o.output_dir) / "video").string(), aroot = (fs::path(o.output_dir) / "audio").string();
  // Resume: drop jobs whose outputs exist and match.
  std::vector<Job> todo;
  if (o.overwrite) {
    todo = jobs;
  } else {
    std::map<std::string, std::vector<Record>> records;
    std::map<std::string, std::vector<const Record*>> by_input;
    for (const auto& [name, root] : {std::pair<std::string, std::string>{"video", vroot}, {"audio", aroot}}) {
      std::vector<std::string> warnings;
      records[name] = read_manifest_dir(root, &warnings);
      for (const auto& w : warnings) spdlog::warn("{}", w);
    }
    for (const auto& [name, recs] : records)
      for (const auto& r : recs) by_input[r.modality + "\x1f" + r.rel_path].push_back(&r);
    for (const auto& j : jobs) {
      bool video = j.modality == Modality::Video;
      // (No earlier records: nothing to compare, no need to wait for the model id.)
      if (!by_input.empty() && already_done(j, found.files[j.file], by_input, model_id(video), video ? vroot : aroot))
        ++summary.resumed;
      else
        todo.push_back(j);
    }
  }
  summary.inputs = static_cast<int64_t>(jobs.size());
  spdlog::info("{} outputs to compute, {} already done", todo.size(), summary.resumed);

  fs::create_directories(vroot, ec);
  fs::create_directories(aroot, ec);
  for (const auto& root : {vroot, aroot}) {
    if (size_t n = remove_stale_temporaries(root, o.discover.num_shards <= 1))
      spdlog::info("removed {} leftover temporary file(s) of an interrupted run under {}", n, root);
  }
  JsonlAppender vman((fs::path(vroot) / manifest_name(o.discover.shard_id, o.discover.num_shards)).string());
  JsonlAppender aman((fs::path(aroot) / manifest_name(o.discover.shard_id, o.discover.num_shards)).string());
  JsonlAppender errors((fs::path(o.output_dir) / errors_name(o.discover.shard_id, o.discover.num_shards)).string());

  Progress progress;
  progress.jobs_total = static_cast<int64_t>(todo.size());
  Assembler assembler(o, &progress, &vman, &aman, &errors, model_id);
  for (const auto& p : found.problems) {
    spdlog::error("{}: [discover] {}", p.path, p.message);
    errors.append(error_to_json(p.path, "", "discover", p.message));
    ++progress.failed;
  }

  bool todo_video = false, todo_audio = false;
  for (const auto& j : todo) (j.modality == Modality::Video ? todo_video : todo_audio) = true;

  // Encoders: one replica per CUDA device in use (CPU: one). Each tower loads in a thread of its
  // own, started after the decode workers (below): loading overlaps the first decodes and the
  // other tower's load, and an encoder loop waits only for the tower its first batch needs.
  using EncoderFuture = std::shared_future<std::shared_ptr<Encoder>>;
  struct Replica {
    EncoderFuture video, audio;
  };
  std::vector<Replica> replicas;
  int n_replicas = 0;
  bool cuda = false;
  if (!todo.empty()) {
    n_replicas = 1;
    cuda = o.encoder.device != "cpu" && cuda_device_count() > 0;
    if (cuda && (o.encoder.device == "auto" || o.encoder.device == "cuda"))
      n_replicas = std::max(1, std::min(o.encoder.num_gpus, cuda_device_count()));
    if (!cuda) spdlog::info("running on CPU: one encoder replica (DIST.NUM_GPUS applies to CUDA devices)");
  }

  // Clip queues (clip tensors: 48 MB per video clip). CPU micro-batch runs take clips as they
  // come and keep enough video clips queued for two rounds of the encoder's lanes (5 crops a
  // clip; 2 clips on up to 5 lanes): a video clip is seconds of forwards there. Whole-batch runs
  // (CUDA) keep a batch per replica of video and four of audio.
  const bool cpu_micro = !cuda && o.encoder.cpu_micro_batch > 0;
  size_t batch = static_cast<size_t>(o.encoder.batch_size);
  const size_t nrep = static_cast<size_t>(std::max(n_replicas, 1));
  const int threads = o.encoder.threads > 0 ? o.encoder.threads : available_cpus();
  const int lanes_wanted = o.encoder.cpu_lanes > 0 ? std::min(o.encoder.cpu_lanes, threads) : threads;
  const auto lanes = static_cast<size_t>(std::max(1, lanes_wanted));
  const size_t cpu_video_cap = 2 * ((lanes + 4) / 5);
  ClipQueue queue(cpu_micro ? cpu_video_cap : std::max<size_t>(batch * nrep, 2), std::max<size_t>(4 * batch * nrep, 8),
                  cpu_micro);
  ProgressReporter reporter(o, &progress);

  // Decode workers.
  std::atomic<size_t> next_job{0};
  std::atomic<bool> encoder_failed{false};
  auto worker = [&] {
    // On CPU runs the decode workers share the cores with the encoder's lanes, the bottleneck of
    // such a run once a few clips are queued. Workers therefore run at a lower priority
    // (RUNTIME.WORKER_NICE, default +10, this thread only; FFmpeg's and OpenMP's threads started
    // from it inherit it): the encoder preempts them, and they still get every cycle it leaves
    // idle, so a decode-bound run loses nothing.
    if (!cuda) lower_thread_priority(o.worker_nice);
    std::optional<AudioTransform> audio_tf;
    std::optional<VideoTransform> video_tf;
    for (;;) {
      if (stopping() || encoder_failed || assembler.fatal()) break;
      size_t k = next_job.fetch_add(1);
      if (k >= todo.size()) break;
      const Job& job = todo[k];
      const InputFile& f = found.files[job.file];
      Record base;
      base.modality = to_string(job.modality);
      base.path = f.path;
      base.rel_path = f.rel_path;
      base.size = f.size;
      base.mtime_ns = f.mtime_ns;
      if (job.modality == Modality::Video) {
        if (!video_tf) video_tf.emplace(o.video);
        uint64_t unit = assembler.begin(base);
        int queued = 0, generation = 0;
        try {
          auto on_clip = [&](VideoClipFrames&& clip) {
            ClipItem item{unit, clip.index, generation, (*video_tf)(clip.frames, clip.width, clip.height)};
            if (assembler.fatal() || !queue.push(Modality::Video, std::move(item))) throw RunAborted{};
            ++queued;
            ++progress.clips_planned;
          };
          auto on_restart = [&](int first) {  // the decoded frames gave another plan
            if (queued > first) progress.clips_planned -= queued - first;
            queued = std::min(queued, first);
            generation = assembler.withdraw(unit, first);
          };
          VideoFileResult res = decode_video_clips(f.path, o.video, o.media, on_clip, on_restart);
          if (res.decode_errors > 0)
            spdlog::warn("{}: {} packet(s) could not be decoded (the release would skip this file)", f.path,
                         res.decode_errors);
          if (res.skipped_short) {
            base.fps = res.avg_fps;
            base.timestamps = res.timestamp_source;
            assembler.skipped_short(unit, base);
          } else {
            assembler.update(unit, [&](Record& r) {
              r.fps = res.avg_fps;
              r.timestamps = res.timestamp_source;
              for (const auto& [a, b] : res.ranges) r.ranges.push_back({a, b});
            });
            assembler.end(unit, queued);
          }
        } catch (const RunAborted&) {
          break;
        } catch (const Error& e) {
          assembler.fail(unit, e.stage(), e.message());
        } catch (const std::exception& e) {
          assembler.fail(unit, "decode", e.what());
        }
      } else {
        if (!audio_tf) audio_tf.emplace(o.audio);
        std::vector<int> streams{-1};
        std::vector<std::string> langs{""};
        if (job.container_tracks) {
          streams.clear();
          langs.clear();
          try {
            MediaInfo info = probe_media(f.path, o.media);
            for (const auto& s : info.streams)
              if (s.type == "audio") {
                streams.push_back(s.index);
                langs.push_back(s.language);
              }
          } catch (const Error& e) {
            Record r = base;
            r.track_index = -1;
            assembler.record_failure(r, e.stage(), e.message());
            ++progress.jobs_done;
            continue;
          }
          if (streams.empty()) {  // a silent video: nothing to embed, not an error
            spdlog::info("{}: no audio track to embed", base.path);
            assembler.skipped(base, "skipped_no_audio");
            ++progress.jobs_done;
            continue;
          }
        }
        for (size_t t = 0; t < streams.size(); ++t) {
          Record b = base;
          if (job.container_tracks) {
            b.track_index = streams[t];
            b.track_language = langs[t];
            b.tracks_total = static_cast<int>(streams.size());
          }
          uint64_t unit = assembler.begin(b);
          int queued = 0;
          try {
            AudioFileResult res = decode_audio_clips(f.path, streams[t], o.audio, o.media, [&](AudioClipSamples&& clip) {
              ClipItem item{unit, clip.index, 0, (*audio_tf)(clip.mono, clip.sample_rate)};
              if (assembler.fatal() || !queue.push(Modality::Audio, std::move(item))) throw RunAborted{};
              ++queued;
              ++progress.clips_planned;
            });
            if (res.skipped_short) {
              b.sample_rate = res.sample_rate;
              assembler.skipped_short(unit, b);
            } else {
              assembler.update(unit, [&](Record& r) {
                r.sample_rate = res.sample_rate;
                for (const auto& [a, e] : res.ranges)
                  r.ranges.push_back({static_cast<double>(a) / res.sample_rate,
                                      static_cast<double>(e) / res.sample_rate, a, e});
              });
              assembler.end(unit, queued);
            }
          } catch (const RunAborted&) {
            return;
          } catch (const Error& e) {
            assembler.fail(unit, e.stage(), e.message());
          } catch (const std::exception& e) {
            assembler.fail(unit, "decode", e.what());
          }
        }
      }
      ++progress.jobs_done;
    }
  };

  // Encoder loops, one per replica.
  std::string fatal;
  std::mutex fatal_mu;
  std::mutex encode_time_mu;
  auto encode_loop = [&](Replica* rep) {
    std::vector<ClipItem> items;
    Modality m;
    while (queue.pop_batch(batch, &m, &items)) {
      Encoder* enc = nullptr;
      try {
        enc = (m == Modality::Video ? rep->video : rep->audio).get().get();
      } catch (...) {  // the tower could not be loaded: run_pipeline reports it after the joins
        encoder_failed = true;
        queue.abort();
        return;
      }
      std::vector<const FloatArray*> ptrs;
      for (const auto& it : items) ptrs.push_back(&it.tensor);
      FloatArray out;
      bool ok = true;
      try {
        const auto tf = Clock::now();
        out = enc->forward(ptrs);
        const double dt = seconds_since(tf);
        std::lock_guard<std::mutex> lock(encode_time_mu);
        summary.encode_s[m == Modality::Video ? 0 : 1] += dt;
      } catch (const Error& e) {  // this batch's inputs (a shape the model refuses, ...)
        for (const auto& it : items) assembler.fail(it.unit, e.stage(), e.message());
        ok = false;
      } catch (const std::exception& e) {
        // Out of memory and other runtime failures of the device stop the run.
        std::lock_guard<std::mutex> lock(fatal_mu);
        fatal = e.what();
        encoder_failed = true;
        queue.abort();
        return;
      }
      if (ok) {
        try {  // assembling and writing record their own per-input errors; this is memory exhaustion
          size_t rows_per_clip = m == Modality::Video ? 5 : 1;
          size_t width = static_cast<size_t>(out.shape.back());
          for (size_t i = 0; i < items.size(); ++i)
            assembler.add(items[i].unit, items[i].clip, items[i].generation,
                          out.data.data() + i * rows_per_clip * width, rows_per_clip * width);
          progress.clips += static_cast<int64_t>(items.size());
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(fatal_mu);
          fatal = std::string("while assembling outputs: ") + e.what();
          encoder_failed = true;
          queue.abort();
          return;
        }
      }
      if (assembler.fatal()) {  // the output is unusable (disk full): stop taking work
        queue.abort();
        return;
      }
    }
  };

  std::vector<std::thread> encoders, workers;
  // Decode workers: DIST.NUM_WORKERS, at most one per job, and on CPU runs at most one per CPU
  // (the encoder's threads use the same cores; more workers only hold more frames and clips).
  size_t nworkers = std::max<size_t>(1, std::min<size_t>(o.num_workers, todo.size()));
  if (!cuda) nworkers = std::min<size_t>(nworkers, static_cast<size_t>(std::max(available_cpus(), 1)));
  if (!todo.empty())
    for (size_t i = 0; i < nworkers; ++i) workers.emplace_back(worker);
  auto load = [&](const std::string& path, int dev) {
    return std::async(std::launch::async, [&o, path, dev] { return std::make_shared<Encoder>(path, o.encoder, dev); })
        .share();
  };
  for (int r = 0; r < n_replicas; ++r) {
    Replica rep;
    const int dev = n_replicas > 1 ? r : -1;
    if (todo_video) rep.video = load(o.encoder.video_model, dev);
    if (todo_audio) rep.audio = load(o.encoder.audio_model, dev);
    replicas.push_back(std::move(rep));
  }
  for (auto& rep : replicas) encoders.emplace_back(encode_loop, &rep);
  // A tower that cannot be loaded stops the run at once (its error is rethrown below).
  std::exception_ptr load_error;
  for (auto& rep : replicas)
    for (EncoderFuture* f : {&rep.video, &rep.audio}) {
      if (!f->valid() || load_error) continue;
      try {
        f->get();
      } catch (...) {
        load_error = std::current_exception();
        encoder_failed = true;
        queue.abort();
      }
    }
  summary.models_ready_s = seconds_since(t0);
  if (!load_error && !replicas.empty()) {
    const Replica& r0 = replicas[0];
    const EncoderInfo& first = r0.video.valid() ? r0.video.get()->info() : r0.audio.get()->info();
    spdlog::info("encoders on {} ({}), batch {}, {} decode worker(s)", first.device, first.precision,
                 o.encoder.batch_size, nworkers);
  }
  for (auto& t : workers) t.join();
  queue.producers_finished();
  for (auto& t : encoders) t.join();
  reporter.stop();
  if (load_error) std::rethrow_exception(load_error);
  if (encoder_failed) throw Error("encode", "the encoder failed: " + fatal);
  if (assembler.fatal()) throw Error("output", "run stopped, the output cannot be written: " + assembler.fatal_message());

  summary.ok = progress.ok;
  summary.failed = progress.failed;
  summary.skipped_short = progress.skipped;
  summary.clips = progress.clips;
  summary.interrupted = stopping() && next_job.load() < todo.size();
  summary.wall_s = seconds_since(t0);
  return summary;
}

}  // namespace lssd
