// Software prefetches for the GEMM drivers and micro-kernels. asm volatile, because GCC 12
// drops some __builtin_prefetch calls. Internal linkage (see avx2/transpose.h): each unit
// that includes this keeps its own copy, so no copy compiled with -mavx2 or -mavx512f is
// shared with baseline code.
#pragma once

namespace ember::kernels::prefetch {
namespace {

// Asks for the cache line at p into L1.
inline void line(const void* p) {
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#endif
}
// Asks for the cache line at p into L2 (and not L1, where the data in use stays).
inline void l2(const void* p) {
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("prefetcht1 %0" : : "m"(*static_cast<const char*>(p)));
#endif
}

}  // namespace
}  // namespace ember::kernels::prefetch
