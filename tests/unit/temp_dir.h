// Scratch directories for the unit tests: <tmp>/lssd_unit_<pid>/<group>/<name>, made empty on
// each call and all removed when the test program ends.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace lssd::test {

inline std::filesystem::path temp_root() {
  return std::filesystem::temp_directory_path() / ("lssd_unit_" + std::to_string(::getpid()));
}

class TempRootCleanUp : public ::testing::Environment {
 public:
  void TearDown() override { std::filesystem::remove_all(temp_root()); }
};
inline ::testing::Environment* const kTempRootCleanUp = ::testing::AddGlobalTestEnvironment(new TempRootCleanUp);

// An empty directory <root>/<group>/<name> (group: the test file's, so names never collide).
inline std::filesystem::path temp_dir(const std::string& group, const std::string& name) {
  std::filesystem::path p = temp_root() / group / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

}  // namespace lssd::test
