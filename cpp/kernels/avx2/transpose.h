// Register transposes shared by the AVX2 and AVX-512 packers. Each translation unit that
// includes this compiles its own copy with its own -m flags, so the functions have
// internal linkage: one inline definition shared across the units could be linked with
// the AVX-512 unit's (EVEX-encoded) copy and then run on a CPU without AVX-512.
#pragma once

#include <immintrin.h>

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

}  // namespace
}  // namespace ember::kernels::simd_transpose
