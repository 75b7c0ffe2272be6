#include "pipeline/assembler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "lssd/error.h"
#include "lssd/npy.h"

namespace lssd {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace

Assembler::Assembler(AssemblerSinks sinks, Tally* tally, std::atomic<int64_t>* in_flight)
    : sinks_(std::move(sinks)), tally_(tally), in_flight_(in_flight) {}

uint64_t Assembler::begin(Record base) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_++;
  Unit& u = units_[id];
  u.record = std::move(base);
  u.start = Clock::now();
  ++*in_flight_;
  return id;
}

void Assembler::add(uint64_t id, int clip, int generation, const float* row, size_t n) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = units_.find(id);
  if (it == units_.end()) return;  // the unit already failed
  Unit& u = it->second;
  if (generation < u.generation && clip >= u.withdrawn_from) return;  // a withdrawn clip
  if (u.rows.size() <= static_cast<size_t>(clip)) u.rows.resize(static_cast<size_t>(clip) + 1);
  u.rows[static_cast<size_t>(clip)].assign(row, row + n);
  ++u.received;
  maybe_finish(lock, id);
}

int Assembler::withdraw(uint64_t id, int first) {
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

void Assembler::end(uint64_t id, int clips) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = units_.find(id);
  if (it == units_.end()) return;
  it->second.expected = clips;
  maybe_finish(lock, id);
}

void Assembler::update(uint64_t id, const std::function<void(Record&)>& f) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = units_.find(id);
  if (it != units_.end()) f(it->second.record);
}

void Assembler::fail(uint64_t id, const std::string& stage, const std::string& message, bool from_content) {
  std::optional<Unit> u = take(id);
  if (!u) return;
  u->record.wall_s = seconds_since(u->start);
  record_failure(std::move(u->record), stage, message, from_content);
}

void Assembler::record_failure(Record r, const std::string& stage, const std::string& message, bool from_content) {
  r.status = RecordStatus::Failed;
  r.output.clear();
  r.error_stage = stage;
  r.error_message = message;
  r.error_from_content = from_content;
  r.num_clips = 0;
  r.shape.clear();
  const std::string track = r.track_index >= 0 ? " track " + std::to_string(r.track_index) : "";
  spdlog::error("{}: [{}{} {}] {}", r.path, to_string(r.modality), track, stage, message);
  append_manifest(r);
  append_or_stop(sinks_.errors,
                 error_to_json(r.path, to_string(r.modality), stage, message, r.track_index, from_content));
  ++tally_->failed;
}

void Assembler::skipped_short(uint64_t id, Record r) {
  take(id);
  const std::string why =
      r.modality == Modality::Video ? "fewer than 2 timestamps (" + r.timestamps + ")" : "fewer than 2 samples";
  spdlog::warn("{}: skipped as the release skips it ({}: {})", r.path, to_string(r.modality), why);
  r.status = RecordStatus::SkippedShort;
  append_manifest(r);
  ++tally_->skipped_short;
}

void Assembler::no_audio(Record r) {
  spdlog::info("{}: no audio track to embed", r.path);
  r.status = RecordStatus::SkippedNoAudio;
  append_manifest(r);
  ++tally_->no_audio;
}

std::string Assembler::fatal_message() {
  std::lock_guard<std::mutex> lock(fatal_mu_);
  return fatal_message_;
}

// Removes a unit (it is recorded by the caller); nullopt if it was gone already.
std::optional<Assembler::Unit> Assembler::take(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = units_.find(id);
  if (it == units_.end()) return std::nullopt;
  Unit u = std::move(it->second);
  units_.erase(it);
  --*in_flight_;
  return u;
}

void Assembler::maybe_finish(std::unique_lock<std::mutex>& lock, uint64_t id) {
  Unit& u = units_.at(id);
  if (!u.expected || u.received < *u.expected) return;
  Unit done = std::move(u);
  units_.erase(id);
  --*in_flight_;
  lock.unlock();
  write(std::move(done));
}

FloatArray Assembler::stack_rows(const Unit& u) const {
  const Modality modality = u.record.modality;
  const auto m = static_cast<int64_t>(u.rows.size());
  const size_t per = m > 0 ? u.rows[0].size() : 0;  // encoder rows are [5*768] per video clip already
  const auto width = static_cast<int64_t>(modality == Modality::Video ? per / 5 : per);
  FloatArray a(output_shape(modality, m, width));
  for (int64_t i = 0; i < m; ++i) std::copy(u.rows[i].begin(), u.rows[i].end(), a.data.begin() + i * per);
  return a;
}

void Assembler::write(Unit u) {
  Record& r = u.record;
  const FloatArray a = stack_rows(u);
  r.output = output_name(r.rel_path, r.track_index, r.track_language);
  r.num_clips = a.shape[0];
  r.shape = a.shape;
  r.dtype = sinks_.dtype == NpyDtype::Float16 ? "float16" : "float32";
  r.status = RecordStatus::Ok;
  r.wall_s = seconds_since(u.start);
  try {
    const std::string root = (fs::path(sinks_.output_dir) / to_string(r.modality)).string();
    write_npy(safe_output_path(root, r.output), a, sinks_.dtype);
  } catch (const Error& e) {
    record_failure(r, "output", e.message());
    // A full or read-only output file system fails every later output too: stop the run.
    const int err = e.sys_errno();
    if (err == ENOSPC || err == EDQUOT || err == EROFS) set_fatal(e.what());
    return;
  }
  append_manifest(r);
  ++tally_->written;
  spdlog::debug("{}: {} clips -> {}/{}", r.path, r.num_clips, to_string(r.modality), r.output);
}

// Every manifest record carries the model id, resolved here: the first call may wait for the
// model file's hash (computed in the background while the run starts).
void Assembler::append_manifest(Record r) {
  try {
    r.model_id = sinks_.model_id(r.modality);
  } catch (const std::exception& e) {
    set_fatal(std::string("cannot identify the ") + to_string(r.modality) + " model: " + e.what());
    return;
  }
  append_or_stop(sinks_.manifests[r.modality], record_to_json(r));
}

// A manifest or error log that cannot be appended to (disk full, I/O error) ends the run: the
// first such error is kept for run_pipeline to throw once the threads have stopped (throwing
// here would escape a worker or encoder thread).
void Assembler::append_or_stop(JsonlAppender* log, const std::string& line) {
  try {
    log->append(line);
  } catch (const Error& e) {
    set_fatal(e.what());
  }
}

void Assembler::set_fatal(const std::string& message) {
  std::lock_guard<std::mutex> lock(fatal_mu_);
  if (fatal_.exchange(true)) return;
  fatal_message_ = message;
  spdlog::error("stopping: {}", message);
}

}  // namespace lssd
