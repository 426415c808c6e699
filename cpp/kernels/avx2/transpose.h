// Register transposes shared by the AVX2 and AVX-512 packers, and the column-major B
// packer built on them. Each translation unit that
// includes this compiles its own copy with its own -m flags, so the functions have
// internal linkage: one inline definition shared across the units could be linked with
// the AVX-512 unit's (EVEX-encoded) copy and then run on a CPU without AVX-512.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace ember::kernels::simd_transpose {
namespace {

// Rows r0..r3 of 8 floats -> s[j]: column j of the four rows in the low lane, column j + 4
// in the high lane (the first half of an 8 x 8 transpose).
inline void transpose4x8(__m256 r0, __m256 r1, __m256 r2, __m256 r3, __m256 (&s)[4]) {
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  s[0] = _mm256_shuffle_ps(t0, t2, 0x44);
  s[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
  s[2] = _mm256_shuffle_ps(t1, t3, 0x44);
  s[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}

// 8 x 8 float transpose: r[i][j] -> r[j][i].
inline void transpose8(__m256 (&r)[8]) {
  __m256 lo[4], hi[4];
  transpose4x8(r[0], r[1], r[2], r[3], lo);
  transpose4x8(r[4], r[5], r[6], r[7], hi);
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(lo[j], hi[j], 0x20);
    r[4 + j] = _mm256_permute2f128_ps(lo[j], hi[j], 0x31);
  }
}

// 4 x 4 double transpose.
inline void transpose4(__m256d& r0, __m256d& r1, __m256d& r2, __m256d& r3) {
  const __m256d a0 = _mm256_unpacklo_pd(r0, r1), a1 = _mm256_unpackhi_pd(r0, r1);
  const __m256d a2 = _mm256_unpacklo_pd(r2, r3), a3 = _mm256_unpackhi_pd(r2, r3);
  r0 = _mm256_permute2f128_pd(a0, a2, 0x20);
  r1 = _mm256_permute2f128_pd(a1, a3, 0x20);
  r2 = _mm256_permute2f128_pd(a0, a2, 0x31);
  r3 = _mm256_permute2f128_pd(a1, a3, 0x31);
}

// 8 columns of a column-major B (columns csb apart), 8 steps of k -> 8 rows of a packed
// panel (row stride nr, 32-byte aligned).
inline void pack_b_block(float* dst, const float* b, int64_t csb, int64_t nr) {
  __m256 r[8];
  for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(b + j * csb);
  transpose8(r);
  for (int q = 0; q < 8; ++q) _mm256_store_ps(dst + q * nr, r[q]);
}
// 4 columns, 4 steps of k.
inline void pack_b_block(double* dst, const double* b, int64_t csb, int64_t nr) {
  __m256d r0 = _mm256_loadu_pd(b), r1 = _mm256_loadu_pd(b + csb), r2 = _mm256_loadu_pd(b + 2 * csb),
          r3 = _mm256_loadu_pd(b + 3 * csb);
  transpose4(r0, r1, r2, r3);
  _mm256_store_pd(dst, r0);
  _mm256_store_pd(dst + nr, r1);
  _mm256_store_pd(dst + 2 * nr, r2);
  _mm256_store_pd(dst + 3 * nr, r3);
}

// The ISA packer for B's micro-panels of NR columns (gemm.h's PackPanel): column-major B
// only, each column read along k in S x S register blocks (S = 8 floats or 4 doubles);
// row-major B is a copy of contiguous rows, done by gemm.cpp.
template <typename T, int NR>
bool pack_b_cols(T* dst, const T* b, int64_t rsb, int64_t csb, int64_t kc) {
  constexpr int S = 32 / sizeof(T);
  static_assert(NR % S == 0);
  if (rsb != 1) return false;
  int64_t p = 0;
  for (; p + S <= kc; p += S)
    for (int h = 0; h < NR / S; ++h) pack_b_block(dst + p * NR + S * h, b + S * h * csb + p, csb, NR);
  for (; p < kc; ++p)
    for (int j = 0; j < NR; ++j) dst[p * NR + j] = b[j * csb + p];
  return true;
}

}  // namespace
}  // namespace ember::kernels::simd_transpose
