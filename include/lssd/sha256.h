// SHA-256 (FIPS 180-4) in plain C++: file digests for model ids and encoder checks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace lssd {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(const std::string& s) { update(s.data(), s.size()); }
  // Finishes and returns the 64-character lowercase hex digest (the object is then spent;
  // call reset() to reuse it).
  std::string hex_digest();
  void reset();

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

// Hex digest of a byte string.
std::string sha256_hex(const std::string& bytes);
// Hex digest of a file's contents (streamed); throws lssd::Error(stage, ..., path) when it
// cannot be read.
std::string sha256_file(const std::string& path, const std::string& stage = "io");

}  // namespace lssd
