#include "pipeline/assembler.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

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
    : sinks_(std::move(sinks)), tally_(tally), in_flight_(in_flight) {
  if (!sinks_.shards) return;
  for (const Modality m : kModalities) {
    ShardWriter::Options o{(fs::path(sinks_.output_dir) / to_string(m)).string(), sinks_.writer, sinks_.dtype,
                           *sinks_.shards, true};
    parts_[m] = std::make_unique<ShardWriter>(
        std::move(o), sinks_.manifests[m],
        [this](const std::vector<std::pair<Record, uint64_t>>& sealed) { part_sealed(sealed); });
  }
}

Assembler::~Assembler() = default;

uint64_t Assembler::begin(Record base, size_t job) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_++;
  Unit& u = units_[id];
  u.record = std::move(base);
  u.start = Clock::now();
  u.job = job;
  ++*in_flight_;
  if (sinks_.unit_begun) sinks_.unit_begun(job);
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
  unit_failure(std::move(u->record), stage, message, from_content, u->job);
}

void Assembler::record_failure(Record r, const std::string& stage, const std::string& message, bool from_content) {
  unit_failure(std::move(r), stage, message, from_content, std::nullopt);
}

void Assembler::unit_failure(Record r, const std::string& stage, const std::string& message, bool from_content,
                             std::optional<size_t> unit_job) {
  r.status = RecordStatus::Failed;
  r.output.clear();
  r.error_stage = stage;
  r.error_message = message;
  r.error_from_content = from_content;
  r.num_clips = 0;
  r.shape.clear();
  const std::string track = r.track_index >= 0 ? " track " + std::to_string(r.track_index) : "";
  spdlog::error("{}: [{}{} {}] {}", r.path, to_string(r.modality), track, stage, message);
  append_manifest(r, unit_job);
  append_or_stop(sinks_.errors,
                 error_to_json(r.path, to_string(r.modality), stage, message, r.track_index, from_content));
  ++tally_->failed;
}

void Assembler::skipped_short(uint64_t id, Record r) {
  const std::optional<Unit> u = take(id);
  const std::string why =
      r.modality == Modality::Video ? "fewer than 2 timestamps (" + r.timestamps + ")" : "fewer than 2 samples";
  spdlog::warn("{}: skipped as the release skips it ({}: {})", r.path, to_string(r.modality), why);
  r.status = RecordStatus::SkippedShort;
  append_manifest(r, u ? std::optional<size_t>(u->job) : std::nullopt);
  ++tally_->skipped_short;
}

void Assembler::no_audio(Record r) {
  spdlog::info("{}: no audio track to embed", r.path);
  r.status = RecordStatus::SkippedNoAudio;
  append_manifest(r, std::nullopt);
  ++tally_->no_audio;
}

void Assembler::finish() {
  for (const Modality m : kModalities) {
    if (!parts_[m]) continue;
    try {
      parts_[m]->seal();
    } catch (const Error& e) {
      parts_lost(e);
    }
  }
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
  r.num_clips = a.shape[0];
  r.shape = a.shape;
  r.dtype = sinks_.dtype == NpyDtype::Float16 ? "float16" : "float32";
  r.status = RecordStatus::Ok;
  r.wall_s = seconds_since(u.start);
  if (parts_[r.modality]) return write_to_part(std::move(r), a, u.job);
  r.output = output_name(r.rel_path, r.track_index, r.track_language);
  try {
    const std::string root = (fs::path(sinks_.output_dir) / to_string(r.modality)).string();
    write_npy(safe_output_path(root, r.output), a, sinks_.dtype, sinks_.writer);
  } catch (const Error& e) {
    return write_error(r, e.message(), e, u.job);
  }
  append_manifest(r, u.job);
  ++tally_->written;
  spdlog::debug("{}: {} clips -> {}/{}", r.path, r.num_clips, to_string(r.modality), r.output);
}

// Shards layout: the rows go to the modality's open part; the record follows when it is sealed.
void Assembler::write_to_part(Record r, const FloatArray& a, size_t job) {
  if (!resolve_model_id(r)) return;
  if (sinks_.seq) r.seq = sinks_.seq->next();
  try {
    parts_[r.modality]->add(std::move(r), a, job);
  } catch (const Error& e) {
    parts_lost(e);
  }
}

// A part is sealed and its records are in the manifest. An earlier run's own .npy of any of
// its inputs (a folder written in the files layout before) is superseded now: removed, so that
// nothing unreferenced stays behind.
void Assembler::part_sealed(const std::vector<std::pair<Record, uint64_t>>& sealed) {
  tally_->written += static_cast<int64_t>(sealed.size());
  for (const auto& [r, job] : sealed) {
    const std::string own = output_name(r.rel_path, r.track_index, r.track_language);
    if (is_safe_relative(own)) ::unlink((fs::path(sinks_.output_dir) / to_string(r.modality) / own).c_str());
    if (sinks_.unit_recorded) sinks_.unit_recorded(static_cast<size_t>(job));
  }
}

// A part could not be written (or sealed): every input in it is recorded as failed (a rerun
// retries them); a full or read-only file system stops the run.
void Assembler::parts_lost(const Error& e) {
  for (const Modality m : kModalities) {
    if (!parts_[m]) continue;
    for (auto& [rec, job] : parts_[m]->take_lost()) {
      rec.output.clear();
      rec.row = -1;
      rec.version = kFilesRecordVersion;
      write_error(rec, e.what(), e, static_cast<size_t>(job));  // e.what() names the part
    }
  }
}

void Assembler::write_error(const Record& r, const std::string& message, const Error& e, size_t job) {
  unit_failure(r, "output", message, false, job);
  // A full or read-only output file system fails every later output too: stop the run.
  const int err = e.sys_errno();
  if (err == ENOSPC || err == EDQUOT || err == EROFS) set_fatal(e.what());
}

// Every manifest record carries the model id, resolved here: the first call may wait for the
// model file's hash (computed in the background while the run starts).
bool Assembler::resolve_model_id(Record& r) {
  try {
    r.model_id = sinks_.model_id(r.modality);
    return true;
  } catch (const std::exception& e) {
    set_fatal(std::string("cannot identify the ") + to_string(r.modality) + " model: " + e.what());
    return false;
  }
}

void Assembler::append_manifest(Record r, std::optional<size_t> unit_job) {
  if (!resolve_model_id(r)) return;
  if (sinks_.seq) r.seq = sinks_.seq->next();
  append_or_stop(sinks_.manifests[r.modality], record_to_json(r));
  if (unit_job && sinks_.unit_recorded) sinks_.unit_recorded(*unit_job);
}

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
