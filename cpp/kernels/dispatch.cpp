// Runtime dispatch: the kernel table is chosen once, at first use, from the CPU's
// features and EMBER_CPU (PyTorch's ATEN_CPU_CAPABILITY). The AVX2 and AVX-512 functions
// are only referenced here, never called, unless the CPU has the features they were
// compiled for, so the library runs on any x86-64 CPU.
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "kernels/avx2/avx2.h"
#include "kernels/avx512/avx512.h"
#include "kernels/kernels.h"

namespace ember::kernels {
namespace {

struct Cpu {
  bool avx2 = false, fma = false, avx512 = false;
  unsigned amd_family = 0;  // amd_cpu_family()
};

Cpu detect() {
  Cpu c;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // libgcc also checks that the OS saves the ymm registers (XGETBV) before reporting AVX.
  c.avx2 = __builtin_cpu_supports("avx2");
  c.fma = __builtin_cpu_supports("fma");
  // The AVX-512 unit is compiled with F, VL, DQ and BW (libgcc checks the zmm and mask
  // state in XCR0 too).
  c.avx512 = c.avx2 && c.fma && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
  unsigned a, b, cx, d;
  if (__get_cpuid(0, &a, &b, &cx, &d) && b == 0x68747541 && d == 0x69746e65 && cx == 0x444d4163 &&  // "AuthenticAMD"
      __get_cpuid(1, &a, &b, &cx, &d)) {
    c.amd_family = (a >> 8) & 0xf;
    if (c.amd_family == 0xf) c.amd_family += (a >> 20) & 0xff;  // the extended family
  }
#endif
  return c;
}

const Cpu& cpu() {
  static const Cpu c = detect();
  return c;
}

const char* ember_cpu_env() {
  static const char* env = std::getenv("EMBER_CPU");
  return env;
}

}  // namespace

const KernelTable* avx2_table() {
#if defined(__x86_64__)
  if (!cpu().avx2 || !cpu().fma) return nullptr;
  static const KernelTable table{"avx2",
                                 avx2::unary,
                                 avx2::binary,
                                 avx2::clamp,
                                 avx2::clamp_backward,
                                 avx2::threshold_backward,
                                 avx2::where,
                                 avx2::cast_copy,
                                 avx2::fill,
                                 avx2::reduce,
                                 avx2::arg_reduce,
                                 avx2::gemm};
  return &table;
#else
  return nullptr;
#endif
}

// The AVX2 table with the AVX-512 GEMM: the elementwise kernels are bound by memory at the
// sizes where they matter and stay AVX2.
const KernelTable* avx512_table() {
#if defined(__x86_64__)
  const KernelTable* base = avx2_table();
  if (!base || !cpu().avx512) return nullptr;
  static const KernelTable table = [base] {
    KernelTable t = *base;
    t.name = "avx512";
    t.gemm = avx512::gemm;
    return t;
  }();
  return &table;
#else
  return nullptr;
#endif
}

// EMBER_CPU=reference forces the scalar table, EMBER_CPU=avx2 caps the choice at AVX2;
// otherwise (unset or any other value) the best table this CPU runs.
const KernelTable& active() {
  static const KernelTable* table = [] {
    const char* env = ember_cpu_env();
    if (env && std::strcmp(env, "reference") == 0) return &reference();
    const bool cap_avx2 = env && std::strcmp(env, "avx2") == 0;
    if (const KernelTable* t = avx512_table(); t && !cap_avx2) return t;
    if (const KernelTable* t = avx2_table()) return t;
    return &reference();
  }();
  return *table;
}

bool torch_fused_build() { return &active() != &reference(); }
const char* torch_capability() {
  if (&active() == &reference()) return "DEFAULT";
  return &active() == avx512_table() ? "AVX512" : "AVX2";
}

unsigned amd_cpu_family() { return cpu().amd_family; }

BackendInfo backend_info() { return {active().name, cpu().avx2, cpu().fma, cpu().avx512, ember_cpu_env()}; }

}  // namespace ember::kernels
