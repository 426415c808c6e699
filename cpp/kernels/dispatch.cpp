// Runtime dispatch: the kernel table is chosen once, at first use, from the CPU's
// features and EMBER_CPU (PyTorch's ATEN_CPU_CAPABILITY). The AVX2 functions are only
// referenced here, never called, unless the CPU has AVX2 and FMA, so the library runs on
// any x86-64 CPU.
#include <cstdlib>
#include <cstring>

#include "kernels/avx2/avx2.h"
#include "kernels/kernels.h"

namespace ember::kernels {
namespace {

struct Cpu {
  bool avx2 = false, fma = false;
};

Cpu detect() {
  Cpu c;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // libgcc also checks that the OS saves the ymm registers (XGETBV) before reporting AVX.
  c.avx2 = __builtin_cpu_supports("avx2");
  c.fma = __builtin_cpu_supports("fma");
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
                                 avx2::where,
                                 avx2::cast_copy,
                                 reference().fill,
                                 avx2::reduce,
                                 reference().arg_reduce,
                                 avx2::gemm};
  return &table;
#else
  return nullptr;
#endif
}

const KernelTable& active() {
  static const KernelTable* table = [] {
    const char* env = ember_cpu_env();
    if (env && std::strcmp(env, "reference") == 0) return &reference();
    if (const KernelTable* t = avx2_table()) return t;
    return &reference();
  }();
  return *table;
}

bool torch_avx2_build() { return &active() == avx2_table(); }
const char* torch_capability() { return torch_avx2_build() ? "AVX2" : "DEFAULT"; }

BackendInfo backend_info() { return {active().name, cpu().avx2, cpu().fma, ember_cpu_env()}; }

}  // namespace ember::kernels
