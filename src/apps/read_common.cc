#include "read_common.h"

#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "lssd/error.h"
#include "lssd/output.h"
#include "output/json_bytes.h"

using nlohmann::json;

namespace lssd::read {

std::vector<Modality> modalities(const OutputReader& rd, std::optional<Modality> only) {
  if (!only) return rd.present();
  if (!rd.has(*only)) throw Error("read", std::string("no ") + to_string(*only) + " embeddings here", rd.root());
  return {*only};
}

void add_mtype_option(CLI::App* s, std::optional<Modality>& mtype, const std::string& help) {
  std::vector<std::string> names;
  for (Modality m : kModalities) names.push_back(to_string(m));
  std::optional<Modality>* out = &mtype;
  s->add_option_function<std::string>(
       "--mtype",
       [out](const std::string& name) {
         Modality m = Modality::Video;
         // IsMember has checked the name already; a usage error (exit 2) all the same.
         if (!parse_modality(name, &m)) throw CLI::ValidationError("--mtype", "not video or audio: " + name);
         *out = m;
       },
       help)
      ->check(CLI::IsMember(names));
}

void add_json_flag(CLI::App* s, bool& as_json) { s->add_flag("--json", as_json, "machine-readable JSON on stdout"); }

std::string printable(const std::string& bytes) { return escape_non_utf8(bytes); }

std::string track_label(int index, const std::string& language) {
  if (index < 0) return "";
  return " [track " + std::to_string(index) + " " + (language.empty() ? "und" : language) + "]";
}

std::string track_label(const json& entry) {
  if (!entry.contains("track") || entry["track"].is_null()) return "";
  return track_label(entry["track"].get<int>(), entry.value("language", ""));
}

std::string display_name(const Record& r) {
  return printable(r.rel_path) + track_label(r.track_index, r.track_language);
}

std::string fstr(float f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f < 0 ? "-inf" : "inf";
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  return std::string(buf, r.ptr);
}

std::string dstr(double d, int prec) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", prec, d);
  return buf;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

json jnum(double d) { return std::isfinite(d) ? json(d) : json(nullptr); }

json record_json(const ModalityReader& mr, const Record& r) {
  json j = json::parse(record_to_json(r));
  for (const char* k : {"v", "modality", "size", "mtime_ns", "wall_s", "seq"}) j.erase(k);
  if (j.contains("track"))
    j["track"].erase("total");
  else
    j["track"] = nullptr;
  j["dtype"] = r.dtype;
  j["mtype"] = mr.mtype();
  j["layout"] = to_string(mr.layout());
  std::string npy = mr.npy_path(r);
  if (!npy.empty()) put_bytes(j, "npy", npy);
  // The manifest writes fps or sample_rate by the record's modality; a reader's mtype decides here.
  if (mr.modality() == Modality::Video) {
    j.erase("sample_rate");
    j["fps"] = r.fps;
  } else {
    j.erase("fps");
    j["sample_rate"] = r.sample_rate;
  }
  return j;
}

void warn_left_out(const std::vector<std::string>& problems) {
  for (const auto& p : problems) std::cerr << "warning: left out: " << p << "\n";
}

}  // namespace lssd::read
