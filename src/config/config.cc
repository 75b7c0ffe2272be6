// Config: the key/value tree. Declared defaults (src/config/config_keys.cc), merging of a YAML file
// and of `KEY VALUE` overrides, typed access, and the YAML / model-id texts of the values.
#include "lssd/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>

#include "config/config_value.h"
#include "lssd/error.h"

namespace lssd {
namespace {

using config_detail::convert;

const KeySpec* find_spec(const std::string& key) {
  for (const auto& k : declared_keys())
    if (key == k.key) return &k;
  return nullptr;
}

[[noreturn]] void unknown_key(const std::string& key) {
  throw ConfigError("unknown config key '" + key + "' (did you mean '" + closest_key(key) + "'?)");
}

// The literal text of a YAML value inside a list: quoted strings stay quoted, null is None,
// lists nest (a yacs dump writes lists of lists in block style).
std::string yaml_item_literal(const YAML::Node& e, const std::string& key, const std::string& file) {
  if (e.IsScalar()) return e.Tag() == "!" ? "\"" + e.Scalar() + "\"" : e.Scalar();
  if (e.IsNull()) return "None";
  if (!e.IsSequence()) throw ConfigError(file + ": " + key + ": a mapping inside a list is not a config value");
  std::string lit = "[";
  bool first = true;
  for (const auto& item : e) {
    lit += (first ? "" : ", ") + yaml_item_literal(item, key, file);
    first = false;
  }
  return lit + "]";
}

void flatten_yaml(const YAML::Node& node, const std::string& prefix,
                  std::vector<std::pair<std::string, std::string>>* out, const std::string& file) {
  for (const auto& kv : node) {
    std::string key = prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (v.IsMap()) {
      flatten_yaml(v, key, out, file);
    } else if (v.IsSequence() || v.IsScalar()) {
      out->emplace_back(key, yaml_item_literal(v, key, file));
    } else if (v.IsNull()) {
      // An empty value: yacs's None where the release's default is None, else an empty string.
      const KeySpec* spec = find_spec(key);
      out->emplace_back(key, spec && spec->type == ValueType::NoneOr ? "None" : "\"\"");
    }
  }
}

}  // namespace

std::string closest_key(const std::string& key) {
  auto dist = [](const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t sub = prev[j - 1] + (std::toupper(static_cast<unsigned char>(a[i - 1])) ==
                                            std::toupper(static_cast<unsigned char>(b[j - 1]))
                                        ? 0
                                        : 1);
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      }
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& k : declared_keys()) {
    size_t d = dist(key, k.key);
    if (d < best_d) {
      best_d = d;
      best = k.key;
    }
  }
  return best;
}

Config::Config() {
  for (const auto& k : declared_keys()) values_[k.key] = convert(k, k.default_value);
}

void Config::set(const std::string& key, const std::string& literal) {
  const KeySpec* spec = find_spec(key);
  if (!spec) unknown_key(key);
  values_[key] = convert(*spec, literal);
  explicit_.insert(key);
}

void Config::merge_list(const std::vector<std::string>& tokens) {
  if (tokens.size() % 2 != 0)
    throw ConfigError("overrides must be KEY VALUE pairs; got an odd number of tokens (" +
                      std::to_string(tokens.size()) + "), last: '" + tokens.back() + "'");
  for (size_t i = 0; i < tokens.size(); i += 2) set(tokens[i], tokens[i + 1]);
}

void Config::merge_file(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ConfigError("cannot read config file '" + path + "'");
  } catch (const YAML::Exception& e) {
    throw ConfigError("config file '" + path + "' is not valid YAML: " + e.what());
  }
  if (root.IsNull()) return;
  if (!root.IsMap()) throw ConfigError("config file '" + path + "' must hold a mapping of keys");
  std::vector<std::pair<std::string, std::string>> flat;
  flatten_yaml(root, "", &flat, path);
  for (const auto& [key, lit] : flat) {
    const KeySpec* spec = find_spec(key);
    if (!spec)
      throw ConfigError(path + ": unknown config key '" + key + "' (did you mean '" + closest_key(key) + "'?)");
    try {
      values_[key] = convert(*spec, lit);
      explicit_.insert(key);
    } catch (const ConfigError& e) {
      throw ConfigError(path + ": " + e.message());
    }
  }
}

const ConfigValue& Config::at(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) unknown_key(key);
  return it->second;
}

namespace {
const ConfigValue& typed(const Config& c, const std::string& key, ValueType t) {
  const ConfigValue& v = c.at(key);
  if (v.type != t) throw ConfigError("key " + key + " is a " + to_string(v.type) + ", not a " + to_string(t));
  return v;
}
}  // namespace

bool Config::get_bool(const std::string& key) const { return typed(*this, key, ValueType::Bool).b; }
long long Config::get_int(const std::string& key) const { return typed(*this, key, ValueType::Int).i; }
double Config::get_float(const std::string& key) const { return typed(*this, key, ValueType::Float).f; }
const std::string& Config::get_string(const std::string& key) const { return typed(*this, key, ValueType::String).s; }
const std::vector<long long>& Config::get_int_list(const std::string& key) const {
  return typed(*this, key, ValueType::IntList).il;
}
const std::vector<std::string>& Config::get_string_list(const std::string& key) const {
  return typed(*this, key, ValueType::StringList).sl;
}

Config Config::with_absolute_paths(const std::string& cwd) const {
  Config out = *this;
  for (const auto& k : declared_keys()) {
    std::string& v = out.values_.at(k.key).s;
    if (k.is_path && !v.empty() && std::filesystem::path(v).is_relative())
      v = (std::filesystem::path(cwd) / v).lexically_normal().string();
  }
  return out;
}

std::string Config::to_yaml(bool with_comments) const {
  // Groups keys by their first component, in declaration order of first appearance.
  std::vector<std::string> groups;
  for (const auto& k : declared_keys()) {
    std::string key = k.key;
    auto dot = key.find('.');
    std::string g = dot == std::string::npos ? "" : key.substr(0, dot);
    if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
  }
  std::ostringstream os;
  for (const auto& g : groups) {
    if (!g.empty()) os << g << ":\n";
    for (const auto& k : declared_keys()) {
      std::string key = k.key;
      auto dot = key.find('.');
      std::string kg = dot == std::string::npos ? "" : key.substr(0, dot);
      if (kg != g) continue;
      std::string leaf = dot == std::string::npos ? key : key.substr(dot + 1);
      std::string indent = g.empty() ? "" : "  ";
      os << indent << leaf << ": " << values_.at(key).to_literal();
      if (with_comments) os << "  # " << k.comment;
      os << "\n";
    }
  }
  return os.str();
}

std::vector<std::string> Config::ignored_settings() const {
  std::vector<std::string> out;
  for (const auto& k : declared_keys())
    if (k.use == KeyUse::Ignored && is_set(k.key))
      out.push_back(std::string(k.key) + " " + values_.at(k.key).to_literal());
  return out;
}

void Config::check_default_only_keys() const {
  for (const auto& k : declared_keys()) {
    if (k.use != KeyUse::DefaultOnly) continue;
    const ConfigValue& v = values_.at(k.key);
    const ConfigValue d = convert(k, k.default_value);
    bool same = v.type == ValueType::Float ? v.f == d.f : v.to_literal() == d.to_literal();
    if (!same)
      throw ConfigError(std::string(k.key) + " " + v.to_literal() + " is not supported: it changes the MViT towers, " +
                        "and lssd's towers (tools/lssd_mvit.py) implement only the release's default " + k.key + " " +
                        d.to_literal());
  }
}

std::string Config::output_affecting_text() const {
  std::string out;
  for (const auto& k : declared_keys())
    if (k.affects_output) out += std::string(k.key) + "=" + values_.at(k.key).to_literal() + "\n";
  return out;
}

}  // namespace lssd
