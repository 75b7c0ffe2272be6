// Byte strings (paths, messages) in JSON, written one way everywhere lssd writes JSON (manifests,
// error logs, lssd-read's output): "<field>" holds the text (valid UTF-8 kept, invalid bytes as
// \xNN; escape_non_utf8 in lssd/output.h) and, only when the bytes are not UTF-8, "<field>_hex"
// holds the exact bytes. Private to the library and lssd-read (nlohmann types stay out of
// include/lssd/).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace lssd {

// Sets j[field] (and j[field + "_hex"] for bytes that are not valid UTF-8).
void put_bytes(nlohmann::json& j, const std::string& field, const std::string& bytes);
// The bytes put_bytes wrote: from "<field>_hex" when present, else the text of "<field>"; ""
// when neither is present. Throws std::runtime_error for malformed hex and nlohmann's
// exceptions for a field that is not a string.
std::string get_bytes(const nlohmann::json& j, const std::string& field);

}  // namespace lssd
