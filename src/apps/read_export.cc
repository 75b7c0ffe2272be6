// lssd-read export: the release's layout (metadata.json + <mtype>.pt), or a table with one row
// per clip (video: per crop) as CSV or JSONL.
#include <CLI/CLI.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include "lssd/error.h"
#include "lssd/output.h"
#include "output/json_bytes.h"
#include "read_common.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace lssd::read {
namespace {

struct ExportArgs {
  std::string dir;
  std::optional<Modality> mtype;
  std::string release, csv, jsonl;
};

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// One exported row: crop k (video; -1 for audio) of clip c of record r.
struct Row {
  Modality modality;
  const Record& r;
  int64_t clip, crop;
  const float* v;
  size_t dim;
};

void write_csv_header(std::ostream& out) {
  out << "mtype,file,track,clip,crop,start,stop";
  for (int i = 0; i < 768; ++i) out << ",e" << i;
  out << "\n";
}

void write_csv_row(std::ostream& out, const Row& w) {
  const auto& cr = w.r.ranges.at(static_cast<size_t>(w.clip));
  out << to_string(w.modality) << "," << csv_field(printable(w.r.path)) << ","
      << (w.r.track_index >= 0 ? std::to_string(w.r.track_index) : "") << "," << w.clip << ","
      << (w.crop >= 0 ? std::to_string(w.crop) : "") << "," << dstr(cr.start_s, 17) << "," << dstr(cr.stop_s, 17);
  for (size_t i = 0; i < w.dim; ++i) out << "," << fstr(w.v[i]);
  out << "\n";
}

void write_jsonl_row(std::ostream& out, const Row& w) {
  const auto& cr = w.r.ranges.at(static_cast<size_t>(w.clip));
  std::string line = std::string("{\"mtype\": \"") + to_string(w.modality) + "\", ";
  json fj;
  put_bytes(fj, "file", w.r.path);
  std::string fd = fj.dump();
  line += fd.substr(1, fd.size() - 2) + ", ";
  if (w.r.track_index >= 0) line += "\"track\": " + std::to_string(w.r.track_index) + ", ";
  line += "\"clip\": " + std::to_string(w.clip) + ", ";
  if (w.crop >= 0) line += "\"crop\": " + std::to_string(w.crop) + ", ";
  line += "\"start\": " + json(cr.start_s).dump() + ", \"stop\": " + json(cr.stop_s).dump() + ", ";
  if (cr.start_sample >= 0)
    line += "\"start_sample\": " + std::to_string(cr.start_sample) +
            ", \"stop_sample\": " + std::to_string(cr.stop_sample) + ", ";
  line += "\"embedding\": [";
  for (size_t i = 0; i < w.dim; ++i) {
    if (i) line += ", ";
    line += std::isfinite(w.v[i]) ? fstr(w.v[i]) : "NaN";
  }
  out << line << "]}\n";
}

// Every row of the ok records of the selected modalities; returns the row count.
size_t write_rows(const OutputReader& rd, const ExportArgs& a, std::ostream& out, bool as_csv) {
  size_t rows = 0;
  for (const Modality m : modalities(rd, a.mtype)) {
    const ModalityReader& mr = rd.modality(m);
    for (const auto& r : mr.records()) {
      if (r.status != RecordStatus::Ok) continue;
      FloatArray x = mr.load(r);
      const int64_t crops = m == Modality::Video ? x.shape[1] : 1;  // video [M,5,D]: a row per crop
      const size_t dim = static_cast<size_t>(x.shape.back());
      for (int64_t c = 0; c < x.shape[0]; ++c) {
        for (int64_t k = 0; k < crops; ++k, ++rows) {
          const int64_t crop = m == Modality::Video ? k : -1;
          const Row w{m, r, c, crop, x.data.data() + static_cast<size_t>(c * crops + k) * dim, dim};
          if (as_csv)
            write_csv_row(out, w);
          else
            write_jsonl_row(out, w);
        }
      }
    }
  }
  return rows;
}

int export_release(const ExportArgs& a) {
  OutputReader rd(a.dir);
  for (const Modality m : modalities(rd, a.mtype)) {
    const std::string name = to_string(m);
    size_t n = lssd::export_release(rd.modality(m), a.release);
    std::cerr << name << ": " << n << " files -> " << (fs::path(a.release) / name).string() << "/{metadata.json,"
              << name << ".pt}\n";
  }
  return kOk;
}

int export_table(const ExportArgs& a) {
  OutputReader rd(a.dir);
  const bool as_csv = !a.csv.empty();
  const std::string target = as_csv ? a.csv : a.jsonl;
  const bool to_stdout = target == "-";
  std::ofstream file;
  if (!to_stdout) {
    file.open(target, std::ios::binary | std::ios::trunc);
    if (!file) throw Error("export", "cannot write", target);
  }
  std::ostream& out = to_stdout ? std::cout : file;
  if (as_csv) write_csv_header(out);
  const size_t rows = write_rows(rd, a, out, as_csv);
  out.flush();
  if (!to_stdout) file.close();
  if (!out || (!to_stdout && !file)) throw Error("export", "write failed", to_stdout ? "(stdout)" : target);
  std::cerr << rows << " rows -> " << (to_stdout ? "(stdout)" : target) << "\n";
  return kOk;
}

int run_export(const ExportArgs& a) {
  if (a.release.empty() && a.csv.empty() && a.jsonl.empty()) {
    std::cerr << "export: give one of --release OUT, --csv OUT.csv, --jsonl OUT.jsonl\n";
    return 2;
  }
  return a.release.empty() ? export_table(a) : export_release(a);
}

}  // namespace

Command add_export(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto* s = app.add_subcommand(
      "export", "write the release's layout, or a CSV / JSONL table with one row per clip (video: per crop)");
  s->add_option("DIR", a->dir, "output directory")->required()->check(CLI::ExistingDirectory);
  auto* o_rel = s->add_option("--release", a->release,
                              "OUT dir: OUT/<mtype>/metadata.json + <mtype>.pt, as the release writes them");
  auto* o_csv =
      s->add_option("--csv", a->csv, "OUT.csv (- for stdout): mtype,file,track,clip,crop,start,stop,e0..e767");
  auto* o_jsonl = s->add_option("--jsonl", a->jsonl, "OUT.jsonl (- for stdout): one object per clip (video: per crop)");
  o_rel->excludes(o_csv)->excludes(o_jsonl);
  o_csv->excludes(o_jsonl);
  add_mtype_option(s, a->mtype);
  return {s, [a] { return run_export(*a); }};
}

}  // namespace lssd::read
