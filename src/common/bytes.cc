#include "lssd/bytes.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>

#include "lssd/error.h"

namespace lssd {

size_t utf8_sequence_length(const std::string& s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    cp = c & 0x07;
  } else
    return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    unsigned char d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

std::string hex_bytes(const std::string& bytes) {
  static const char* hex = "0123456789abcdef";
  std::string h;
  for (unsigned char c : bytes) {
    h += hex[c >> 4];
    h += hex[c & 15];
  }
  return h;
}

std::string escape_non_utf8(const std::string& bytes, bool* was_valid) {
  static const char* hex = "0123456789abcdef";
  std::string text;
  bool valid = true;
  for (size_t i = 0; i < bytes.size();) {
    size_t n = utf8_sequence_length(bytes, i);
    if (n == 0) {
      unsigned char c = static_cast<unsigned char>(bytes[i]);
      text += "\\x";
      text += hex[c >> 4];
      text += hex[c & 15];
      valid = false;
      ++i;
    } else {
      text.append(bytes, i, n);
      i += n;
    }
  }
  if (was_valid) *was_valid = valid;
  return text;
}

std::string base64_encode(const void* data, size_t n) {
  // EVP_EncodeBlock takes an int length: encode in chunks of a multiple of 3 bytes.
  constexpr size_t kChunk = size_t{3} << 20;
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  const auto* p = static_cast<const unsigned char*>(data);
  std::string buf;
  for (size_t off = 0; off < n; off += kChunk) {
    const size_t len = std::min(kChunk, n - off);
    buf.resize((len + 2) / 3 * 4 + 1);
    const int w = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&buf[0]), p + off, static_cast<int>(len));
    if (w < 0) throw Error("encode", "base64 encoding failed");
    out.append(buf, 0, static_cast<size_t>(w));
  }
  return out;
}

}  // namespace lssd
