// GEMM, BLIS style: five loops around one register-blocked micro-kernel.
//
//   loop 5  jc over n in steps of NC     B panel (KC x NC) -> packed once per (jc, pc), shared
//   loop 4  pc over k in steps of KC       by every thread, as NR-wide column micro-panels
//   loop 3  ic over m in steps of MC     A block (MC x KC) -> packed by the thread that runs
//   loop 2  jr over the NC panel by NR     this ic block, as MR-tall row micro-panels
//   loop 1  ir over the MC block by MR   micro-kernel: an MR x NR tile of C
//
// Sizes for this machine (Zen 3: 32 KiB L1d, 512 KiB L2/core, 32 MiB L3), as BLIS's zen3
// context has them: a KC x NR micro-panel of B (16 KiB) sits in L1, the MC x KC block of A
// (144 KiB) in L2, the KC x NC panel of B (4 MiB) in L3.
//
// Packing reads any row/column strides (so A^T, B^T and x[::2] are never copied) and
// zero-pads partial micro-panels to MR / NR, so edge tiles run the same micro-kernel.
//
// Threads: the (ic block, jr range) tasks of loop 3 are spread over the pool. Every
// element of C is computed by the same sequence of FMAs whatever the split, so results do
// not depend on the thread count.
//
// Micro-kernel contract (written once, here):
//   ukr(k, a, b, c, rsc, csc, m_eff, n_eff, accumulate)
//   a: packed MR x k micro-panel, a[p * MR + i]; b: packed k x NR micro-panel, b[p * NR + j]
//   (both 32-byte aligned); c: an m_eff x n_eff tile (m_eff <= MR, n_eff <= NR) at row
//   stride rsc and column stride csc. It computes the full MR x NR product in registers
//   and writes C = A B, or C += A B when accumulate, to the m_eff x n_eff part only. It
//   never reads C when !accumulate (C may hold garbage or NaN).
#pragma once

#include <cstdint>

namespace ember::kernels::blis {

template <typename T>
using MicroKernel = void (*)(int64_t k, const T* a, const T* b, T* c, int64_t rsc, int64_t csc, int64_t m_eff,
                             int64_t n_eff, bool accumulate);

struct Blocking {
  int64_t mr, nr, kc, mc, nc;
};

// float32: 6 x 16 micro-tile (12 ymm accumulators).
constexpr Blocking kBlockingF32{6, 16, 256, 144, 4080};
// float64: 6 x 8 micro-tile (12 ymm accumulators).
constexpr Blocking kBlockingF64{6, 8, 256, 72, 4080};

// Products with m * n * k below this skip packing (see the small path in avx2/gemm_avx2.cpp).
constexpr int64_t kSmallMNK = 32 * 32 * 32;
// Products with 2 m n k below this stay on one thread.
constexpr int64_t kParallelFlops = 2 * 96 * 96 * 96;

// C (m x n) = [C +] A (m x k) @ B (k x n) through the five loops and `ukr`.
// Requires m, n, k >= 1.
void gemm_packed_f32(const Blocking& bs, MicroKernel<float> ukr, int64_t m, int64_t n, int64_t k, const float* a,
                     int64_t rsa, int64_t csa, const float* b, int64_t rsb, int64_t csb, float* c, int64_t rsc,
                     int64_t csc, bool accumulate);
void gemm_packed_f64(const Blocking& bs, MicroKernel<double> ukr, int64_t m, int64_t n, int64_t k, const double* a,
                     int64_t rsa, int64_t csa, const double* b, int64_t rsb, int64_t csb, double* c, int64_t rsc,
                     int64_t csc, bool accumulate);

}  // namespace ember::kernels::blis
