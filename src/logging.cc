#include "lssd/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace lssd {

void setup_logging(int verbosity) {
  auto logger = spdlog::stderr_color_mt("lssd");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^[%Y-%m-%d %H:%M:%S.%e] [%l]%$ %v");
  if (verbosity < 0) spdlog::set_level(spdlog::level::warn);
  else if (verbosity == 0) spdlog::set_level(spdlog::level::info);
  else if (verbosity == 1) spdlog::set_level(spdlog::level::debug);
  else spdlog::set_level(spdlog::level::trace);
}

}  // namespace lssd
