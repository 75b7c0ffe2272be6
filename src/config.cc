#include "lssd/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "lssd/discover.h"
#include "lssd/error.h"

namespace lssd {
namespace {

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

bool is_quoted(const std::string& s) {
  return s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front();
}

bool parse_int(const std::string& s, long long* out) {
  if (s.empty()) return false;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size()) return false;
  for (size_t j = i; j < s.size(); ++j)
    if (!std::isdigit(static_cast<unsigned char>(s[j])) && s[j] != '_') return false;
  std::string digits;
  for (char c : s)
    if (c != '_') digits += c;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(digits.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

bool parse_float(const std::string& s, double* out) {
  if (s.empty()) return false;
  bool has_digit = false;
  for (char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c))) has_digit = true;
    else if (c != '.' && c != 'e' && c != 'E' && c != '-' && c != '+') return false;
  }
  if (!has_digit) return false;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (*end != '\0') return false;
  *out = v;
  return true;
}

// Python-literal-like parse of one scalar: bool, int, float, quoted string or bare string.
struct Scalar {
  enum Kind { Bool, Int, Float, Str } kind;
  bool b = false;
  long long i = 0;
  double f = 0;
  std::string s;
};

Scalar parse_scalar(const std::string& raw) {
  std::string t = trim(raw);
  Scalar v;
  v.kind = Scalar::Str;
  if (is_quoted(t)) {
    v.s = t.substr(1, t.size() - 2);
  } else if (t == "True" || t == "true") {
    v.kind = Scalar::Bool;
    v.b = true;
  } else if (t == "False" || t == "false") {
    v.kind = Scalar::Bool;
    v.b = false;
  } else if (parse_int(t, &v.i)) {
    v.kind = Scalar::Int;
  } else if (parse_float(t, &v.f)) {
    v.kind = Scalar::Float;
  } else {
    v.s = t;
  }
  return v;
}

// Splits "[a, 'b,c', [3, 4]]" into its top-level elements; returns false when the text is no
// list (or its brackets or quotes do not balance).
bool split_list(const std::string& raw, std::vector<std::string>* items) {
  std::string t = trim(raw);
  if (t.size() < 2 || !((t.front() == '[' && t.back() == ']') || (t.front() == '(' && t.back() == ')')))
    return false;
  std::string body = t.substr(1, t.size() - 2);
  items->clear();
  if (trim(body).empty()) return true;
  std::string cur;
  char quote = 0;
  int depth = 0;
  for (char c : body) {
    if (quote) {
      cur += c;
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
      cur += c;
    } else if (c == ',' && depth == 0) {
      items->push_back(trim(cur));
      cur.clear();
    } else {
      if (c == '[' || c == '(') ++depth;
      if ((c == ']' || c == ')') && --depth < 0) return false;
      cur += c;
    }
  }
  if (quote || depth != 0) return false;
  if (!trim(cur).empty()) items->push_back(trim(cur));
  return true;
}

std::string kind_name(Scalar::Kind k) {
  switch (k) {
    case Scalar::Bool: return "bool";
    case Scalar::Int: return "int";
    case Scalar::Float: return "float";
    default: return "str";
  }
}

std::string yaml_scalar(const std::string& s);
std::string format_float(double f);

bool is_none(const std::string& t) { return t == "None" || t == "null" || t == "~"; }

// Canonical text of a Python-literal-like value: a scalar, None, or a list of those nested to
// any depth ("[[1, 2.0], [3, 2.0]]"). False when the text is malformed.
bool canonical_literal(const std::string& raw, std::string* out) {
  std::vector<std::string> items;
  if (split_list(raw, &items)) {
    std::string r = "[";
    for (size_t k = 0; k < items.size(); ++k) {
      std::string item;
      if (!canonical_literal(items[k], &item)) return false;
      r += (k ? ", " : "") + item;
    }
    *out = r + "]";
    return true;
  }
  std::string t = trim(raw);
  if (t.empty() || (!is_quoted(t) && t.find_first_of("[](),") != std::string::npos)) return false;
  if (is_none(t)) {
    *out = "None";
    return true;
  }
  Scalar v = parse_scalar(t);
  switch (v.kind) {
    case Scalar::Bool: *out = v.b ? "True" : "False"; return true;
    case Scalar::Int: *out = std::to_string(v.i); return true;
    case Scalar::Float: *out = format_float(v.f); return std::isfinite(v.f);
    default: *out = yaml_scalar(v.s); return true;
  }
}

const KeySpec* find_spec(const std::string& key) {
  for (const auto& k : declared_keys())
    if (key == k.key) return &k;
  return nullptr;
}

[[noreturn]] void unknown_key(const std::string& key) {
  throw ConfigError("unknown config key '" + key + "' (did you mean '" + closest_key(key) + "'?)");
}

ConfigValue convert(const KeySpec& spec, const std::string& literal) {
  ConfigValue v;
  v.type = spec.type;
  auto mismatch = [&](const std::string& got) {
    return ConfigError("wrong type for " + std::string(spec.key) + ": expected " + to_string(spec.type) +
                       ", got " + got + " '" + literal + "'");
  };
  std::vector<std::string> items;
  bool is_list = split_list(literal, &items);
  switch (spec.type) {
    case ValueType::String: {
      if (is_list) throw mismatch("a list");
      std::string t = trim(literal);
      v.s = is_quoted(t) ? t.substr(1, t.size() - 2) : t;
      return v;
    }
    case ValueType::Bool:
    case ValueType::Int:
    case ValueType::Float: {
      if (is_list) throw mismatch("a list");
      Scalar s = parse_scalar(literal);
      if (spec.type == ValueType::Bool && s.kind == Scalar::Bool) {
        v.b = s.b;
      } else if (spec.type == ValueType::Int && s.kind == Scalar::Int) {
        v.i = s.i;
      } else if (spec.type == ValueType::Float && (s.kind == Scalar::Float || s.kind == Scalar::Int)) {
        v.f = s.kind == Scalar::Float ? s.f : static_cast<double>(s.i);
        if (!std::isfinite(v.f)) throw mismatch("a non-finite float");
      } else {
        throw mismatch(kind_name(s.kind));
      }
      return v;
    }
    case ValueType::List:
      if (!is_list) throw mismatch(kind_name(parse_scalar(literal).kind));
      if (!canonical_literal(literal, &v.s)) throw mismatch("a malformed list");
      return v;
    case ValueType::NoneOr:
      if (!canonical_literal(literal, &v.s)) throw mismatch("a malformed value");
      return v;
    case ValueType::IntList:
    case ValueType::FloatList:
    case ValueType::StringList: {
      if (!is_list) throw mismatch(kind_name(parse_scalar(literal).kind));
      for (const auto& item : items) {
        Scalar s = parse_scalar(item);
        if (spec.type == ValueType::IntList && s.kind == Scalar::Int) {
          v.il.push_back(s.i);
        } else if (spec.type == ValueType::FloatList && (s.kind == Scalar::Int || s.kind == Scalar::Float)) {
          v.fl.push_back(s.kind == Scalar::Int ? static_cast<double>(s.i) : s.f);
        } else if (spec.type == ValueType::StringList && s.kind == Scalar::Str) {
          v.sl.push_back(s.s);
        } else {
          throw mismatch("a list with a " + kind_name(s.kind) + " element");
        }
      }
      return v;
    }
  }
  throw mismatch("?");
}

std::string yaml_scalar(const std::string& s) {
  bool plain = !s.empty();
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '/' || c == '.' || c == '-'))
      plain = false;
  Scalar probe = parse_scalar(s);
  if (plain && probe.kind == Scalar::Str) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string format_float(double f) {
  std::ostringstream os;
  os.precision(17);
  os << f;
  std::string s = os.str();
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
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

void flatten_yaml(const YAML::Node& node, const std::string& prefix, std::vector<std::pair<std::string, std::string>>* out,
                  const std::string& file) {
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

const char* to_string(ValueType t) {
  switch (t) {
    case ValueType::Bool: return "bool";
    case ValueType::Int: return "int";
    case ValueType::Float: return "float";
    case ValueType::String: return "str";
    case ValueType::IntList: return "list of int";
    case ValueType::FloatList: return "list of float";
    case ValueType::StringList: return "list of str";
    case ValueType::List: return "list";
    case ValueType::NoneOr: return "None or any value";
  }
  return "?";
}

std::string ConfigValue::to_literal() const {
  switch (type) {
    case ValueType::Bool: return b ? "True" : "False";
    case ValueType::Int: return std::to_string(i);
    case ValueType::Float: return format_float(f);
    case ValueType::String: return yaml_scalar(s);
    case ValueType::IntList: {
      std::string r = "[";
      for (size_t k = 0; k < il.size(); ++k) r += (k ? ", " : "") + std::to_string(il[k]);
      return r + "]";
    }
    case ValueType::FloatList: {
      std::string r = "[";
      for (size_t k = 0; k < fl.size(); ++k) r += (k ? ", " : "") + format_float(fl[k]);
      return r + "]";
    }
    case ValueType::StringList: {
      std::string r = "[";
      for (size_t k = 0; k < sl.size(); ++k) r += (k ? ", " : "") + yaml_scalar(sl[k]);
      return r + "]";
    }
    case ValueType::List:
    case ValueType::NoneOr: return s;
  }
  return "";
}

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
const std::string& Config::get_string(const std::string& key) const {
  return typed(*this, key, ValueType::String).s;
}
const std::vector<long long>& Config::get_int_list(const std::string& key) const {
  return typed(*this, key, ValueType::IntList).il;
}
const std::vector<std::string>& Config::get_string_list(const std::string& key) const {
  return typed(*this, key, ValueType::StringList).sl;
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
    if (k.use == KeyUse::Ignored && is_set(k.key)) out.push_back(std::string(k.key) + " " + values_.at(k.key).to_literal());
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

void Config::require(bool ok, const std::string& msg) const {
  if (ok) return;
  const std::string key = msg.substr(0, msg.find_first_of(" /["));
  auto it = values_.find(key);
  throw ConfigError(it == values_.end() ? msg : msg + " (got " + it->second.to_literal() + ")");
}

DiscoverOptions Config::discover_options() const {
  DiscoverOptions o;
  o.data_dir = get_string("DATA.PATH_TO_DATA_DIR");
  o.file_list = get_string("DATA.PATH_TO_FILE_LIST");
  o.use_video = get_bool("DATA.USE_VIDEO");
  o.use_audio = get_bool("DATA.USE_AUDIO");
  o.video_exts = get_string_list("DATA.VIDEO_EXTENSIONS");
  o.audio_exts = get_string_list("DATA.AUDIO_EXTENSIONS");
  o.ext_case_insensitive = get_bool("DATA.EXTENSIONS_CASE_INSENSITIVE");
  o.num_shards = static_cast<int>(get_int("DIST.NUM_SHARDS"));
  o.shard_id = static_cast<int>(get_int("DIST.SHARD_ID"));
  require(o.num_shards >= 1, "DIST.NUM_SHARDS must be >= 1");
  require(o.shard_id >= 0 && o.shard_id < o.num_shards, "DIST.SHARD_ID must be in [0, DIST.NUM_SHARDS)");
  return o;
}

MediaOptions Config::media_options() const {
  MediaOptions o;
  o.deadline_s = get_float("MEDIA.DEADLINE_S");
  require(o.deadline_s >= 0, "MEDIA.DEADLINE_S must be >= 0");
  o.decode_threads = static_cast<int>(get_int("MEDIA.DECODE_THREADS"));
  require(o.decode_threads >= 0, "MEDIA.DECODE_THREADS must be >= 0");
  o.skip_unneeded_frames = get_bool("MEDIA.SKIP_FRAMES");
  o.audio_from_video = get_bool("DATA.AUDIO_FROM_VIDEO");
  o.video_container_exts = get_string_list("DATA.VIDEO_CONTAINER_EXTENSIONS");
  return o;
}

VideoOptions Config::video_options() const {
  VideoOptions o;
  o.clip_len = get_float("TEST.CLIP_LEN");
  require(o.clip_len > 0, "TEST.CLIP_LEN must be > 0");
  o.n_frames = static_cast<int>(get_int("VIDEO.N_FRAMES"));
  require(o.n_frames >= 1, "VIDEO.N_FRAMES must be >= 1");
  const auto& crop = get_int_list("VIDEO.CROP_SIZE");
  require(crop.size() == 2 && crop[0] > 0 && crop[1] > 0, "VIDEO.CROP_SIZE must be [h, w] > 0");
  o.crop_h = static_cast<int>(crop[0]);
  o.crop_w = static_cast<int>(crop[1]);
  const auto& scales = get_int_list("VIDEO.CROP_SCALES");
  require(!scales.empty() && scales[0] > 0, "VIDEO.CROP_SCALES needs a first scale > 0");
  o.short_side = static_cast<int>(scales[0]);
  require(o.short_side >= std::max(o.crop_h, o.crop_w), "VIDEO.CROP_SCALES[0] must be >= the crop size");
  return o;
}

AudioOptions Config::audio_options() const {
  AudioOptions o;
  o.clip_len = get_float("TEST.CLIP_LEN");
  require(o.clip_len > 0, "TEST.CLIP_LEN must be > 0");
  o.n_fft = static_cast<int>(get_int("AUDIO.N_FFT"));
  o.hop_length = static_cast<int>(get_int("AUDIO.HOP_LENGTH"));
  o.n_mels = static_cast<int>(get_int("AUDIO.N_MELS"));
  require(o.n_fft > 0 && o.hop_length > 0 && o.n_mels > 0, "AUDIO.N_FFT/HOP_LENGTH/N_MELS must be > 0");
  const auto& crop = get_int_list("AUDIO.CROP_SIZE");
  require(crop.size() == 2 && crop[0] > 0 && crop[1] > 0, "AUDIO.CROP_SIZE must be [mels, frames] > 0");
  o.crop_h = static_cast<int>(crop[0]);
  o.crop_w = static_cast<int>(crop[1]);
  return o;
}

EncoderOptions Config::encoder_options() const {
  EncoderOptions o;
  o.video_model = get_string("MODEL.VIDEO_ENCODER_FILE");
  o.audio_model = get_string("MODEL.AUDIO_ENCODER_FILE");
  o.device = get_string("RUNTIME.DEVICE");
  require(o.device == "auto" || o.device == "cpu" || o.device.rfind("cuda", 0) == 0,
          "RUNTIME.DEVICE must be auto, cpu, cuda or cuda:N (got '" + o.device + "')");
  o.precision = get_string("RUNTIME.PRECISION");
  require(o.precision == "auto" || o.precision == "fp32" || o.precision == "fp16" || o.precision == "bf16",
          "RUNTIME.PRECISION must be auto, fp32, fp16 or bf16 (got '" + o.precision + "')");
  o.threads = static_cast<int>(get_int("RUNTIME.NUM_THREADS"));
  require(o.threads >= 0, "RUNTIME.NUM_THREADS must be >= 0");
  o.cpu_micro_batch = static_cast<int>(get_int("RUNTIME.CPU_MICRO_BATCH"));
  o.cpu_lanes = static_cast<int>(get_int("RUNTIME.CPU_LANES"));
  require(o.cpu_lanes >= 0, "RUNTIME.CPU_LANES must be >= 0");
  require(o.cpu_micro_batch >= 0, "RUNTIME.CPU_MICRO_BATCH must be >= 0");
  o.batch_size = static_cast<int>(get_int("TEST.BATCH_SIZE"));
  require(o.batch_size >= 1, "TEST.BATCH_SIZE must be >= 1");
  o.num_gpus = static_cast<int>(get_int("DIST.NUM_GPUS"));
  require(o.num_gpus >= 0, "DIST.NUM_GPUS must be >= 0");
  for (const char* k : {"MODEL.VIDEO", "MODEL.AUDIO"})
    require(get_string(k) == "MViT", std::string(k) + " must be MViT (the only LSSD encoder)");
  require(get_string("MVIT.SIZE") == "S" || get_string("MVIT.SIZE") == "B", "MVIT.SIZE must be S or B");
  check_default_only_keys();
  return o;
}

PipelineOptions Config::pipeline_options() const {
  PipelineOptions o;
  o.discover = discover_options();
  o.shard_source = shard_from_environment(&o.discover, is_set("DIST.NUM_SHARDS") || is_set("DIST.SHARD_ID"));
  o.media = media_options();
  o.video = video_options();
  o.audio = audio_options();
  o.encoder = encoder_options();
  o.output_dir = get_string("OUTPUT_DIR");
  require(!o.output_dir.empty(), "OUTPUT_DIR must not be empty");
  o.num_workers = static_cast<int>(get_int("DIST.NUM_WORKERS"));
  require(o.num_workers >= 1, "DIST.NUM_WORKERS must be >= 1");
  o.worker_nice = static_cast<int>(get_int("RUNTIME.WORKER_NICE"));
  require(o.worker_nice >= 0 && o.worker_nice <= 19, "RUNTIME.WORKER_NICE must be 0..19");
  const std::string& dtype = get_string("OUTPUT.DTYPE");
  require(dtype == "float32" || dtype == "float16", "OUTPUT.DTYPE must be float32 or float16");
  o.float16_output = dtype == "float16";
  o.progress_interval_s = get_float("LOG.PROGRESS_INTERVAL_S");
  require(o.progress_interval_s > 0, "LOG.PROGRESS_INTERVAL_S must be > 0");
  o.config_yaml = to_yaml();
  o.output_key_text = output_affecting_text();
  if (is_set("MVIT.SIZE")) o.expect_size = get_string("MVIT.SIZE");
  if (is_set("MVIT.PATCH_OVERLAP")) o.expect_patch_overlap = get_bool("MVIT.PATCH_OVERLAP") ? 1 : 0;
  return o;
}

}  // namespace lssd
