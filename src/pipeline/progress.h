// Progress of a run and its ETA, counted in clips: how many clips the inputs will give (known
// once an input's clip plan is made, estimated before that from the size of the file and the
// clips per byte this run has measured on planned files of the same kind, or else of the same
// modality), how many are
// embedded, and at what rate. A long file weighs as much as its clips, not as one file; a clip
// weighs what the encoder has measured it to cost in its modality.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lssd/modality.h"

namespace lssd {

// Pure bookkeeping (no clock): the caller passes elapsed seconds. Thread-safe.
class EtaEstimator {
 public:
  // One entry per input of the run: its size in bytes, its modality, and its kind (e.g. the
  // file's extension, lower case): files of one kind and modality share a clips-per-byte rate (a
  // WAV holds far fewer seconds per byte than an MP3).
  struct Input {
    uint64_t bytes = 0;
    Modality modality = Modality::Video;
    std::string kind;
  };
  explicit EtaEstimator(std::vector<Input> inputs);

  // Input `i` will give `clips` clips (its plan, or an estimate; again after a re-plan).
  void planned(size_t i, int64_t clips);
  // `n` clips of input `i` went to the encoder (negative: clips withdrawn by a re-plan).
  void delivered(size_t i, int64_t n);
  // Input `i` is decoded (or failed, or was skipped): it gives no more clips than delivered.
  void ended(size_t i);
  // Input `i` is not this run's after all (DIST.MODE claim: another writer computes it): it no
  // longer counts, neither in the inputs nor in the clips expected.
  void skip(size_t i);
  // `n` clips of input `i` were embedded.
  void clips_done(size_t i, int64_t n);
  // The encoder spent `seconds` on `clips` clips of one modality (weighs the modalities' clips),
  // finishing `at_s` seconds after the run's start (the first call marks when the encoder began
  // working: the rate of the ETA is counted from there, not from the start of the run, which
  // loads the towers and fills the pipeline first).
  void encoded(Modality m, int64_t clips, double seconds, double at_s);

  struct Snapshot {
    size_t inputs = 0, inputs_finished = 0;
    int64_t clips_done = 0;
    double clips_expected = 0;    // planned + estimated for inputs not planned yet
    double fraction = 0;          // weighted work done / expected, 0..1
    std::optional<double> eta_s;  // unknown while estimating or until some work is done
    // No basis for an ETA yet: no clip embedded, no clip of a modality with work left encoded
    // (its cost is unknown), or more than a quarter of the unfinished bytes are in inputs of a
    // modality that no planned input has measured.
    bool estimating = true;
  };
  // elapsed_s: seconds since the run's start.
  Snapshot snapshot(double elapsed_s) const;

 private:
  struct State {
    Input in;
    std::optional<int64_t> planned;  // not known before the input's plan
    int64_t delivered = 0;
    int64_t done = 0;
    bool ended = false;
    bool skipped = false;
    bool finished() const { return ended && done >= delivered; }
  };
  struct Rates;  // clips per byte by kind and modality, from the planned inputs
  double weight(Modality m) const;
  double expected_clips(const State& s, const Rates& rates, bool* measured) const;

  mutable std::mutex mu_;
  std::vector<State> inputs_;
  PerModality<double> encode_s_;
  PerModality<int64_t> encoded_clips_;
  std::optional<double> encoder_began_s_;  // since the run's start
};

// Shows an EtaEstimator's progress: a status line on a terminal (redrawn every 0.5 s), or a log
// line every `interval_s` otherwise. Owns one thread; stop() (or the destructor) ends it.
class ProgressReporter {
 public:
  // status_line: a status line (true) or log lines (false); none: a status line when stderr is a
  // terminal.
  // start: the run's start (the EtaEstimator's time origin).
  ProgressReporter(const EtaEstimator* eta, double interval_s, std::optional<bool> status_line,
                   std::function<int64_t()> failed, std::chrono::steady_clock::time_point start);
  ~ProgressReporter();
  void stop();
  // The text of the status line / log line for a snapshot (public for tests).
  static std::string line(const EtaEstimator::Snapshot& s, int64_t failed, double elapsed_s);

 private:
  void loop();
  const EtaEstimator* eta_;
  double interval_s_;
  bool tty_ = false;
  std::function<int64_t()> failed_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace lssd
