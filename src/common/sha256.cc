#include "lssd/sha256.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "lssd/error.h"

namespace lssd {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { EVP_MD_CTX_free(md); }
  void init() {
    if (EVP_DigestInit_ex(md, EVP_sha256(), nullptr) != 1) throw Error("hash", "EVP_DigestInit_ex(sha256) failed");
  }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  if (!ctx_->md) throw Error("hash", "out of memory");
  ctx_->init();
}

Sha256::~Sha256() = default;

void Sha256::update(const void* data, size_t n) {
  if (EVP_DigestUpdate(ctx_->md, data, n) != 1) throw Error("hash", "EVP_DigestUpdate failed");
}

std::string Sha256::hex_digest() {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->md, d, &len) != 1) throw Error("hash", "EVP_DigestFinal_ex failed");
  static const char* hex = "0123456789abcdef";
  std::string out(2 * len, '0');
  for (unsigned i = 0; i < len; ++i) {
    out[2 * i] = hex[d[i] >> 4];
    out[2 * i + 1] = hex[d[i] & 15];
  }
  ctx_->init();
  return out;
}

std::string sha256_hex(const std::string& bytes) {
  Sha256 s;
  s.update(bytes);
  return s.hex_digest();
}

std::string sha256_file(const std::string& path, const std::string& stage) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    const int err = errno;
    throw Error(stage, std::string("cannot open for hashing: ") + std::strerror(err), path, err);
  }
  Sha256 s;
  std::vector<char> buf(1 << 20);
  for (;;) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), f.get());
    if (n > 0) s.update(buf.data(), n);
    if (n < buf.size()) {
      if (std::ferror(f.get())) throw Error(stage, "read error while hashing", path);
      break;
    }
  }
  return s.hex_digest();
}

}  // namespace lssd
