// AVX-512 GEMM: the 12x32 (float32) and 12x16 (float64) micro-kernels for the five loops
// of gemm.cpp, their unpacked twins and packers. Compiled with -mavx512f -mavx512vl
// -mavx512dq -mavx512bw -mfma; products small enough for the AVX2 small path still take it.
//
// The tile: 12 rows of two zmm registers each, 24 accumulators (of 32 registers), two
// loads of B and twelve broadcasts of A per k step for 24 FMAs. Partial widths are masked
// loads and stores (one k-mask per register); right edges of at most one register's width
// run a body one register wide, and bottom edges of at most 4 or 8 rows a 4- or 8-row body,
// with the same FMAs per element in the same order.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/avx2/avx2.h"
#include "kernels/avx2/transpose.h"
#include "kernels/avx512/avx512.h"
#include "kernels/dot.h"
#include "kernels/gemm.h"
#include "kernels/prefetch.h"

namespace ember::kernels::avx512 {
namespace {
using namespace simd_transpose;

// One zmm register of T, and the operations the kernels need.
template <typename T>
struct Vec;

template <>
struct Vec<float> {
  using R = __m512;
  using M = __mmask16;
  static constexpr int W = 16;
  static R zero() { return _mm512_setzero_ps(); }
  static R load(const float* p) { return _mm512_load_ps(p); }
  static R loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, R v) { _mm512_storeu_ps(p, v); }
  static R bcast(const float* p) { return _mm512_set1_ps(*p); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
  static float sum(R a) { return _mm512_reduce_add_ps(a); }
  static M mask(int64_t n) {  // first n lanes on (n may be <= 0 or >= W)
    return n >= W ? M(0xFFFF) : n <= 0 ? M(0) : M((1u << n) - 1);
  }
  static R maskload(const float* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  static void maskstore(float* p, M m, R v) { _mm512_mask_storeu_ps(p, m, v); }
};

template <>
struct Vec<double> {
  using R = __m512d;
  using M = __mmask8;
  static constexpr int W = 8;
  static R zero() { return _mm512_setzero_pd(); }
  static R load(const double* p) { return _mm512_load_pd(p); }
  static R loadu(const double* p) { return _mm512_loadu_pd(p); }
  static void storeu(double* p, R v) { _mm512_storeu_pd(p, v); }
  static R bcast(const double* p) { return _mm512_set1_pd(*p); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_pd(a, b, c); }
  static R add(R a, R b) { return _mm512_add_pd(a, b); }
  static double sum(R a) { return _mm512_reduce_add_pd(a); }
  static M mask(int64_t n) { return n >= W ? M(0xFF) : n <= 0 ? M(0) : M((1u << n) - 1); }
  static R maskload(const double* p, M m) { return _mm512_maskz_loadu_pd(m, p); }
  static void maskstore(double* p, M m, R v) { _mm512_mask_storeu_pd(p, m, v); }
};

constexpr int MR = 12;

// The m_eff rows of a C tile (2 W values, two or three lines each; only the tile's own
// elements, since a line of another thread's C would be taken from it).
template <typename T>
inline void prefetch_tile(const T* c, int64_t rsc, int64_t csc, int64_t me, int64_t ne) {
  if (csc != 1) return;
  constexpr int64_t L = 64 / sizeof(T);
  for (int64_t i = 0; i < me; ++i) {
    const T* ci = c + i * rsc;
    prefetch::line(ci);
    if (ne > L) prefetch::line(ci + L);
    prefetch::line(ci + ne - 1);
  }
}

// Writes the first m_eff (<= R) rows and n_eff columns of the accumulators to C: C = tile,
// or C = D + tile (gemm.h's D: C itself, a bias row with rsd = 0, a bias column with
// csd = 0, or any matrix not overlapping C). Inlined into the kernel body, so the
// accumulators stay in registers.
template <typename T, int R, int NV>
[[gnu::always_inline]] inline void store_rows(const typename Vec<T>::R (&acc)[R][NV], T* c, int64_t rsc, int64_t csc,
                                              int64_t me, int64_t ne, const T* d, int64_t rsd, int64_t csd) {
  using V = Vec<T>;
  constexpr int W = V::W, NR = 2 * W;
  if (csc == 1 && (!d || csd <= 1)) {
    const typename V::M m0 = V::mask(ne), m1 = V::mask(ne - W);
    const bool full = ne == NV * W;
#pragma GCC unroll 12
    for (int i = 0; i < R; ++i) {
      if (i >= me) break;
      typename V::R r0 = acc[i][0], r1 = acc[i][NV - 1];
      T* ci = c + i * rsc;
      if (d && csd == 1) {
        const T* di = d + i * rsd;
        r0 = V::add(full ? V::loadu(di) : V::maskload(di, m0), r0);
        if (NV == 2) r1 = V::add(full ? V::loadu(di + W) : V::maskload(di + W, m1), r1);
      } else if (d) {  // csd == 0: one value of D per row
        const typename V::R v = V::bcast(d + i * rsd);
        r0 = V::add(v, r0);
        if (NV == 2) r1 = V::add(v, r1);
      }
      if (full) {
        V::storeu(ci, r0);
        if (NV == 2) V::storeu(ci + W, r1);
      } else {
        V::maskstore(ci, m0, r0);
        if (NV == 2) V::maskstore(ci + W, m1, r1);
      }
    }
    return;
  }
  alignas(64) T tile[R * NR];  // strided C or D: spill the tile, then scatter
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i)
    for (int v = 0; v < NV; ++v) V::storeu(tile + i * NR + v * W, acc[i][v]);
  for (int64_t i = 0; i < me; ++i)
    for (int64_t j = 0; j < ne; ++j) {
      const T t = tile[i * NR + j];
      c[i * rsc + j * csc] = d ? d[i * rsd + j * csd] + t : t;
    }
}

// The packed micro-kernel's body on the first R rows and NV vectors of columns of the
// micro-panel (m_eff <= R, n_eff <= NV W). Each element gets the same FMAs in the same
// order whatever R and NV.
template <typename T, int R, int NV>
[[gnu::always_inline]] inline void ukr_body(int64_t k, const T* a, const T* b, T* c, int64_t rsc, int64_t csc,
                                            int64_t me, int64_t ne, const T* d, int64_t rsd, int64_t csd) {
  using V = Vec<T>;
  constexpr int W = V::W, NR = 2 * W;
  typename V::R acc[R][NV];
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = V::zero();
  prefetch_tile(c, rsc, csc, me, ne);
  if (d && d != c && rsd != 0) prefetch_tile(d, rsd, csd, me, ne);
#pragma GCC unroll 4
  for (int64_t p = 0; p < k; ++p) {
    typename V::R bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = V::load(b + v * W);
#pragma GCC unroll 12
    for (int i = 0; i < R; ++i) {
      const typename V::R av = V::bcast(a + i);
      for (int v = 0; v < NV; ++v) acc[i][v] = V::fma(av, bv[v], acc[i][v]);
    }
    a += MR;
    b += NR;
  }
  store_rows<T, R, NV>(acc, c, rsc, csc, me, ne, d, rsd, csd);
}

template <typename T, int R, int NV>
[[gnu::noinline]] void ukr_edge(int64_t k, const T* a, const T* b, T* c, int64_t rsc, int64_t csc, int64_t me,
                                int64_t ne, const T* d, int64_t rsd, int64_t csd) {
  ukr_body<T, R, NV>(k, a, b, c, rsc, csc, me, ne, d, rsd, csd);
}

// The micro-kernel (contract in gemm.h; packed panels 64-byte aligned here). A right-edge
// tile of at most W columns runs a body one register wide: half the FMAs. With the
// unpacked kernel's the same (below), on the Zen 4 machine (1 thread, float32 from numpy,
// ember / numpy in one process, two alternating runs of each build): 48^3 (its last
// column panel 16 of 32 wide) 0.83-0.89 -> 0.98-1.01, 80^3 0.73-0.80 -> 0.88-0.89, 1000^3
// 0.99-1.03 -> 1.02-1.06 (of which in-place B, sup_unaligned_b, gave 48^3 and 80^3 2-3%).
template <typename T>
void ukr_12x2w(int64_t k, const T* a, const T* b, T* c, int64_t rsc, int64_t csc, int64_t me, int64_t ne,
               const T* d, int64_t rsd, int64_t csd) {
  if (ne <= Vec<T>::W) {
    if (me <= 4) return ukr_edge<T, 4, 1>(k, a, b, c, rsc, csc, me, ne, d, rsd, csd);
    if (me <= 8) return ukr_edge<T, 8, 1>(k, a, b, c, rsc, csc, me, ne, d, rsd, csd);
    return ukr_edge<T, MR, 1>(k, a, b, c, rsc, csc, me, ne, d, rsd, csd);
  }
  if (me <= 4) return ukr_edge<T, 4, 2>(k, a, b, c, rsc, csc, me, ne, d, rsd, csd);
  if (me <= 8) return ukr_edge<T, 8, 2>(k, a, b, c, rsc, csc, me, ne, d, rsd, csd);
  ukr_body<T, MR, 2>(k, a, b, c, rsc, csc, me, ne, d, rsd, csd);
}

// Rows of B the unpacked micro-kernel asks for ahead of the one it reads.
constexpr int64_t kSupBAhead = 8;

// The unpacked micro-kernel (contract in gemm.h) on R rows: A broadcast from its rows in
// place (rows past m_eff repeat row m_eff - 1, so only valid memory is read; their
// results are not stored), B read as rows of 2 W values at stride ldb.
template <typename T, int R, int NV, bool PrefetchB>
[[gnu::noinline]] void sukr_body(int64_t k, const T* a, int64_t rsa, int64_t csa, const T* b, int64_t ldb, T* c,
                                 int64_t rsc, int64_t csc, int64_t me, int64_t ne, const T* d, int64_t rsd,
                                 int64_t csd) {
  using V = Vec<T>;
  constexpr int W = V::W;
  int64_t off[R];
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) off[i] = std::min<int64_t>(i, me - 1) * rsa;
  typename V::R acc[R][NV];
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = V::zero();
  prefetch_tile(c, rsc, csc, me, ne);
  auto step = [&] {
    typename V::R bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = V::loadu(b + v * W);
#pragma GCC unroll 12
    for (int i = 0; i < R; ++i) {
      const typename V::R av = V::bcast(a + off[i]);
      for (int v = 0; v < NV; ++v) acc[i][v] = V::fma(av, bv[v], acc[i][v]);
    }
    a += csa;
    b += ldb;
  };
  int64_t p = 0;
  if (PrefetchB) {
    // Never past B's last row: the memory after B may be another thread's C.
    for (; p + kSupBAhead < k; ++p) {
      prefetch::line(b + kSupBAhead * ldb);
      prefetch::line(b + kSupBAhead * ldb + 2 * W - 1);
      step();
    }
  }
#pragma GCC unroll 2
  for (; p < k; ++p) step();
  store_rows<T, R, NV>(acc, c, rsc, csc, me, ne, d, rsd, csd);
}

template <typename T, int NV, bool PrefetchB>
void sukr_rows(int64_t k, const T* a, int64_t rsa, int64_t csa, const T* b, int64_t ldb, T* c, int64_t rsc,
               int64_t csc, int64_t me, int64_t ne, const T* d, int64_t rsd, int64_t csd) {
  if (me <= 4) return sukr_body<T, 4, NV, PrefetchB>(k, a, rsa, csa, b, ldb, c, rsc, csc, me, ne, d, rsd, csd);
  if (me <= 8) return sukr_body<T, 8, NV, PrefetchB>(k, a, rsa, csa, b, ldb, c, rsc, csc, me, ne, d, rsd, csd);
  sukr_body<T, MR, NV, PrefetchB>(k, a, rsa, csa, b, ldb, c, rsc, csc, me, ne, d, rsd, csd);
}

// The unpacked micro-kernel. A right-edge tile of at most W columns runs one vector of
// them; gemm_sup packs such a panel, so its B needs no rows asked for ahead. B read in
// place from a matrix wider than the tile has its rows asked for ahead.
template <typename T>
void sukr_12x2w(int64_t k, const T* a, int64_t rsa, int64_t csa, const T* b, int64_t ldb, T* c, int64_t rsc,
                int64_t csc, int64_t me, int64_t ne, const T* d, int64_t rsd, int64_t csd) {
  if (ne <= Vec<T>::W) return sukr_rows<T, 1, false>(k, a, rsa, csa, b, ldb, c, rsc, csc, me, ne, d, rsd, csd);
  if (ldb > 2 * Vec<T>::W) return sukr_rows<T, 2, true>(k, a, rsa, csa, b, ldb, c, rsc, csc, me, ne, d, rsd, csd);
  sukr_rows<T, 2, false>(k, a, rsa, csa, b, ldb, c, rsc, csc, me, ne, d, rsd, csd);
}

// ---- The dot kernel (gemm.h's DotKernel; the body in kernels/dot.h): R x N accumulators,
// at most 24 of the 32 registers.
constexpr int dot_rows(int n) { return n <= 6 ? 4 : n <= 8 ? 3 : n <= 12 ? 2 : 1; }

template <typename T>
void dot_kernel(int64_t rows, int64_t n, int64_t k, const T* a, int64_t rsa, const T* bt, int64_t kp, T* c,
                int64_t rsc, int64_t csc, const T* d, int64_t rsd, int64_t csd) {
  static constexpr std::array<dot::Rows<T>, blis::kDotMaxN> table =
      dot::table<Vec<T>, T, dot_rows>(std::make_index_sequence<blis::kDotMaxN>{});
  table[n - 1](rows, k, a, rsa, bt, kp, c, rsc, csc, d, rsd, csd);
}

// ---- Packing full micro-panels (contract in gemm.h), with the AVX2 register transposes:
// A's 12 rows as three groups of 4; B's columns by avx2/transpose.h's pack_b_cols.

// 8 steps of k of rows 4g..4g+3 (g < 3) of a row-major A -> dst[p * 12 + i].
inline void pack_a_block(float* dst, const float* a, int64_t rsa) {
  for (int g = 0; g < 3; ++g) {
    const float* r = a + 4 * g * rsa;
    __m256 s[4];
    transpose4x8(_mm256_loadu_ps(r), _mm256_loadu_ps(r + rsa), _mm256_loadu_ps(r + 2 * rsa),
                 _mm256_loadu_ps(r + 3 * rsa), s);
    for (int j = 0; j < 4; ++j) {
      _mm_storeu_ps(dst + j * MR + 4 * g, _mm256_castps256_ps128(s[j]));
      _mm_storeu_ps(dst + (j + 4) * MR + 4 * g, _mm256_extractf128_ps(s[j], 1));
    }
  }
}
// 4 steps of k.
inline void pack_a_block(double* dst, const double* a, int64_t rsa) {
  for (int g = 0; g < 3; ++g) {
    const double* r = a + 4 * g * rsa;
    __m256d r0 = _mm256_loadu_pd(r), r1 = _mm256_loadu_pd(r + rsa), r2 = _mm256_loadu_pd(r + 2 * rsa),
            r3 = _mm256_loadu_pd(r + 3 * rsa);
    transpose4(r0, r1, r2, r3);
    _mm256_storeu_pd(dst + 4 * g, r0);
    _mm256_storeu_pd(dst + MR + 4 * g, r1);
    _mm256_storeu_pd(dst + 2 * MR + 4 * g, r2);
    _mm256_storeu_pd(dst + 3 * MR + 4 * g, r3);
  }
}
constexpr int64_t a_block_steps(float*) { return 8; }
constexpr int64_t a_block_steps(double*) { return 4; }

// Twelve contiguous values (one column of A^T) -> dst.
inline void copy12(float* dst, const float* s) { _mm512_mask_storeu_ps(dst, 0x0FFF, _mm512_maskz_loadu_ps(0x0FFF, s)); }
inline void copy12(double* dst, const double* s) {
  _mm512_storeu_pd(dst, _mm512_loadu_pd(s));
  _mm256_storeu_pd(dst + 8, _mm256_loadu_pd(s + 8));
}

// A, 12 rows: row-major rows in blocks of k steps, or a column-major A (A^T) column by column.
template <typename T>
bool pack_a_12(T* dst, const T* a, int64_t rsa, int64_t csa, int64_t kc) {
  const int64_t S = a_block_steps(static_cast<T*>(nullptr));
  int64_t p = 0;
  if (csa == 1) {
    for (; p + S <= kc; p += S, dst += S * MR) pack_a_block(dst, a + p, rsa);
    for (; p < kc; ++p, dst += MR)
      for (int i = 0; i < MR; ++i) dst[i] = a[i * rsa + p];
    return true;
  }
  if (rsa == 1) {
    for (; p < kc; ++p, dst += MR) copy12(dst, a + p * csa);
    return true;
  }
  return false;
}

// Whether the unpacked path reads a row-major float32 B in place when its rows are off a
// cache line (Kernels::sup_unaligned_b): on AMD family 0x19 (Zen 4, the only one of that
// family with AVX-512). On the Zen 4 machine (1 thread, both operands from numpy, 21
// alternating rounds in one process, in place against packing each micro-panel): 64^3
// +9-11% (B 48 bytes off a line), 160^3 +2%, 80^3 +3%, 48^3 +2%, 192^3 and 256^3 the
// same; 2 threads 64^3 +11%, 100 x 256 @ 256 x 200 +5%. The Intel machine lost by it
// (256^3 152 GFLOP/s in place, 170 with the lines aligned); the Zen 5 machine and
// float64 were not measured.
bool sup_unaligned_b() { return amd_cpu_family() == 0x19; }

}  // namespace

void gemm(DType dt, int64_t m, int64_t n, int64_t k, const char* a, int64_t rsa, int64_t csa, const char* b,
          int64_t rsb, int64_t csb, char* c, int64_t rsc, int64_t csc, const char* d, int64_t rsd, int64_t csd) {
  if (m <= 0 || n <= 0) return;
  const bool accumulate = d == c && rsd == rsc && csd == csc;
  // Other dtypes, no product (C = D or 0) and small products: the AVX2 table's gemm, which
  // passes the first two on to the reference and runs the third unpacked.
  if ((dt != DType::Float32 && dt != DType::Float64) || k <= 0 || (m * n * k < blis::kSmallMNK && (!d || accumulate))) {
    avx2::gemm(dt, m, n, k, a, rsa, csa, b, rsb, csb, c, rsc, csc, d, rsd, csd);
    return;
  }
  if (dt == DType::Float32) {
    // The blocking fitted to this CPU's L2 (gemm.h's fit_l2).
    static const blis::Kernels<float> kr{
        blis::fit_l2(blis::kBlockingF32Avx512, sizeof(float), blis::l2_cache_bytes(), blis::kLargeL2KcF32),
        &ukr_12x2w<float>, &sukr_12x2w<float>, &pack_a_12<float>, &pack_b_cols<float, blis::kBlockingF32Avx512.nr>,
        &dot_kernel<float>, 0, sup_unaligned_b()};
    blis::gemm_f32(kr, m, n, k, reinterpret_cast<const float*>(a), rsa, csa, reinterpret_cast<const float*>(b), rsb,
                   csb, reinterpret_cast<float*>(c), rsc, csc, reinterpret_cast<const float*>(d), rsd, csd);
  } else {
    static const blis::Kernels<double> kr{
        blis::fit_l2(blis::kBlockingF64Avx512, sizeof(double), blis::l2_cache_bytes(), 0), &ukr_12x2w<double>,
        &sukr_12x2w<double>, &pack_a_12<double>, &pack_b_cols<double, blis::kBlockingF64Avx512.nr>,
        &dot_kernel<double>};
    blis::gemm_f64(kr, m, n, k, reinterpret_cast<const double*>(a), rsa, csa, reinterpret_cast<const double*>(b),
                   rsb, csb, reinterpret_cast<double*>(c), rsc, csc, reinterpret_cast<const double*>(d), rsd, csd);
  }
}

}  // namespace ember::kernels::avx512
