// ConfigValue: the yacs literal syntax. Parses Python-literal-like text (scalars, None, lists
// nested to any depth), converts it to a key's declared type (config_detail::convert, throwing
// ConfigError on a mismatch) and prints values back as canonical literals.
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "config/config_value.h"
#include "lssd/config_keys.h"
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
    if (std::isdigit(static_cast<unsigned char>(c)))
      has_digit = true;
    else if (c != '.' && c != 'e' && c != 'E' && c != '-' && c != '+')
      return false;
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
  if (t.size() < 2 || !((t.front() == '[' && t.back() == ']') || (t.front() == '(' && t.back() == ')'))) return false;
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

std::string yaml_scalar(const std::string& s) {
  bool plain = !s.empty();
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '/' || c == '.' || c == '-')) plain = false;
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
    case ValueType::Devices: return "all, an int or a list of int";
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
    case ValueType::NoneOr:
    case ValueType::Devices: return s;
  }
  return "";
}

namespace config_detail {

ConfigValue convert(const KeySpec& spec, const std::string& literal) {
  ConfigValue v;
  v.type = spec.type;
  auto mismatch = [&](const std::string& got) {
    return ConfigError("wrong type for " + std::string(spec.key) + ": expected " + to_string(spec.type) + ", got " +
                       got + " '" + literal + "'");
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
    case ValueType::Devices: {
      if (!is_list) {
        Scalar s = parse_scalar(literal);
        if (s.kind == Scalar::Str && s.s == "all") {
          v.i = -1;
        } else if (s.kind == Scalar::Int) {
          v.i = s.i;
        } else {
          throw mismatch(kind_name(s.kind));
        }
      } else {
        for (const auto& item : items) {
          Scalar s = parse_scalar(item);
          if (s.kind != Scalar::Int) throw mismatch("a list with a " + kind_name(s.kind) + " element");
          v.il.push_back(s.i);
        }
      }
      canonical_literal(literal, &v.s);
      return v;
    }
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

}  // namespace config_detail
}  // namespace lssd
