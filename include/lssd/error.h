// One error type for the whole pipeline: which file, which stage, what went wrong.
#pragma once
#include <stdexcept>
#include <string>

namespace lssd {

class Error : public std::runtime_error {
 public:
  Error(std::string stage, std::string message, std::string file = {})
      : std::runtime_error(compose(stage, message, file)),
        stage_(std::move(stage)),
        message_(std::move(message)),
        file_(std::move(file)) {}
  const std::string& stage() const { return stage_; }
  const std::string& message() const { return message_; }
  const std::string& file() const { return file_; }

 private:
  static std::string compose(const std::string& stage, const std::string& msg, const std::string& file) {
    return (file.empty() ? std::string() : file + ": ") + "[" + stage + "] " + msg;
  }
  std::string stage_, message_, file_;
};

// A usage or configuration error: the apps exit with code 2.
class ConfigError : public Error {
 public:
  explicit ConfigError(std::string message) : Error("config", std::move(message)) {}
};

}  // namespace lssd
