// lssd-read: list, show, compare and verify embeddings written by lssd-infer.
#include <CLI/CLI.hpp>

#include <iostream>

#include "lssd/logging.h"
#include "lssd/version.h"

int main(int argc, char** argv) {
  CLI::App app{"lssd-read: inspect LSSD embeddings written by lssd-infer"};
  app.set_version_flag("--version", std::string("lssd-read ") + LSSD_VERSION);
  int verbose = 0;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbose, "more log detail");
  app.add_flag("-q,--quiet", quiet, "warnings and errors only");
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  lssd::setup_logging(quiet ? -1 : verbose);
  std::cout << app.help();
  return 0;
}
