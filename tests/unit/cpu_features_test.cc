// CPU bf16 detection against the kernel's view of the CPU (/proc/cpuinfo flags on x86 Linux).
#include "lssd/cpu_features.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace {

// The first "flags" line of /proc/cpuinfo as a set (empty where there is none).
std::set<std::string> cpuinfo_flags() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> out;
    for (std::string w; words >> w;) out.insert(w);
    return out;
  }
  return {};
}

}  // namespace

TEST(CpuFeatures, Bf16AgreesWithProcCpuinfo) {
  const lssd::CpuBf16& c = lssd::cpu_bf16();
  EXPECT_EQ(&c, &lssd::cpu_bf16());  // computed once
#if defined(__x86_64__) && defined(__linux__)
  const auto flags = cpuinfo_flags();
  if (flags.empty()) GTEST_SKIP() << "no flags line in /proc/cpuinfo";
  // The kernel lists a feature only where it supports its register state, as the detection requires.
  EXPECT_EQ(c.avx512_bf16, flags.count("avx512_bf16") == 1);
  EXPECT_EQ(c.amx_bf16, flags.count("amx_bf16") == 1);
  EXPECT_FALSE(c.arm_bf16);
#endif
  EXPECT_EQ(c.native(), c.avx512_bf16 || c.amx_bf16 || c.arm_bf16);
}

TEST(CpuFeatures, Describe) {
  lssd::CpuBf16 c;
  EXPECT_EQ(c.describe(), "none");
  EXPECT_FALSE(c.native());
  c.avx512_bf16 = true;
  EXPECT_EQ(c.describe(), "AVX512-BF16");
  c.amx_bf16 = true;
  EXPECT_EQ(c.describe(), "AVX512-BF16, AMX-BF16");
  EXPECT_TRUE(c.native());
}

TEST(CpuFeatures, CostWarningOnlyWithoutNativeBf16) {
  lssd::CpuBf16 none;
  const std::string w = lssd::bf16_cost_warning(none);
  EXPECT_NE(w.find("no native bf16"), std::string::npos) << w;
  EXPECT_NE(w.find("slower"), std::string::npos) << w;
  EXPECT_NE(w.find("fp32"), std::string::npos) << w;
  for (int k = 0; k < 3; ++k) {
    lssd::CpuBf16 c;
    (k == 0 ? c.avx512_bf16 : k == 1 ? c.amx_bf16 : c.arm_bf16) = true;
    EXPECT_EQ(lssd::bf16_cost_warning(c), "");
  }
}
