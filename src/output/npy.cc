#include "lssd/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

size_t npy_item_size(NpyDtype dtype) { return dtype == NpyDtype::Float32 ? 4 : 2; }

std::string npy_header(const std::vector<int64_t>& shape_dims, NpyDtype dtype, size_t min_length) {
  std::string shape = "(";
  for (size_t i = 0; i < shape_dims.size(); ++i)
    shape += std::to_string(shape_dims[i]) + (shape_dims.size() == 1 ? "," : (i + 1 < shape_dims.size() ? ", " : ""));
  shape += ")";
  std::string header = std::string("{'descr': '") + (dtype == NpyDtype::Float32 ? "<f4" : "<f2") +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  size_t pad = (64 - total % 64) % 64;
  if (total + pad < min_length) pad += ((min_length - total - pad + 63) / 64) * 64;
  header += std::string(pad, ' ') + "\n";
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  uint16_t hl = static_cast<uint16_t>(header.size());
  out += static_cast<char>(hl & 0xff);
  out += static_cast<char>(hl >> 8);
  out += header;
  return out;
}

void append_npy_values(std::string& out, const float* values, size_t n, NpyDtype dtype) {
  if (dtype == NpyDtype::Float32) {
    out.append(reinterpret_cast<const char*>(values), n * 4);
    return;
  }
  const size_t at = out.size();
  out.resize(at + n * 2);
  for (size_t i = 0; i < n; ++i) {
    uint16_t h = float_to_half(values[i]);
    std::memcpy(&out[at + i * 2], &h, 2);
  }
}

std::string npy_bytes(const FloatArray& a, NpyDtype dtype) {
  std::string out = npy_header(a.shape, dtype);
  out.reserve(out.size() + a.data.size() * npy_item_size(dtype));
  append_npy_values(out, a.data.data(), a.data.size(), dtype);
  return out;
}

std::string temporary_name(const std::string& filename, const std::string& writer, uint64_t n) {
  return ".tmp." + (writer.empty() ? std::string() : "@" + writer + "@") + filename + "." + std::to_string(n);
}

bool is_temporary_name(const std::string& filename, std::string* writer) {
  if (filename.rfind(".tmp.", 0) != 0) return false;
  std::string w;
  if (filename.size() > 6 && filename[5] == '@') {
    const size_t end = filename.find('@', 6);
    if (end != std::string::npos && end > 6) w = filename.substr(6, end - 6);
  }
  if (writer) *writer = w;
  return true;
}

void write_file_atomic(const std::string& path, const std::string& data, const std::string& writer, bool durable) {
  fs::path p(path);
  std::error_code ec;
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tmp = (p.parent_path() / temporary_name(p.filename().string(), writer, rng() % 1000000007ULL)).string();
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
  const int synced = durable ? ::fsync(fd) : 0;
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

void write_npy(const std::string& path, const FloatArray& a, NpyDtype dtype, const std::string& writer, bool durable) {
  write_file_atomic(path, npy_bytes(a, dtype), writer, durable);
}

uint64_t NpyInfo::data_bytes() const { return FloatArray::numel_of(shape) * npy_item_size(dtype); }

namespace {

// Parses the header at the start of `b` (at least the whole header must be there; `name` for
// messages). Checks nothing about the data.
NpyInfo parse_npy_header(const std::string& b, const std::string& name) {
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
  NpyInfo info;
  std::string descr = field("descr");
  if (descr.find("'<f4'") != std::string::npos && descr.find("'<f4'") < descr.find(',')) {
    info.dtype = NpyDtype::Float32;
  } else if (descr.find("'<f2'") != std::string::npos && descr.find("'<f2'") < descr.find(',')) {
    info.dtype = NpyDtype::Float16;
  } else {
    throw bad("dtype must be <f4 or <f2");
  }
  std::string fo = field("fortran_order");
  if (fo.find("False") != 0 && fo.find(" False") != 0) throw bad("fortran_order arrays are not supported");
  std::string sh = field("shape");
  auto lp = sh.find('('), rp = sh.find(')');
  if (lp == std::string::npos || rp == std::string::npos || rp < lp) throw bad("malformed shape");
  std::stringstream ss(sh.substr(lp + 1, rp - lp - 1));
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    size_t i = tok.find_first_not_of(" ");
    if (i == std::string::npos) continue;
    try {
      long long v = std::stoll(tok.substr(i));
      if (v < 0) throw bad("negative dimension");
      info.shape.push_back(v);
    } catch (const std::logic_error&) {
      throw bad("malformed shape");
    }
  }
  info.data_offset = start + hl;
  return info;
}

// Throws unless a file of `size` bytes holds exactly the header and data `info` describes.
void check_npy_size(const NpyInfo& info, uint64_t size, const std::string& name) {
  const uint64_t need = info.data_offset + info.data_bytes();
  if (size != need)
    throw Error("read",
                "not a valid .npy file: size " + std::to_string(size) + " bytes, expected " + std::to_string(need) +
                    " for shape " + shape_str(info.shape) + (size < need ? " (truncated)" : " (trailing bytes)"),
                name);
}

void decode_values(const char* body, size_t n, NpyDtype dtype, float* out) {
  if (dtype == NpyDtype::Float32) {
    if (n) std::memcpy(out, body, n * 4);  // n == 0: out may be null (UB in memcpy)
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, body + i * 2, 2);
    out[i] = half_to_float(h);
  }
}

// An open file descriptor, closed on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads up to `n` bytes at `offset`; returns the count read (short only at the end of the file).
size_t pread_full(int fd, char* buf, size_t n, uint64_t offset, const std::string& name) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, buf + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw Error("read", std::string("read failed: ") + std::strerror(errno), name);
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

// The header of an open .npy file, its size checked.
NpyInfo read_header(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) throw Error("read", std::string("cannot stat: ") + std::strerror(errno), path);
  std::string head(256, '\0');
  head.resize(pread_full(fd, head.data(), head.size(), 0, path));
  NpyInfo info;
  try {
    info = parse_npy_header(head, path);
  } catch (const Error&) {
    if (head.size() < 256) throw;
    // A header longer than what was read (not one lssd writes): read it whole.
    head.resize(std::min<uint64_t>(static_cast<uint64_t>(st.st_size), 1u << 20));
    head.resize(pread_full(fd, head.data(), head.size(), 0, path));
    info = parse_npy_header(head, path);
  }
  check_npy_size(info, static_cast<uint64_t>(st.st_size), path);
  return info;
}

int open_for_reading(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("read", std::string("cannot open: ") + std::strerror(errno), path);
  return fd;
}

}  // namespace

FloatArray parse_npy(const std::string& b, const std::string& name, NpyDtype* dtype_out) {
  const NpyInfo info = parse_npy_header(b, name);
  check_npy_size(info, b.size(), name);
  FloatArray a;
  a.shape = info.shape;
  a.data.resize(FloatArray::numel_of(a.shape));
  decode_values(b.data() + info.data_offset, a.data.size(), info.dtype, a.data.data());
  if (dtype_out) *dtype_out = info.dtype;
  return a;
}

NpyInfo read_npy_info(const std::string& path) {
  Fd f{open_for_reading(path)};
  return read_header(f.fd, path);
}

FloatArray read_npy_rows(const std::string& path, int64_t first, int64_t count, NpyDtype* dtype_out) {
  Fd f{open_for_reading(path)};
  const NpyInfo info = read_header(f.fd, path);
  if (info.shape.empty() || first < 0 || count < 0 || first + count > info.shape[0])
    throw Error("read",
                "rows " + std::to_string(first) + ".." + std::to_string(first + count) + " lie outside the array " +
                    shape_str(info.shape),
                path);
  FloatArray a;
  a.shape = info.shape;
  a.shape[0] = count;
  const size_t row = FloatArray::numel_of(std::vector<int64_t>(info.shape.begin() + 1, info.shape.end()));
  const size_t item = npy_item_size(info.dtype);
  a.data.resize(row * static_cast<size_t>(count));
  std::string body(a.data.size() * item, '\0');
  const uint64_t at = info.data_offset + static_cast<uint64_t>(first) * row * item;
  if (pread_full(f.fd, body.data(), body.size(), at, path) != body.size())
    throw Error("read", "not a valid .npy file: ended before row " + std::to_string(first + count), path);
  decode_values(body.data(), a.data.size(), info.dtype, a.data.data());
  if (dtype_out) *dtype_out = info.dtype;
  return a;
}

FloatArray read_npy(const std::string& path, NpyDtype* dtype_out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("read", std::string("cannot open: ") + std::strerror(errno), path);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return parse_npy(bytes, path, dtype_out);
}

}  // namespace lssd
