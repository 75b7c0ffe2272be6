// NumPy .npy files (format 1.0, little-endian float32 or float16, C order): the on-disk form of
// every embedding. Reading is the exact inverse of writing; a malformed or truncated file is a
// clear lssd::Error naming it.
#pragma once
#include <string>

#include "lssd/array.h"

namespace lssd {

enum class NpyDtype { Float32, Float16 };

// Serialises `a` (converted to `dtype`) into npy bytes.
std::string npy_bytes(const FloatArray& a, NpyDtype dtype = NpyDtype::Float32);
// Writes `a` to `path` atomically: a temporary name in the same directory, fsync, rename.
void write_npy(const std::string& path, const FloatArray& a, NpyDtype dtype = NpyDtype::Float32);
// Reads a float32 or float16 .npy (float16 is widened to float).
FloatArray read_npy(const std::string& path, NpyDtype* dtype_out = nullptr);
// Parses npy bytes (`name` is used in error messages).
FloatArray parse_npy(const std::string& bytes, const std::string& name, NpyDtype* dtype_out = nullptr);

// IEEE half conversions (round to nearest even).
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);

// Writes `data` to `path` atomically (temporary file + fsync + rename); throws lssd::Error("output").
void write_file_atomic(const std::string& path, const std::string& data);

}  // namespace lssd
