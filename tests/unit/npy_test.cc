#include "lssd/npy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "lssd/error.h"

namespace fs = std::filesystem;

TEST(Npy, RoundTripFloat32) {
  lssd::FloatArray a({2, 5, 3});
  for (size_t i = 0; i < a.numel(); ++i) a.data[i] = std::sin(static_cast<float>(i)) * 3.5f;
  std::string path = (fs::temp_directory_path() / ("lssd_npy_" + std::to_string(::getpid()) + ".npy")).string();
  lssd::write_npy(path, a);
  lssd::NpyDtype dt;
  lssd::FloatArray b = lssd::read_npy(path, &dt);
  EXPECT_EQ(dt, lssd::NpyDtype::Float32);
  EXPECT_EQ(b.shape, a.shape);
  EXPECT_EQ(b.data, a.data);
  // Header is 64-byte aligned as numpy writes it.
  std::ifstream f(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ((bytes.size() - a.numel() * 4) % 64, 0u);
  fs::remove(path);
}

TEST(Npy, Float16) {
  lssd::FloatArray a({4});
  a.data = {1.0f, -2.5f, 65504.0f, 1e-7f};
  lssd::NpyDtype dt;
  lssd::FloatArray b = lssd::parse_npy(lssd::npy_bytes(a, lssd::NpyDtype::Float16), "mem", &dt);
  EXPECT_EQ(dt, lssd::NpyDtype::Float16);
  EXPECT_EQ(b.data[0], 1.0f);
  EXPECT_EQ(b.data[1], -2.5f);
  EXPECT_EQ(b.data[2], 65504.0f);
  EXPECT_NEAR(b.data[3], 1e-7f, 6e-8f);
  for (float f : {0.1f, 0.333f, 1000.7f, -0.0001f, 3.14159f}) {
    float r = lssd::half_to_float(lssd::float_to_half(f));
    EXPECT_NEAR(r, f, std::fabs(f) * 1e-3f) << f;
  }
  EXPECT_EQ(lssd::float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(lssd::float_to_half(1.0f + 1.0f / 2048.0f), 0x3c00);  // ties to even
  EXPECT_TRUE(std::isinf(lssd::half_to_float(lssd::float_to_half(1e6f))));
}

TEST(Npy, ScalarAndOneDimShapes) {
  lssd::FloatArray a({3});
  std::string bytes = lssd::npy_bytes(a);
  EXPECT_NE(bytes.find("'shape': (3,)"), std::string::npos);
  lssd::FloatArray b({0, 768});
  EXPECT_EQ(lssd::parse_npy(lssd::npy_bytes(b), "m").shape, (std::vector<int64_t>{0, 768}));
}

TEST(Npy, CorruptInputsNameTheFile) {
  lssd::FloatArray a({2, 768});
  std::string good = lssd::npy_bytes(a);
  auto msg = [](const std::string& bytes) {
    try {
      lssd::parse_npy(bytes, "/x/broken.npy");
    } catch (const lssd::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(msg(good.substr(0, good.size() - 7)).find("truncated"), std::string::npos);
  EXPECT_NE(msg(good.substr(0, good.size() - 7)).find("/x/broken.npy"), std::string::npos);
  EXPECT_NE(msg("garbage").find("bad magic"), std::string::npos);
  EXPECT_NE(msg(good.substr(0, 30)).find("truncated header"), std::string::npos);
  EXPECT_NE(msg(good + "xx").find("trailing"), std::string::npos);
  std::string f8 = good;
  f8.replace(f8.find("<f4"), 3, "<f8");
  EXPECT_NE(msg(f8).find("dtype"), std::string::npos);
}

TEST(Npy, AtomicWriteLeavesNoTemporary) {
  fs::path dir = fs::temp_directory_path() / ("lssd_atomic_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  lssd::write_file_atomic((dir / "a.txt").string(), "hello");
  lssd::write_file_atomic((dir / "a.txt").string(), "world");
  int n = 0;
  for (auto& e : fs::directory_iterator(dir)) {
    (void)e;
    ++n;
  }
  EXPECT_EQ(n, 1);
  std::ifstream f(dir / "a.txt");
  std::string s;
  f >> s;
  EXPECT_EQ(s, "world");
  EXPECT_THROW(lssd::write_file_atomic("/proc/lssd_cannot/x", "y"), lssd::Error);
  fs::remove_all(dir);
}
