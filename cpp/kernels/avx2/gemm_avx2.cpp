// AVX2+FMA GEMM: the 6x16 (float32) and 6x8 (float64) micro-kernels for the five loops of
// gemm.cpp, and a small-matrix path that skips packing. Compiled with -mavx2 -mfma.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/avx2/avx2.h"
#include "kernels/avx2/transpose.h"
#include "kernels/dot.h"
#include "kernels/gemm.h"
#include "kernels/prefetch.h"

namespace ember::kernels::avx2 {
namespace {
using namespace simd_transpose;

// One ymm register of T, and the handful of operations the kernels need.
template <typename T>
struct Vec;

template <>
struct Vec<float> {
  using R = __m256;
  static constexpr int W = 8;
  static R zero() { return _mm256_setzero_ps(); }
  static R load(const float* p) { return _mm256_load_ps(p); }
  static R loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, R v) { _mm256_storeu_ps(p, v); }
  static R bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static R set1(float x) { return _mm256_set1_ps(x); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static __m256i mask(int64_t n) {  // first n lanes on
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static R maskload(const float* p, __m256i m) { return _mm256_maskload_ps(p, m); }
  static void maskstore(float* p, __m256i m, R v) { _mm256_maskstore_ps(p, m, v); }
  static float sum(R v) { return hsum(v); }
  static float hsum(R v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};

template <>
struct Vec<double> {
  using R = __m256d;
  static constexpr int W = 4;
  static R zero() { return _mm256_setzero_pd(); }
  static R load(const double* p) { return _mm256_load_pd(p); }
  static R loadu(const double* p) { return _mm256_loadu_pd(p); }
  static void storeu(double* p, R v) { _mm256_storeu_pd(p, v); }
  static R bcast(const double* p) { return _mm256_broadcast_sd(p); }
  static R set1(double x) { return _mm256_set1_pd(x); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_pd(a, b, c); }
  static R add(R a, R b) { return _mm256_add_pd(a, b); }
  static __m256i mask(int64_t n) { return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3)); }
  static R maskload(const double* p, __m256i m) { return _mm256_maskload_pd(p, m); }
  static void maskstore(double* p, __m256i m, R v) { _mm256_maskstore_pd(p, m, v); }
  static double sum(R v) { return hsum(v); }
  static double hsum(R v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
  }
};

// Writes the m_eff x n_eff part of a 6 x (2 W) register tile to C: C = tile, or C = D +
// tile when d is given (gemm.h: C itself, a bias row with rsd = 0, a bias column with
// csd = 0, or any matrix not overlapping C).
template <typename T>
inline void store_tile(const typename Vec<T>::R (&acc)[6][2], T* c, int64_t rsc, int64_t csc, int64_t me, int64_t ne,
                       const T* d, int64_t rsd, int64_t csd) {
  using V = Vec<T>;
  constexpr int W = V::W, MR = 6, NR = 2 * W;
  if (csc == 1 && (!d || csd <= 1)) {  // rows of C contiguous; D's rows contiguous or one value per row
    const bool full = ne == NR;
    const __m256i m0 = V::mask(std::min<int64_t>(ne, W)), m1 = V::mask(ne - W);
    for (int64_t i = 0; i < me; ++i) {
      T* ci = c + i * rsc;
      typename V::R r0 = acc[i][0], r1 = acc[i][1];
      if (d && csd == 1) {
        const T* di = d + i * rsd;
        r0 = V::add(full ? V::loadu(di) : V::maskload(di, m0), r0);
        if (ne > W) r1 = V::add(full ? V::loadu(di + W) : V::maskload(di + W, m1), r1);
      } else if (d) {  // csd == 0: a column of D, broadcast along the row
        const typename V::R v = V::set1(d[i * rsd]);
        r0 = V::add(v, r0);
        r1 = V::add(v, r1);
      }
      if (full) {
        V::storeu(ci, r0);
        V::storeu(ci + W, r1);
      } else {  // partial width: masked stores, never past column ne
        V::maskstore(ci, m0, r0);
        if (ne > W) V::maskstore(ci + W, m1, r1);
      }
    }
    return;
  }
  alignas(32) T tile[MR * NR];  // strided C or D: spill the tile, then scatter
  for (int i = 0; i < MR; ++i) {
    V::storeu(tile + i * NR, acc[i][0]);
    V::storeu(tile + i * NR + W, acc[i][1]);
  }
  for (int64_t i = 0; i < me; ++i)
    for (int64_t j = 0; j < ne; ++j) {
      const T t = tile[i * NR + j];
      c[i * rsc + j * csc] = d ? d[i * rsd + j * csd] + t : t;
    }
}

// The full tile with C's rows contiguous and D (if any) one row per row of C: every call
// but the edges and strided outputs. Plain loads and stores straight from the
// accumulators; the kernels test for it before building store_tile's array, which costs
// a spill of all twelve and a masked-or-plain choice per row (1.5-2% of the micro-kernel
// at k = 256 on the Zen 1 machine).
template <typename T>
inline bool full_tile(int64_t csc, int64_t me, int64_t ne, const T* d, int64_t csd) {
  return me == 6 && ne == 2 * Vec<T>::W && csc == 1 && (!d || csd == 1);
}
template <typename T>
[[gnu::always_inline]] inline void store_full(const typename Vec<T>::R (&acc)[6][2], T* c, int64_t rsc, const T* d,
                                              int64_t rsd) {
  using V = Vec<T>;
#pragma GCC unroll 6
  for (int i = 0; i < 6; ++i) {
    typename V::R r0 = acc[i][0], r1 = acc[i][1];
    if (d) {
      r0 = V::add(V::loadu(d + i * rsd), r0);
      r1 = V::add(V::loadu(d + i * rsd + V::W), r1);
    }
    V::storeu(c + i * rsc, r0);
    V::storeu(c + i * rsc + V::W, r1);
  }
}

// Starts loading the m_eff rows of a C tile (two cache lines each) into L1, so the
// stores or the C += at the end of a micro-kernel do not wait on L2/L3 or memory.
// Only the tile's own m_eff x n_eff elements: a line of another thread's C would be taken
// from it.
template <typename T>
inline void prefetch_tile(const T* c, int64_t rsc, int64_t csc, int64_t me, int64_t ne) {
  if (csc != 1) return;
  for (int64_t i = 0; i < me; ++i) {
    prefetch::line(c + i * rsc);
    prefetch::line(c + i * rsc + ne - 1);
  }
}

// Rows of B the unpacked micro-kernel asks for ahead of the one it reads. The first row
// tile of a micro-panel reads B from memory, a row (one line, often a page from the last)
// per k step of ~6 cycles, so a row is asked for ~100 ns before it is read. On the Zen 3
// machine (C++ harness, 1 thread, three runs of 500 calls, GFLOP/s): 8 / 32 / 64 rows
// ahead, (1024 x 4096)^T @ (4096 x 10) (the scaled training step's h^T @ grad, run as C^T
// with B = h read in place) 15-22 / 36-40 / 33-42; 4 x 1024 x 1024 27-34 / 32-38 / 39-41;
// 128^3 and 160^3 within their noise (64-95 either way).
constexpr int64_t kSupBAhead = 64;

// The micro-kernel's body on the first R rows of the packed micro-panel (R = 6: the full
// tile; R < 6: the bottom edge of C, m_eff <= R, where a tile of 4 rows then costs 8 FMAs
// per k step instead of 12, 0.8% of m = 256's FMAs) and its first NV registers of columns
// (NV = 1: a right edge of at most W columns, half the FMAs). Each element gets the same
// FMAs in the same order whatever R and NV. Named accumulators, not an array: GCC keeps an
// array that store_tile takes by reference in memory, storing it on every k step.
template <typename T, int R, int NV = 2>
[[gnu::always_inline]] inline void ukr_body(int64_t k, const T* a, const T* b, T* c, int64_t rsc, int64_t csc,
                                            int64_t me, int64_t ne, const T* d, int64_t rsd, int64_t csd) {
  using V = Vec<T>;
  constexpr int W = V::W, MR = 6, NR = 2 * W;
  typename V::R c00 = V::zero(), c01 = V::zero(), c10 = V::zero(), c11 = V::zero(), c20 = V::zero(),
                c21 = V::zero(), c30 = V::zero(), c31 = V::zero(), c40 = V::zero(), c41 = V::zero(),
                c50 = V::zero(), c51 = V::zero();
  prefetch_tile(c, rsc, csc, me, ne);
  if (d && d != c && rsd != 0) prefetch_tile(d, rsd, csd, me, ne);  // a bias row stays in L1 anyway
  // Unrolled 8 times: on the Zen 3 machine the kernel alone ran 1-2% faster than at 4 and
  // the five loops 0-1.7% (A/B in one process, 31 rounds, 1 thread; the same sums).
#pragma GCC unroll 8
  for (int64_t p = 0; p < k; ++p) {
    const typename V::R b0 = V::load(b), b1 = V::load(b + W);
    typename V::R av;
    av = V::bcast(a + 0), c00 = V::fma(av, b0, c00), c01 = NV > 1 ? V::fma(av, b1, c01) : c01;
    if constexpr (R > 1) av = V::bcast(a + 1), c10 = V::fma(av, b0, c10), c11 = NV > 1 ? V::fma(av, b1, c11) : c11;
    if constexpr (R > 2) av = V::bcast(a + 2), c20 = V::fma(av, b0, c20), c21 = NV > 1 ? V::fma(av, b1, c21) : c21;
    if constexpr (R > 3) av = V::bcast(a + 3), c30 = V::fma(av, b0, c30), c31 = NV > 1 ? V::fma(av, b1, c31) : c31;
    if constexpr (R > 4) av = V::bcast(a + 4), c40 = V::fma(av, b0, c40), c41 = NV > 1 ? V::fma(av, b1, c41) : c41;
    if constexpr (R > 5) av = V::bcast(a + 5), c50 = V::fma(av, b0, c50), c51 = NV > 1 ? V::fma(av, b1, c51) : c51;
    a += MR;
    b += NR;
  }
  const typename V::R acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (R == MR && full_tile(csc, me, ne, d, csd)) return store_full<T>(acc, c, rsc, d, rsd);
  store_tile<T>(acc, c, rsc, csc, me, ne, d, rsd, csd);
}

template <typename T, int R, int NV = 2>
[[gnu::noinline]] void ukr_edge(int64_t k, const T* a, const T* b, T* c, int64_t rsc, int64_t csc, int64_t me,
                                int64_t ne, const T* d, int64_t rsd, int64_t csd) {
  ukr_body<T, R, NV>(k, a, b, c, rsc, csc, me, ne, d, rsd, csd);
}

// The micro-kernel (contract in gemm.h): a 6 x (2 W) tile in 12 accumulators; per k step
// two loads of B, six broadcasts of A, twelve FMAs. Tiles of at most 4 (2) rows take the
// 4-row (2-row) body, tiles of at most W columns a body one register wide.
template <typename T>
void ukr_6x2w(int64_t k, const T* a, const T* b, T* c, int64_t rsc, int64_t csc, int64_t me, int64_t ne,
              const T* d, int64_t rsd, int64_t csd) {
  if (ne <= Vec<T>::W) {
    if (me <= 2) return ukr_edge<T, 2, 1>(k, a, b, c, rsc, csc, me, ne, d, rsd, csd);
    if (me <= 4) return ukr_edge<T, 4, 1>(k, a, b, c, rsc, csc, me, ne, d, rsd, csd);
    return ukr_edge<T, 6, 1>(k, a, b, c, rsc, csc, me, ne, d, rsd, csd);
  }
  if (me <= 2) return ukr_edge<T, 2>(k, a, b, c, rsc, csc, me, ne, d, rsd, csd);
  if (me <= 4) return ukr_edge<T, 4>(k, a, b, c, rsc, csc, me, ne, d, rsd, csd);
  ukr_body<T, 6>(k, a, b, c, rsc, csc, me, ne, d, rsd, csd);
}

// The unpacked micro-kernel (contract in gemm.h): the same tile and FMA order as ukr_6x2w,
// with A broadcast from its rows in place. Rows past m_eff repeat row m_eff - 1, so they
// read only valid memory; their results are dropped by store_tile.
// PrefetchB: B is read in place from a matrix wider than NR (rows possibly pages apart,
// beyond the hardware prefetchers), so ask for its rows ahead.
template <typename T, int NV, bool PrefetchB>
inline void sukr_6x2w_impl(int64_t k, const T* a, int64_t rsa, int64_t csa, const T* b, int64_t ldb, T* c,
                           int64_t rsc, int64_t csc, int64_t me, int64_t ne, const T* d, int64_t rsd,
                           int64_t csd) {
  using V = Vec<T>;
  constexpr int W = V::W, MR = 6;
  const int64_t o1 = std::min<int64_t>(1, me - 1) * rsa, o2 = std::min<int64_t>(2, me - 1) * rsa,
                o3 = std::min<int64_t>(3, me - 1) * rsa, o4 = std::min<int64_t>(4, me - 1) * rsa,
                o5 = std::min<int64_t>(5, me - 1) * rsa;
  typename V::R c00 = V::zero(), c01 = V::zero(), c10 = V::zero(), c11 = V::zero(), c20 = V::zero(),
                c21 = V::zero(), c30 = V::zero(), c31 = V::zero(), c40 = V::zero(), c41 = V::zero(),
                c50 = V::zero(), c51 = V::zero();
  prefetch_tile(c, rsc, csc, me, ne);
  auto step = [&] {
    const typename V::R b0 = V::loadu(b), b1 = V::loadu(b + W);
    typename V::R av;
    av = V::bcast(a), c00 = V::fma(av, b0, c00), c01 = NV > 1 ? V::fma(av, b1, c01) : c01;
    av = V::bcast(a + o1), c10 = V::fma(av, b0, c10), c11 = NV > 1 ? V::fma(av, b1, c11) : c11;
    av = V::bcast(a + o2), c20 = V::fma(av, b0, c20), c21 = NV > 1 ? V::fma(av, b1, c21) : c21;
    av = V::bcast(a + o3), c30 = V::fma(av, b0, c30), c31 = NV > 1 ? V::fma(av, b1, c31) : c31;
    av = V::bcast(a + o4), c40 = V::fma(av, b0, c40), c41 = NV > 1 ? V::fma(av, b1, c41) : c41;
    av = V::bcast(a + o5), c50 = V::fma(av, b0, c50), c51 = NV > 1 ? V::fma(av, b1, c51) : c51;
    a += csa;
    b += ldb;
  };
  int64_t p = 0;
  if (PrefetchB) {
    // Never past B's last row: the memory after B may be another thread's C.
#pragma GCC unroll 2
    for (; p + kSupBAhead < k; ++p) {
      prefetch::line(b + kSupBAhead * ldb);
      step();
    }
  }
#pragma GCC unroll 2
  for (; p < k; ++p) step();
  const typename V::R acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (full_tile(csc, me, ne, d, csd)) return store_full<T>(acc, c, rsc, d, rsd);
  store_tile<T>(acc, c, rsc, csc, me, ne, d, rsd, csd);
}

template <typename T>
[[gnu::noinline]] void sukr_6x2w_prefetch(int64_t k, const T* a, int64_t rsa, int64_t csa, const T* b, int64_t ldb,
                                          T* c, int64_t rsc, int64_t csc, int64_t me, int64_t ne, const T* d,
                                          int64_t rsd, int64_t csd) {
  sukr_6x2w_impl<T, 2, true>(k, a, rsa, csa, b, ldb, c, rsc, csc, me, ne, d, rsd, csd);
}
// A right edge of at most W columns: one register of them. gemm_sup packs such a panel,
// so B is never read in place here and needs no rows asked for ahead.
template <typename T>
[[gnu::noinline]] void sukr_6x1w(int64_t k, const T* a, int64_t rsa, int64_t csa, const T* b, int64_t ldb, T* c,
                                 int64_t rsc, int64_t csc, int64_t me, int64_t ne, const T* d, int64_t rsd,
                                 int64_t csd) {
  sukr_6x2w_impl<T, 1, false>(k, a, rsa, csa, b, ldb, c, rsc, csc, me, ne, d, rsd, csd);
}
// (Two functions, not one with a branch: GCC then compiles the packed-B loop as it did
// before the prefetching one existed, ~7% faster at k = 10.)
template <typename T>
void sukr_6x2w(int64_t k, const T* a, int64_t rsa, int64_t csa, const T* b, int64_t ldb, T* c, int64_t rsc,
               int64_t csc, int64_t me, int64_t ne, const T* d, int64_t rsd, int64_t csd) {
  if (ne <= Vec<T>::W) return sukr_6x1w<T>(k, a, rsa, csa, b, ldb, c, rsc, csc, me, ne, d, rsd, csd);
  if (ldb > 2 * Vec<T>::W) return sukr_6x2w_prefetch<T>(k, a, rsa, csa, b, ldb, c, rsc, csc, me, ne, d, rsd, csd);
  sukr_6x2w_impl<T, 2, false>(k, a, rsa, csa, b, ldb, c, rsc, csc, me, ne, d, rsd, csd);
}

// ---- The dot kernel (gemm.h's DotKernel; the body in kernels/dot.h): R x N accumulators
// and R rows of A within the 16 registers.
constexpr int dot_rows(int n) { return n <= 2 ? 4 : n <= 6 ? 2 : 1; }

// Up to 12 columns in one pass; 13 to 16 in two passes of at most 8.
template <typename T>
void dot_kernel(int64_t rows, int64_t n, int64_t k, const T* a, int64_t rsa, const T* bt, int64_t kp, T* c,
                int64_t rsc, int64_t csc, const T* d, int64_t rsd, int64_t csd) {
  static constexpr std::array<dot::Rows<T>, 12> table =
      dot::table<Vec<T>, T, dot_rows>(std::make_index_sequence<12>{});
  if (n <= 12) return table[n - 1](rows, k, a, rsa, bt, kp, c, rsc, csc, d, rsd, csd);
  const int64_t n0 = n / 2;
  table[n0 - 1](rows, k, a, rsa, bt, kp, c, rsc, csc, d, rsd, csd);
  table[n - n0 - 1](rows, k, a, rsa, bt + n0 * kp, kp, c + n0 * csc, rsc, csc, d ? d + n0 * csd : nullptr, rsd, csd);
}

// The dot path runs here only while B^T fits in L1 beside the rows of A: each row reads all
// of it. On the Zen 3 machine (C++ harness, 1 thread, four alternating runs, GFLOP/s, the
// unpacked path -> the dot path): 1000 x 1000 @ 1000 x 1 (B^T 4 KiB) 4.3-5.1 -> 23-36;
// 4096 x 256 @ 256 x 10 (10 KiB) 24-50 -> 52-79; but 4096 x 1024 @ 1024 x 10 (40 KiB) 32-43
// -> 22-34 and 2000 x 512 @ 512 x 16 (32 KiB) 77-94 -> 52-58 (k in blocks that fit L1: no
// better, 22-25 and 54-73).
constexpr int64_t kDotMaxBtBytes = 16 << 10;

// The unpacked path reads B in place even when its rows are off a cache line (numpy's
// arrays are 16 bytes off): one 32-byte load in two then spans two lines, which cost less
// here than packing each micro-panel. On the Zen 3 machine (C++ harness, 1 thread, 15-21
// alternating rounds, operands 16 bytes off a line), float32 64^3 +16%, 96^3 +3%, 160^3 +4%,
// 100 x 32 @ 32 x 100 +6%, 4 x 1024 @ 1024 x 1024 +50% (2 threads: 160^3 +6%); float64
// 64^3 and 96^3 -2 to -3%, 160^3 +6%, 100 x 32 @ 32 x 100 +7%, 4 x 1024 x 1024 +38%.
constexpr bool kSupUnalignedB = true;

// ---- Packing full micro-panels (contract in gemm.h): register transposes instead of one
// element at a time. A's rows (MR = 6) or B's columns (NR = 2 W) are read W at a time along
// k and written as k-major rows of the packed panel.

// Two floats (the low or the high pair of v) to / from any address (the _epi64 forms make
// no alignment assumption; _mm_load_sd and _mm_store_sd would need 8-byte alignment).
inline void store2(float* p, __m128 v) { _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_castps_si128(v)); }
inline void store2_hi(float* p, __m128 v) { store2(p, _mm_movehl_ps(v, v)); }
inline __m128 load2(const float* p) { return _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }

// W steps of k of 6 rows of A (rows contiguous along k, rows rsa apart) -> dst[j * 6 + i].
inline void pack_a_block(float* dst, const float* a, int64_t rsa) {  // 6 x 8
  constexpr int MR = 6;
  __m256 s[4];  // rows 0-3
  transpose4x8(_mm256_loadu_ps(a), _mm256_loadu_ps(a + rsa), _mm256_loadu_ps(a + 2 * rsa),
               _mm256_loadu_ps(a + 3 * rsa), s);
  // rows 4-5: pairs for columns 0,1 | 4,5 (u) and 2,3 | 6,7 (w)
  const __m256 r4 = _mm256_loadu_ps(a + 4 * rsa), r5 = _mm256_loadu_ps(a + 5 * rsa);
  const __m256 u = _mm256_unpacklo_ps(r4, r5), w = _mm256_unpackhi_ps(r4, r5);
  for (int h = 0; h < 2; ++h) {
    const __m128 uh = h ? _mm256_extractf128_ps(u, 1) : _mm256_castps256_ps128(u);
    const __m128 wh = h ? _mm256_extractf128_ps(w, 1) : _mm256_castps256_ps128(w);
    float* d = dst + 4 * h * MR;
    for (int j = 0; j < 4; ++j)
      _mm_storeu_ps(d + j * MR, h ? _mm256_extractf128_ps(s[j], 1) : _mm256_castps256_ps128(s[j]));
    store2(d + 0 * MR + 4, uh);
    store2_hi(d + 1 * MR + 4, uh);
    store2(d + 2 * MR + 4, wh);
    store2_hi(d + 3 * MR + 4, wh);
  }
}
inline void pack_a_block(double* dst, const double* a, int64_t rsa) {  // 6 x 4
  constexpr int MR = 6;
  __m256d r0 = _mm256_loadu_pd(a), r1 = _mm256_loadu_pd(a + rsa), r2 = _mm256_loadu_pd(a + 2 * rsa),
          r3 = _mm256_loadu_pd(a + 3 * rsa);
  transpose4(r0, r1, r2, r3);
  const __m256d r4 = _mm256_loadu_pd(a + 4 * rsa), r5 = _mm256_loadu_pd(a + 5 * rsa);
  const __m256d u = _mm256_unpacklo_pd(r4, r5), w = _mm256_unpackhi_pd(r4, r5);
  _mm256_storeu_pd(dst, r0);
  _mm_storeu_pd(dst + 4, _mm256_castpd256_pd128(u));
  _mm256_storeu_pd(dst + MR, r1);
  _mm_storeu_pd(dst + MR + 4, _mm256_castpd256_pd128(w));
  _mm256_storeu_pd(dst + 2 * MR, r2);
  _mm_storeu_pd(dst + 2 * MR + 4, _mm256_extractf128_pd(u, 1));
  _mm256_storeu_pd(dst + 3 * MR, r3);
  _mm_storeu_pd(dst + 3 * MR + 4, _mm256_extractf128_pd(w, 1));
}

// Six contiguous values (one column of A^T) -> dst.
inline void copy6(float* dst, const float* s) {
  _mm_storeu_ps(dst, _mm_loadu_ps(s));
  store2(dst + 4, load2(s + 4));
}
inline void copy6(double* dst, const double* s) {
  _mm256_storeu_pd(dst, _mm256_loadu_pd(s));
  _mm_storeu_pd(dst + 4, _mm_loadu_pd(s + 4));
}

// A, 6 rows: row-major rows in W-step blocks, or a column-major A (A^T) column by column.
template <typename T>
bool pack_a_6(T* dst, const T* a, int64_t rsa, int64_t csa, int64_t kc) {
  constexpr int MR = 6, W = Vec<T>::W;
  int64_t p = 0;
  if (csa == 1) {
    for (; p + W <= kc; p += W, dst += W * MR) pack_a_block(dst, a + p, rsa);
    for (; p < kc; ++p, dst += MR)
      for (int i = 0; i < MR; ++i) dst[i] = a[i * rsa + p];
    return true;
  }
  if (rsa == 1) {
    for (; p < kc; ++p, dst += MR) copy6(dst, a + p * csa);
    return true;
  }
  return false;
}

// Small products (m n k < kSmallMNK): no packing. Returns false when the layout has no
// small path here (the caller then packs).
template <typename T>
bool gemm_small(int64_t m, int64_t n, int64_t k, const T* a, int64_t rsa, int64_t csa, const T* b, int64_t rsb,
                int64_t csb, T* c, int64_t rsc, int64_t csc, bool accumulate) {
  using V = Vec<T>;
  constexpr int W = V::W;
  if (csb == 1 && csc == 1 && n > 1) {
    // c[i, :] = sum_p a[i, p] * b[p, :], 4 vectors of columns at a time, masked tail.
    for (int64_t i = 0; i < m; ++i) {
      const T* ai = a + i * rsa;
      T* ci = c + i * rsc;
      for (int64_t j = 0; j < n; j += 4 * W) {
        const int64_t ne = std::min<int64_t>(4 * W, n - j);
        __m256i mk[4];
        for (int q = 0; q < 4; ++q) mk[q] = V::mask(ne - q * W);
        typename V::R acc[4] = {V::zero(), V::zero(), V::zero(), V::zero()};
        for (int64_t p = 0; p < k; ++p) {
          const typename V::R av = V::set1(ai[p * csa]);
          const T* bp = b + p * rsb + j;
          if (ne == 4 * W) {
            for (int q = 0; q < 4; ++q) acc[q] = V::fma(av, V::loadu(bp + q * W), acc[q]);
          } else {
            for (int q = 0; q < 4; ++q)
              if (q * W < ne) acc[q] = V::fma(av, V::maskload(bp + q * W, mk[q]), acc[q]);
          }
        }
        for (int q = 0; q < 4 && q * W < ne; ++q)
          V::maskstore(ci + j + q * W, mk[q], accumulate ? V::add(V::maskload(ci + j + q * W, mk[q]), acc[q]) : acc[q]);
      }
    }
    return true;
  }
  if (n == 1 && csa == 1 && rsb == 1) {
    // Matrix-vector with rows of A contiguous: one dot product per row.
    for (int64_t i = 0; i < m; ++i) {
      const T* ai = a + i * rsa;
      typename V::R acc0 = V::zero(), acc1 = V::zero();
      int64_t p = 0;
      for (; p + 2 * W <= k; p += 2 * W) {
        acc0 = V::fma(V::loadu(ai + p), V::loadu(b + p), acc0);
        acc1 = V::fma(V::loadu(ai + p + W), V::loadu(b + p + W), acc1);
      }
      T s = V::hsum(V::add(acc0, acc1));
      for (; p < k; ++p) s += ai[p] * b[p];
      T& dst = c[i * rsc];
      dst = accumulate ? dst + s : s;
    }
    return true;
  }
  if (n == 1 && rsa == 1 && rsc == 1) {
    // Matrix-vector with columns of A contiguous (A^T @ v): axpy over the columns.
    for (int64_t i = 0; i < m; i += W) {
      const __m256i mk = V::mask(m - i);
      typename V::R acc = V::zero();
      for (int64_t p = 0; p < k; ++p) acc = V::fma(V::maskload(a + i + p * csa, mk), V::set1(b[p * rsb]), acc);
      V::maskstore(c + i, mk, accumulate ? V::add(V::maskload(c + i, mk), acc) : acc);
    }
    return true;
  }
  return false;
}

}  // namespace

// c is (m, n), a is (m, k), b is (k, n), d (optional) is (m, n); all addressed through
// row/column strides.
void gemm(DType dt, int64_t m, int64_t n, int64_t k, const char* a, int64_t rsa, int64_t csa, const char* b,
          int64_t rsb, int64_t csb, char* c, int64_t rsc, int64_t csc, const char* d, int64_t rsd, int64_t csd) {
  if (m <= 0 || n <= 0) return;
  if ((dt != DType::Float32 && dt != DType::Float64) || k <= 0) {  // other dtypes; or no product: C = D or 0
    reference().gemm(dt, m, n, k, a, rsa, csa, b, rsb, csb, c, rsc, csc, d, rsd, csd);
    return;
  }
  // The small path adds nothing or C itself (accumulate); other addends take the loops.
  const bool accumulate = d == c && rsd == rsc && csd == csc;
  const bool small = m * n * k < blis::kSmallMNK && (!d || accumulate);
  if (dt == DType::Float32) {
    auto A = reinterpret_cast<const float*>(a), B = reinterpret_cast<const float*>(b);
    auto C = reinterpret_cast<float*>(c);
    if (small && gemm_small<float>(m, n, k, A, rsa, csa, B, rsb, csb, C, rsc, csc, accumulate)) return;
    static const blis::Kernels<float> kr{blis::kBlockingF32, &ukr_6x2w<float>, &sukr_6x2w<float>, &pack_a_6<float>,
                                         &pack_b_cols<float, blis::kBlockingF32.nr>, &dot_kernel<float>,
                                         kDotMaxBtBytes, kSupUnalignedB, true};
    blis::gemm_f32(kr, m, n, k, A, rsa, csa, B, rsb, csb, C, rsc, csc, reinterpret_cast<const float*>(d), rsd, csd);
  } else {
    auto A = reinterpret_cast<const double*>(a), B = reinterpret_cast<const double*>(b);
    auto C = reinterpret_cast<double*>(c);
    if (small && gemm_small<double>(m, n, k, A, rsa, csa, B, rsb, csb, C, rsc, csc, accumulate)) return;
    static const blis::Kernels<double> kr{blis::kBlockingF64, &ukr_6x2w<double>, &sukr_6x2w<double>,
                                           &pack_a_6<double>,
                                           &pack_b_cols<double, blis::kBlockingF64.nr>, &dot_kernel<double>,
                                           kDotMaxBtBytes, kSupUnalignedB};
    blis::gemm_f64(kr, m, n, k, A, rsa, csa, B, rsb, csb, C, rsc, csc, reinterpret_cast<const double*>(d), rsd,
                   csd);
  }
}

}  // namespace ember::kernels::avx2
