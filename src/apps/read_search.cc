// lssd-read search: the k clips most similar to a clip of a file (or to given vectors), within
// one modality, exact by default or with the saved approximate index. Also the helpers the
// dedup and tracks commands share.
#include "read_search.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>

#include "lssd/error.h"
#include "lssd/npy.h"
#include "lssd/search/index_store.h"
#include "output/json_bytes.h"

using nlohmann::json;

namespace lssd::read {

std::vector<Command> add_search_commands(CLI::App& app) {
  return {add_search(app), add_dedup(app), add_tracks(app), add_report(app)};
}

// ---- shared helpers ----

void add_catalog_args(CLI::App* s, CatalogArgs& a) {
  s->add_option("--model-id", a.model_id,
                "use only records of this model id (an OUT with several is refused otherwise)");
  s->add_option("--dtype", a.dtype, "use only records stored in this dtype")
      ->check(CLI::IsMember({"float32", "float16"}));
}

void add_index_args(CLI::App* s, IndexArgs& a) {
  auto* approx =
      s->add_flag("--approx", a.approx,
                  "approximate search with an IVF index (FAISS IVF-Flat), built on first use and saved under "
                  "OUT/index/ (or --index-dir) with the manifest state it was built from; rebuilt when that changes");
  s->add_option("--nprobe", a.nprobe, "IVF cells scanned per query (default: nlist/128, at least 1)")
      ->check(CLI::PositiveNumber)
      ->needs(approx);
  s->add_option("--nlist", a.nlist, "IVF cells (default: sqrt(clips)/2, at most clips/39)")
      ->check(CLI::PositiveNumber)
      ->needs(approx);
  s->add_option("--index-dir", a.index_dir,
                "where the approximate index is kept (default OUT/index; for a read-only OUT)")
      ->needs(approx);
}

std::string file_label(const search::CatalogFile& f) { return display_name(f.record); }

json clip_json(const search::Catalog& cat, int64_t row) {
  auto [fi, clip] = cat.locate(row);
  const Record& r = cat.files()[fi].record;
  json j;
  put_bytes(j, "file", r.path);
  put_bytes(j, "rel_path", r.rel_path);
  j["track"] = r.track_index >= 0 ? json(r.track_index) : json(nullptr);
  if (r.track_index >= 0) j["language"] = r.track_language;
  j["clip"] = clip;
  const ClipRange& cr = cat.range(row);
  j["start"] = cr.start_s;
  j["stop"] = cr.stop_s;
  return j;
}

OpenedIndex open_index(const ModalityReader& mr, const search::Catalog& cat, const IndexArgs& a, bool need_matrix) {
  OpenedIndex o;
  auto load = [&]() -> const search::ClipMatrix& {
    if (!o.matrix) {
      o.matrix = std::make_unique<search::ClipMatrix>(search::load_clip_matrix(mr, cat));
      o.left_out = o.matrix->problems;
    }
    return *o.matrix;
  };
  o.info = {{"method", a.approx ? "ivf" : "exact"}, {"rows", cat.rows()}};
  if (!a.approx) {
    const search::ClipMatrix& m = load();
    o.index = std::make_unique<search::ExactIndex>(m.data.data(), m.rows, m.dim, m.present.data());
    o.info["indexed"] = m.rows - static_cast<int64_t>(std::count(m.present.begin(), m.present.end(), uint8_t{0}));
    warn_left_out(o.left_out);
    return o;
  }
  search::StoredIndex st = search::open_ivf_index(mr, cat, a.index_dir, a.nlist, load);
  if (a.nprobe > 0) st.index->set_nprobe(a.nprobe);
  if (need_matrix) load();
  if (o.left_out.empty()) o.left_out = st.problems;
  const auto p = st.index->params();
  o.info.update({{"indexed", st.index->size()},
                 {"path", st.path},
                 {"state", st.state},
                 {"nlist", p.nlist},
                 {"nprobe", p.nprobe},
                 {"build_seconds", st.build_s}});
  std::cerr << cat.mtype() << " index " << st.path << ": " << st.state;
  if (st.build_s > 0) std::cerr << " in " << fixed(st.build_s, 1) << " s";
  std::cerr << " (nlist " << p.nlist << ", nprobe " << p.nprobe << ", " << st.index->size() << " vectors)\n";
  if (!st.save_error.empty()) {
    std::cerr << "warning: the index was not saved (" << st.save_error << "); give --index-dir DIR\n";
    o.info["save_error"] = st.save_error;
  }
  warn_left_out(o.left_out);
  o.index = std::move(st.index);
  return o;
}

// ---- search ----
namespace {

struct SearchArgs {
  std::string dir;
  std::optional<Modality> mtype;
  std::string vector;
  std::vector<std::string> files;
  int64_t clip = -1;
  int track = -2;
  int k = 10;
  bool as_json = false;
  bool exclude_self = false;  // no hits from the query's own file (any of its tracks)
  CatalogArgs cat;
  IndexArgs index;
};

struct Query {
  json what;  // the query clip (clip_json) or {"vector": path, "row": i}
  std::vector<float> v;
  std::string own_rel_path;  // the query clip's file ("" for a --vector row)
};

// The rows of the catalog's files named `rel_path` (every track).
int64_t rows_of(const search::Catalog& cat, const std::string& rel_path) {
  int64_t n = 0;
  for (const auto& f : cat.files()) n += f.record.rel_path == rel_path ? f.clips() : 0;
  return n;
}

bool record_matches(const Record& r, const std::string& name, int track) {
  return r.status == RecordStatus::Ok && (r.rel_path == name || r.path == name) &&
         (track == -2 || r.track_index == track);
}

std::string describe(const std::string& name, int track) {
  return "'" + name + "'" + (track == -2 ? "" : " track " + std::to_string(track));
}

// The query clips of each --file (every clip, or --clip) in this catalog; `matched` records
// which names matched.
std::vector<Query> file_queries(const ModalityReader& mr, const search::Catalog& cat, const SearchArgs& a,
                                std::vector<bool>& matched) {
  std::vector<Query> qs;
  for (size_t n = 0; n < a.files.size(); ++n)
    for (size_t fi : cat.find(a.files[n], a.track)) {
      matched[n] = true;
      const auto& f = cat.files()[fi];
      FloatArray v = search::load_file_vectors(mr, f);
      if (a.clip >= f.clips())
        throw Error("search",
                    "clip " + std::to_string(a.clip) + " out of range: " + std::to_string(f.clips()) + " clips",
                    file_label(f));
      const int64_t dim = v.shape[1];
      for (int64_t c = 0; c < f.clips(); ++c) {
        if (a.clip >= 0 && c != a.clip) continue;
        qs.push_back({clip_json(cat, f.first_row + c),
                      std::vector<float>(v.data.begin() + c * dim, v.data.begin() + (c + 1) * dim), f.record.rel_path});
      }
    }
  return qs;
}

// The rows of --vector: [D], [N,D] or [N,crops,D], made clip vectors.
std::vector<Query> vector_queries(const std::string& path) {
  FloatArray a = read_npy(path);
  if (a.shape.size() == 1) a.shape = {1, a.shape[0]};
  FloatArray v = search::clip_vectors(a);
  std::vector<Query> qs;
  const int64_t dim = v.shape[1];
  for (int64_t i = 0; i < v.shape[0]; ++i)
    qs.push_back({{{"vector", path}, {"row", i}},
                  std::vector<float>(v.data.begin() + i * dim, v.data.begin() + (i + 1) * dim),
                  ""});
  return qs;
}

// Modalities to search: --mtype, or those holding a --file; --vector needs one modality.
std::vector<Modality> search_modalities(const OutputReader& rd, const SearchArgs& a) {
  if (a.mtype) return modalities(rd, a.mtype);
  if (!a.vector.empty()) {
    if (rd.present().size() > 1) throw ConfigError("--vector: give --mtype video or --mtype audio (both are here)");
    return rd.present();
  }
  std::vector<Modality> out;
  for (const Modality m : rd.present()) {
    const auto& recs = rd.modality(m).records();
    if (std::any_of(recs.begin(), recs.end(), [&](const Record& r) {
          return std::any_of(a.files.begin(), a.files.end(),
                             [&](const std::string& f) { return record_matches(r, f, a.track); });
        }))
      out.push_back(m);
  }
  return out;
}

void print_text(const search::Catalog& cat, const json& mod, const std::vector<json>& queries) {
  std::cout << cat.mtype() << ": " << mod["method"].get<std::string>() << " search over "
            << mod["indexed"].get<int64_t>() << " clips\n";
  for (const auto& q : queries) {
    const json& w = q["query"];
    if (w.contains("vector"))
      std::cout << "query " << w["vector"].get<std::string>() << " row " << w["row"].get<int64_t>() << "\n";
    else
      std::cout << "query " << w["rel_path"].get<std::string>() << track_label(w) << " clip "
                << w["clip"].get<int64_t>() << " [" << fixed(w["start"], 2) << "-" << fixed(w["stop"], 2) << " s]\n";
    int rank = 0;
    for (const auto& h : q["hits"]) {
      const std::string n = h["rel_path"].get<std::string>() + track_label(h);
      std::printf("  %3d  %.6f  %s  clip %lld [%s-%s s]\n", ++rank, h["score"].get<double>(), n.c_str(),
                  static_cast<long long>(h["clip"].get<int64_t>()), fixed(h["start"], 2).c_str(),
                  fixed(h["stop"], 2).c_str());
    }
  }
  std::fflush(stdout);
}

int run_search(const SearchArgs& a) {
  OutputReader rd(a.dir);
  json out = {{"dir", a.dir}, {"k", a.k}, {"modalities", json::object()}, {"queries", json::array()}};
  std::vector<bool> matched(a.files.size(), false);
  for (const Modality m : search_modalities(rd, a)) {
    const ModalityReader& mr = rd.modality(m);
    search::Catalog cat(mr, a.cat.options());
    std::vector<Query> qs = a.vector.empty() ? file_queries(mr, cat, a, matched) : vector_queries(a.vector);
    if (qs.empty()) continue;
    OpenedIndex ix = open_index(mr, cat, a.index, false);
    if (static_cast<int64_t>(qs[0].v.size()) != ix.index->dim())
      throw Error("search",
                  "query vectors have " + std::to_string(qs[0].v.size()) + " dimensions, the " + mr.mtype() +
                      " clips " + std::to_string(ix.index->dim()),
                  a.vector);
    std::vector<float> flat;
    int64_t own_rows = 0;  // --exclude-self: ask for as many more hits as the query's file can take
    for (const auto& q : qs) {
      flat.insert(flat.end(), q.v.begin(), q.v.end());
      if (a.exclude_self) own_rows = std::max(own_rows, rows_of(cat, q.own_rel_path));
    }
    auto hits = ix.index->search(flat.data(), static_cast<int64_t>(qs.size()), a.k + own_rows);
    std::vector<json> queries;
    for (size_t i = 0; i < qs.size(); ++i) {
      json hj = json::array();
      for (const auto& h : hits[i]) {
        if (static_cast<int>(hj.size()) == a.k) break;
        const auto& hit_file = cat.files()[cat.locate(h.row).first];
        if (a.exclude_self && hit_file.record.rel_path == qs[i].own_rel_path) continue;
        json c = clip_json(cat, h.row);
        c["score"] = static_cast<double>(h.score);
        hj.push_back(c);
      }
      queries.push_back({{"mtype", mr.mtype()}, {"query", qs[i].what}, {"hits", hj}});
    }
    ix.info["left_out"] = ix.left_out;
    ix.info["model_id"] = cat.model_id();
    out["modalities"][mr.mtype()] = ix.info;
    for (auto& q : queries) out["queries"].push_back(q);
    if (!a.as_json) print_text(cat, ix.info, queries);
  }
  for (size_t n = 0; n < a.files.size(); ++n)
    if (!matched[n])
      throw Error("read",
                  "no embedded " + (a.mtype ? to_string(*a.mtype) + std::string(" ") : std::string()) +
                      "record matches " + describe(a.files[n], a.track) +
                      " (give its rel_path or input path; see `lssd-read ls`)",
                  a.dir);
  if (a.as_json) std::cout << out.dump(1) << "\n";
  return 0;
}

}  // namespace

Command add_search(CLI::App& app) {
  auto a = std::make_shared<SearchArgs>();
  auto* s = app.add_subcommand("search", "the k clips most similar to a clip (cosine similarity, within one modality)");
  s->footer(
      "A clip's vector is its embedding L2-normalised; for video, the mean of its five crop embeddings,\n"
      "then L2-normalised. The score is the cosine similarity (inner product of the unit vectors).\n"
      "Video and audio vectors are in different spaces (the release drops the projection heads):\n"
      "search within one modality. Ties are ordered by file, track, clip. Exact unless --approx.\n");
  s->add_option("DIR", a->dir, "output directory")->required()->check(CLI::ExistingDirectory);
  auto* of = s->add_option("--file", a->files, "query with this file's clips (rel_path or input path; repeatable)");
  auto* ov = s->add_option("--vector", a->vector, "query with the vectors of this .npy: [768], [N,768] or [N,5,768]");
  of->excludes(ov);
  s->add_option("--clip", a->clip, "only this clip of each --file (0-based)")->needs(of)->check(CLI::NonNegativeNumber);
  s->add_option("--track", a->track, "only this audio track (stream index) of each --file (default: every track)")
      ->needs(of)
      ->check(CLI::NonNegativeNumber);
  add_mtype_option(s, a->mtype, "modality (default: those holding --file)");
  s->add_option("-k", a->k, "hits per query")->capture_default_str()->check(CLI::PositiveNumber);
  s->add_flag("--exclude-self", a->exclude_self, "no hits from the query's own file (any of its tracks)")->needs(of);
  s->add_flag("--json", a->as_json, "machine-readable JSON on stdout");
  add_catalog_args(s, a->cat);
  add_index_args(s, a->index);
  return {s, [a] {
            if (a->files.empty() && a->vector.empty()) throw ConfigError("search: give --file REL or --vector V.npy");
            return run_search(*a);
          }};
}

}  // namespace lssd::read
