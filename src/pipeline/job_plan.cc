#include "lssd/pipeline/job_plan.h"

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
  int64_t done = 0;          // outputs to keep (0: the job runs)
  bool other_model = false;  // records of another model id (another model, dtype, key or reading rule)
  bool other_dtype = false;  // ... among them in another dtype
};

EarlierOutputs judge(const Job& job, const InputFile& f, const std::vector<const Record*>& recs,
                     const std::string& model_id, const std::string& dtype, const std::string& out_root) {
  EarlierOutputs e;
  int64_t tracks = 0, total = -1;
  bool usable = true;
  for (const Record* r : recs) {
    const bool silent = job.container_tracks && r->status == RecordStatus::SkippedNoAudio;
    if (!silent && (r->track_index >= 0) != job.container_tracks) continue;
    if (r->model_id != model_id) {
      e.other_model = true;
      if (!r->dtype.empty() && r->dtype != dtype) e.other_dtype = true;
    }
    usable = usable && r->size == f.size && r->mtime_ns == f.mtime_ns && r->model_id == model_id;
    if (silent) {
      e.done = usable ? 1 : 0;
      return e;
    }
    if (r->status == RecordStatus::Ok)
      usable = usable && output_is_valid((fs::path(out_root) / r->output).string(), r->shape);
    else if (r->status != RecordStatus::SkippedShort)
      usable = false;
    ++tracks;
    total = r->tracks_total;
  }
  if (usable && tracks > 0 && (!job.container_tracks || tracks == total)) e.done = tracks;
  return e;
}

}  // namespace

ResumePlan plan_resume(const std::vector<Job>& jobs, const std::vector<InputFile>& files, const std::string& output_dir,
                       const std::function<std::string(bool video)>& model_id, const std::string& dtype,
                       std::vector<std::string>* warnings) {
  const std::string roots[2] = {(fs::path(output_dir) / "video").string(), (fs::path(output_dir) / "audio").string()};
  std::vector<Record> records[2];
  std::map<std::pair<Modality, std::string>, std::vector<const Record*>> by_input;
  for (int m = 0; m < 2; ++m) {
    records[m] = read_manifest_dir(roots[m], warnings);
    for (const auto& r : records[m]) by_input[{r.modality, r.rel_path}].push_back(&r);
  }
  ResumePlan plan;
  for (const auto& j : jobs) {
    const bool video = j.modality == Modality::Video;
    const InputFile& f = files[j.file];
    auto it = by_input.find({j.modality, f.rel_path});
    if (it == by_input.end()) {
      plan.todo.push_back(j);
      continue;
    }
    const EarlierOutputs e = judge(j, f, it->second, model_id(video), dtype, roots[video ? 0 : 1]);
    plan.other_model[video ? 0 : 1] += e.other_model ? 1 : 0;
    plan.other_dtype += e.other_dtype ? 1 : 0;
    if (e.done > 0)
      plan.resumed += e.done;
    else
      plan.todo.push_back(j);
  }
  return plan;
}

}  // namespace lssd
