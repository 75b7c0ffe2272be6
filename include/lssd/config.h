// The yacs-style configuration tree: every key declared once (src/config/config_keys.cc) with its
// type, default and a one-line comment; `--cfg FILE` merges YAML, trailing `KEY VALUE` pairs
// override. Errors (unknown key, wrong type, odd number of tokens) throw lssd::ConfigError.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "lssd/config_keys.h"  // the key table and value types, declared here before
#include "lssd/options.h"

namespace lssd {

class Config {
 public:
  Config();  // all declared defaults

  void merge_file(const std::string& yaml_path);
  // Trailing `KEY VALUE` pairs, as the release's yacs `merge_from_list`.
  void merge_list(const std::vector<std::string>& tokens);
  // Sets one key from its literal text (`True`, `4`, `[224,224]`, `S`).
  void set(const std::string& key, const std::string& literal);

  bool has(const std::string& key) const { return values_.count(key) != 0; }
  // True when a file or an override named the key (not just its default).
  bool is_set(const std::string& key) const { return explicit_.count(key) != 0; }
  const ConfigValue& at(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  long long get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  const std::vector<long long>& get_int_list(const std::string& key) const;
  const std::vector<std::string>& get_string_list(const std::string& key) const;

  // "KEY VALUE" of every KeyUse::Ignored key that a file or an override named.
  std::vector<std::string> ignored_settings() const;
  // Throws ConfigError naming the key and value when a KeyUse::DefaultOnly key is not at its
  // default (lssd's towers implement only the release's defaults of those).
  void check_default_only_keys() const;

  // A copy in which every path key (KeySpec::is_path) that holds a relative path holds it made
  // absolute against `cwd` (lexically: no symlink is resolved, nothing must exist).
  Config with_absolute_paths(const std::string& cwd) const;
  // Nested YAML of every key, in declaration order, comments included.
  std::string to_yaml(bool with_comments = true) const;
  // Canonical text of the keys that change outputs (for the model id).
  std::string output_affecting_text() const;

  // The stages' option structs.
  DiscoverOptions discover_options() const;
  MediaOptions media_options() const;
  VideoOptions video_options() const;
  AudioOptions audio_options() const;
  EncoderOptions encoder_options() const;
  // Everything a run needs (shards from the environment when DIST.* were not named).
  PipelineOptions pipeline_options() const;

 private:
  // Throws ConfigError(msg) unless ok; a message that starts with a key gets the key's value
  // appended ("OUTPUT.DTYPE must be float32 or float16 (got float64)").
  void require(bool ok, const std::string& msg) const;

  std::map<std::string, ConfigValue> values_;
  std::set<std::string> explicit_;
};

// The declared key nearest to `key` (edit distance), for error messages.
std::string closest_key(const std::string& key);

}  // namespace lssd
