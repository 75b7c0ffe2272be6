// One error type for the whole pipeline: which file, which stage, what went wrong.
#pragma once
#include <stdexcept>
#include <string>

namespace lssd {

class Error : public std::runtime_error {
 public:
  // sys_errno: the errno of a failed system call behind the error (0: none), so that callers
  // can tell a full disk (ENOSPC) from a bad file without reading the message.
  Error(std::string stage, std::string message, std::string file = {}, int sys_errno = 0)
      : std::runtime_error(compose(stage, message, file)),
        stage_(std::move(stage)),
        message_(std::move(message)),
        file_(std::move(file)),
        sys_errno_(sys_errno) {}
  const std::string& stage() const { return stage_; }
  const std::string& message() const { return message_; }
  const std::string& file() const { return file_; }
  int sys_errno() const { return sys_errno_; }
  // True when the cause is the file's content (see ContentError): the same bytes fail again.
  bool from_content() const { return from_content_; }

 protected:
  bool from_content_ = false;

 private:
  static std::string compose(const std::string& stage, const std::string& msg, const std::string& file) {
    return (file.empty() ? std::string() : file + ": ") + "[" + stage + "] " + msg;
  }
  std::string stage_, message_, file_;
  int sys_errno_ = 0;
};

// A failure that comes from the file's content (an empty file, a container or stream that
// cannot be parsed, a codec without a decoder, no frame decodable): reading the unchanged file
// again with the same reading rules fails the same way, so a rerun need not retry it. Not for
// I/O errors, deadlines, memory, or anything of the machine rather than the file.
class ContentError : public Error {
 public:
  ContentError(std::string stage, std::string message, std::string file = {})
      : Error(std::move(stage), std::move(message), std::move(file)) {
    from_content_ = true;
  }
};

// A usage or configuration error: the apps exit with code 2.
class ConfigError : public Error {
 public:
  explicit ConfigError(std::string message) : Error("config", std::move(message)) {}
};

}  // namespace lssd
