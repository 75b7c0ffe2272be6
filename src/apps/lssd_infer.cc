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

// The KEY VALUE tokens as the shell gave them. CLI11 does not see them as an option: it would
// split a list literal such as [224,224] at its commas; the config layer parses yacs literals
// (lists, tuples, quoted strings, booleans, numbers) itself. Throws CLI::ExtrasError for an
// unknown option in a key's place.
std::vector<std::string> override_tokens(const CLI::App& app) {
  std::vector<std::string> tokens;
  for (const std::string& t : app.remaining()) {
    if (t == "--") continue;  // the end of options: what follows is KEY VALUE pairs as well
    const bool key_place = tokens.size() % 2 == 0;
    if (key_place && t.size() > 1 && t[0] == '-') throw CLI::ExtrasError({t});
    tokens.push_back(t);
  }
  return tokens;
}

// What the command line says.
struct CommandLine {
  std::string cfg_file;
  std::vector<std::string> overrides;  // KEY VALUE ...
  int verbose = 0;
  bool quiet = false, overwrite = false, retry_failed = false, print_config = false;
};

void add_options(CLI::App& app, CommandLine& c) {
  app.set_version_flag("--version", std::string("lssd-infer ") + LSSD_VERSION);
  app.add_option("--cfg", c.cfg_file, "YAML config file (yacs style), e.g. configs/B3.yaml");
  app.add_flag("-v,--verbose", c.verbose, "print the resolved config; more log detail (-vv: trace)");
  app.add_flag("-q,--quiet", c.quiet, "warnings and errors only");
  app.add_flag("--overwrite", c.overwrite, "recompute every input, ignoring earlier outputs");
  app.add_flag("--retry-failed", c.retry_failed,
               "also retry inputs that failed earlier on content that has not changed (by default a rerun reports "
               "them as failed earlier)");
  app.add_flag("--print-config", c.print_config, "print the resolved config (YAML) and exit");
  app.allow_extras();  // KEY VALUE pairs: see override_tokens()
  app.footer(
      "After the options: KEY VALUE pairs that override the config, values as yacs literals (TEST.BATCH_SIZE 4, "
      "VIDEO.CROP_SIZE [224,224], DATA.VIDEO_EXTENSIONS \"[mp4, avi, mkv]\", MVIT.PATCH_OVERLAP True, OUTPUT_DIR "
      "out/).\n"
      "Exit codes: 0 all inputs done (or failed in an earlier run on the content of an unchanged file: not retried "
      "unless --retry-failed), 3 some inputs failed in this run (listed in OUTPUT_DIR/errors*.jsonl), 2 usage or "
      "config error, 1 fatal error (output directory, model files), 130 interrupted by Ctrl-C (SIGINT) and 143 by "
      "SIGTERM (the inputs in flight are finished; a rerun does the rest; a second signal stops at once).");
}

// The notes a resolved config calls for: the ignored release keys it sets (-v), VIDEO.T apart
// from TEST.CLIP_LEN.
void say_config_notes(const lssd::Config& cfg, int verbose) {
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
}

// The summary lines of a finished (or stopped) run; returns the exit code.
int report(const lssd::RunSummary& s, const lssd::PipelineOptions& opts, int signal) {
  spdlog::info("{}", s.line());
  spdlog::info("{}", lssd::RunSummary::legend(opts.dist_mode == "claim"));
  if (s.clips > 0)
    spdlog::info(
        "time: encoder forwards {:.1f} s (video {:.1f} s, audio {:.1f} s; CPU of their calling threads {:.1f} s); "
        "encoders loaded after {:.1f} s",
        s.encode_s.video + s.encode_s.audio, s.encode_s.video, s.encode_s.audio, s.encode_cpu_s, s.models_ready_s);
  if (s.clips > 0) {
    spdlog::info("{}", s.devices_line());
    spdlog::info("{} (decoding and transforming; blocked on a full clip queue is not busy)", s.workers_line());
  }
  if (s.failed > 0 || s.failed_earlier > 0 || s.discover_problems > 0)
    spdlog::warn("failures are listed in {}/errors*.jsonl", opts.output_dir);
  if (signal == 0) return s.exit_code();
  spdlog::warn("INTERRUPTED by {}: {} output(s) not started; rerun the same command to finish", signal_name(signal),
               s.not_started);
  return lssd::InterruptWatcher::exit_code(signal);
}

// Runs the pipeline with the signals watched: the first stops the run after the inputs in
// flight, the second ends it at once. Returns the exit code.
int run(const lssd::PipelineOptions& opts) {
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
    const lssd::RunSummary s = lssd::run_pipeline(opts, &control);
    return report(s, opts, watcher.first_signal());
  } catch (const lssd::ConfigError& e) {
    spdlog::error("{}", e.message());
    return 2;
  } catch (const std::exception& e) {
    spdlog::error("fatal: {}", e.what());
    return watcher.first_signal() ? lssd::InterruptWatcher::exit_code(watcher.first_signal()) : 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  lssd::tune_allocator();
  CLI::App app{"lssd-infer: LSSD audio-visual embeddings for a tree of media files"};
  CommandLine cl;
  add_options(app, cl);
  try {
    app.parse(argc, argv);
    cl.overrides = override_tokens(app);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  lssd::setup_logging(cl.quiet ? -1 : cl.verbose);
  lssd::Config cfg;
  lssd::PipelineOptions opts;
  try {
    if (!cl.cfg_file.empty()) cfg.merge_file(cl.cfg_file);
    cfg.merge_list(cl.overrides);
    opts = cfg.pipeline_options();  // every stage's options validated: a config error stops before any work
  } catch (const lssd::ConfigError& e) {
    spdlog::error("{}", e.message());
    return 2;
  }
  opts.overwrite = cl.overwrite;
  opts.retry_failed = cl.retry_failed;
  if (cl.print_config || cl.verbose > 0) std::cout << opts.config_yaml << std::flush;
  if (cl.print_config) return 0;
  say_config_notes(cfg, cl.verbose);
  return run(opts);
}
