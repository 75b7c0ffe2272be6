// Private to the encoder module (src/encoder/*.cc), free of LibTorch types: the encoder files'
// embedded metadata and the checks that read_encoder_info (encoder_meta.cc) and Encoder
// (encoder.cc) share.
#pragma once
#include <exception>
#include <string>

#include "lssd/encoder_info.h"

namespace lssd::encoder_detail {

// The TorchScript extra file that holds an encoder's metadata (JSON).
inline constexpr const char* kMetaName = "lssd_meta.json";

// The message of a LibTorch exception without c10::Error's C++ backtrace.
std::string torch_message(const std::exception& e);

// Parses and checks the embedded metadata `text` of the encoder file `path`; fills the metadata
// fields of `info`. Throws lssd::Error("encoder", ..., path) naming what is wrong.
void parse_meta(const std::string& text, const std::string& path, EncoderInfo& info);

// Throws lssd::Error("encoder", ..., path), with the export command, unless `path` is a regular
// file.
void require_file(const std::string& path);

}  // namespace lssd::encoder_detail
