#include "lssd/pipeline.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "lssd/audio_transform.h"
#include "lssd/discover.h"
#include "lssd/encoder.h"
#include "lssd/error.h"
#include "lssd/media.h"
#include "lssd/npy.h"
#include "lssd/output.h"
#include "lssd/pipeline/assembler.h"
#include "lssd/pipeline/clip_queue.h"
#include "lssd/pipeline/job_plan.h"
#include "lssd/pipeline/replicas.h"
#include "lssd/progress.h"
#include "lssd/video_transform.h"

namespace lssd {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string RunSummary::line() const {
  char head[256];
  std::snprintf(head, sizeof head, "done: %lld outputs = %lld written + %lld already done + %lld too short",
                static_cast<long long>(outputs), static_cast<long long>(written), static_cast<long long>(resumed),
                static_cast<long long>(skipped_short));
  std::string s = head;
  auto add = [&](int64_t n, const char* what) {
    if (n > 0) s += " + " + std::to_string(n) + " " + what;
  };
  add(no_audio, "without audio");
  add(failed, "failed");
  add(not_started, "not started");
  if (discover_problems > 0) s += "; " + std::to_string(discover_problems) + " unreadable path(s)";
  char tail[128];
  std::snprintf(tail, sizeof tail, "; %lld clips in %.1f s (%.2f clips/s)", static_cast<long long>(clips), wall_s,
                wall_s > 0 ? static_cast<double>(clips) / wall_s : 0.0);
  return s + tail;
}

std::string RunSummary::legend() {
  return "counts: an output per input file and modality (each audio track of a container once found); written = "
         "embedded by this run; already done = kept from an earlier run; too short = fewer than 2 timestamps or "
         "samples, skipped as the release skips them; without audio = a container with no audio track; failed = "
         "listed in errors.jsonl; not started = left for a rerun";
}

std::string RunSummary::devices_line() const {
  if (devices.empty()) return "";
  std::string s = "devices:";
  for (size_t i = 0; i < devices.size(); ++i) {
    const DeviceSummary& d = devices[i];
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s %s %lld clips, busy %.0f%%", i ? ";" : "", d.device.c_str(),
                  static_cast<long long>(d.clips), wall_s > 0 ? 100.0 * d.busy_s / wall_s : 0.0);
    s += buf;
  }
  return s;
}

std::string RunSummary::workers_line() const {
  if (decode_workers <= 0) return "";
  char buf[96];
  std::snprintf(buf, sizeof buf, "decode workers: %d, busy %.0f%%", decode_workers,
                wall_s > 0 ? 100.0 * decode_busy_s / (decode_workers * wall_s) : 0.0);
  return buf;
}

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

// Test hook: with LSSD_TEST_HOLD=<stage> (towers | decode | encode) the run stops at that stage
// once, says so on stderr, and waits there until a stop is requested; with <stage>:stuck it goes
// on waiting after that too (so that a second signal finds it busy). At most 10 minutes either
// way. Lets tests interrupt a run in a known stage without relying on timing.
void test_hold(const char* stage, const std::atomic<bool>& stop) {
  static std::once_flag once;
  const char* env = std::getenv("LSSD_TEST_HOLD");
  if (!env) return;
  const std::string want(env), name(stage);
  const bool stuck = want == name + ":stuck";
  if (want != name && !stuck) return;
  std::call_once(once, [&] {
    spdlog::warn("test hook: holding in {} until a stop is requested{}", stage, stuck ? " (and after)" : "");
    const auto until = Clock::now() + std::chrono::minutes(10);
    while ((stuck || !stop.load()) && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  });
}

// Test hook: LSSD_TEST_CPU_REPLICAS=N runs a CPU run on N encoder replicas (pseudo-devices
// cpu#0..), which share the decode workers as CUDA replicas do: the multi-device scheduling and
// its per-device summary, tested without GPUs. Otherwise 1.
int cpu_replicas_for_tests() {
  const char* env = std::getenv("LSSD_TEST_CPU_REPLICAS");
  const int n = env ? std::atoi(env) : 1;
  return std::clamp(n, 1, 16);
}

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

// Reads an encoder's metadata and checks it against the config (cheap: no TorchScript load).
std::optional<EncoderInfo> encoder_info(bool needed, const std::string& file, const char* modality, const char* key,
                                        const PipelineOptions& o) {
  if (!needed) return std::nullopt;
  if (file.empty()) throw ConfigError(std::string(key) + " must name the exported " + modality + ".pt");
  EncoderInfo info = read_encoder_info(file, /*hash=*/false);
  if (info.modality != modality)
    throw ConfigError(file + " is not a" + (modality[0] == 'a' ? "n " : " ") + modality + " encoder");
  check_expectations(info, o);
  return info;
}

// Everything one run shares between its threads.
class Run {
 public:
  Run(const PipelineOptions& o, RunControl* control)
      : o_(o), control_(control ? control : &own_control_), media_(o.media) {}
  RunSummary go();

 private:
  bool stopping() const { return control_->stop.load(); }
  void plan_jobs();
  void resume_check();
  void open_outputs();
  void start_encoders();
  void wait_for_towers();
  void worker();
  void process(size_t k);
  void process_video(size_t k, const Record& base);
  void process_audio(size_t k, const Record& base);
  void process_track(size_t k, Record rec, int stream);
  template <class Clip, class Decode, class Transform>
  bool embed(size_t k, Modality m, uint64_t* unit, Decode&& decode, Transform&& transform);
  void encode_loop(size_t replica);
  void fail_encoder(const std::string& why);

  const PipelineOptions& o_;
  RunControl own_control_;
  RunControl* control_;
  MediaOptions media_;  // o_.media with MEDIA.DECODE_THREADS 0 resolved
  Clock::time_point t0_ = Clock::now();
  RunSummary summary_;
  Tally tally_;

  DiscoverResult found_;
  std::vector<Job> jobs_, todo_;
  std::optional<EncoderInfo> vinfo_, ainfo_;
  std::once_flag vid_once_, aid_once_;
  std::string vid_, aid_;
  std::string model_id(bool video);

  std::unique_ptr<JsonlAppender> vman_, aman_, errors_;
  std::unique_ptr<Assembler> assembler_;
  std::unique_ptr<EtaEstimator> eta_;
  std::unique_ptr<ClipQueue> queue_;

  using EncoderFuture = std::shared_future<std::shared_ptr<Encoder>>;
  struct Replica {
    EncoderFuture video, audio;
    DeviceSummary done;  // its clips and forward time (under fatal_mu_)
  };
  ReplicaPlan plan_;
  std::vector<Replica> replicas_;
  bool cuda_ = false;
  size_t batch_ = 1;
  std::atomic<size_t> next_job_{0};
  static thread_local double worker_wait_s_;  // this decode worker's time blocked in ClipQueue::push
  std::mutex workers_mu_;
  double workers_busy_s_ = 0;  // decode workers' wall time in their jobs, less the time blocked in push
  std::atomic<bool> encoder_failed_{false};
  std::mutex fatal_mu_;
  std::string fatal_;
  std::exception_ptr load_error_;
};

// The model id of a tower, computed once, when first needed (the resume check, a manifest
// record): it waits for the model file's sha256 (libcrypto: ~0.2 s for an S tower; shared with
// the tower's own load, encoder_file_sha256 hashes each file once).
std::string Run::model_id(bool video) {
  const std::optional<EncoderInfo>& info = video ? vinfo_ : ainfo_;
  if (!info) return "";
  std::call_once(video ? vid_once_ : aid_once_,
                 [&] { (video ? vid_ : aid_) = model_id_for(encoder_file_sha256(info->path), o_, video); });
  return video ? vid_ : aid_;
}

// Inputs, jobs and the encoder files' metadata: every check that can stop the run happens here,
// before OUTPUT_DIR is created.
void Run::plan_jobs() {
  found_ = discover(o_.discover, o_.media);
  spdlog::info("found {} input files ({} before sharding; shard {}/{} from {})", found_.files.size(),
               found_.total_before_shard, o_.discover.shard_id, o_.discover.num_shards, o_.shard_source);
  const std::string note = ignored_media_note(found_, o_.discover);
  if (!note.empty()) spdlog::warn("{}", note);
  jobs_ = make_jobs(found_, o_.discover);
  if (jobs_.empty()) {
    const std::string where =
        o_.discover.file_list.empty() ? "under " + o_.discover.data_dir : "in the list " + o_.discover.file_list;
    spdlog::warn(
        "nothing to embed: no input file {} matches the extension lists ({}{})", where,
        describe_extension_lists(o_.discover),
        o_.discover.use_video && o_.discover.use_audio ? "" : "; DATA.USE_VIDEO/USE_AUDIO limit the modalities");
  }
  bool need_video = false, need_audio = false;
  for (const auto& j : jobs_) (j.modality == Modality::Video ? need_video : need_audio) = true;
  vinfo_ = encoder_info(need_video, o_.encoder.video_model, "video", "MODEL.VIDEO_ENCODER_FILE", o_);
  ainfo_ = encoder_info(need_audio, o_.encoder.audio_model, "audio", "MODEL.AUDIO_ENCODER_FILE", o_);
  if (!jobs_.empty())  // a DIST.NUM_GPUS index that is not visible stops the run here (exit 2)
    plan_ = plan_replicas(o_.encoder, o_.encoder.device == "cpu" ? 0 : cuda_device_count(), cpu_replicas_for_tests());
}

// Resume: drops jobs whose outputs exist and match; says when earlier outputs of another model
// (or dtype) will be recomputed.
void Run::resume_check() {
  if (o_.overwrite) {
    todo_ = jobs_;
    return;
  }
  std::vector<std::string> warnings;
  const std::string dtype = o_.float16_output ? "float16" : "float32";
  ResumePlan plan = plan_resume(
      jobs_, found_.files, o_.output_dir, [this](bool video) { return model_id(video); }, dtype, &warnings);
  for (const auto& w : warnings) spdlog::warn("{}", w);
  todo_ = std::move(plan.todo);
  summary_.resumed = plan.resumed;
  if (plan.other_model[0] + plan.other_model[1] > 0)
    spdlog::warn(
        "OUTPUT_DIR {} holds outputs of another model id for {} video and {} audio input(s){}: they will "
        "be recomputed with this model ({}) and replace them (use another OUTPUT_DIR to keep both)",
        o_.output_dir, plan.other_model[0], plan.other_model[1],
        plan.other_dtype > 0 ? " (" + std::to_string(plan.other_dtype) + " in another dtype than " + dtype + ")" : "",
        "video " + (vinfo_ ? model_id(true) : std::string("-")) + ", audio " +
            (ainfo_ ? model_id(false) : std::string("-")));
}

void Run::open_outputs() {
  std::error_code ec;
  fs::create_directories(o_.output_dir, ec);
  if (ec) throw Error("output", "cannot create the output directory: " + ec.message(), o_.output_dir);
  write_file_atomic((fs::path(o_.output_dir) / "config.yaml").string(), o_.config_yaml);
  const int shard = o_.discover.shard_id, shards = o_.discover.num_shards;
  for (const char* m : {"video", "audio"}) {
    const std::string root = (fs::path(o_.output_dir) / m).string();
    fs::create_directories(root, ec);
    if (size_t n = remove_stale_temporaries(root, shards <= 1))
      spdlog::info("removed {} leftover temporary file(s) of an interrupted run under {}", n, root);
  }
  // errors.jsonl keeps one entry per failed input: entries of the inputs this run looks at go
  // (they are logged again if they fail again).
  const std::string errors_path = (fs::path(o_.output_dir) / errors_name(shard, shards)).string();
  std::set<std::string> looked_at;
  for (const auto& f : found_.files) looked_at.insert(f.path);
  for (const auto& p : found_.problems) looked_at.insert(p.path);
  prune_error_log(errors_path, [&](const std::string& path) { return looked_at.count(path) > 0; });
  vman_ = std::make_unique<JsonlAppender>((fs::path(o_.output_dir) / "video" / manifest_name(shard, shards)).string());
  aman_ = std::make_unique<JsonlAppender>((fs::path(o_.output_dir) / "audio" / manifest_name(shard, shards)).string());
  errors_ = std::make_unique<JsonlAppender>(errors_path);
  for (const auto& p : found_.problems) {
    spdlog::error("{}: [discover] {}", p.path, p.message);
    errors_->append(error_to_json(p.path, "", "discover", p.message));
  }
  summary_.discover_problems = static_cast<int64_t>(found_.problems.size());
}

void Run::fail_encoder(const std::string& why) {
  std::lock_guard<std::mutex> lock(fatal_mu_);
  if (fatal_.empty()) fatal_ = why;
  encoder_failed_ = true;
  queue_->abort();
}

// Encoders: one replica per device of the plan (plan_replicas: DIST.NUM_GPUS's CUDA devices, or
// the CPU). Each tower loads in a thread of its own, started after the decode workers: loading
// overlaps the first decodes and the other tower's load, and an encoder loop waits only for the
// tower its first batch needs.
void Run::start_encoders() {
  cuda_ = plan_.cuda;
  if (!plan_.note.empty()) spdlog::info("{}", plan_.note);
  bool todo_video = false, todo_audio = false;
  for (const auto& j : todo_) (j.modality == Modality::Video ? todo_video : todo_audio) = true;
  auto load = [this](const std::string& path, int dev) {
    return std::async(std::launch::async,
                      [this, path, dev] {
                        test_hold("towers", control_->stop);
                        return std::make_shared<Encoder>(path, o_.encoder, dev);
                      })
        .share();
  };
  for (size_t r = 0; r < plan_.size(); ++r) {
    Replica rep;
    rep.done.device = plan_.label[r];
    if (todo_video) rep.video = load(o_.encoder.video_model, plan_.device_index[r]);
    if (todo_audio) rep.audio = load(o_.encoder.audio_model, plan_.device_index[r]);
    replicas_.push_back(std::move(rep));
  }
}

// A tower that cannot be loaded stops the run at once (its error is rethrown by go()).
void Run::wait_for_towers() {
  for (auto& rep : replicas_)
    for (EncoderFuture* f : {&rep.video, &rep.audio}) {
      if (!f->valid() || load_error_) continue;
      try {
        f->get();
      } catch (...) {
        load_error_ = std::current_exception();
        encoder_failed_ = true;
        queue_->abort();
      }
    }
  summary_.models_ready_s = seconds_since(t0_);
}

// Decodes one output's clips, transforms and queues them; records the result. Returns false
// when the run is aborting (the worker stops).
template <class Clip, class Decode, class Transform>
bool Run::embed(size_t k, Modality m, uint64_t* unit, Decode&& decode, Transform&& transform) {
  int queued = 0, generation = 0;
  ClipSink<Clip> sink;
  sink.planned = [&](int clips) { eta_->planned(k, clips); };
  sink.clip = [&](Clip&& clip) {
    test_hold("decode", control_->stop);
    ClipItem item{*unit, k, clip.index, generation, transform(clip)};
    if (assembler_->fatal()) throw RunAborted{};
    const auto tq = Clock::now();
    const bool queued_ok = queue_->push(m, std::move(item));
    worker_wait_s_ += seconds_since(tq);  // blocked on a full queue: not busy
    if (!queued_ok) throw RunAborted{};
    ++queued;
    eta_->delivered(k, 1);
  };
  sink.withdraw = [&](int first) {  // the decoded frames gave another plan
    eta_->delivered(k, -std::max(0, queued - first));
    queued = std::min(queued, first);
    generation = assembler_->withdraw(*unit, first);
  };
  try {
    decode(sink, queued);
  } catch (const RunAborted&) {
    return false;
  } catch (const Error& e) {
    assembler_->fail(*unit, e.stage(), e.message());
  } catch (const std::exception& e) {
    assembler_->fail(*unit, "decode", e.what());
  }
  return true;
}

void Run::process_video(size_t k, const Record& base) {
  std::optional<VideoTransform> tf;
  uint64_t unit = assembler_->begin(base);
  embed<VideoClipFrames>(
      k, Modality::Video, &unit,
      [&](const ClipSink<VideoClipFrames>& sink, const int& queued) {
        VideoFileResult res = decode_video_clips(found_.files[todo_[k].file].path, o_.video, media_, sink);
        if (res.decode_errors > 0)
          spdlog::warn("{}: {} packet(s) could not be decoded (the release would skip this file)", base.path,
                       res.decode_errors);
        Record r = base;
        r.fps = res.avg_fps;
        r.timestamps = res.timestamp_source;
        if (res.skipped_short) return assembler_->skipped_short(unit, r);
        assembler_->update(unit, [&](Record& rec) {
          rec.fps = res.avg_fps;
          rec.timestamps = res.timestamp_source;
          for (const auto& [a, b] : res.ranges) rec.ranges.push_back({a, b});
        });
        assembler_->end(unit, queued);
      },
      [&](const VideoClipFrames& c) {
        if (!tf) tf.emplace(o_.video);
        return (*tf)(c.frames, c.width, c.height);
      });
}

void Run::process_track(size_t k, Record rec, int stream) {
  std::optional<AudioTransform> tf;
  uint64_t unit = assembler_->begin(rec);
  embed<AudioClipSamples>(
      k, Modality::Audio, &unit,
      [&](const ClipSink<AudioClipSamples>& sink, const int& queued) {
        AudioFileResult res = decode_audio_clips(rec.path, stream, o_.audio, media_, sink);
        rec.sample_rate = res.sample_rate;
        if (res.skipped_short) return assembler_->skipped_short(unit, rec);
        assembler_->update(unit, [&](Record& r) {
          r.sample_rate = res.sample_rate;
          for (const auto& [a, e] : res.ranges)
            r.ranges.push_back(
                {static_cast<double>(a) / res.sample_rate, static_cast<double>(e) / res.sample_rate, a, e});
        });
        assembler_->end(unit, queued);
      },
      [&](const AudioClipSamples& c) {
        if (!tf) tf.emplace(o_.audio);
        return (*tf)(c.mono, c.sample_rate);
      });
}

void Run::process_audio(size_t k, const Record& base) {
  if (!todo_[k].container_tracks) return process_track(k, base, -1);
  std::vector<std::pair<int, std::string>> tracks;  // stream index, language
  try {
    for (const auto& s : probe_media(base.path, media_).streams)
      if (s.type == "audio") tracks.emplace_back(s.index, s.language);
  } catch (const Error& e) {
    assembler_->record_failure(base, e.stage(), e.message());
    return;
  }
  if (tracks.empty()) return assembler_->no_audio(base);  // a silent video: not an error
  for (const auto& [stream, language] : tracks) {
    if (encoder_failed_ || assembler_->fatal()) return;
    Record r = base;
    r.track_index = stream;
    r.track_language = language;
    r.tracks_total = static_cast<int>(tracks.size());
    process_track(k, r, stream);
  }
}

void Run::process(size_t k) {
  const Job& job = todo_[k];
  const InputFile& f = found_.files[job.file];
  Record base;
  base.modality = job.modality;
  base.path = f.path;
  base.rel_path = f.rel_path;
  base.size = f.size;
  base.mtime_ns = f.mtime_ns;
  if (job.modality == Modality::Video)
    process_video(k, base);
  else
    process_audio(k, base);
  eta_->ended(k);
}

thread_local double Run::worker_wait_s_ = 0;

void Run::worker() {
  // On CPU runs the decode workers share the cores with the encoder's lanes, the bottleneck of
  // such a run once a few clips are queued. Workers therefore run at a lower priority
  // (RUNTIME.WORKER_NICE, default +10, this thread only; FFmpeg's and OpenMP's threads started
  // from it inherit it): the encoder preempts them, and they still get every cycle it leaves
  // idle, so a decode-bound run loses nothing.
  if (!cuda_) lower_thread_priority(o_.worker_nice);
  worker_wait_s_ = 0;
  double in_jobs = 0;
  for (;;) {
    if (stopping() || encoder_failed_ || assembler_->fatal()) break;
    const size_t k = next_job_.fetch_add(1);
    if (k >= todo_.size()) break;
    const auto t = Clock::now();
    process(k);
    in_jobs += seconds_since(t);
  }
  std::lock_guard<std::mutex> lock(workers_mu_);
  workers_busy_s_ += std::max(0.0, in_jobs - worker_wait_s_);
}

void Run::encode_loop(size_t replica) {
  std::vector<ClipItem> items;
  Modality m;
  while (queue_->pop_batch(batch_, &m, &items)) {
    Encoder* enc = nullptr;
    try {
      enc = (m == Modality::Video ? replicas_[replica].video : replicas_[replica].audio).get().get();
    } catch (...) {  // the tower could not be loaded: wait_for_towers has its error
      encoder_failed_ = true;
      queue_->abort();
      return;
    }
    std::vector<const FloatArray*> ptrs;
    for (const auto& it : items) ptrs.push_back(&it.tensor);
    FloatArray out;
    try {
      const auto tf = Clock::now();
      out = enc->forward(ptrs);
      const double dt = seconds_since(tf);
      std::lock_guard<std::mutex> lock(fatal_mu_);
      summary_.encode_s[m == Modality::Video ? 0 : 1] += dt;
      replicas_[replica].done.busy_s += dt;
    } catch (const Error& e) {  // this batch's inputs (a shape the model refuses, ...)
      for (const auto& it : items) assembler_->fail(it.unit, e.stage(), e.message());
      continue;
    } catch (const std::exception& e) {  // out of memory and other device failures stop the run
      return fail_encoder(e.what());
    }
    test_hold("encode", control_->stop);
    try {  // assembling and writing record their own per-input errors; this is memory exhaustion
      const size_t rows_per_clip = m == Modality::Video ? 5 : 1;
      const auto width = static_cast<size_t>(out.shape.back());
      for (size_t i = 0; i < items.size(); ++i) {
        assembler_->add(items[i].unit, items[i].clip, items[i].generation, out.data.data() + i * rows_per_clip * width,
                        rows_per_clip * width);
        eta_->clips_done(items[i].job, 1);
      }
      tally_.clips += static_cast<int64_t>(items.size());
      std::lock_guard<std::mutex> lock(fatal_mu_);
      replicas_[replica].done.clips += static_cast<int64_t>(items.size());
    } catch (const std::exception& e) {
      return fail_encoder(std::string("while assembling outputs: ") + e.what());
    }
    if (assembler_->fatal()) {  // the output is unusable (disk full): stop taking work
      queue_->abort();
      return;
    }
  }
}

RunSummary Run::go() {
  plan_jobs();
  resume_check();
  summary_.outputs = static_cast<int64_t>(todo_.size()) + summary_.resumed;  // tracks are added as found
  open_outputs();
  spdlog::info("{} outputs to compute, {} already done", todo_.size(), summary_.resumed);

  std::vector<EtaEstimator::Input> sizes;
  for (const auto& j : todo_) sizes.push_back({found_.files[j.file].size, j.modality == Modality::Video});
  eta_ = std::make_unique<EtaEstimator>(std::move(sizes));
  assembler_ = std::make_unique<Assembler>(o_, &tally_, &control_->in_flight, vman_.get(), aman_.get(), errors_.get(),
                                           [this](bool video) { return model_id(video); });
  if (!todo_.empty()) start_encoders();

  // Clip queues (clip tensors: 48 MB per video clip). CPU micro-batch runs take clips as they
  // come and keep enough video clips queued for two rounds of the encoder's lanes (5 crops a
  // clip; 2 clips on up to 5 lanes): a video clip is seconds of forwards there. Whole-batch runs
  // (CUDA) keep a batch per replica of video and four of audio. Several CPU replicas (pseudo-devices)
  // get the CPU allowance each.
  const bool cpu_micro = !cuda_ && o_.encoder.cpu_micro_batch > 0;
  batch_ = static_cast<size_t>(o_.encoder.batch_size);
  const size_t nrep = std::max<size_t>(replicas_.size(), 1);
  const int threads = o_.encoder.threads > 0 ? o_.encoder.threads : available_cpus();
  const int lanes_wanted = o_.encoder.cpu_lanes > 0 ? std::min(o_.encoder.cpu_lanes, threads) : threads;
  const auto lanes = static_cast<size_t>(std::max(1, lanes_wanted));
  queue_ = std::make_unique<ClipQueue>(cpu_micro ? 2 * ((lanes + 4) / 5) * nrep : std::max<size_t>(batch_ * nrep, 2),
                                       std::max<size_t>(4 * batch_ * nrep, 8), cpu_micro);
  ProgressReporter reporter(eta_.get(), o_.progress_interval_s, o_.progress_mode,
                            [this] { return tally_.failed.load(); });

  // Decode workers: DIST.NUM_WORKERS, at most one per job, and on CPU runs at most one per CPU
  // (the encoder's threads use the same cores; more workers only hold more frames and clips).
  size_t nworkers = std::max<size_t>(1, std::min<size_t>(o_.num_workers, todo_.size()));
  if (!cuda_) nworkers = std::min<size_t>(nworkers, static_cast<size_t>(std::max(available_cpus(), 1)));
  // MEDIA.DECODE_THREADS 0: the CPUs shared among the workers, so that a lone long file (fewer
  // files than cores) decodes with FFmpeg's frame threads on every core.
  if (media_.decode_threads == 0)
    media_.decode_threads = std::max(1, available_cpus() / static_cast<int>(std::max<size_t>(nworkers, 1)));
  std::vector<std::thread> workers, encoders;
  if (!todo_.empty())
    for (size_t i = 0; i < nworkers; ++i) workers.emplace_back([this] { worker(); });
  for (size_t r = 0; r < replicas_.size(); ++r) encoders.emplace_back([this, r] { encode_loop(r); });
  wait_for_towers();
  if (!load_error_ && !replicas_.empty()) {
    const Replica& r0 = replicas_[0];
    const EncoderInfo& first = r0.video.valid() ? r0.video.get()->info() : r0.audio.get()->info();
    spdlog::info("encoders on {} ({}), batch {}, {} decode worker(s) of {} decoder thread(s)", first.device,
                 first.precision, o_.encoder.batch_size, nworkers, media_.decode_threads);
    if (replicas_.size() > 1) {
      std::string names;
      for (const auto& r : replicas_) names += (names.empty() ? "" : ", ") + r.done.device;
      spdlog::info("{} encoder replicas ({}) share the {} decode worker(s)", replicas_.size(), names, nworkers);
    }
  }
  for (auto& t : workers) t.join();
  queue_->producers_finished();
  for (auto& t : encoders) t.join();
  reporter.stop();
  if (load_error_) std::rethrow_exception(load_error_);
  if (encoder_failed_) throw Error("encode", "the encoder failed: " + fatal_);
  if (assembler_->fatal())
    throw Error("output", "run stopped, the output cannot be written: " + assembler_->fatal_message());

  summary_.written = tally_.written;
  summary_.skipped_short = tally_.skipped_short;
  summary_.no_audio = tally_.no_audio;
  summary_.failed = tally_.failed;
  summary_.clips = tally_.clips;
  for (const auto& r : replicas_) summary_.devices.push_back(r.done);
  summary_.decode_workers = static_cast<int>(workers.size());
  summary_.decode_busy_s = workers_busy_s_;
  summary_.not_started = static_cast<int64_t>(todo_.size() - std::min(next_job_.load(), todo_.size()));
  summary_.outputs = summary_.written + summary_.resumed + summary_.skipped_short + summary_.no_audio +
                     summary_.failed + summary_.not_started;
  summary_.stopped = stopping();
  summary_.wall_s = seconds_since(t0_);
  return summary_;
}

}  // namespace

RunSummary run_pipeline(const PipelineOptions& o, RunControl* control) { return Run(o, control).go(); }

}  // namespace lssd
