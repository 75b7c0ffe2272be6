// What a run has to do: a job per input file and modality, minus the jobs whose outputs an
// earlier run left complete (the resume check), with what the earlier outputs say.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "lssd/discover.h"
#include "lssd/output.h"

namespace lssd {

// One unit of work: an input file for one modality. The audio tracks of a video container are
// one job that yields one output per track.
struct Job {
  size_t file = 0;  // index into DiscoverResult::files
  Modality modality = Modality::Video;
  bool container_tracks = false;
};

// The jobs in input order: a video job per video file, an audio job per audio file, and one for
// the audio tracks of each video container (DATA.AUDIO_FROM_VIDEO).
std::vector<Job> make_jobs(const DiscoverResult& found, const DiscoverOptions& d);

struct ResumePlan {
  std::vector<Job> todo;             // jobs to run, in input order
  int64_t resumed = 0;               // outputs kept from earlier runs (a container counts its tracks)
  int64_t failed_earlier = 0;        // outputs that failed earlier on the unchanged file's content: not retried
  PerModality<int64_t> other_model;  // jobs with records of another model id
  int64_t other_dtype = 0;           // ... of them in another dtype
  int64_t max_seq = 0;               // the largest Record::seq read
  PerModality<std::set<std::string>> parts_named;  // shard parts (relative to <mtype>/) that a latest record names
};

// Earlier records of one job, judged against this run.
struct EarlierOutputs {
  int64_t done = 0;            // outputs to keep (0: the job runs)
  int64_t failed_earlier = 0;  // ... of them failures of the unchanged file's content (not retried)
  bool other_model = false;    // records of another model id (another model, dtype, key or reading rule)
  bool other_dtype = false;    // ... among them in another dtype
};

// The latest record of every output under OUTPUT_DIR/<mtype>/manifest*.jsonl (the larger seq
// wins, else the later line), held lean (RecordSummary, model ids and dtypes interned), and kept
// up to date by reading only what the manifests gained since (DIST.MODE claim: the records of
// other writers). Shard parts are validated once each. Not thread-safe.
class ResumeIndex {
 public:
  explicit ResumeIndex(std::string output_dir);
  ~ResumeIndex();
  // Reads the manifests: whole the first time, then the lines appended since (complete lines
  // only; a new manifest whole). A torn last line (no newline) is reported in *warnings when
  // `final_lines` (the start of a run: no other writer may be appending) and left for later
  // otherwise. Throws lssd::Error("read") for a malformed line, naming the file and line.
  void update(std::vector<std::string>* warnings, bool final_lines);
  // Keeps a job's earlier outputs when every record of it (each track of a container) is from
  // the same file (size, mtime) and model id, and is "ok" with a valid output (its .npy: its
  // size, see output_is_valid; or its rows within a valid part), "skipped_short", or "failed" on the file's
  // content (counted in failed_earlier, unless retry_failed); a container's audio job is also
  // kept by one record without a track ("skipped_no_audio", or failed on content before its
  // tracks were known). Failures of any other cause (I/O, deadline, encoder) are retried.
  // Several threads may judge at once (not while update() runs).
  EarlierOutputs judge(const Job& job, const InputFile& file, const std::string& model_id, const std::string& dtype,
                       bool retry_failed);
  // Whether any record names this input (modality, rel_path).
  bool has(Modality m, const std::string& rel_path) const;
  int64_t max_seq() const { return max_seq_; }
  size_t size() const;  // records held
  // Shard parts (relative to <mtype>/) that a latest ok record names.
  PerModality<std::set<std::string>> parts_named() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t max_seq_ = 0;
};

// Judges every job against `index` (see ResumeIndex::judge), up to 8 threads at once over a
// large plan (each output check is a stat or a header read: with a cold page cache each waits
// for the disk); the plan is in job order whatever the threads. model_id(m) may block (the model
// file's hash) and is only called when an input has earlier records.
ResumePlan plan_resume(const std::vector<Job>& jobs, const std::vector<InputFile>& files, ResumeIndex& index,
                       const std::function<std::string(Modality)>& model_id, const std::string& dtype,
                       bool retry_failed);
// The same, reading OUTPUT_DIR's manifests into an index of its own; a torn last line is
// reported in *warnings.
ResumePlan plan_resume(const std::vector<Job>& jobs, const std::vector<InputFile>& files, const std::string& output_dir,
                       const std::function<std::string(Modality)>& model_id, const std::string& dtype,
                       bool retry_failed, std::vector<std::string>* warnings);

}  // namespace lssd
