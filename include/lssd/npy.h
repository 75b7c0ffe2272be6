// NumPy .npy files (format 1.0, little-endian float32 or float16, C order): the on-disk form of
// every embedding. Reading is the exact inverse of writing; a malformed or truncated file is a
// clear lssd::Error naming it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lssd/array.h"

namespace lssd {

enum class NpyDtype { Float32, Float16 };

// Bytes per value on disk: 4 (float32) or 2 (float16).
size_t npy_item_size(NpyDtype dtype);

// The header of an array of `shape` in `dtype`: magic, version 1.0, the dict, padded with spaces
// to a multiple of 64 bytes and at least `min_length` bytes (a shard part reserves 128 so that
// its final row count fits in place).
std::string npy_header(const std::vector<int64_t>& shape, NpyDtype dtype, size_t min_length = 0);
// Serialises `a` (converted to `dtype`) into npy bytes: npy_header(a.shape, dtype) + the data.
std::string npy_bytes(const FloatArray& a, NpyDtype dtype = NpyDtype::Float32);
// Appends `n` values converted to `dtype` (little-endian) to `out`.
void append_npy_values(std::string& out, const float* values, size_t n, NpyDtype dtype);
// Writes `a` to `path` atomically: a temporary name in the same directory, fsync, rename (see
// write_file_atomic for `writer` and `durable`).
void write_npy(const std::string& path, const FloatArray& a, NpyDtype dtype = NpyDtype::Float32,
               const std::string& writer = "", bool durable = true);
// Reads a float32 or float16 .npy (float16 is widened to float).
FloatArray read_npy(const std::string& path, NpyDtype* dtype_out = nullptr);
// Parses npy bytes (`name` is used in error messages).
FloatArray parse_npy(const std::string& bytes, const std::string& name, NpyDtype* dtype_out = nullptr);

// What a .npy header says, and where its data starts.
struct NpyInfo {
  std::vector<int64_t> shape;
  NpyDtype dtype = NpyDtype::Float32;
  size_t data_offset = 0;  // bytes before the data (magic, version, header length, header)
  uint64_t data_bytes() const;
};
// Reads only the header of a .npy file and checks the file's size against it (no data is
// read). Throws lssd::Error("read") naming the file for a missing file, a malformed header or a
// size that does not match (truncated, trailing bytes).
NpyInfo read_npy_info(const std::string& path);
// Rows [first, first + count) of the first dimension of a .npy file (float16 widened), read
// with one positioned read; the header and the file's size are checked as read_npy_info does.
// Throws lssd::Error("read") naming the file when the rows lie outside the array.
FloatArray read_npy_rows(const std::string& path, int64_t first, int64_t count, NpyDtype* dtype_out = nullptr);

// IEEE half conversions (round to nearest even).
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);

// Writes `data` to `path` atomically (temporary file + fsync + rename); throws lssd::Error("output").
// The temporary file is ".tmp.@<writer>@<name>.<n>" beside `path` (".tmp.<name>.<n>" without a
// writer id), so that a start-up sweep can tell whose leftover it is (temporary_writer()).
// durable false skips the fsync (only for generating test and benchmark data).
void write_file_atomic(const std::string& path, const std::string& data, const std::string& writer = "",
                       bool durable = true);
// The temporary name write_file_atomic uses for `filename` (a name, not a path); `n` tells
// temporaries of one name apart.
std::string temporary_name(const std::string& filename, const std::string& writer, uint64_t n);
// Whether `filename` is a temporary name; *writer gets the writer id it names ("" for the form
// without one).
bool is_temporary_name(const std::string& filename, std::string* writer = nullptr);

}  // namespace lssd
