// The approximate index of one modality, kept on disk with the manifest state it was built
// from: <dir>/<mtype>.ivf.faiss (FAISS's format) and <dir>/<mtype>.ivf.json (the catalog's
// fingerprint, rows, parameters, FAISS version, build time, files left out). <dir> is
// OUTPUT_DIR/index unless given (a read-only OUTPUT_DIR). The saved index is used while the
// fingerprint and the requested nlist match; otherwise it is rebuilt and saved again.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lssd/search/catalog.h"
#include "lssd/search/index.h"

namespace lssd::search {

struct StoredIndex {
  std::unique_ptr<IvfIndex> index;
  std::string path;                   // the .faiss file (saved or where it would have been saved)
  std::string state;                  // "loaded", "built" or "rebuilt: <why>"
  std::string save_error;             // non-empty when the index could not be saved (it is still used)
  std::vector<std::string> problems;  // files left out of the index (from its build)
  double build_s = 0;                 // seconds spent building now (0 when loaded)
};

// `index_dir` "" means OUTPUT_DIR/index. `nlist` 0: ivf_params_for(rows). `load_matrix` is
// called only when the index has to be built. Throws lssd::Error("search") when building
// fails; a saved index that cannot be read is rebuilt.
StoredIndex open_ivf_index(const ModalityReader& mr, const Catalog& cat, const std::string& index_dir, int64_t nlist,
                           const std::function<const ClipMatrix&()>& load_matrix);

// Where open_ivf_index keeps the index of `modality`: <dir>/<mtype>.ivf.faiss.
std::string ivf_index_path(const std::string& output_dir, const std::string& index_dir, Modality modality);

}  // namespace lssd::search
