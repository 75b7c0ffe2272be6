#include "pipeline/job_plan.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "lssd/error.h"
#include "lssd/npy.h"

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

// One earlier record, lean: what judge() needs.
struct Earlier {
  std::string output;
  int64_t row = -1, num_clips = 0, seq = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  std::vector<int64_t> shape;
  int track_index = -1, tracks_total = 0;
  uint16_t model = 0, dtype = 0;  // interned
  RecordStatus status = RecordStatus::Ok;
  bool from_content = false;
};

}  // namespace

struct ResumeIndex::Impl {
  std::string output_dir;
  PerModality<std::string> roots;
  // Per modality: rel_path -> the latest record of each track (-1: the whole input).
  PerModality<std::unordered_map<std::string, std::vector<Earlier>>> by_input;
  std::vector<std::string> strings{""};  // interned model ids and dtypes
  std::unordered_map<std::string, uint16_t> string_index{{"", 0}};
  struct FilePos {
    uint64_t offset = 0;
    size_t lineno = 0;
  };
  std::unordered_map<std::string, FilePos> read_upto;
  std::unordered_map<std::string, std::optional<NpyInfo>> parts;  // validated once each
  std::mutex parts_mu;                                            // judge() runs in threads
  size_t records = 0;

  uint16_t intern(const std::string& s) {
    auto [it, inserted] = string_index.emplace(s, static_cast<uint16_t>(strings.size()));
    if (inserted) {
      if (strings.size() >= 65535) throw Error("read", "more than 65535 model ids and dtypes in one OUTPUT_DIR");
      strings.push_back(s);
    }
    return it->second;
  }
  void add(RecordSummary&& r, int64_t* max_seq);
  const std::optional<NpyInfo>& part(const std::string& path);
  bool output_present(const Earlier& r, const std::string& root);
};

void ResumeIndex::Impl::add(RecordSummary&& r, int64_t* max_seq) {
  *max_seq = std::max(*max_seq, r.seq);
  std::vector<Earlier>& tracks = by_input[r.modality][r.rel_path];
  auto it =
      std::find_if(tracks.begin(), tracks.end(), [&](const Earlier& e) { return e.track_index == r.track_index; });
  if (it != tracks.end() && r.seq < it->seq) return;  // an older record than the one held
  Earlier e;
  e.output = std::move(r.output);
  e.row = r.row;
  e.num_clips = r.num_clips;
  e.seq = r.seq;
  e.size = r.size;
  e.mtime_ns = r.mtime_ns;
  e.shape = std::move(r.shape);
  e.track_index = r.track_index;
  e.tracks_total = r.tracks_total;
  e.model = intern(r.model_id);
  e.dtype = intern(r.dtype);
  e.status = r.status;
  e.from_content = r.error_from_content;
  if (it != tracks.end()) {
    *it = std::move(e);
  } else {
    tracks.push_back(std::move(e));
    ++records;
  }
}

const std::optional<NpyInfo>& ResumeIndex::Impl::part(const std::string& path) {
  std::lock_guard<std::mutex> lock(parts_mu);  // elements stay in place: the reference outlives it
  auto [it, inserted] = parts.try_emplace(path);
  if (inserted) {
    try {
      it->second = read_npy_info(path);
    } catch (const Error&) {
    }
  }
  return it->second;
}

// An ok record's embedding is there: its own .npy valid with the recorded shape (files layout),
// or its rows inside a valid part of the recorded row shape (shards layout).
bool ResumeIndex::Impl::output_present(const Earlier& r, const std::string& root) {
  const std::string path = (fs::path(root) / r.output).string();
  if (r.row < 0)
    return output_is_valid(path, r.shape, strings[r.dtype] == "float16" ? NpyDtype::Float16 : NpyDtype::Float32);
  const std::optional<NpyInfo>& p = part(path);
  if (!p || p->shape.empty() || r.shape.empty() || r.shape[0] != r.num_clips) return false;
  return std::equal(p->shape.begin() + 1, p->shape.end(), r.shape.begin() + 1, r.shape.end()) &&
         r.row + r.num_clips <= p->shape[0];
}

ResumeIndex::ResumeIndex(std::string output_dir) : impl_(std::make_unique<Impl>()) {
  impl_->output_dir = std::move(output_dir);
  for (const Modality m : kModalities) impl_->roots[m] = (fs::path(impl_->output_dir) / to_string(m)).string();
}

ResumeIndex::~ResumeIndex() = default;

size_t ResumeIndex::size() const { return impl_->records; }

bool ResumeIndex::has(Modality m, const std::string& rel_path) const { return impl_->by_input[m].count(rel_path) > 0; }

void ResumeIndex::update(std::vector<std::string>* warnings, bool final_lines) {
  for (const Modality m : kModalities) {
    for (const std::string& f : manifest_files(impl_->roots[m])) {
      Impl::FilePos& pos = impl_->read_upto[f];
      for_each_manifest_line(
          f, pos.offset, pos.lineno, !final_lines,
          [&](const std::string& line, size_t lineno, bool last) {
            RecordSummary r;
            try {
              r = record_summary_from_json(line, f + ":" + std::to_string(lineno));
            } catch (const Error&) {
              if (last) {  // a torn final append: the input is simply redone
                if (warnings) warnings->push_back(f + ":" + std::to_string(lineno) + ": incomplete last line ignored");
                return;
              }
              throw;
            }
            impl_->add(std::move(r), &max_seq_);
          },
          &pos.offset, &pos.lineno);
    }
  }
}

PerModality<std::set<std::string>> ResumeIndex::parts_named() const {
  PerModality<std::set<std::string>> out;
  for (const Modality m : kModalities)
    for (const auto& [rel, tracks] : impl_->by_input[m])
      for (const Earlier& e : tracks)
        if (e.row >= 0 && e.status == RecordStatus::Ok) out[m].insert(e.output);
  return out;
}

// A container's audio job is done by one record without a track (no audio track; or a failure
// before its tracks were known) or by a record of every track; other jobs by their one record.
EarlierOutputs ResumeIndex::judge(const Job& job, const InputFile& file, const std::string& model_id,
                                  const std::string& dtype, bool retry_failed) {
  EarlierOutputs e;
  auto found = impl_->by_input[job.modality].find(file.rel_path);
  if (found == impl_->by_input[job.modality].end()) return e;
  const auto model_it = impl_->string_index.find(model_id);
  const int model = model_it == impl_->string_index.end() ? -1 : model_it->second;
  const std::string& root = impl_->roots[job.modality];
  // Whether one earlier record still stands for this run: same file (size, mtime) and model
  // id, and ok with a valid output, skipped as the release skips it, or failed on content.
  auto stands = [&](const Earlier& r) {
    if (r.size != file.size || r.mtime_ns != file.mtime_ns || r.model != model) return false;
    switch (r.status) {
      case RecordStatus::Ok: return impl_->output_present(r, root);
      case RecordStatus::SkippedShort:
      case RecordStatus::SkippedNoAudio: return true;
      case RecordStatus::Failed: return r.from_content && !retry_failed;
    }
    return false;
  };
  int64_t tracks = 0, failed = 0, total = -1;
  bool usable = true;
  for (const Earlier& r : found->second) {
    const bool whole = job.container_tracks && r.track_index < 0;  // the whole container in one record
    if (!whole && (r.track_index >= 0) != job.container_tracks) continue;
    if (r.model != model) {
      e.other_model = true;
      const std::string& d = impl_->strings[r.dtype];
      if (!d.empty() && d != dtype) e.other_dtype = true;
    }
    const bool ok = stands(r);
    const bool failed_here = r.status == RecordStatus::Failed;
    if (whole) {
      if (ok && (failed_here || r.status == RecordStatus::SkippedNoAudio)) {
        e.done = 1;
        e.failed_earlier = failed_here ? 1 : 0;
        return e;
      }
      continue;
    }
    usable = usable && ok;
    failed += failed_here ? 1 : 0;
    ++tracks;
    total = r.tracks_total;
  }
  if (usable && tracks > 0 && (!job.container_tracks || tracks == total)) {
    e.done = tracks;
    e.failed_earlier = failed;
  }
  return e;
}

namespace {

// index.judge() of every known job, in up to 8 threads over chunks of 1,024 jobs.
std::vector<EarlierOutputs> judge_all(const std::vector<Job>& jobs, const std::vector<InputFile>& files,
                                      ResumeIndex& index, const std::vector<char>& known,
                                      const PerModality<std::optional<std::string>>& ids, const std::string& dtype,
                                      bool retry_failed) {
  std::vector<EarlierOutputs> judged(jobs.size());
  constexpr size_t kChunk = 1024;
  std::atomic<size_t> next{0};
  std::mutex error_mu;
  std::exception_ptr error;
  auto work = [&] {
    try {
      for (size_t b = next.fetch_add(kChunk); b < jobs.size(); b = next.fetch_add(kChunk))
        for (size_t k = b; k < std::min(b + kChunk, jobs.size()); ++k)
          if (known[k])
            judged[k] = index.judge(jobs[k], files[jobs[k].file], *ids[jobs[k].modality], dtype, retry_failed);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = std::current_exception();
      next = jobs.size();
    }
  };
  const size_t helpers = std::min<size_t>(7, jobs.size() / (4 * kChunk));
  std::vector<std::thread> threads;
  for (size_t t = 0; t < helpers; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  return judged;
}

}  // namespace

ResumePlan plan_resume(const std::vector<Job>& jobs, const std::vector<InputFile>& files, ResumeIndex& index,
                       const std::function<std::string(Modality)>& model_id, const std::string& dtype,
                       bool retry_failed) {
  ResumePlan plan;
  PerModality<std::optional<std::string>> ids;
  std::vector<char> known(jobs.size(), 0);  // the job's input has earlier records
  for (size_t k = 0; k < jobs.size(); ++k) {
    const Job& j = jobs[k];
    if (!index.has(j.modality, files[j.file].rel_path)) continue;
    known[k] = 1;
    if (!ids[j.modality]) ids[j.modality] = model_id(j.modality);
  }
  const std::vector<EarlierOutputs> judged = judge_all(jobs, files, index, known, ids, dtype, retry_failed);
  for (size_t k = 0; k < jobs.size(); ++k) {
    const Job& j = jobs[k];
    if (!known[k]) {
      plan.todo.push_back(j);
      continue;
    }
    const EarlierOutputs& e = judged[k];
    plan.other_model[j.modality] += e.other_model ? 1 : 0;
    plan.other_dtype += e.other_dtype ? 1 : 0;
    if (e.done > 0) {
      plan.resumed += e.done - e.failed_earlier;
      plan.failed_earlier += e.failed_earlier;
    } else {
      plan.todo.push_back(j);
    }
  }
  plan.max_seq = index.max_seq();
  plan.parts_named = index.parts_named();
  return plan;
}

ResumePlan plan_resume(const std::vector<Job>& jobs, const std::vector<InputFile>& files, const std::string& output_dir,
                       const std::function<std::string(Modality)>& model_id, const std::string& dtype,
                       bool retry_failed, std::vector<std::string>* warnings) {
  ResumeIndex index(output_dir);
  index.update(warnings, /*final_lines=*/true);
  return plan_resume(jobs, files, index, model_id, dtype, retry_failed);
}

}  // namespace lssd
