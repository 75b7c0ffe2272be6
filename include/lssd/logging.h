// Logging set-up shared by the apps: spdlog to stderr, -v for debug, -q for warnings only.
#pragma once

namespace lssd {
// verbosity: -1 quiet (warnings and errors), 0 info, 1 debug, 2 trace.
void setup_logging(int verbosity);
}  // namespace lssd
