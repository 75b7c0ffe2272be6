// What lssd-read's commands share: how a command registers itself, the modalities to work on,
// and the text and JSON forms of numbers, paths and records. Each command lives in its own file
// (read_inspect.cc: ls, show, stats; read_compare.cc; read_verify.cc; read_export.cc;
// read_search.cc, read_dedup.cc, read_tracks.cc) and lssd_read.cc only wires them up.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lssd/modality.h"
#include "lssd/reader.h"

namespace CLI {
class App;
}

namespace lssd::read {

constexpr int kOk = 0, kFail = 1;  // exit codes (2, usage, comes from main)

// A registered subcommand and what runs it (returns the exit code; throws lssd::Error for bad
// data, exit 1, and lssd::ConfigError for usage, exit 2).
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// The modalities to work on: `only` if given (an lssd::Error, exit 1, when OUT has none), else
// every modality present (video first).
std::vector<Modality> modalities(const OutputReader& rd, std::optional<Modality> only);

// Options most commands take: --mtype video|audio (parsed here: the names are checked by CLI11,
// a usage error for any other text; `mtype` stays empty when the option is not given) and --json.
// `mtype` must outlive the parse.
void add_mtype_option(CLI::App* s, std::optional<Modality>& mtype, const std::string& help = "only this modality");
void add_json_flag(CLI::App* s, bool& as_json);

// Printable form of a path (invalid UTF-8 bytes as \xNN).
std::string printable(const std::string& bytes);
// " [track N lang]" for an audio track of a container (lang "und" when the track has no
// language tag, as in the output file names and the numpy reader); "" for index < 0.
std::string track_label(int index, const std::string& language);
// The same from a JSON entry's "track" (null: none) and "language".
std::string track_label(const nlohmann::json& entry);
// A record's file for text output: rel_path plus track_label() for an audio track.
std::string display_name(const Record& r);
// Shortest text that reads back as the same float32 ("nan", "inf", "-inf" for non-finite).
std::string fstr(float f);
// printf("%.*g") of a number.
std::string dstr(double d, int prec = 6);
// printf("%.*f") of a number.
std::string fixed(double v, int decimals);
// A JSON number for a double that may be non-finite (JSON has no NaN: null).
nlohmann::json jnum(double d);

// A record as lssd-read prints it: the manifest's JSON form (record_to_json: the same field
// names and byte escaping), without the manifest's bookkeeping (v, modality, size, mtime_ns,
// wall_s, track.total), plus where it was read from (mtype, layout, npy); track is null for
// a whole-file record and dtype is always present.
nlohmann::json record_json(const ModalityReader& mr, const Record& r);

// Prints each "file: cause" of files left out to stderr.
void warn_left_out(const std::vector<std::string>& problems);

// The commands, one registration function each (the file that holds the command).
Command add_ls(CLI::App& app);       // read_inspect.cc
Command add_show(CLI::App& app);     // read_inspect.cc
Command add_stats(CLI::App& app);    // read_inspect.cc
Command add_compare(CLI::App& app);  // read_compare.cc
Command add_verify(CLI::App& app);   // read_verify.cc
Command add_export(CLI::App& app);   // read_export.cc
Command add_convert(CLI::App& app);  // read_convert.cc

}  // namespace lssd::read
