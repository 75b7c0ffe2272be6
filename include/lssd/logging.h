// Logging shared by the apps: spdlog to stderr, -v for debug, -q for warnings only, and a
// status line (the progress bar on a terminal) that log lines never overwrite or glue onto.
#pragma once
#include <string>

namespace lssd {

// verbosity: -1 quiet (warnings and errors), 0 info, 1 debug, 2 trace. Installs the default
// logger "lssd" (stderr, colours on a terminal).
void setup_logging(int verbosity);

// Draws `text` as the status line at the bottom of stderr ("\r" + text + erase to the end of the
// line). While a status line is shown, every log line first erases it and draws it again
// after itself. Only for a terminal: the caller decides (the progress reporter checks isatty).
void set_status_line(const std::string& text);
// Erases the status line (if shown) and forgets it; `keep` leaves its last text on its own line.
void clear_status_line(bool keep = false);

}  // namespace lssd
