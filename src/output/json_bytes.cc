#include "output/json_bytes.h"

#include <stdexcept>

#include "lssd/bytes.h"

namespace lssd {

void put_bytes(nlohmann::json& j, const std::string& field, const std::string& bytes) {
  bool valid = true;
  j[field] = escape_non_utf8(bytes, &valid);
  if (!valid) j[field + "_hex"] = hex_bytes(bytes);
}

std::string get_bytes(const nlohmann::json& j, const std::string& field) {
  auto hx = j.find(field + "_hex");
  if (hx != j.end()) {
    std::string h = hx->get<std::string>(), out;
    if (h.size() % 2) throw std::runtime_error(field + "_hex has odd length");
    for (size_t i = 0; i < h.size(); i += 2) out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
    return out;
  }
  auto it = j.find(field);
  return it == j.end() ? std::string() : it->get<std::string>();
}

}  // namespace lssd
