// lssd-read verify: every manifest record's output is present, loadable, finite and of the
// shape the record says; .npy files no ok record references are orphans.
#include <CLI/CLI.hpp>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <set>

#include "lssd/error.h"
#include "lssd/output.h"
#include "output/json_bytes.h"
#include "read_common.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace lssd::read {
namespace {

struct VerifyArgs {
  std::string dir;
  std::optional<Modality> mtype;
  bool as_json = false;
};

struct Findings {
  json problems = json::array(), warnings = json::array();
  size_t checked = 0;
  // `mtype`: the modality's name ("" for none).
  void problem(const std::string& kind, const std::string& mtype, const std::string& file, const std::string& msg) {
    json j = {{"kind", kind}, {"mtype", mtype}, {"message", msg}};
    put_bytes(j, "file", file);
    problems.push_back(j);
  }
};

// An ok record: the manifest's shape and ranges agree, the output exists, loads, is finite and
// has the manifest's dtype. Adds the .npy (our layout) to `expected`.
void verify_record(const ModalityReader& mr, const Record& r, Findings& f, std::set<std::string>& expected) {
  const std::string& m = mr.mtype();
  ++f.checked;
  std::vector<int64_t> want = output_shape(mr.modality(), r.num_clips);
  if (r.shape != want || static_cast<int64_t>(r.ranges.size()) != r.num_clips) {
    f.problem("manifest", m, r.rel_path,
              "record says M=" + std::to_string(r.num_clips) + ", shape " + shape_str(r.shape) + ", " +
                  std::to_string(r.ranges.size()) + " clip ranges; expected shape " + shape_str(want));
  }
  std::string npy = mr.npy_path(r);
  std::error_code ec;
  if (mr.layout() == OutputLayout::Ours) {
    expected.insert(fs::path(npy).lexically_normal().string());
    if (!fs::exists(npy, ec)) return f.problem("missing", m, npy, "output listed in the manifest is missing");
  }
  try {
    std::string dt;
    FloatArray a = mr.load(r, &dt);
    if (!r.dtype.empty() && dt != r.dtype)
      f.problem("dtype", m, npy.empty() ? r.path : npy, "stored " + dt + ", manifest says " + r.dtype);
    size_t bad = 0;
    for (float x : a.data)
      if (!std::isfinite(x)) ++bad;
    if (bad) f.problem("nonfinite", m, npy.empty() ? r.path : npy, std::to_string(bad) + " NaN/Inf values");
  } catch (const Error& e) {
    f.problem(e.message().find("differs from the manifest") != std::string::npos ? "shape" : "corrupt", m,
              e.file().empty() ? npy : e.file(), e.message());
  }
}

// .npy files under OUT/<m> that no ok record references; leftover temporary files are warnings.
void find_orphans(const fs::path& mdir, Modality m, const std::set<std::string>& expected, Findings& f) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(mdir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string name = it->path().filename().string();
    std::string p = it->path().lexically_normal().string();
    if (name.rfind(".tmp.", 0) == 0) {
      f.warnings.push_back(p + ": leftover temporary file (an interrupted write)");
      continue;
    }
    if (name.size() > 4 && name.substr(name.size() - 4) == ".npy" && !expected.count(p))
      f.problem("orphan", to_string(m), p, "not referenced by any ok manifest record");
  }
}

// One modality of OUT; false when it holds no embeddings (no manifest or metadata.json).
bool verify_modality(const std::string& dir, Modality m, Findings& f) {
  const OutputLayout layout = detect_layout(dir, m);
  const fs::path mdir = fs::path(dir) / to_string(m);
  std::error_code ec;
  if (layout == OutputLayout::None) {
    if (fs::exists(mdir, ec))
      f.problem("manifest", to_string(m), mdir.string(), "directory has no manifest*.jsonl or metadata.json");
    return false;
  }
  std::unique_ptr<ModalityReader> mr;
  try {
    mr = std::make_unique<ModalityReader>(dir, m);
  } catch (const Error& e) {
    f.problem("manifest", to_string(m), e.file(), e.what());
    return true;
  }
  for (const auto& w : mr->warnings()) f.warnings.push_back(w);
  std::set<std::string> expected;
  for (const auto& r : mr->records())
    if (r.status == RecordStatus::Ok) verify_record(*mr, r, f, expected);
  if (layout == OutputLayout::Ours) find_orphans(mdir, m, expected, f);
  return true;
}

int run_verify(const VerifyArgs& a) {
  std::error_code ec;
  if (!fs::is_directory(a.dir, ec)) throw Error("read", "not a directory", a.dir);
  Findings f;
  size_t present = 0;
  for (const Modality m : kModalities)
    if (!a.mtype || *a.mtype == m) present += verify_modality(a.dir, m, f);
  if (!present)
    f.problem("manifest", a.mtype ? to_string(*a.mtype) : "", a.dir,
              "no video/ or audio/ embeddings (manifest*.jsonl or metadata.json)");
  const bool ok = f.problems.empty();
  if (a.as_json) {
    std::cout
        << json{{"dir", a.dir}, {"checked", f.checked}, {"problems", f.problems}, {"warnings", f.warnings}, {"ok", ok}}
               .dump(1)
        << "\n";
    return ok ? kOk : kFail;
  }
  for (const auto& p : f.problems) {
    std::cout << p["kind"].get<std::string>() << ": " << p["file"].get<std::string>() << ": "
              << p["message"].get<std::string>() << "\n";
  }
  for (const auto& w : f.warnings) std::cerr << "warning: " << w.get<std::string>() << "\n";
  std::cout << (ok ? "OK" : "FAIL") << ": " << f.checked << " outputs checked, " << f.problems.size()
            << " problem(s)\n";
  return ok ? kOk : kFail;
}

}  // namespace

Command add_verify(CLI::App& app) {
  auto a = std::make_shared<VerifyArgs>();
  auto* s = app.add_subcommand("verify",
                               "check every manifest record's output: present, loadable, right shape; list orphans");
  s->add_option("DIR", a->dir, "output directory")->required()->check(CLI::ExistingDirectory);
  add_mtype_option(s, a->mtype);
  add_json_flag(s, a->as_json);
  return {s, [a] { return run_verify(*a); }};
}

}  // namespace lssd::read
