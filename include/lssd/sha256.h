// SHA-256 from OpenSSL's libcrypto (EVP): file digests for model ids and encoder checks. No
// OpenSSL type in this header.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

namespace lssd {

// An incremental digest.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t n);
  void update(const std::string& s) { update(s.data(), s.size()); }
  // Finishes and returns the 64-character lowercase hex digest, then starts afresh.
  std::string hex_digest();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// Hex digest of a byte string.
std::string sha256_hex(const std::string& bytes);
// Hex digest of a file's contents (streamed); throws lssd::Error(stage, ..., path) when it
// cannot be read.
std::string sha256_file(const std::string& path, const std::string& stage = "io");

}  // namespace lssd
