// lssd-read's similarity commands: search (k most similar clips), dedup (near-duplicate files),
// tracks (dub consistency of a container's audio tracks) and report (an HTML page of the run,
// the tracks, the duplicates and a projection). Built on the lssd_search library
// (include/lssd/search/); FAISS is linked into lssd-read only.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lssd/reader.h"
#include "lssd/search/catalog.h"
#include "lssd/search/index.h"
#include "read_common.h"

namespace CLI {
class App;
}

namespace lssd::read {

// Adds search, dedup, tracks and report to lssd-read's app.
std::vector<Command> add_search_commands(CLI::App& app);

// ---- shared by the four commands (read_search.cc) ----
Command add_search(CLI::App& app);
Command add_dedup(CLI::App& app);
Command add_tracks(CLI::App& app);
Command add_report(CLI::App& app);  // read_report.cc

// Options every command of the four takes.
struct CatalogArgs {
  std::string model_id, dtype;
  search::CatalogOptions options() const { return {model_id, dtype}; }
};
void add_catalog_args(CLI::App* s, CatalogArgs& a);

// How the neighbours are found: exact (default) or the saved approximate index.
struct IndexArgs {
  bool approx = false;
  int64_t nprobe = 0, nlist = 0;  // 0: the defaults for the catalog's size
  std::string index_dir;          // "": OUT/index
};
void add_index_args(CLI::App* s, IndexArgs& a);

struct OpenedIndex {
  std::unique_ptr<search::KnnIndex> index;
  std::unique_ptr<search::ClipMatrix> matrix;  // every clip vector (exact search, or when asked for)
  nlohmann::json info;                // method, rows, indexed, and for IVF path, state, nlist, nprobe, build_seconds
  std::vector<std::string> left_out;  // files left out ("file: cause")
};
// The index of `cat`; the matrix is loaded when exact or `need_matrix`. Reports on stderr what
// it did with a saved index and the files left out.
OpenedIndex open_index(const ModalityReader& mr, const search::Catalog& cat, const IndexArgs& a, bool need_matrix);

// A clip as JSON: file (bytes escaped as the manifest does, plus file_hex when not UTF-8),
// rel_path, track (null or the stream index), language, clip, start, stop.
nlohmann::json clip_json(const search::Catalog& cat, int64_t row);
// The file of a catalog entry for text output: rel_path plus " [track N lang]".
std::string file_label(const search::CatalogFile& f);

}  // namespace lssd::read
