#include "lssd/npy.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "lssd/error.h"

namespace lssd {
namespace fs = std::filesystem;

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t mant = x & 0x7fffffu;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xffu);
  if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0u));  // inf / nan
  int32_t e = exp - 127 + 15;
  if (e >= 0x1f) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (e <= 0) {                                                 // subnormal or zero
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    uint32_t shift = static_cast<uint32_t>(14 - e);
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = sign | (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;  // may carry into the exponent: correct
  return static_cast<uint16_t>(half);
}

float half_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t x;
  if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {  // subnormal
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while (!(mant & 0x400u));
      x = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 0x1f) {
    x = sign | 0x7f800000u | (mant << 13);
  } else {
    x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

std::string npy_bytes(const FloatArray& a, NpyDtype dtype) {
  std::string shape = "(";
  for (size_t i = 0; i < a.shape.size(); ++i)
    shape += std::to_string(a.shape[i]) + (a.shape.size() == 1 ? "," : (i + 1 < a.shape.size() ? ", " : ""));
  shape += ")";
  std::string header = std::string("{'descr': '") + (dtype == NpyDtype::Float32 ? "<f4" : "<f2") +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  size_t pad = (64 - total % 64) % 64;
  header += std::string(pad, ' ') + "\n";
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  uint16_t hl = static_cast<uint16_t>(header.size());
  out += static_cast<char>(hl & 0xff);
  out += static_cast<char>(hl >> 8);
  out += header;
  if (dtype == NpyDtype::Float32) {
    out.append(reinterpret_cast<const char*>(a.data.data()), a.data.size() * 4);
  } else {
    std::string body(a.data.size() * 2, '\0');
    for (size_t i = 0; i < a.data.size(); ++i) {
      uint16_t h = float_to_half(a.data[i]);
      std::memcpy(&body[i * 2], &h, 2);
    }
    out += body;
  }
  return out;
}

void write_file_atomic(const std::string& path, const std::string& data) {
  fs::path p(path);
  std::error_code ec;
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tmp =
      (p.parent_path() / (".tmp." + p.filename().string() + "." + std::to_string(rng() % 1000000007ULL))).string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    throw Error("output", "cannot create " + tmp + ": " + std::strerror(err), path, err);
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error("output", std::string("write failed: ") + std::strerror(err), path, err);
    }
    off += static_cast<size_t>(n);
  }
  const int synced = ::fsync(fd);
  const int sync_err = errno;
  const int closed = ::close(fd);  // always closed, whether fsync failed or not
  const int close_err = errno;
  if (synced != 0 || closed != 0) {
    const int err = synced != 0 ? sync_err : close_err;
    ::unlink(tmp.c_str());
    throw Error("output", std::string(synced != 0 ? "fsync" : "close") + " failed: " + std::strerror(err), path, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error("output", std::string("rename failed: ") + std::strerror(err), path, err);
  }
}

void write_npy(const std::string& path, const FloatArray& a, NpyDtype dtype) {
  write_file_atomic(path, npy_bytes(a, dtype));
}

FloatArray parse_npy(const std::string& b, const std::string& name, NpyDtype* dtype_out) {
  auto bad = [&](const std::string& why) { return Error("read", "not a valid .npy file: " + why, name); };
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0) throw bad("bad magic");
  int major = static_cast<unsigned char>(b[6]);
  size_t hl, start;
  if (major == 1) {
    hl = static_cast<unsigned char>(b[8]) | (static_cast<size_t>(static_cast<unsigned char>(b[9])) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) throw bad("truncated header");
    hl = 0;
    for (int i = 0; i < 4; ++i) hl |= static_cast<size_t>(static_cast<unsigned char>(b[8 + i])) << (8 * i);
    start = 12;
  } else {
    throw bad("unsupported version " + std::to_string(major));
  }
  if (b.size() < start + hl) throw bad("truncated header");
  std::string header = b.substr(start, hl);
  auto field = [&](const std::string& key) -> std::string {
    auto k = header.find("'" + key + "'");
    if (k == std::string::npos) throw bad("header lacks '" + key + "'");
    auto colon = header.find(':', k);
    if (colon == std::string::npos) throw bad("malformed header");
    return header.substr(colon + 1);
  };
  std::string descr = field("descr");
  NpyDtype dtype;
  size_t item;
  if (descr.find("'<f4'") != std::string::npos && descr.find("'<f4'") < descr.find(',')) {
    dtype = NpyDtype::Float32;
    item = 4;
  } else if (descr.find("'<f2'") != std::string::npos && descr.find("'<f2'") < descr.find(',')) {
    dtype = NpyDtype::Float16;
    item = 2;
  } else {
    throw bad("dtype must be <f4 or <f2");
  }
  std::string fo = field("fortran_order");
  if (fo.find("False") != 0 && fo.find(" False") != 0) throw bad("fortran_order arrays are not supported");
  std::string sh = field("shape");
  auto lp = sh.find('('), rp = sh.find(')');
  if (lp == std::string::npos || rp == std::string::npos || rp < lp) throw bad("malformed shape");
  FloatArray a;
  std::stringstream ss(sh.substr(lp + 1, rp - lp - 1));
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    size_t i = tok.find_first_not_of(" ");
    if (i == std::string::npos) continue;
    try {
      long long v = std::stoll(tok.substr(i));
      if (v < 0) throw bad("negative dimension");
      a.shape.push_back(v);
    } catch (const std::logic_error&) {
      throw bad("malformed shape");
    }
  }
  size_t n = FloatArray::numel_of(a.shape);
  size_t need = start + hl + n * item;
  if (b.size() != need)
    throw bad("size " + std::to_string(b.size()) + " bytes, expected " + std::to_string(need) + " for shape " +
              a.shape_str() + (b.size() < need ? " (truncated)" : " (trailing bytes)"));
  a.data.resize(n);
  const char* body = b.data() + start + hl;
  if (dtype == NpyDtype::Float32) {
    if (n) std::memcpy(a.data.data(), body, n * 4);  // n == 0: data() may be null (UB in memcpy)
  } else {
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, body + i * 2, 2);
      a.data[i] = half_to_float(h);
    }
  }
  if (dtype_out) *dtype_out = dtype;
  return a;
}

FloatArray read_npy(const std::string& path, NpyDtype* dtype_out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("read", std::string("cannot open: ") + std::strerror(errno), path);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return parse_npy(bytes, path, dtype_out);
}

}  // namespace lssd
