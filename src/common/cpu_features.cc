// CPU features for bf16 (include/lssd/cpu_features.h).
#include "lssd/cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

#include <cstdint>

namespace lssd {
namespace {

#if defined(__x86_64__) || defined(__i386__)
// XCR0: the register state the OS saves and so lets programs use.
uint64_t xcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t{hi} << 32) | lo;
}

CpuBf16 detect() {
  CpuBf16 r;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return r;  // no XGETBV: no AVX state
  if (__get_cpuid_max(0, nullptr) < 7) return r;
  const uint64_t x = xcr0();
  // AVX-512: XMM, YMM (bits 1, 2), opmask, upper ZMM halves, ZMM16-31 (bits 5-7).
  const bool os_avx512 = (x & 0xe6) == 0xe6;
  // AMX: XTILECFG and XTILEDATA (bits 17, 18).
  const bool os_amx = (x & (3u << 17)) == (3u << 17);
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx512f = b & (1u << 16);
  r.amx_bf16 = os_amx && (d & (1u << 22));
  const unsigned max_sub = a;
  if (max_sub >= 1) {
    __cpuid_count(7, 1, a, b, c, d);
    r.avx512_bf16 = os_avx512 && avx512f && (a & (1u << 5));
  }
  return r;
}
#elif defined(__aarch64__) && defined(__linux__)
CpuBf16 detect() {
  CpuBf16 r;
#ifdef HWCAP2_BF16
  r.arm_bf16 = getauxval(AT_HWCAP2) & HWCAP2_BF16;
#else
  r.arm_bf16 = getauxval(AT_HWCAP2) & (1ul << 14);  // HWCAP2_BF16 of <asm/hwcap.h>
#endif
  return r;
}
#else
CpuBf16 detect() { return {}; }
#endif

}  // namespace

std::string CpuBf16::describe() const {
  std::string s;
  auto add = [&s](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ", ";
    s += name;
  };
  add(avx512_bf16, "AVX512-BF16");
  add(amx_bf16, "AMX-BF16");
  add(arm_bf16, "Arm BF16");
  return s.empty() ? "none" : s;
}

std::string bf16_cost_warning(const CpuBf16& c) {
  if (c.native()) return {};
  // Measured with MViT-S, one thread (tools/bench/README.md, "CPU bf16"): oneDNN held to
  // AVX-512 without its BF16 instructions (ONEDNN_MAX_CPU_ISA=AVX512_CORE), and LibTorch with
  // oneDNN off (its bf16 path on CPUs without AVX-512).
  return "this CPU has no native bf16 arithmetic (AVX512-BF16, AMX-BF16 or Arm BF16), so LibTorch emulates it and "
         "the encoder runs slower than in fp32, not faster (measured with MViT-S, one thread: 1.8-2.2x slower where "
         "oneDNN has AVX-512 without its BF16 instructions; 13-17x slower where LibTorch has no oneDNN bf16 path, as "
         "on CPUs without AVX-512); RUNTIME.PRECISION fp32 (or auto) is the faster choice here";
}

const CpuBf16& cpu_bf16() {
  static const CpuBf16 r = detect();
  return r;
}

}  // namespace lssd
