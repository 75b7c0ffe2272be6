// Arbitrary bytes (file names are not always UTF-8) as text: for JSON, logs and tables.
#pragma once
#include <cstddef>
#include <string>

namespace lssd {

// The length of the valid UTF-8 sequence at s[i] (0 if invalid: a stray continuation byte, an
// overlong form, a surrogate, beyond U+10FFFF, or cut off by the end).
size_t utf8_sequence_length(const std::string& s, size_t i);
// The text form of bytes: valid UTF-8 kept, other bytes as \xNN; *was_valid false when any was
// escaped.
std::string escape_non_utf8(const std::string& bytes, bool* was_valid = nullptr);
// Lowercase hex of the bytes.
std::string hex_bytes(const std::string& bytes);
// Standard base64 (RFC 4648, with padding) of `n` bytes, as in a data: URI (OpenSSL's encoder).
std::string base64_encode(const void* data, size_t n);

}  // namespace lssd
