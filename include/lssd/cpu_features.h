// What the CPU computes natively in bfloat16 (for RUNTIME.PRECISION bf16 on CPU): read from the
// CPUID instruction and the OS's enabled register state on x86-64, from the kernel's hardware
// capabilities on AArch64. No LibTorch; never throws.
#pragma once
#include <string>

namespace lssd {

struct CpuBf16 {
  bool avx512_bf16 = false;  // x86: AVX512-BF16 (VDPBF16PS; Cooper Lake, Sapphire Rapids, AMD Zen 4 and later)
  bool amx_bf16 = false;     // x86: AMX-BF16 tiles (Sapphire Rapids and later)
  bool arm_bf16 = false;     // AArch64: the BF16 extension (BFDOT, BFMMLA)
  // Whether any of them is there (and enabled by the OS).
  bool native() const { return avx512_bf16 || amx_bf16 || arm_bf16; }
  // "AVX512-BF16, AMX-BF16", or "none".
  std::string describe() const;
};

// This CPU's native bf16 (computed once; thread-safe).
const CpuBf16& cpu_bf16();

// What bf16 costs on a CPU without native bf16 (measured figures; the encoder logs it as a
// warning for RUNTIME.PRECISION bf16 on CPU); empty where c.native().
std::string bf16_cost_warning(const CpuBf16& c);

}  // namespace lssd
