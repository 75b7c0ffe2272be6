// lssd-read: list, show, compare, verify and export embeddings written by lssd-infer (or by the
// Python release: metadata.json + <mtype>.pt), and search them. Each command is in its own file
// (read_common.h lists them); this file wires them up. Exit codes: 0 ok, 1 a check failed or
// the data is bad (unreadable, corrupt), 2 usage.
#include <CLI/CLI.hpp>

#include <iostream>

#include "lssd/error.h"
#include "lssd/logging.h"
#include "lssd/version.h"
#include "read_common.h"
#include "read_search.h"

int main(int argc, char** argv) {
  using namespace lssd::read;
  CLI::App app{"lssd-read: inspect LSSD embeddings written by lssd-infer (or by the Python release)"};
  app.set_version_flag("-V,--version", std::string("lssd-read ") + LSSD_VERSION);
  app.footer(
      "Exit codes: 0 ok, 1 a check failed or bad data, 2 usage.\n"
      "Order: files are listed in manifest order sorted by relative path, then audio track;\n"
      "the same order as lssd::postprocess() and tools/lssd_postprocess.py.");
  int verbose = 0;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbose, "more log detail");
  app.add_flag("-q,--quiet", quiet, "warnings and errors only");
  app.require_subcommand(1);

  std::vector<Command> commands = {add_ls(app),      add_show(app),   add_stats(app),
                                   add_compare(app), add_verify(app), add_export(app)};
  for (auto& c : add_search_commands(app)) commands.push_back(std::move(c));  // search, dedup, tracks, report
  commands.push_back(add_convert(app));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  lssd::setup_logging(quiet ? -1 : verbose);
  try {
    for (const auto& c : commands)
      if (*c.app) return c.run();
  } catch (const lssd::ConfigError& e) {
    std::cerr << "lssd-read: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {  // lssd::Error (bad data) and anything else
    std::cerr << "lssd-read: " << e.what() << "\n";
    return kFail;
  }
  return 2;
}
