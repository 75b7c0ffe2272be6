// The declared config keys (src/config/config_keys.cc: each key once, with its type, default and
// comment) and the typed values the config tree holds.
#pragma once
#include <string>
#include <vector>

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

// One declared key (see src/config/config_keys.cc).
struct KeySpec {
  const char* key;
  ValueType type;
  std::string default_value;  // in yacs literal syntax: True, 8, 3.0, "S", [224, 224], None
  bool affects_output;        // part of the model id: a change invalidates earlier outputs
  const char* comment;
  KeyUse use = KeyUse::Used;
  bool is_path = false;  // a file or directory: relative to the current directory, recorded absolute
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

}  // namespace lssd
