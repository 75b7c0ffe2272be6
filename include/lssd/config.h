// The yacs-style configuration tree: every key declared once (src/config_keys.cc) with its
// type, default and a one-line comment; `--cfg FILE` merges YAML, trailing `KEY VALUE` pairs
// override. Errors (unknown key, wrong type, odd number of tokens) throw lssd::ConfigError.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "lssd/options.h"

namespace lssd {

// List: a list of numbers, strings, None or lists, nested to any depth ([[1, 2.0], [3, 2.0]]).
// NoneOr: a key whose release default is yacs's None; takes None or any value, as yacs does.
// Both keep their value as a canonical literal (ConfigValue::s).
// Devices: DIST.NUM_GPUS, an int in the release: also takes a list of ints (device indices) or
// the word `all`; ConfigValue::s holds its canonical literal, i the int (-1 for `all`, 0 for a
// list) and il the list.
enum class ValueType { Bool, Int, Float, String, IntList, FloatList, StringList, List, NoneOr, Devices };
const char* to_string(ValueType t);

// What lssd does with a key.
enum class KeyUse {
  Used,         // read by lssd
  Ignored,      // a release key that changes nothing here: accepted, listed at -v when set
  DefaultOnly,  // a release key that would change the towers: any value but the default is refused
};

// One declared key (see src/config_keys.cc).
struct KeySpec {
  const char* key;
  ValueType type;
  std::string default_value;  // in yacs literal syntax: True, 8, 3.0, "S", [224, 224], None
  bool affects_output;        // part of the model id: a change invalidates earlier outputs
  const char* comment;
  KeyUse use = KeyUse::Used;
};
const std::vector<KeySpec>& declared_keys();

// A typed value, kept in one of the members according to its ValueType.
struct ConfigValue {
  ValueType type = ValueType::String;
  bool b = false;
  long long i = 0;
  double f = 0.0;
  std::string s;
  std::vector<long long> il;
  std::vector<double> fl;
  std::vector<std::string> sl;     // (List, NoneOr and Devices keep their canonical literal in s)
  std::string to_literal() const;  // yacs/YAML literal: True, 8, 3.0, S, [224, 224], None
};

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
