// lssd-infer: batch embedding extraction.
//   lssd-infer --cfg configs/B3.yaml DATA.PATH_TO_DATA_DIR in/ OUTPUT_DIR out/ [KEY VALUE ...]
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <atomic>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "lssd/config.h"
#include "lssd/error.h"
#include "lssd/interrupt.h"
#include "lssd/logging.h"
#include "lssd/pipeline.h"
#include "lssd/process.h"
#include "lssd/version.h"

namespace {
const char* signal_name(int sig) { return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "Ctrl-C (SIGINT)" : "a signal"; }
}  // namespace

int main(int argc, char** argv) {
  lssd::tune_allocator();
  CLI::App app{"lssd-infer: LSSD audio-visual embeddings for a tree of media files"};
  app.set_version_flag("--version", std::string("lssd-infer ") + LSSD_VERSION);
  std::string cfg_file;
  std::vector<std::string> overrides;
  int verbose = 0;
  bool quiet = false;
  bool overwrite = false;
  app.add_option("--cfg", cfg_file, "YAML config file (yacs style), e.g. configs/B3.yaml");
  app.add_flag("-v,--verbose", verbose, "print the resolved config; more log detail (-vv: trace)");
  app.add_flag("-q,--quiet", quiet, "warnings and errors only");
  app.add_flag("--overwrite", overwrite, "recompute every input, ignoring earlier outputs");
  // The trailing KEY VALUE pairs are CLI11's "extras", taken verbatim: a positional vector option
  // would split a list value ("[0, 1]", "[224,224]") into its elements.
  app.allow_extras();
  app.footer(
      "Trailing KEY VALUE pairs override the config (e.g. TEST.BATCH_SIZE 4, VIDEO.CROP_SIZE [224,224]).\n"
      "Exit codes: 0 all inputs done, 3 some inputs failed (listed in OUTPUT_DIR/errors*.jsonl), 2 usage or config "
      "error, 1 fatal error (output directory, model files), 130 interrupted by Ctrl-C (SIGINT) and 143 by SIGTERM "
      "(the inputs in flight are finished; a rerun does the rest; a second signal stops at once).");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  overrides = app.remaining();
  for (size_t i = 0; i < overrides.size(); i += 2)
    if (!overrides[i].empty() && overrides[i][0] == '-') {  // a key never starts with '-': an unknown option
      std::cerr << "unknown option " << overrides[i] << "\nRun with --help for more information.\n";
      return 2;
    }
  lssd::setup_logging(quiet ? -1 : verbose);

  lssd::Config cfg;
  lssd::PipelineOptions opts;
  try {
    if (!cfg_file.empty()) cfg.merge_file(cfg_file);
    cfg.merge_list(overrides);
    // Every stage's options are validated here: a config error stops before any work.
    opts = cfg.pipeline_options();
  } catch (const lssd::ConfigError& e) {
    spdlog::error("{}", e.message());
    return 2;
  }
  opts.overwrite = overwrite;
  if (verbose > 0) std::cout << cfg.to_yaml() << std::flush;
  if (verbose > 0 && !cfg.ignored_settings().empty()) {
    std::string list;
    for (const auto& kv : cfg.ignored_settings()) list += (list.empty() ? "" : ", ") + kv;
    spdlog::info(
        "ignored config keys (the release's tower builder sets them from MVIT.SIZE / MVIT.PATCH_OVERLAP, "
        "or they matter only for training / torch.distributed): {}",
        list);
  }
  if (cfg.get_float("VIDEO.T") != cfg.get_float("TEST.CLIP_LEN"))
    spdlog::warn("VIDEO.T ({}) differs from TEST.CLIP_LEN ({}); clips follow TEST.CLIP_LEN", cfg.get_float("VIDEO.T"),
                 cfg.get_float("TEST.CLIP_LEN"));

  // Signals: the first stops the run after the inputs in flight, the second ends it at once.
  lssd::RunControl control;
  lssd::InterruptWatcher watcher(
      [&](int sig) {
        control.stop = true;
        const int64_t n = control.in_flight.load();
        return std::string(signal_name(sig)) + ": stopping " +
               (n > 0 ? "after the " + std::to_string(n) + " input(s) in flight" : "(no input in flight)") +
               "; no new input starts (" + (sig == SIGINT ? "Ctrl-C" : "the same signal") + " again to abort at once)";
      },
      [&](int sig) {
        return std::string(signal_name(sig)) + " again: aborting now; the " + std::to_string(control.in_flight.load()) +
               " input(s) in flight are not recorded and a rerun redoes them";
      });
  try {
    lssd::RunSummary s = lssd::run_pipeline(opts, &control);
    spdlog::info("{}", s.line());
    spdlog::info("{}", lssd::RunSummary::legend());
    if (s.clips > 0)
      spdlog::info("time: encoder forwards {:.1f} s (video {:.1f} s, audio {:.1f} s); encoders loaded after {:.1f} s",
                   s.encode_s[0] + s.encode_s[1], s.encode_s[0], s.encode_s[1], s.models_ready_s);
    if (s.clips > 0) {
      spdlog::info("{}", s.devices_line());
      spdlog::info("{} (decoding and transforming; blocked on a full clip queue is not busy)", s.workers_line());
    }
    if (s.failed > 0 || s.discover_problems > 0)
      spdlog::warn("failures are listed in {}/errors*.jsonl", opts.output_dir);
    if (const int sig = watcher.first_signal()) {
      spdlog::warn("INTERRUPTED by {}: {} output(s) not started; rerun the same command to finish", signal_name(sig),
                   s.not_started);
      return lssd::InterruptWatcher::exit_code(sig);
    }
    return s.exit_code();
  } catch (const lssd::ConfigError& e) {
    spdlog::error("{}", e.message());
    return 2;
  } catch (const std::exception& e) {
    spdlog::error("fatal: {}", e.what());
    return watcher.first_signal() ? lssd::InterruptWatcher::exit_code(watcher.first_signal()) : 1;
  }
}
