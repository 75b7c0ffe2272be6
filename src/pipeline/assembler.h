// The per-output assembler: collects each output's clip embeddings as the encoder returns them
// (in any order), and once the decoder has said how many clips there are and all of them are
// embedded, writes the .npy (atomically) and then appends the manifest record (files layout), or
// appends the rows to its modality's open shard part, whose records are appended when the part
// is sealed (shards layout, lssd/shards.h). Failures, too-short inputs and silent containers are
// recorded here too (at once), so that every output ends in exactly one manifest record.
// Thread-safe.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lssd/array.h"
#include "lssd/error.h"
#include "lssd/modality.h"
#include "lssd/npy.h"
#include "lssd/output.h"
#include "lssd/shards.h"

namespace lssd {

// Outcome counters shared by the workers, the assembler and the summary.
struct Tally {
  std::atomic<int64_t> written{0}, skipped_short{0}, no_audio{0}, failed{0}, clips{0};
};

// Where the assembler writes: arrays under output_dir/<modality>/ in `dtype` (one .npy per
// output, or shard parts when `shards` is set), a record per output in its modality's manifest,
// failures also in the error log; model_id(m) gives the id written into every record (it may
// block the first time: the model file's hash). `writer` names the writer's temporaries and
// parts; `seq` (may be null) gives each record's Record::seq. unit_begun(job) and
// unit_recorded(job) (may be empty) are called when an output of job `job` begins and once its
// record is in the manifest (for an ok output of the shards layout: once its part is sealed).
struct AssemblerSinks {
  std::string output_dir;
  NpyDtype dtype = NpyDtype::Float32;
  PerModality<JsonlAppender*> manifests{nullptr, nullptr};
  JsonlAppender* errors = nullptr;
  std::function<std::string(Modality)> model_id;
  std::optional<ShardLimits> shards;
  std::string writer;
  SequenceClock* seq = nullptr;
  std::function<void(size_t job)> unit_begun, unit_recorded;
};

class Assembler {
 public:
  // in_flight counts the outputs begun and not yet recorded.
  Assembler(AssemblerSinks sinks, Tally* tally, std::atomic<int64_t>* in_flight);

  ~Assembler();
  // A new output (unit) of job `job` with its record so far; returns its id.
  uint64_t begin(Record base, size_t job = 0);
  // Clip `clip`'s embedding (`n` floats). Ignored for a unit that failed, and for a clip that
  // withdraw() took back (index >= the withdrawn one, queued under an older generation).
  void add(uint64_t id, int clip, int generation, const float* row, size_t n);
  // The decoder planned again: clips from `first` on, queued or embedded, no longer count.
  // Returns the unit's new generation (clips queued from now on carry it).
  int withdraw(uint64_t id, int first);
  // The decoder is done with this unit: `clips` clips were queued. Writes it once all are in.
  void end(uint64_t id, int clips);
  // Sets the final metadata (ranges etc.) of a unit before it completes.
  void update(uint64_t id, const std::function<void(Record&)>& f);

  // Records a failure of a unit (if it is still open) / of an input that never became a unit:
  // a "failed" manifest record, an errors.jsonl line, an error log line naming the modality (and
  // track). from_content: the file's content is the cause (lssd::ContentError; recorded, so that
  // a rerun of the unchanged file reports it as failed earlier).
  void fail(uint64_t id, const std::string& stage, const std::string& message, bool from_content = false);
  void record_failure(Record r, const std::string& stage, const std::string& message, bool from_content = false);
  // Fewer than 2 timestamps / samples: recorded, and said at warning level (never silently).
  void skipped_short(uint64_t id, Record r);
  // A container without an audio track (DATA.AUDIO_FROM_VIDEO): nothing to embed, not an error.
  void no_audio(Record r);
  // Shards layout: seals the open parts (the run ends, or DIST.MODE claim waits for other
  // writers); later outputs open new parts. Errors are handled as write errors are.
  void finish();

  // A manifest or error log could not be appended to, or the output file system is full or
  // read-only: the run must stop (run_pipeline throws fatal_message() after the threads end).
  bool fatal() const { return fatal_.load(); }
  std::string fatal_message();

 private:
  struct Unit {
    Record record;
    std::vector<std::vector<float>> rows;
    int received = 0;
    std::optional<int> expected;                           // clips the decoder queued; known once it is done
    int generation = 0;                                    // withdraw() calls so far
    int withdrawn_from = std::numeric_limits<int>::max();  // clips >= this of older generations are stale
    std::chrono::steady_clock::time_point start;
    size_t job = 0;
  };

  std::optional<Unit> take(uint64_t id);
  void maybe_finish(std::unique_lock<std::mutex>& lock, uint64_t id);
  FloatArray stack_rows(const Unit& u) const;
  void write(Unit u);
  void write_to_part(Record r, const FloatArray& a, size_t job);
  void part_sealed(const std::vector<std::pair<Record, uint64_t>>& sealed);
  void parts_lost(const Error& e);
  void write_error(const Record& r, const std::string& message, const Error& e, size_t job);
  void unit_failure(Record r, const std::string& stage, const std::string& message, bool from_content,
                    std::optional<size_t> unit_job);
  bool resolve_model_id(Record& r);
  // unit_job: the job of the unit whose record this is (none: a record of no unit).
  void append_manifest(Record r, std::optional<size_t> unit_job);
  void append_or_stop(JsonlAppender* log, const std::string& line);
  void set_fatal(const std::string& message);

  std::atomic<bool> fatal_{false};
  std::mutex fatal_mu_;
  std::string fatal_message_;

  const AssemblerSinks sinks_;
  PerModality<std::unique_ptr<ShardWriter>> parts_;
  Tally* tally_;
  std::atomic<int64_t>* in_flight_;
  std::mutex mu_;
  std::map<uint64_t, Unit> units_;
  uint64_t next_ = 0;
};

}  // namespace lssd
