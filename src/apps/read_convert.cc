// lssd-read convert: an output directory rewritten in the other layout (OUTPUT.LAYOUT files <->
// shards), every vector bit for bit (lssd::convert_output).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "lssd/reader.h"
#include "read_common.h"

namespace lssd::read {
namespace {

struct ConvertArgs {
  std::string src, dest, to;
  int shard_inputs = 1000, shard_mb = 256;
  bool as_json = false;
};

int run_convert(const ConvertArgs& a) {
  const ShardLimits limits{a.shard_inputs, static_cast<int64_t>(a.shard_mb) << 20};
  const ConvertSummary s = convert_output(a.src, a.dest, a.to == "shards", limits);
  nlohmann::json j = {{"src", a.src}, {"dest", a.dest}, {"layout", a.to}};
  for (const Modality m : kModalities) {
    j[to_string(m)] = {{"records", s.records[m]}, {"embeddings", s.embeddings[m]}, {"parts", s.parts[m]}};
    if (!a.as_json && s.records[m] > 0)
      std::cout << to_string(m) << ": " << s.records[m] << " records, " << s.embeddings[m] << " embeddings"
                << (a.to == "shards" ? " in " + std::to_string(s.parts[m]) + " part(s)" : std::string(" as .npy files"))
                << "\n";
  }
  if (a.as_json) std::cout << j.dump(1) << "\n";
  return kOk;
}

}  // namespace

Command add_convert(CLI::App& app) {
  auto a = std::make_shared<ConvertArgs>();
  auto* s = app.add_subcommand(
      "convert", "copy an output directory into DEST in the other layout (files: one .npy per input; shards: parts)");
  s->add_option("DIR", a->src, "output directory (lssd layout)")->required()->check(CLI::ExistingDirectory);
  s->add_option("DEST", a->dest, "new output directory (must not exist, or be empty)")->required();
  s->add_option("--to", a->to, "the layout to write")->required()->check(CLI::IsMember({"files", "shards"}));
  s->add_option("--shard-inputs", a->shard_inputs, "shards: inputs per part (OUTPUT.SHARD_INPUTS)")
      ->check(CLI::PositiveNumber);
  s->add_option("--shard-mb", a->shard_mb, "shards: MiB of rows per part (OUTPUT.SHARD_MB)")
      ->check(CLI::PositiveNumber);
  add_json_flag(s, a->as_json);
  return {s, [a] { return run_convert(*a); }};
}

}  // namespace lssd::read
