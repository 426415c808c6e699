// PyTorch compiles its CPU kernels once per instruction set and runs the build its
// dispatcher picks (torch.backends.cpu.get_cpu_capability()). Where ember reproduces
// torch's values bit for bit (random streams, linspace), the builds differ in one way:
// the AVX2 build fuses `a * b + c` into one multiply-add, the baseline ("DEFAULT") build
// rounds the product first. kernels::torch_capability() says which build this process
// follows; torch_mul_add computes either.
#pragma once

#include <cmath>

namespace ember {

// v itself, but opaque to the optimiser: a product passed through it is rounded before
// the addition that follows (-ffp-contract=fast, GCC's default, may otherwise fuse
// across statements when FMA instructions are available).
template <typename T>
inline T rounded(T v) {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  asm("" : "+x"(v));
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
  asm("" : "+w"(v));
#else
  volatile T w = v;
  v = w;
#endif
  return v;
}

// a * b + c as one fused multiply-add (torch's AVX2 build) or with the product rounded
// first (its baseline build).
template <typename T>
inline T torch_mul_add(bool fused, T a, T b, T c) {
  return fused ? std::fma(a, b, c) : rounded(a * b) + c;
}

}  // namespace ember
