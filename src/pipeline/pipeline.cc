// The pipeline's wiring: plan the jobs, check what earlier runs left, open the outputs, start
// the encoder replicas and the decode workers, and collect the summary. The units it wires are
// in this folder: the job plan and resume check (job_plan.h), the clip queue (clip_queue.h), the
// per-output assembler (assembler.h), the ETA (progress.h), the run's sizing (run_sizing.h), the
// devices that get an encoder replica (replicas.h).
#include "lssd/pipeline.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "lssd/audio_transform.h"
#include "lssd/claims.h"
#include "lssd/discover.h"
#include "lssd/encoder.h"
#include "lssd/error.h"
#include "lssd/media.h"
#include "lssd/npy.h"
#include "lssd/output.h"
#include "lssd/shards.h"
#include "lssd/video_transform.h"
#include "pipeline/assembler.h"
#include "pipeline/claim_work.h"
#include "pipeline/clip_queue.h"
#include "pipeline/heartbeat.h"
#include "pipeline/job_plan.h"
#include "pipeline/progress.h"
#include "pipeline/replicas.h"
#include "pipeline/run_sizing.h"
#include "pipeline/test_hold.h"

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
  add(failed_earlier, "failed earlier");
  add(by_others, "done by other writers");
  add(not_started, "not started");
  if (discover_problems > 0) s += "; " + std::to_string(discover_problems) + " unreadable path(s)";
  char tail[128];
  std::snprintf(tail, sizeof tail, "; %lld clips in %.1f s (%.2f clips/s)", static_cast<long long>(clips), wall_s,
                wall_s > 0 ? static_cast<double>(clips) / wall_s : 0.0);
  return s + tail;
}

std::string RunSummary::legend(bool claim) {
  return "counts: an output per input file and modality (each audio track of a container once found); written = "
         "embedded by this run; already done = kept from an earlier run; too short = fewer than 2 timestamps or "
         "samples, skipped as the release skips them; without audio = a container with no audio track; failed = "
         "failed in this run, listed in errors.jsonl; failed earlier = failed in an earlier run on the content of a "
         "file that has not changed since, not retried (--retry-failed retries them), listed in errors.jsonl; not "
         "started = left for a rerun" +
         std::string(claim ? "; done by other writers = computed during this run by another process sharing "
                             "OUTPUT_DIR (DIST.MODE claim)"
                           : "");
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
// CPU time of the calling thread.
double thread_cpu_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// An input's kind for the ETA: its extension in lower case ("+tracks" for the audio tracks of
// a video container): files of one kind have similar clips per byte.
std::string file_kind(const std::string& rel_path, bool container_tracks) {
  std::string ext = fs::path(rel_path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return container_tracks ? ext + "+tracks" : ext;
}

// Raises the calling thread's niceness (Linux: per thread; threads it starts inherit it).
void lower_thread_priority(int nice) {
  if (nice <= 0) return;
  errno = 0;
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), nice) != 0)
    spdlog::debug("setpriority({}) failed: {}", nice, std::strerror(errno));
}

const char* model_key(Modality m) {
  return m == Modality::Video ? "MODEL.VIDEO_ENCODER_FILE" : "MODEL.AUDIO_ENCODER_FILE";
}

// The metadata of a modality's encoder file, checked against the config (cheap: no TorchScript
// load). Throws ConfigError when it is not named, is not that modality's, or does not match
// MVIT.SIZE / MVIT.PATCH_OVERLAP as the config names them.
EncoderInfo checked_encoder_info(Modality m, const PipelineOptions& o) {
  const std::string& file = o.encoder.model(m);
  if (file.empty()) throw ConfigError(std::string(model_key(m)) + " must name the exported " + to_string(m) + ".pt");
  EncoderInfo info = read_encoder_info(file, /*hash=*/false);
  if (info.modality != m)
    throw ConfigError(file + " is not a" + (m == Modality::Audio ? "n " : " ") + to_string(m) + " encoder");
  if (!o.expect_size.empty() && info.size != o.expect_size)
    throw ConfigError("MVIT.SIZE is " + o.expect_size + " but " + info.path + " is size " + info.size);
  if (o.expect_patch_overlap && info.patch_overlap != *o.expect_patch_overlap)
    throw ConfigError(std::string("MVIT.PATCH_OVERLAP is ") + (*o.expect_patch_overlap ? "True" : "False") + " but " +
                      info.path + " was exported with patch_overlap " + (info.patch_overlap ? "True" : "False"));
  return info;
}

// Everything one run shares between its threads.
class Run {
 public:
  Run(const PipelineOptions& o, RunControl* control)
      : options_(o), control_(control ? control : &own_control_), media_(o.media) {}
  RunSummary go();

 private:
  using EncoderFuture = std::shared_future<std::shared_ptr<Encoder>>;
  struct Replica {
    PerModality<EncoderFuture> towers;
    DeviceSummary done;  // its clips and forward time (under fatal_mutex_)
  };

  bool stopping() const { return control_->stop.load(); }
  bool claim_mode() const { return options_.dist_mode == "claim"; }
  std::string model_id(Modality m);
  void plan_jobs();
  void say_what_was_found() const;
  void resume_check();
  void open_outputs();
  void enter_registry();
  void sweep_temporaries(const std::string& root);
  void sweep_unnamed_parts(Modality m);
  void prune_error_log_of_retried(const std::string& errors_path) const;
  void log_discover_problems();
  void start_claim_work();
  std::vector<bool> claimed_chunk_to_do(const ClaimChunk& c);
  void prune_logs_of_gone_writers(const std::set<std::pair<std::string, std::string>>& retried);
  std::optional<size_t> next_job();
  void job_hold(size_t k);
  void job_release(size_t k);
  void start_encoders();
  void wait_for_towers();
  void start_eta_and_assembler();
  void worker();
  void process(size_t k);
  void process_video(size_t k, const Record& base);
  void process_audio(size_t k, const Record& base);
  void process_track(size_t k, Record rec, std::optional<int> stream);
  const AudioTransform& audio_transform();
  template <class Clip, class Decode, class Transform>
  bool embed(size_t k, Modality m, uint64_t* unit, Decode&& decode, Transform&& transform);
  void encode_loop(size_t replica);
  void fail_encoder(const std::string& why);
  void fill_summary();

  const PipelineOptions& options_;
  RunControl own_control_;
  RunControl* control_;
  MediaOptions media_;  // options_.media with MEDIA.DECODE_THREADS 0 resolved
  Clock::time_point start_ = Clock::now();
  RunSummary summary_;
  Tally tally_;

  DiscoverResult found_;
  std::vector<Job> jobs_, todo_;
  std::optional<PerModality<std::set<std::string>>> parts_named_;  // from the resume check
  PerModality<std::optional<EncoderInfo>> encoder_info_;           // of the modalities that have jobs
  PerModality<std::once_flag> model_id_once_;
  PerModality<std::string> model_id_;

  WriterIdentity writer_;
  std::unique_ptr<WriterRegistry> registry_;
  std::unique_ptr<ResumeIndex> index_;  // claim mode: kept to read other writers' records as they come
  std::mutex index_mu_;
  std::unique_ptr<ClaimBoard> claims_;
  std::unique_ptr<ClaimWork> work_;
  std::atomic<ClaimWork*> work_for_heartbeat_{nullptr};
  std::unique_ptr<std::atomic<int>[]> job_holds_;  // claim mode: per todo entry, the worker's hold + open outputs
  std::unique_ptr<Heartbeat> heartbeat_;
  SequenceClock seq_;
  PerModality<std::unique_ptr<JsonlAppender>> manifests_;
  std::unique_ptr<JsonlAppender> errors_;
  std::unique_ptr<Assembler> assembler_;
  std::unique_ptr<EtaEstimator> eta_;
  std::unique_ptr<ClipQueue> queue_;

  ReplicaPlan replica_plan_;
  std::vector<Replica> replicas_;
  bool cuda_ = false;
  size_t batch_size_ = 1;
  std::atomic<size_t> next_job_{0};
  static thread_local double worker_wait_s_;  // this decode worker's time blocked in ClipQueue::push
  std::mutex workers_mutex_;
  double workers_busy_s_ = 0;  // decode workers' wall time in their jobs, less the time blocked in push
  size_t decode_workers_ = 0;
  std::atomic<bool> encoder_failed_{false};
  std::mutex fatal_mutex_;
  std::string fatal_message_;
  std::exception_ptr load_error_;
};

// The model id of a tower, computed once, when first needed (the resume check, a manifest
// record): it waits for the model file's sha256 (libcrypto: ~0.2 s for an S tower; shared with
// the tower's own load, encoder_file_sha256 hashes each file once).
std::string Run::model_id(Modality m) {
  const std::optional<EncoderInfo>& info = encoder_info_[m];
  if (!info) return "";
  std::call_once(model_id_once_[m], [&] {
    model_id_[m] = lssd::model_id(encoder_file_sha256(info->path), options_.output_key_text,
                                  m == Modality::Video ? kVideoReadRule : 0);
  });
  return model_id_[m];
}

// Inputs, jobs and the encoder files' metadata: every check that can stop the run happens here,
// before OUTPUT_DIR is created.
void Run::plan_jobs() {
  found_ = discover(options_.discover, options_.media);
  jobs_ = make_jobs(found_, options_.discover);
  say_what_was_found();
  PerModality<bool> needed{false, false};
  for (const auto& j : jobs_) needed[j.modality] = true;
  for (const Modality m : kModalities)
    if (needed[m]) encoder_info_[m] = checked_encoder_info(m, options_);
  if (!jobs_.empty())  // a DIST.NUM_GPUS index that is not visible stops the run here (exit 2)
    replica_plan_ = plan_replicas(options_.encoder, options_.encoder.device == "cpu" ? 0 : cuda_device_count(),
                                  test_cpu_replicas());
}

void Run::say_what_was_found() const {
  const DiscoverOptions& d = options_.discover;
  spdlog::info("found {} input files ({} before sharding; shard {}/{} from {})", found_.files.size(),
               found_.total_before_shard, d.shard_id, d.num_shards, options_.shard_source);
  const std::string note = ignored_media_note(found_, d);
  if (!note.empty()) spdlog::warn("{}", note);
  const std::string tracks_note = audio_from_video_note(found_);
  if (!tracks_note.empty()) spdlog::info("{}", tracks_note);
  if (found_.excluded_dir_inside)
    spdlog::warn("OUTPUT_DIR {} is inside DATA.PATH_TO_DATA_DIR {}: the walk leaves it out", options_.output_dir,
                 d.data_dir);
  if (!jobs_.empty()) return;
  const std::string where = d.file_list.empty() ? "under " + d.data_dir : "in the list " + d.file_list;
  spdlog::warn("nothing to embed: no input file {} matches the extension lists ({}{})", where,
               describe_extension_lists(d),
               d.use_video && d.use_audio ? "" : "; DATA.USE_VIDEO/USE_AUDIO limit the modalities");
}

// Resume: drops jobs whose outputs exist and match; says when earlier outputs of another model
// (or dtype) will be recomputed.
void Run::resume_check() {
  if (options_.overwrite) {
    todo_ = jobs_;
    return;
  }
  std::vector<std::string> warnings;
  const std::string dtype = options_.float16_output ? "float16" : "float32";
  index_ = std::make_unique<ResumeIndex>(options_.output_dir);
  // Claim mode: other writers may be appending right now: complete lines only.
  index_->update(&warnings, /*final_lines=*/!claim_mode());
  ResumePlan plan = plan_resume(
      jobs_, found_.files, *index_, [this](Modality m) { return model_id(m); }, dtype, options_.retry_failed);
  if (!claim_mode()) index_.reset();  // its memory is not needed any more
  for (const auto& w : warnings) spdlog::warn("{}", w);
  seq_.observe(plan.max_seq);
  parts_named_ = std::move(plan.parts_named);
  todo_ = std::move(plan.todo);
  summary_.resumed = plan.resumed;
  summary_.failed_earlier = plan.failed_earlier;
  if (plan.failed_earlier > 0)
    spdlog::warn(
        "{} output(s) failed in an earlier run on the content of files that have not changed since (same size, "
        "mtime, model and reading rule): not retried, still listed in errors*.jsonl (--retry-failed retries them)",
        plan.failed_earlier);
  if (plan.other_model.video + plan.other_model.audio > 0)
    spdlog::warn(
        "OUTPUT_DIR {} holds outputs of another model id for {} video and {} audio input(s){}: they will "
        "be recomputed with this model ({}) and replace them (use another OUTPUT_DIR to keep both)",
        options_.output_dir, plan.other_model.video, plan.other_model.audio,
        plan.other_dtype > 0 ? " (" + std::to_string(plan.other_dtype) + " in another dtype than " + dtype + ")" : "",
        "video " + (encoder_info_.video ? model_id(Modality::Video) : std::string("-")) + ", audio " +
            (encoder_info_.audio ? model_id(Modality::Audio) : std::string("-")));
}

// This writer's entry in OUTPUT_DIR/writers/, renewed until the run ends, so that another
// process's start-up sweep leaves this one's temporaries alone.
void Run::enter_registry() {
  writer_ = this_writer(options_.writer_id);
  registry_ = std::make_unique<WriterRegistry>(options_.output_dir, writer_, options_.claim_timeout_s);
  registry_->enter();
  const double interval = std::clamp(options_.claim_timeout_s / 5, 0.05, 60.0);
  heartbeat_ = std::make_unique<Heartbeat>(
      interval,
      [this] {
        if (ClaimWork* w = work_for_heartbeat_.load())
          w->renew();  // the claims and the registry entry
        else
          registry_->renew();
      },
      [](const std::exception& e) { spdlog::warn("cannot renew this writer's entry: {}", e.what()); });
  spdlog::debug("writer id {} (host {}, pid {})", writer_.id, writer_.host, writer_.pid);
}

// Temporaries of writers that are gone (a killed run's): removed; a live writer's: kept.
void Run::sweep_temporaries(const std::string& root) {
  const bool sole = options_.discover.num_shards <= 1 && options_.dist_mode == "hash";
  if (size_t n = remove_stale_temporaries(root, sole, [this](const std::string& w) { return registry_->gone(w); }))
    spdlog::info("removed {} leftover temporary file(s) of an interrupted run under {}", n, root);
}

// Shards layout: a part that no record names (a run killed after the part's rename and before
// its records; or every input of it recomputed since) is removed once its writer is gone.
void Run::sweep_unnamed_parts(Modality m) {
  if (!parts_named_) return;  // --overwrite: the manifests were not read
  const fs::path dir = fs::path(options_.output_dir) / to_string(m) / "parts";
  std::error_code ec;
  size_t removed = 0;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string writer;
    const std::string rel = "parts/" + it->path().filename().string();
    if (!is_part_name(rel, &writer) || (*parts_named_)[m].count(rel) || !registry_->gone(writer)) continue;
    std::error_code e2;
    if (fs::remove(it->path(), e2)) ++removed;
  }
  if (removed > 0)
    spdlog::info(
        "removed {} shard part(s) under {} that no manifest record names (a run killed while sealing, or "
        "all of their inputs recomputed since)",
        removed, dir.string());
}

void Run::open_outputs() {
  std::error_code ec;
  fs::create_directories(options_.output_dir, ec);
  if (ec) throw Error("output", "cannot create the output directory: " + ec.message(), options_.output_dir);
  enter_registry();
  write_file_atomic((fs::path(options_.output_dir) / "config.yaml").string(), options_.config_yaml, writer_.id);
  const int shard = options_.discover.shard_id, shards = options_.discover.num_shards;
  for (const Modality m : kModalities) {
    const fs::path root = fs::path(options_.output_dir) / to_string(m);
    fs::create_directories(root, ec);
    sweep_temporaries(root.string());
    sweep_unnamed_parts(m);
    const std::string name = claim_mode() ? writer_manifest_name(writer_.id) : manifest_name(shard, shards);
    manifests_[m] = std::make_unique<JsonlAppender>((root / name).string());
  }
  registry_->remove_gone();
  if (claim_mode()) claims_ = std::make_unique<ClaimBoard>(registry_.get());
  const std::string errors_path =
      (fs::path(options_.output_dir) / (claim_mode() ? writer_errors_name(writer_.id) : errors_name(shard, shards)))
          .string();
  prune_error_log_of_retried(errors_path);
  errors_ = std::make_unique<JsonlAppender>(errors_path);
  log_discover_problems();
}

// Paths that could not be read go to the error log: in claim mode to one writer's only (the one
// that claims the pseudo-chunk "discover"), as every writer finds the same ones.
void Run::log_discover_problems() {
  if (found_.problems.empty()) return;
  const bool mine = !claims_ || claims_->try_claim("discover") != ClaimBoard::Outcome::Held;
  for (const auto& p : found_.problems) {
    spdlog::error("{}: [discover] {}", p.path, p.message);
    if (mine) errors_->append(error_to_json(p.path, "", "discover", p.message));
  }
  if (claims_ && mine) claims_->mark_done("discover");
  summary_.discover_problems = static_cast<int64_t>(found_.problems.size());
}

// Claim mode: the jobs cut into chunks of DIST.CLAIM_INPUTS (else OUTPUT.SHARD_INPUTS) in input
// order, the same cut in every process; workers take their jobs from the chunks this process
// claims (claim_work.h).
void Run::start_claim_work() {
  std::vector<std::string> keys;
  keys.reserve(jobs_.size());
  for (const Job& j : jobs_)
    keys.push_back(std::string(to_string(j.modality)) + (j.container_tracks ? "+tracks\t" : "\t") +
                   found_.files[j.file].rel_path);
  std::vector<size_t> todo_job;  // todo entry -> its index in jobs_ (both in input order)
  todo_job.reserve(todo_.size());
  size_t at = 0;
  for (const Job& t : todo_) {
    while (at < jobs_.size() && !(jobs_[at].file == t.file && jobs_[at].modality == t.modality &&
                                  jobs_[at].container_tracks == t.container_tracks))
      ++at;
    todo_job.push_back(at);
  }
  const size_t k = static_cast<size_t>(options_.claim_inputs > 0 ? options_.claim_inputs : options_.shard_inputs);
  std::vector<ClaimChunk> chunks = make_chunks(keys, k, todo_job);
  uint64_t h = 1469598103934665603ULL;  // where this writer starts: spread by its id
  for (unsigned char c : writer_.id) h = (h ^ c) * 1099511628211ULL;
  job_holds_.reset(new std::atomic<int>[std::max<size_t>(todo_.size(), 1)]());
  ClaimWork::Hooks hooks;
  hooks.still_to_do = [this](const ClaimChunk& c) { return claimed_chunk_to_do(c); };
  hooks.done_elsewhere = [this](size_t entry) { eta_->skip(entry); };
  hooks.stopping = [this] { return stopping() || encoder_failed_ || assembler_->fatal(); };
  hooks.info = [](const std::string& m) { spdlog::info("{}", m); };
  hooks.idle = [this] { assembler_->finish(); };  // seal the open parts: their chunks are done then
  const size_t n_chunks = chunks.size();
  work_ = std::make_unique<ClaimWork>(std::move(chunks), claims_.get(), n_chunks ? h % n_chunks : 0,
                                      std::clamp(options_.claim_timeout_s / 10, 0.05, 2.0), std::move(hooks));
  work_for_heartbeat_ = work_.get();
  spdlog::info(
      "DIST.MODE claim: writer {}, {} chunk(s) of {} input(s); {} of the {} outputs left to compute among "
      "the writers",
      writer_.id, n_chunks, k, todo_.size(), jobs_.size());
}

// A chunk this writer just claimed: which of its todo entries are still to do, the manifests
// read again (another writer, gone now, may have recorded some since this run started). The
// error logs of writers that are gone lose their entries of the inputs retried here.
std::vector<bool> Run::claimed_chunk_to_do(const ClaimChunk& c) {
  std::vector<bool> to_do(c.todo_end - c.todo_begin, true);
  std::set<std::pair<std::string, std::string>> retried;
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    if (index_) {
      index_->update(nullptr, /*final_lines=*/false);
      seq_.observe(index_->max_seq());
      const std::string dtype = options_.float16_output ? "float16" : "float32";
      for (size_t e = c.todo_begin; e < c.todo_end; ++e) {
        const Job& j = todo_[e];
        const InputFile& f = found_.files[j.file];
        if (index_->has(j.modality, f.rel_path) &&
            index_->judge(j, f, model_id(j.modality), dtype, options_.retry_failed).done > 0)
          to_do[e - c.todo_begin] = false;
      }
    }
  }
  for (size_t e = c.todo_begin; e < c.todo_end; ++e)
    if (to_do[e - c.todo_begin]) retried.emplace(found_.files[todo_[e].file].path, to_string(todo_[e].modality));
  prune_logs_of_gone_writers(retried);
  return to_do;
}

// Claim mode: errors.<writer>.jsonl of writers that are gone, and the logs of hash-mode runs,
// lose the entries of inputs retried now (see prune_error_log_of_retried). A live writer's log
// is its own.
void Run::prune_logs_of_gone_writers(const std::set<std::pair<std::string, std::string>>& retried) {
  if (retried.empty()) return;
  std::error_code ec;
  for (auto it = fs::directory_iterator(options_.output_dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (n.rfind("errors", 0) != 0 || n.size() < 12 || n.compare(n.size() - 6, 6, ".jsonl") != 0) continue;
    const std::string middle = n.substr(6, n.size() - 12);  // "", ".shard-I-of-N" or ".<writer>"
    const std::string writer = middle.empty() || middle.rfind(".shard-", 0) == 0 ? "" : middle.substr(1);
    if (writer == writer_.id || (!writer.empty() && !registry_->gone(writer))) continue;
    try {
      prune_error_log(it->path().string(), [&](const std::string& path, const std::string& modality) {
        return retried.count({path, modality}) > 0;
      });
    } catch (const Error& e) {
      spdlog::warn("{}", e.what());
    }
  }
}

std::optional<size_t> Run::next_job() {
  if (work_) return work_->next();
  const size_t k = next_job_.fetch_add(1);
  if (k >= todo_.size()) return std::nullopt;
  return k;
}

// Claim mode: a todo entry is recorded once its worker is done with it and every output it
// began is in the manifest; then its chunk may be finished (ClaimWork::recorded).
void Run::job_hold(size_t k) {
  if (job_holds_) ++job_holds_[k];
}
void Run::job_release(size_t k) {
  if (job_holds_ && --job_holds_[k] == 0) work_->recorded(k);
}

// errors.jsonl keeps one entry per failed input and modality: entries of the inputs this run
// retries go (they are logged again if they fail again); those of inputs that failed earlier
// and are not retried stay.
void Run::prune_error_log_of_retried(const std::string& errors_path) const {
  std::set<std::pair<std::string, std::string>> retried;  // path, modality ("" for unreadable paths)
  for (const auto& j : todo_) retried.emplace(found_.files[j.file].path, to_string(j.modality));
  for (const auto& p : found_.problems) retried.emplace(p.path, "");
  prune_error_log(errors_path, [&](const std::string& path, const std::string& modality) {
    return retried.count({path, modality}) > 0;
  });
}

void Run::fail_encoder(const std::string& why) {
  std::lock_guard<std::mutex> lock(fatal_mutex_);
  if (fatal_message_.empty()) fatal_message_ = why;
  encoder_failed_ = true;
  queue_->abort();
}

// Encoders: one replica per device of the plan (plan_replicas: DIST.NUM_GPUS's CUDA devices, or
// the CPU). Each tower loads in a thread of its own, started after the decode workers: loading
// overlaps the first decodes and the other tower's load, and an encoder loop waits only for the
// tower its first batch needs.
void Run::start_encoders() {
  const EncoderOptions& e = options_.encoder;
  if (!replica_plan_.note.empty()) spdlog::info("{}", replica_plan_.note);
  PerModality<bool> needed{false, false};
  for (const auto& j : todo_) needed[j.modality] = true;
  auto load = [this](const std::string& path, std::optional<int> device) {
    return std::async(std::launch::async,
                      [this, path, device] {
                        test_hold("towers", control_->stop);
                        return std::make_shared<Encoder>(path, options_.encoder, device);
                      })
        .share();
  };
  for (size_t r = 0; r < replica_plan_.size(); ++r) {
    Replica replica;
    replica.done.device = replica_plan_.label[r];
    for (const Modality m : kModalities)
      if (needed[m]) replica.towers[m] = load(e.model(m), replica_plan_.device_index[r]);
    replicas_.push_back(std::move(replica));
  }
}

// A tower that cannot be loaded stops the run at once (its error is rethrown by go()).
void Run::wait_for_towers() {
  for (auto& replica : replicas_)
    for (const Modality m : kModalities) {
      EncoderFuture& tower = replica.towers[m];
      if (!tower.valid() || load_error_) continue;
      try {
        tower.get();
      } catch (...) {
        load_error_ = std::current_exception();
        encoder_failed_ = true;
        queue_->abort();
      }
    }
  summary_.models_ready_s = seconds_since(start_);
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
    const auto waited_from = Clock::now();
    const bool pushed = queue_->push(m, std::move(item));
    worker_wait_s_ += seconds_since(waited_from);  // blocked on a full queue: not busy
    if (!pushed) throw RunAborted{};
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
    assembler_->fail(*unit, e.stage(), e.message(), e.from_content());
  } catch (const std::exception& e) {
    assembler_->fail(*unit, "decode", e.what());
  }
  return true;
}

void Run::process_video(size_t k, const Record& base) {
  std::optional<VideoTransform> transform;
  uint64_t unit = assembler_->begin(base, k);
  embed<VideoClipFrames>(
      k, Modality::Video, &unit,
      [&](const ClipSink<VideoClipFrames>& sink, const int& queued) {
        VideoFileResult res = decode_video_clips(base.path, options_.video, media_, sink);
        if (res.decode_errors > 0)
          spdlog::warn("{}: {} packet(s) could not be decoded (the release would skip this file)", base.path,
                       res.decode_errors);
        const std::string decoder = media_.hwaccel == "none" ? "" : res.decoder;
        Record r = base;
        r.fps = res.avg_fps;
        r.timestamps = res.timestamp_source;
        r.decoder = decoder;
        if (res.skipped_short) return assembler_->skipped_short(unit, r);
        assembler_->update(unit, [&](Record& rec) {
          rec.fps = res.avg_fps;
          rec.timestamps = res.timestamp_source;
          rec.decoder = decoder;
          for (const auto& [a, b] : res.ranges) rec.ranges.push_back({a, b});
        });
        assembler_->end(unit, queued);
      },
      [&](const VideoClipFrames& c) {
        if (!c.nv12.empty()) return nv12_clip_tensor(c, options_.video);  // NVDEC: on the GPU
        if (!transform) transform.emplace(options_.video);
        return (*transform)(c.frames, c.width, c.height);
      });
}

// The calling decode worker's audio transform, made on its first audio clip of this run: its
// window and mel filter bank are built once per worker, not once per input (~0.3 ms of CPU an
// input over small wavs). Workers are threads of one run.
const AudioTransform& Run::audio_transform() {
  thread_local const Run* owner = nullptr;
  thread_local std::optional<AudioTransform> transform;
  if (owner != this || !transform) {
    transform.emplace(options_.audio);
    owner = this;
  }
  return *transform;
}

void Run::process_track(size_t k, Record rec, std::optional<int> stream) {
  uint64_t unit = assembler_->begin(rec, k);
  embed<AudioClipSamples>(
      k, Modality::Audio, &unit,
      [&](const ClipSink<AudioClipSamples>& sink, const int& queued) {
        AudioFileResult res = decode_audio_clips(rec.path, stream, options_.audio, media_, sink);
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
      [&](const AudioClipSamples& c) { return audio_transform()(c.mono, c.sample_rate); });
}

void Run::process_audio(size_t k, const Record& base) {
  if (!todo_[k].container_tracks) return process_track(k, base, std::nullopt);
  std::vector<std::pair<int, std::string>> tracks;  // stream index, language
  try {
    for (const auto& s : probe_media(base.path, media_).streams)
      if (s.type == "audio") tracks.emplace_back(s.index, s.language);
  } catch (const Error& e) {
    assembler_->record_failure(base, e.stage(), e.message(), e.from_content());
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
  if (!cuda_) lower_thread_priority(options_.worker_nice);
  worker_wait_s_ = 0;
  double in_jobs = 0;
  for (;;) {
    if (stopping() || encoder_failed_ || assembler_->fatal()) break;
    const std::optional<size_t> k = next_job();
    if (!k) break;
    const auto t = Clock::now();
    job_hold(*k);
    process(*k);
    job_release(*k);
    in_jobs += seconds_since(t);
  }
  std::lock_guard<std::mutex> lock(workers_mutex_);
  workers_busy_s_ += std::max(0.0, in_jobs - worker_wait_s_);
}

void Run::encode_loop(size_t replica) {
  std::vector<ClipItem> items;
  Modality m;
  while (queue_->pop_batch(batch_size_, &m, &items)) {
    Encoder* encoder = nullptr;
    try {
      encoder = replicas_[replica].towers[m].get().get();
    } catch (...) {  // the tower could not be loaded: wait_for_towers has its error
      encoder_failed_ = true;
      queue_->abort();
      return;
    }
    std::vector<const FloatArray*> inputs;
    for (const auto& it : items) inputs.push_back(&it.tensor);
    FloatArray out;
    try {
      const auto t = Clock::now();
      const double cpu0 = thread_cpu_s();
      out = encoder->forward(inputs);
      const double cpu = thread_cpu_s() - cpu0;
      const double seconds = seconds_since(t);
      eta_->encoded(m, static_cast<int64_t>(items.size()), seconds, seconds_since(start_));
      std::lock_guard<std::mutex> lock(fatal_mutex_);
      summary_.encode_s[m] += seconds;
      summary_.encode_cpu_s += cpu;
      replicas_[replica].done.busy_s += seconds;
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
      std::lock_guard<std::mutex> lock(fatal_mutex_);
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

void Run::start_eta_and_assembler() {
  std::vector<EtaEstimator::Input> inputs;
  for (const auto& j : todo_) {
    const InputFile& f = found_.files[j.file];
    inputs.push_back({f.size, j.modality, file_kind(f.rel_path, j.container_tracks)});
  }
  eta_ = std::make_unique<EtaEstimator>(std::move(inputs));
  AssemblerSinks sinks;
  sinks.output_dir = options_.output_dir;
  sinks.dtype = options_.float16_output ? NpyDtype::Float16 : NpyDtype::Float32;
  sinks.manifests = {manifests_.video.get(), manifests_.audio.get()};
  sinks.errors = errors_.get();
  sinks.model_id = [this](Modality m) { return model_id(m); };
  if (options_.layout == "shards")
    sinks.shards = ShardLimits{options_.shard_inputs, static_cast<int64_t>(options_.shard_mb) << 20};
  sinks.writer = writer_.id;
  sinks.seq = &seq_;
  if (claim_mode()) {
    sinks.unit_begun = [this](size_t job) { job_hold(job); };
    sinks.unit_recorded = [this](size_t job) { job_release(job); };
  }
  assembler_ = std::make_unique<Assembler>(std::move(sinks), &tally_, &control_->in_flight);
}

void Run::fill_summary() {
  summary_.written = tally_.written;
  summary_.skipped_short = tally_.skipped_short;
  summary_.no_audio = tally_.no_audio;
  summary_.failed = tally_.failed;
  summary_.clips = tally_.clips;
  const size_t started = work_ ? work_->started() : std::min(next_job_.load(), todo_.size());
  summary_.by_others = work_ ? static_cast<int64_t>(work_->elsewhere()) : 0;
  summary_.not_started = static_cast<int64_t>(todo_.size() - started) - summary_.by_others;
  summary_.outputs = summary_.written + summary_.resumed + summary_.skipped_short + summary_.no_audio +
                     summary_.failed + summary_.failed_earlier + summary_.by_others + summary_.not_started;
  summary_.stopped = stopping();
  summary_.wall_s = seconds_since(start_);
  for (const auto& r : replicas_) summary_.devices.push_back(r.done);
  summary_.decode_workers = static_cast<int>(decode_workers_);
  summary_.decode_busy_s = workers_busy_s_;
}

RunSummary Run::go() {
  media_.hwaccel = resolve_hwaccel(media_.hwaccel);  // none or cuda from here on
  if (media_.hwaccel == "cuda") spdlog::info("video decodes on NVDEC (MEDIA.HWACCEL {})", options_.media.hwaccel);
  test_barrier();
  plan_jobs();
  resume_check();
  summary_.outputs =
      static_cast<int64_t>(todo_.size()) + summary_.resumed + summary_.failed_earlier;  // tracks are added as found
  open_outputs();
  if (!claim_mode()) spdlog::info("{} outputs to compute, {} already done", todo_.size(), summary_.resumed);
  start_eta_and_assembler();
  if (claim_mode()) start_claim_work();
  cuda_ = !todo_.empty() && replica_plan_.cuda;
  if (!todo_.empty()) start_encoders();

  const RunSizing sizing = size_run(options_, {todo_.size(), cuda_, replicas_.size(), available_cpus()});
  batch_size_ = static_cast<size_t>(options_.encoder.batch_size);
  queue_ = std::make_unique<ClipQueue>(sizing.queue_capacity.video, sizing.queue_capacity.audio, sizing.greedy_queue);
  media_.decode_threads = sizing.decode_threads;
  ProgressReporter reporter(
      eta_.get(), options_.progress_interval_s, options_.status_line, [this] { return tally_.failed.load(); }, start_);

  std::vector<std::thread> workers, encoders;
  if (!todo_.empty())
    for (size_t i = 0; i < sizing.decode_workers; ++i) workers.emplace_back([this] { worker(); });
  decode_workers_ = workers.size();
  for (size_t r = 0; r < replicas_.size(); ++r) encoders.emplace_back([this, r] { encode_loop(r); });
  wait_for_towers();
  if (!load_error_ && !replicas_.empty()) {
    const PerModality<EncoderFuture>& towers = replicas_[0].towers;
    const EncoderInfo& first = towers.video.valid() ? towers.video.get()->info() : towers.audio.get()->info();
    spdlog::info("encoders on {} ({}), batch {}, {} decode worker(s) of {} decoder thread(s)", first.device,
                 first.precision, options_.encoder.batch_size, sizing.decode_workers, media_.decode_threads);
    if (replicas_.size() > 1) {
      std::string names;
      for (const auto& r : replicas_) names += (names.empty() ? "" : ", ") + r.done.device;
      spdlog::info("{} encoder replicas ({}) share the {} decode worker(s)", replicas_.size(), names,
                   sizing.decode_workers);
    }
  }
  for (auto& t : workers) t.join();
  queue_->producers_finished();
  for (auto& t : encoders) t.join();
  assembler_->finish();  // shards layout: seals the open parts
  reporter.stop();
  heartbeat_->stop();
  registry_->remove_gone();  // e.g. a writer killed during this run whose chunk this one took over
  registry_->leave();
  if (load_error_) std::rethrow_exception(load_error_);
  if (encoder_failed_) throw Error("encode", "the encoder failed: " + fatal_message_);
  if (assembler_->fatal())
    throw Error("output", "run stopped, the output cannot be written: " + assembler_->fatal_message());
  fill_summary();
  return summary_;
}

}  // namespace

RunSummary run_pipeline(const PipelineOptions& o, RunControl* control) { return Run(o, control).go(); }

}  // namespace lssd
