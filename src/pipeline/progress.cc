#include "pipeline/progress.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "lssd/logging.h"

namespace lssd {

EtaEstimator::EtaEstimator(std::vector<Input> inputs) {
  inputs_.reserve(inputs.size());
  for (auto& in : inputs) {
    State s;
    s.in = std::move(in);
    inputs_.push_back(std::move(s));
  }
}

void EtaEstimator::planned(size_t i, int64_t clips) {
  std::lock_guard<std::mutex> lock(mu_);
  if (i < inputs_.size()) inputs_[i].planned = std::max<int64_t>(clips, 0);
}

void EtaEstimator::delivered(size_t i, int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  if (i < inputs_.size()) inputs_[i].delivered = std::max<int64_t>(0, inputs_[i].delivered + n);
}

void EtaEstimator::ended(size_t i) {
  std::lock_guard<std::mutex> lock(mu_);
  if (i < inputs_.size()) inputs_[i].ended = true;
}

void EtaEstimator::skip(size_t i) {
  std::lock_guard<std::mutex> lock(mu_);
  if (i < inputs_.size()) inputs_[i].skipped = true;
}

void EtaEstimator::clips_done(size_t i, int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  if (i < inputs_.size()) inputs_[i].done += n;
}

void EtaEstimator::encoded(Modality m, int64_t clips, double seconds, double at_s) {
  std::lock_guard<std::mutex> lock(mu_);
  encode_s_[m] += seconds;
  encoded_clips_[m] += clips;
  if (!encoder_began_s_) encoder_began_s_ = std::max(0.0, at_s - seconds);
}

// Clips per byte of the planned inputs, by modality and kind, and by modality alone.
struct EtaEstimator::Rates {
  std::map<std::pair<Modality, std::string>, std::pair<double, double>> by_kind;  // clips, bytes
  PerModality<double> clips, bytes;

  explicit Rates(const std::vector<State>& inputs) {
    for (const State& s : inputs) {
      if (!s.planned || s.in.bytes == 0 || s.skipped) continue;
      auto& k = by_kind[{s.in.modality, s.in.kind}];
      k.first += static_cast<double>(*s.planned);
      k.second += static_cast<double>(s.in.bytes);
      clips[s.in.modality] += static_cast<double>(*s.planned);
      bytes[s.in.modality] += static_cast<double>(s.in.bytes);
    }
  }
  // Clips per byte for an input: its kind's, else its modality's (other kinds); *measured false
  // when neither has been measured and the rate is a guess.
  double per_byte(const Input& in, bool* measured) const {
    *measured = true;
    auto it = by_kind.find({in.modality, in.kind});
    if (it != by_kind.end()) return it->second.first / it->second.second;
    if (bytes[in.modality] > 0) return clips[in.modality] / bytes[in.modality];
    // Nothing of this modality planned yet: a typical rate (video ~1 Mbit/s, audio ~128 kbit/s;
    // 3 s clips).
    *measured = false;
    return in.modality == Modality::Video ? 1.0 / 375e3 : 1.0 / 48e3;
  }
};

// A clip's cost in its modality, in audio clips: the encoder's measured seconds per video clip
// over those per audio clip once both have been measured; before that 5 (a video clip is five
// crops, five forwards).
double EtaEstimator::weight(Modality m) const {
  if (m == Modality::Audio) return 1.0;
  for (const Modality k : kModalities)
    if (encoded_clips_[k] == 0 || encode_s_[k] <= 0) return 5.0;
  return (encode_s_.video / static_cast<double>(encoded_clips_.video)) /
         (encode_s_.audio / static_cast<double>(encoded_clips_.audio));
}

// An input's clips: what it delivered once decoded; while decoding, its plan; before its plan,
// its size times the clips per byte of its kind (see Rates). Never less than what it delivered
// or had embedded. *measured: false when the estimate is a guess (see Rates::per_byte).
double EtaEstimator::expected_clips(const State& s, const Rates& rates, bool* measured) const {
  *measured = true;
  const auto floor = static_cast<double>(std::max(s.done, s.delivered));
  if (s.ended) return floor;
  if (s.planned) return std::max(floor, static_cast<double>(*s.planned));
  return std::max(floor, std::max(1.0, rates.per_byte(s.in, measured) * static_cast<double>(s.in.bytes)));
}

EtaEstimator::Snapshot EtaEstimator::snapshot(double elapsed_s) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Rates rates(inputs_);
  const PerModality<double> w{weight(Modality::Video), weight(Modality::Audio)};
  Snapshot out;
  double work_done = 0, work_expected = 0, unfinished_bytes = 0, guessed_bytes = 0;
  PerModality<bool> work_left{false, false};  // clips expected that are not embedded yet
  for (const State& s : inputs_) {
    if (s.skipped) continue;
    ++out.inputs;
    bool measured = true;
    const double expected = expected_clips(s, rates, &measured);
    out.inputs_finished += s.finished() ? 1 : 0;
    out.clips_done += s.done;
    out.clips_expected += expected;
    work_done += w[s.in.modality] * static_cast<double>(s.done);
    work_expected += w[s.in.modality] * expected;
    if (!s.finished()) unfinished_bytes += static_cast<double>(s.in.bytes);
    if (!measured) guessed_bytes += static_cast<double>(s.in.bytes);
    if (expected > static_cast<double>(s.done)) work_left[s.in.modality] = true;
  }
  out.fraction = work_expected > 0 ? std::min(1.0, work_done / work_expected) : (out.inputs == 0 ? 1.0 : 0.0);
  // A clip's cost is unknown until the encoder has run one of its modality (a video clip costs
  // 5-60 audio clips, depending on the towers).
  bool unmeasured = false;
  for (const Modality m : kModalities) unmeasured = unmeasured || (work_left[m] && encoded_clips_[m] == 0);
  out.estimating = work_done <= 0 || unmeasured || guessed_bytes > 0.25 * unfinished_bytes;
  if (out.inputs_finished == out.inputs) {
    out.eta_s = 0.0;
    out.estimating = false;
  } else if (!out.estimating) {
    const double working_s = elapsed_s - encoder_began_s_.value_or(0.0);
    if (working_s > 0) out.eta_s = (work_expected - work_done) / (work_done / working_s);
  }
  return out;
}

ProgressReporter::ProgressReporter(const EtaEstimator* eta, double interval_s, std::optional<bool> status_line,
                                   std::function<int64_t()> failed, std::chrono::steady_clock::time_point start)
    : eta_(eta), interval_s_(interval_s), failed_(std::move(failed)), start_(start) {
  tty_ = status_line.value_or(::isatty(STDERR_FILENO) != 0);
  thread_ = std::thread([this] { loop(); });
}

ProgressReporter::~ProgressReporter() { stop(); }

void ProgressReporter::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (tty_) clear_status_line(/*keep=*/false);
}

std::string ProgressReporter::line(const EtaEstimator::Snapshot& s, int64_t failed, double elapsed_s) {
  std::string eta = s.estimating ? "estimating" : "?";
  if (s.eta_s) {
    const auto t = static_cast<int64_t>(*s.eta_s + 0.5);
    char b[48];
    if (t >= 3600)
      std::snprintf(b, sizeof b, "%lldh%02lldm", static_cast<long long>(t / 3600), static_cast<long long>(t / 60 % 60));
    else
      std::snprintf(b, sizeof b, "%lldm%02llds", static_cast<long long>(t / 60), static_cast<long long>(t % 60));
    eta = b;
  }
  const int width = 24;
  const int fill = std::clamp(static_cast<int>(width * s.fraction), 0, width);
  const double rate = elapsed_s > 0 ? static_cast<double>(s.clips_done) / elapsed_s : 0;
  char buf[256];
  std::snprintf(
      buf, sizeof buf, "[%s%s] %3d%% | inputs %zu/%zu (failed %lld) | clips %lld/~%.0f | %.2f clips/s | ETA %s",
      std::string(fill, '#').c_str(), std::string(width - fill, '.').c_str(), static_cast<int>(100 * s.fraction),
      s.inputs_finished, s.inputs, static_cast<long long>(failed), static_cast<long long>(s.clips_done),
      std::max(s.clips_expected, static_cast<double>(s.clips_done)), rate, eta.c_str());
  return buf;
}

void ProgressReporter::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopped_) {
    cv_.wait_for(lock, std::chrono::duration<double>(tty_ ? 0.5 : interval_s_));
    if (stopped_) break;
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const std::string text = line(eta_->snapshot(t), failed_ ? failed_() : 0, t);
    if (tty_)
      set_status_line(text);
    else
      spdlog::info("progress {}", text);
  }
}

}  // namespace lssd
