#include "lssd/search/index_store.h"

#include <faiss/Index.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lssd/error.h"
#include "lssd/npy.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace lssd::search {
namespace {

constexpr int kStoreFormat = 1;

std::string output_dir_of(const ModalityReader& mr) { return fs::path(mr.dir()).parent_path().string(); }

std::string sidecar_path(const std::string& index_path) {
  return index_path.substr(0, index_path.size() - std::string(".faiss").size()) + ".json";
}

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// The saved sidecar, or a null json when missing or unreadable.
json read_sidecar(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  try {
    return json::parse(in);
  } catch (const json::exception&) {
    return nullptr;
  }
}

// Why the saved index cannot be used ("" when it can).
std::string stale_reason(const json& side, const Catalog& cat, int64_t nlist) {
  if (side.is_null()) return "no readable " + cat.mtype() + ".ivf.json";
  if (side.value("format", 0) != kStoreFormat) return "another index format";
  if (side.value("fingerprint", std::string()) != cat.fingerprint()) return "the manifest or the arrays changed";
  if (nlist > 0 && side.value("nlist", int64_t{0}) != nlist) return "another nlist was asked for";
  return "";
}

// Builds and tries to save; fills `st`.
void build_and_save(StoredIndex& st, const Catalog& cat, int64_t nlist,
                    const std::function<const ClipMatrix&()>& load_matrix) {
  const ClipMatrix& m = load_matrix();
  IvfParams p = ivf_params_for(cat.rows());
  if (nlist > 0) p.nlist = nlist;
  const auto t0 = std::chrono::steady_clock::now();
  st.index = IvfIndex::build(m.data.data(), m.rows, m.dim, m.present.data(), p);
  st.build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  st.problems = m.problems;
  json side = {{"format", kStoreFormat},
               {"mtype", cat.mtype()},
               {"fingerprint", cat.fingerprint()},
               {"rows", cat.rows()},
               {"indexed", st.index->size()},
               {"dim", m.dim},
               {"nlist", p.nlist},
               {"nprobe", st.index->params().nprobe},
               {"model_id", cat.model_id()},
               {"dtype", cat.dtype()},
               {"faiss_version", std::to_string(FAISS_VERSION_MAJOR) + "." + std::to_string(FAISS_VERSION_MINOR) + "." +
                                     std::to_string(FAISS_VERSION_PATCH)},
               {"built_at", now_utc()},
               {"build_seconds", st.build_s},
               {"left_out", m.problems}};
  try {
    std::error_code ec;
    fs::create_directories(fs::path(st.path).parent_path(), ec);
    if (ec)
      throw Error("search", "cannot create the index directory: " + ec.message(),
                  fs::path(st.path).parent_path().string());
    st.index->save(st.path);
    write_file_atomic(sidecar_path(st.path), side.dump(1) + "\n");
  } catch (const Error& e) {
    st.save_error = e.what();
  }
}

}  // namespace

std::string ivf_index_path(const std::string& output_dir, const std::string& index_dir, Modality modality) {
  fs::path dir = index_dir.empty() ? fs::path(output_dir) / "index" : fs::path(index_dir);
  return (dir / (std::string(to_string(modality)) + ".ivf.faiss")).string();
}

StoredIndex open_ivf_index(const ModalityReader& mr, const Catalog& cat, const std::string& index_dir, int64_t nlist,
                           const std::function<const ClipMatrix&()>& load_matrix) {
  StoredIndex st;
  st.path = ivf_index_path(output_dir_of(mr), index_dir, cat.modality());
  const json side = read_sidecar(sidecar_path(st.path));
  std::string why = stale_reason(side, cat, nlist);
  if (why.empty()) {
    try {
      st.index = IvfIndex::load(st.path);
      if (st.index->size() != side.value("indexed", int64_t{-1})) {
        why = "the index holds " + std::to_string(st.index->size()) + " vectors, its .json says " +
              side.value("indexed", json()).dump();
        st.index.reset();
      } else {
        st.state = "loaded";
        st.problems = side.value("left_out", std::vector<std::string>{});
        return st;
      }
    } catch (const Error& e) {
      why = e.what();
    }
  }
  const bool existed = fs::exists(st.path) || !side.is_null();
  build_and_save(st, cat, nlist, load_matrix);
  st.state = existed ? "rebuilt: " + why : "built";
  return st;
}

}  // namespace lssd::search
