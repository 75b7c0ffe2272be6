#include "pipeline/job_plan.h"

#include <filesystem>
#include <map>

namespace lssd {
namespace fs = std::filesystem;

std::vector<Job> make_jobs(const DiscoverResult& found, const DiscoverOptions& d) {
  std::vector<Job> jobs;
  for (size_t i = 0; i < found.files.size(); ++i) {
    const InputFile& f = found.files[i];
    if (f.is_video_ext && d.use_video) jobs.push_back({i, Modality::Video, false});
    if (f.is_audio_ext && d.use_audio) jobs.push_back({i, Modality::Audio, false});
    if (f.is_container_ext && !f.is_audio_ext && d.use_audio) jobs.push_back({i, Modality::Audio, true});
  }
  return jobs;
}

namespace {

// Earlier records of one job, judged against this run.
struct EarlierOutputs {
  int64_t done = 0;            // outputs to keep (0: the job runs)
  int64_t failed_earlier = 0;  // ... of them failures of the unchanged file's content (not retried)
  bool other_model = false;    // records of another model id (another model, dtype, key or reading rule)
  bool other_dtype = false;    // ... among them in another dtype
};

struct JudgeContext {
  const InputFile& file;
  const std::string& model_id;
  const std::string& dtype;
  const std::string& out_root;
  bool retry_failed;
};

// Whether one earlier record still stands for this run: same file (size, mtime) and model id,
// and ok with a valid .npy, skipped as the release skips it, or failed on the file's content.
bool record_stands(const Record& r, const JudgeContext& c) {
  if (r.size != c.file.size || r.mtime_ns != c.file.mtime_ns || r.model_id != c.model_id) return false;
  switch (r.status) {
    case RecordStatus::Ok: return output_is_valid((fs::path(c.out_root) / r.output).string(), r.shape);
    case RecordStatus::SkippedShort:
    case RecordStatus::SkippedNoAudio: return true;
    case RecordStatus::Failed: return r.error_from_content && !c.retry_failed;
  }
  return false;
}

// A container's audio job is done by one record without a track (no audio track; or a failure
// before its tracks were known) or by a record of every track; other jobs by their one record.
EarlierOutputs judge(const Job& job, const std::vector<const Record*>& recs, const JudgeContext& c) {
  EarlierOutputs e;
  int64_t tracks = 0, failed = 0, total = -1;
  bool usable = true;
  for (const Record* r : recs) {
    const bool whole = job.container_tracks && r->track_index < 0;  // the whole container in one record
    if (!whole && (r->track_index >= 0) != job.container_tracks) continue;
    if (r->model_id != c.model_id) {
      e.other_model = true;
      if (!r->dtype.empty() && r->dtype != c.dtype) e.other_dtype = true;
    }
    const bool stands = record_stands(*r, c);
    const bool failed_here = r->status == RecordStatus::Failed;
    if (whole) {
      if (stands && (failed_here || r->status == RecordStatus::SkippedNoAudio)) {
        e.done = 1;
        e.failed_earlier = failed_here ? 1 : 0;
        return e;
      }
      continue;
    }
    usable = usable && stands;
    failed += failed_here ? 1 : 0;
    ++tracks;
    total = r->tracks_total;
  }
  if (usable && tracks > 0 && (!job.container_tracks || tracks == total)) {
    e.done = tracks;
    e.failed_earlier = failed;
  }
  return e;
}

}  // namespace

ResumePlan plan_resume(const std::vector<Job>& jobs, const std::vector<InputFile>& files, const std::string& output_dir,
                       const std::function<std::string(Modality)>& model_id, const std::string& dtype,
                       bool retry_failed, std::vector<std::string>* warnings) {
  PerModality<std::string> roots;
  PerModality<std::vector<Record>> records;
  std::map<std::pair<Modality, std::string>, std::vector<const Record*>> by_input;
  for (const Modality m : kModalities) {
    roots[m] = (fs::path(output_dir) / to_string(m)).string();
    records[m] = read_manifest_dir(roots[m], warnings);
    for (const auto& r : records[m]) by_input[{r.modality, r.rel_path}].push_back(&r);
  }
  ResumePlan plan;
  for (const auto& j : jobs) {
    const InputFile& f = files[j.file];
    auto it = by_input.find({j.modality, f.rel_path});
    if (it == by_input.end()) {
      plan.todo.push_back(j);
      continue;
    }
    const std::string id = model_id(j.modality);
    const EarlierOutputs e = judge(j, it->second, {f, id, dtype, roots[j.modality], retry_failed});
    plan.other_model[j.modality] += e.other_model ? 1 : 0;
    plan.other_dtype += e.other_dtype ? 1 : 0;
    if (e.done > 0) {
      plan.resumed += e.done - e.failed_earlier;
      plan.failed_earlier += e.failed_earlier;
    } else {
      plan.todo.push_back(j);
    }
  }
  return plan;
}

}  // namespace lssd
