// What a run has to do: a job per input file and modality, minus the jobs whose outputs an
// earlier run left complete (the resume check), with what the earlier outputs say.
#pragma once
#include <cstdint>
#include <functional>
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
};

// Keeps a job's earlier outputs when every record of it (each track of a container) is from the
// same file (size, mtime) and model id, and is "ok" with a valid .npy, "skipped_short", or
// "failed" on the file's content (Record::error_from_content; counted in failed_earlier, unless
// retry_failed); a container's audio job is also kept by one record without a track
// ("skipped_no_audio", or failed on content before its tracks were known). Failures of any
// other cause (I/O, deadline, encoder) are retried. model_id(m) may block (the model file's
// hash); it is only called when an input has earlier records. Reads
// OUTPUT_DIR/<mtype>/manifest*.jsonl; a torn last line is reported in *warnings.
ResumePlan plan_resume(const std::vector<Job>& jobs, const std::vector<InputFile>& files, const std::string& output_dir,
                       const std::function<std::string(Modality)>& model_id, const std::string& dtype,
                       bool retry_failed, std::vector<std::string>* warnings);

}  // namespace lssd
