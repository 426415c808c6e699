// AVX2 elementwise kernels and sums: add/sub/mul/div/maximum/minimum/pow, comparisons,
// clamp, the unary ops (float32 exp, log, tanh, sigmoid, sin, cos and pow to a scalar
// through vmath.h), where, copies and Sum, for float32 and float64; int64 add/sub/mul,
// maximum/minimum, comparisons and where. Inner runs whose operands are contiguous or scalar-broadcast (stride 0)
// take the vector loop; other runs take element loops, and other dtypes and ops go to the
// reference kernels.
// Long contiguous runs are split into fixed chunks over the thread pool. Compiled with
// -mavx2 -mfma.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/interrupt.h"
#include "core/parallel.h"
#include "kernels/avx2/avx2.h"
#include "kernels/avx2/transpose.h"
#include "kernels/avx2/vmath.h"
#include "kernels/prefetch.h"
#include "kernels/scratch.h"

namespace ember::kernels::avx2 {
namespace {

// Runs of at least this many elements are split over the pool in chunks of kChunk (the
// chunking depends on the size only).
constexpr int64_t kParallelElems = int64_t{1} << 17;
constexpr int64_t kChunk = int64_t{1} << 15;
// Sums are blocked in kSumBlock elements: each block sums as sum_block says, blocks
// are added in order, so the result is the same on any number of threads.
constexpr int64_t kSumBlock = int64_t{1} << 14;
constexpr int64_t kSumTaskBlocks = 8;
// Outputs larger than this (3/4 of the L3, as glibc's memcpy decides) are written with
// non-temporal stores: they would not stay in cache anyway, and skipping the
// read-for-ownership saves a third of the traffic.
constexpr int64_t kStreamBytes = int64_t{24} << 20;

// Rows [r0, r1) of an N-d loop (a row: one run of the last dim; rows in row-major order
// of the other dims): inner(p, step, n) per row, step[k] in bytes.
template <int N, typename Inner>
void walk_rows(const Loop& l, const size_t (&isz)[N], int64_t r0, int64_t r1, Inner& inner) {
  const int nd = l.ndim;
  int64_t step[N];
  for (int k = 0; k < N; ++k) step[k] = nd ? l.strides[k][nd - 1] * static_cast<int64_t>(isz[k]) : 0;
  const int64_t n = nd ? l.shape[nd - 1] : 1;
  char* p[N];
  for (int k = 0; k < N; ++k) p[k] = l.ptr[k];
  if (nd <= 1) {
    if (r0 < r1) inner(p, step, n);
    return;
  }
  int64_t idx[64] = {0};
  for (int64_t r = r0, d = nd - 2; d >= 0; --d) {  // unravel r0
    idx[d] = r % l.shape[d];
    r /= l.shape[d];
    for (int k = 0; k < N; ++k) p[k] += idx[d] * l.strides[k][d] * static_cast<int64_t>(isz[k]);
  }
  interrupt::Poller poller;
  for (int64_t row = r0; row < r1; ++row) {
    inner(p, step, n);
    poller.add(n);
    for (int d = nd - 2; d >= 0; --d) {
      for (int k = 0; k < N; ++k) p[k] += l.strides[k][d] * static_cast<int64_t>(isz[k]);
      if (++idx[d] < l.shape[d]) break;
      for (int k = 0; k < N; ++k) p[k] -= l.strides[k][d] * static_cast<int64_t>(isz[k]) * l.shape[d];
      idx[d] = 0;
    }
  }
}

// Rows [r0, r1) in tiles of kTile rows x kTile elements: for each block of kTile rows,
// inner(p, step, <= kTile) on each row's first kTile elements, then on the next kTile, and
// so on; each element is still written once. For an operand whose last dim jumps a cache
// line or more per element (a transposed input into a row-major output), a whole row takes
// a new line per element and comes back to that line only one row later, after it has left
// the cache; within a tile, the next rows use the line while it is still there. On
// 4096 x 1024 float32, x.t() * 2 and x.t() + y: 1 thread 28.5-31.4 -> 21.5-22.0 ms and
// 33.2-33.5 -> 24.8-26.8 ms; 2 threads 19.2 -> 11.1 and 22.0 -> 13.9 (Zen 3; torch keeps
// x.t()'s layout for its output and takes 2.2 ms, its own transposing copy 11 ms).
// x.t() * 2 with square tiles of 8 to 64 took 20.3-23.1 ms, with 128 and 256 16.5.
constexpr int64_t kTile = 128;
template <int N, typename Inner>
void walk_rows_tiled(const Loop& l, const size_t (&isz)[N], int64_t r0, int64_t r1, Inner& inner) {
  const int nd = l.ndim;
  const int64_t n = l.shape[nd - 1];
  int64_t step[N];
  for (int k = 0; k < N; ++k) step[k] = l.strides[k][nd - 1] * static_cast<int64_t>(isz[k]);
  char* rows[kTile][N];
  int64_t got = 0;
  // walk_rows polls each row's n as it is collected: the work of the tile that follows.
  auto flush = [&] {
    for (int64_t j0 = 0; j0 < n; j0 += kTile) {
      const int64_t cnt = std::min(kTile, n - j0);
      for (int64_t i = 0; i < got; ++i) {
        char* q[N];
        for (int k = 0; k < N; ++k) q[k] = rows[i][k] + j0 * step[k];
        inner(q, step, cnt);
      }
    }
    got = 0;
  };
  auto collect = [&](char** p, const int64_t*, int64_t) {
    for (int k = 0; k < N; ++k) rows[got][k] = p[k];
    if (++got == kTile) flush();
  };
  walk_rows<N>(l, isz, r0, r1, collect);
  if (got) flush();
}

// True when tiles pay: some operand steps a cache line or more per element of the last
// dim, which is longer than a tile, and there is more than one row.
template <int N>
bool wants_tiles(const Loop& l, const size_t (&isz)[N], int64_t rows) {
  const int nd = l.ndim;
  if (nd < 2 || l.shape[nd - 1] <= kTile || rows < 2) return false;
  for (int k = 0; k < N; ++k) {
    const int64_t st = l.strides[k][nd - 1] * static_cast<int64_t>(isz[k]);
    if (st >= 64 || st <= -64) return true;
  }
  return false;
}

// The loop's rows (runs of the last dim); 0 when the space is empty.
int64_t loop_rows(const Loop& l) {
  int64_t rows = 1;
  for (int d = 0; d < l.ndim; ++d) {
    if (l.shape[d] == 0) return 0;
    if (d < l.ndim - 1) rows *= l.shape[d];
  }
  return rows;
}

// Walks an N-d loop like the reference: inner(p, step, n) over each run of the last dim.
// Returns at once for an empty space.
template <int N, typename Inner>
void nd_loop(const Loop& l, const size_t (&isz)[N], Inner inner) {
  if (const int64_t rows = loop_rows(l)) walk_rows<N>(l, isz, 0, rows, inner);
}

// nd_loop for elementwise kernels, whose inner(p, step, n) does n elements of work: when
// the space is large but its rows are short (x + bias on a 1000 x 1000 x, a transposed
// operand), blocks of whole rows of at least kChunk elements go to the pool. A long row
// is split by the kernel itself (maybe_parallel). Each element is written once, by one
// thread, so results do not depend on the split.
template <int N, typename Inner>
void nd_loop_par(const Loop& l, const size_t (&isz)[N], Inner inner) {
  const int nd = l.ndim;
  const int64_t rows = loop_rows(l);
  if (rows == 0) return;
  const int64_t n = nd ? l.shape[nd - 1] : 1;
  const bool tiles = wants_tiles<N>(l, isz, rows);
  auto walk = [&](int64_t r0, int64_t r1) {
    if (tiles) walk_rows_tiled<N>(l, isz, r0, r1, inner);
    else walk_rows<N>(l, isz, r0, r1, inner);
  };
  if (rows < 2 || (n >= kParallelElems && !tiles) || rows * n < kParallelElems || parallel::get_num_threads() == 1 ||
      parallel::in_parallel_region()) {
    walk(0, rows);
    return;
  }
  // Blocks of whole rows, at least kChunk elements (and whole tiles of rows when tiled).
  int64_t per = (kChunk + n - 1) / n;
  if (tiles) per = (per + kTile - 1) / kTile * kTile;
  const int64_t blocks = (rows + per - 1) / per;
  parallel::parallel_for(blocks, [&](int64_t b) { walk(b * per, std::min(rows, (b + 1) * per)); });
}

// Runs run(offset, count) over [0, n): in pool chunks when n is long and we are not
// already inside a task.
// Long runs go in chunks on one thread too, so that interrupts are polled between them.
// Out of line, so that the short path below inlines `run` once, as it did before polls.
template <typename Run>
__attribute__((noinline)) void run_chunked(int64_t n, Run& run) {
  auto chunk = [&](int64_t t) {
    const int64_t b = t * kChunk, cnt = std::min(kChunk, n - b);
    run(b, cnt);
    interrupt::poll(cnt);
  };
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  if (parallel::get_num_threads() == 1 || parallel::in_parallel_region()) {
    for (int64_t t = 0; t < chunks; ++t) chunk(t);
    return;
  }
  parallel::parallel_for(chunks, chunk);
}

template <typename Run>
void maybe_parallel(int64_t n, Run run, int64_t min_elems = kParallelElems) {
  if (n < min_elems) {
    run(0, n);
    return;
  }
  run_chunked(n, run);
}

template <typename T>
struct Vec;
template <>
struct Vec<float> {
  using R = __m256;
  static constexpr int W = 8;
  static R load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static void stream(float* p, R v) { _mm256_stream_ps(p, v); }  // p 32-byte aligned
  static R set1(float x) { return _mm256_set1_ps(x); }
  static R zero() { return _mm256_setzero_ps(); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R div(R a, R b) { return _mm256_div_ps(a, b); }
  static R max(R a, R b) { return _mm256_max_ps(a, b); }  // a > b ? a : b
  static R min(R a, R b) { return _mm256_min_ps(a, b); }  // a < b ? a : b
  static R gt(R a, R b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static R lt(R a, R b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static R ge(R a, R b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static R le(R a, R b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
  static R nle(R a, R b) { return _mm256_cmp_ps(a, b, _CMP_NLE_UQ); }  // not a <= b: true for NaN
  static R isnan(R a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
  static R or_(R a, R b) { return _mm256_or_ps(a, b); }
  static R and_(R a, R b) { return _mm256_and_ps(a, b); }
  static R xor_(R a, R b) { return _mm256_xor_ps(a, b); }
  static R andnot(R a, R b) { return _mm256_andnot_ps(a, b); }
  static R blend(R f, R t, R m) { return _mm256_blendv_ps(f, t, m); }
  static R sign() { return _mm256_set1_ps(-0.0f); }
  // 8 bool bytes -> lane mask
  static R from_bool(const char* p) {
    __m256i x = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(x, _mm256_setzero_si256()));
  }
};
template <>
struct Vec<double> {
  using R = __m256d;
  static constexpr int W = 4;
  static R load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, R v) { _mm256_storeu_pd(p, v); }
  static void stream(double* p, R v) { _mm256_stream_pd(p, v); }
  static R set1(double x) { return _mm256_set1_pd(x); }
  static R zero() { return _mm256_setzero_pd(); }
  static R add(R a, R b) { return _mm256_add_pd(a, b); }
  static R sub(R a, R b) { return _mm256_sub_pd(a, b); }
  static R mul(R a, R b) { return _mm256_mul_pd(a, b); }
  static R div(R a, R b) { return _mm256_div_pd(a, b); }
  static R max(R a, R b) { return _mm256_max_pd(a, b); }
  static R min(R a, R b) { return _mm256_min_pd(a, b); }
  static R gt(R a, R b) { return _mm256_cmp_pd(a, b, _CMP_GT_OQ); }
  static R lt(R a, R b) { return _mm256_cmp_pd(a, b, _CMP_LT_OQ); }
  static R ge(R a, R b) { return _mm256_cmp_pd(a, b, _CMP_GE_OQ); }
  static R le(R a, R b) { return _mm256_cmp_pd(a, b, _CMP_LE_OQ); }
  static R nle(R a, R b) { return _mm256_cmp_pd(a, b, _CMP_NLE_UQ); }  // not a <= b: true for NaN
  static R isnan(R a) { return _mm256_cmp_pd(a, a, _CMP_UNORD_Q); }
  static R or_(R a, R b) { return _mm256_or_pd(a, b); }
  static R and_(R a, R b) { return _mm256_and_pd(a, b); }
  static R xor_(R a, R b) { return _mm256_xor_pd(a, b); }
  static R andnot(R a, R b) { return _mm256_andnot_pd(a, b); }
  static R blend(R f, R t, R m) { return _mm256_blendv_pd(f, t, m); }
  static R sign() { return _mm256_set1_pd(-0.0); }
  static R from_bool(const char* p) {
    int32_t bits;
    std::memcpy(&bits, p, 4);
    __m256i x = _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(bits));
    return _mm256_castsi256_pd(_mm256_cmpgt_epi64(x, _mm256_setzero_si256()));
  }
};

// int64 lanes: what the binary ops, comparisons and where need. Arithmetic wraps as the
// reference's (it adds and multiplies as uint64).
template <>
struct Vec<int64_t> {
  using R = __m256i;
  static constexpr int W = 4;
  static R load(const int64_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void store(int64_t* p, R v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static void stream(int64_t* p, R v) { _mm256_stream_si256(reinterpret_cast<__m256i*>(p), v); }
  static R set1(int64_t x) { return _mm256_set1_epi64x(x); }
  static R zero() { return _mm256_setzero_si256(); }
  static R add(R a, R b) { return _mm256_add_epi64(a, b); }
  static R sub(R a, R b) { return _mm256_sub_epi64(a, b); }
  // The low 64 bits of the product: AVX2 multiplies only 32 x 32 -> 64 bits, so
  // lo(a) lo(b) + (lo(a) hi(b) + hi(a) lo(b)) << 32 (the hi x hi term is shifted out).
  static R mul(R a, R b) {
    const R cross = _mm256_add_epi64(_mm256_mul_epu32(a, _mm256_srli_epi64(b, 32)),
                                     _mm256_mul_epu32(_mm256_srli_epi64(a, 32), b));
    return _mm256_add_epi64(_mm256_mul_epu32(a, b), _mm256_slli_epi64(cross, 32));
  }
  static R gt(R a, R b) { return _mm256_cmpgt_epi64(a, b); }
  static R lt(R a, R b) { return _mm256_cmpgt_epi64(b, a); }
  static R eq(R a, R b) { return _mm256_cmpeq_epi64(a, b); }
  static R isnan(R) { return _mm256_setzero_si256(); }
  static R or_(R a, R b) { return _mm256_or_si256(a, b); }
  static R and_(R a, R b) { return _mm256_and_si256(a, b); }
  static R xor_(R a, R b) { return _mm256_xor_si256(a, b); }
  static R not_(R a) { return _mm256_xor_si256(a, _mm256_set1_epi64x(-1)); }
  static R blend(R f, R t, R m) { return _mm256_blendv_epi8(f, t, m); }
  static R from_bool(const char* p) {
    int32_t bits;
    std::memcpy(&bits, p, 4);
    return _mm256_cmpgt_epi64(_mm256_cvtepu8_epi64(_mm_cvtsi32_si128(bits)), _mm256_setzero_si256());
  }
};

template <typename T>
T ld(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <typename T>
void st(char* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

// Calls f(std::bool_constant<x>{}, std::bool_constant<y>{}): the loops below take
// "this operand is a broadcast scalar" as a compile-time flag. With a runtime flag
// tested per vector, GCC kept the vector body out of line (a call, two loads of the
// flags and two branches per 8 floats): add, mul and where on 1e6 float32 in L3 ran at
// 0.3-0.5x the speed of clamp on the Zen 3 machine.
template <typename F>
void with_flags(bool x, bool y, F f) {
  using T = std::true_type;
  using N = std::false_type;
  if (x) y ? f(T{}, T{}) : f(T{}, N{});
  else y ? f(N{}, T{}) : f(N{}, N{});
}

// The vector and scalar bodies handed to map_run are inlined into its loops.
#define EMBER_INLINE_LAMBDA __attribute__((always_inline))

// A run is vectorisable when the output is contiguous and each input is contiguous or a
// broadcast scalar (step 0).
bool vector_run(const int64_t* s, int nin, int64_t sz) {
  if (s[0] != sz) return false;
  for (int k = 1; k <= nin; ++k)
    if (s[k] != sz && s[k] != 0) return false;
  return true;
}

// The one vector loop every elementwise kernel here uses: o[i] = vf(i) over 4 vectors per
// step, then one vector, then the scalar tail sf(i). With `nt`, a scalar head first aligns
// o to 32 bytes and the vector stores are non-temporal.
template <typename T, typename VF, typename SF>
void map_run(T* o, int64_t n, bool nt, VF vf, SF sf) {
  using V = Vec<T>;
  constexpr int W = V::W;
  int64_t i = 0;
  if (nt) {
    for (; i < n && (reinterpret_cast<uintptr_t>(o + i) & 31) != 0; ++i) o[i] = sf(i);
    for (; i + 4 * W <= n; i += 4 * W) {
      typename V::R r0 = vf(i), r1 = vf(i + W), r2 = vf(i + 2 * W), r3 = vf(i + 3 * W);
      V::stream(o + i, r0), V::stream(o + i + W, r1), V::stream(o + i + 2 * W, r2), V::stream(o + i + 3 * W, r3);
    }
    for (; i + W <= n; i += W) V::stream(o + i, vf(i));
    _mm_sfence();
  } else {
    for (; i + 4 * W <= n; i += 4 * W) {
      typename V::R r0 = vf(i), r1 = vf(i + W), r2 = vf(i + 2 * W), r3 = vf(i + 3 * W);
      V::store(o + i, r0), V::store(o + i + W, r1), V::store(o + i + 2 * W, r2), V::store(o + i + 3 * W, r3);
    }
    for (; i + W <= n; i += W) V::store(o + i, vf(i));
  }
  for (; i < n; ++i) o[i] = sf(i);
}

template <typename T>
bool stream_output(int64_t n) {
  return n * static_cast<int64_t>(sizeof(T)) >= kStreamBytes;
}

// ---- transposing copies: out(r, c) = x(r, c) where out's rows are contiguous (row
// stride os) and x's columns are (x(r, c) at x[r + c * xs]): x.t().contiguous(), or the
// last two dims of a permuted copy. S x S register blocks (8 floats or 4 doubles: loads of
// x's columns, transpose8 / transpose4, stores of out's rows) in tiles of kTpRows rows
// (one cache line of each column of x, used whole as soon as it is read) by kTpCols
// columns. C++ harness, 1 thread, ms (the element loop; tiles 64 x 64; 16 x 64): x.t() of
// 1000 x 1000 2.2-2.5; 0.28-0.53; 0.23-0.35, of 1024 x 1024 (columns 4 KiB apart, in one
// L1 set) 5.3-5.4; 1.02-1.12; 0.59-0.74, of 1024 x 4096 27-32; 3.8-5.3; 5.0-5.5. In
// ember, x.t().contiguous(), alternating processes, before -> after (torch): 1000 x 1000
// 0.81-1.13 -> 0.19 (0.69-1.5), 1024 x 1024 3.5 -> 0.43 (0.9-1.2).
constexpr int64_t kTpCols = 64;
template <typename T>
constexpr int64_t kTpRows = 64 / sizeof(T);
// One tile: out(r, c) = x[r + c * xs] for r < rn, c < cn, out's rows os apart.
template <typename T>
void transpose_tile(T* o, int64_t os, const T* x, int64_t xs, int64_t rn, int64_t cn) {
  constexpr int64_t S = 32 / sizeof(T);
  int64_t c = 0;
  for (; c + S <= cn; c += S) {
    int64_t r = 0;
    for (; r + S <= rn; r += S) {
      if constexpr (S == 8) {
        __m256 v[8];
        for (int k = 0; k < 8; ++k) v[k] = _mm256_loadu_ps(reinterpret_cast<const float*>(x + r + (c + k) * xs));
        simd_transpose::transpose8(v);  // v[i]: row r + i, columns c..c + 7
        for (int k = 0; k < 8; ++k) _mm256_storeu_ps(reinterpret_cast<float*>(o + (r + k) * os + c), v[k]);
      } else {
        auto ld = [&](int k) { return _mm256_loadu_pd(reinterpret_cast<const double*>(x + r + (c + k) * xs)); };
        __m256d v0 = ld(0), v1 = ld(1), v2 = ld(2), v3 = ld(3);
        simd_transpose::transpose4(v0, v1, v2, v3);
        _mm256_storeu_pd(reinterpret_cast<double*>(o + r * os + c), v0);
        _mm256_storeu_pd(reinterpret_cast<double*>(o + (r + 1) * os + c), v1);
        _mm256_storeu_pd(reinterpret_cast<double*>(o + (r + 2) * os + c), v2);
        _mm256_storeu_pd(reinterpret_cast<double*>(o + (r + 3) * os + c), v3);
      }
    }
    for (; r < rn; ++r)
      for (int64_t k = 0; k < S; ++k) o[r * os + c + k] = x[r + (c + k) * xs];
  }
  for (; c < cn; ++c)
    for (int64_t r = 0; r < rn; ++r) o[r * os + c] = x[r + c * xs];
}
// Rows [r0, r1) of an R x C transpose (all C columns), tile by tile.
template <typename T>
void transpose_rows(T* o, int64_t os, const T* x, int64_t xs, int64_t r0, int64_t r1, int64_t C) {
  for (int64_t rt = r0; rt < r1; rt += kTpRows<T>) {
    const int64_t rn = std::min(r1 - rt, kTpRows<T>);
    for (int64_t ct = 0; ct < C; ct += kTpCols)
      transpose_tile(o + rt * os + ct, os, x + rt + ct * xs, xs, rn, std::min(kTpCols, C - ct));
  }
}

// Whether operand k of a loop is read transposed in its last two dims (contiguous down
// the second-last, a cache line or more apart along the last), over at least two tiles of
// rows and 32 columns.
bool transposed_operand(const Loop& l, int k, int64_t sz) {
  const int nd = l.ndim;
  return nd >= 2 && l.strides[k][nd - 2] == 1 && l.strides[k][nd - 1] >= 64 / sz && l.shape[nd - 2] >= 2 * 64 / sz &&
         l.shape[nd - 1] >= 32;
}

// Calls block(m, r0, r1, ptrs) over the loop's matrices (the dims before the last two) and
// their blocks of at least kChunk elements in whole tiles of rows (64 / sz), on the pool
// when the loop is large; ptrs: each operand's pointer at the matrix's first element.
template <int N, typename Block>
void transpose_blocks(const Loop& l, int64_t sz, Block block) {
  const int nd = l.ndim;
  const int64_t R = l.shape[nd - 2], C = l.shape[nd - 1], tile_rows = 64 / sz;
  int64_t mats = 1;
  for (int d = 0; d < nd - 2; ++d) mats *= l.shape[d];
  const int64_t per = std::min(R, ((kChunk + C - 1) / C + tile_rows - 1) / tile_rows * tile_rows);
  const int64_t blocks = (R + per - 1) / per;
  auto task = [&](int64_t i) {
    int64_t rest = i / blocks;
    const int64_t r0 = (i % blocks) * per, r1 = std::min(R, r0 + per);
    char* p[N];
    for (int k = 0; k < N; ++k) p[k] = l.ptr[k];
    for (int d = nd - 3; d >= 0; --d) {  // unravel the matrix index
      const int64_t id = rest % l.shape[d];
      rest /= l.shape[d];
      for (int k = 0; k < N; ++k) p[k] += id * l.strides[k][d] * sz;
    }
    block(r0, r1, p);
    interrupt::poll((r1 - r0) * C);
  };
  const int64_t tasks = mats * blocks;
  if (mats * R * C >= kParallelElems && tasks > 1 && !parallel::in_parallel_region()) parallel::parallel_for(tasks, task);
  else for (int64_t i = 0; i < tasks; ++i) task(i);
}

// ---------------------------------------------------------------- binary

template <typename T, BinaryOp Op>
struct BinOp {
  using V = Vec<T>;
  static typename V::R vec(typename V::R a, typename V::R b) {
    if constexpr (Op == BinaryOp::Add) return V::add(a, b);
    else if constexpr (Op == BinaryOp::Sub) return V::sub(a, b);
    else if constexpr (Op == BinaryOp::Mul) return V::mul(a, b);
    else if constexpr (Op == BinaryOp::Div) return V::div(a, b);
    // Maximum / Minimum: a if a is NaN or wins, else b (the reference's rule).
    else if constexpr (Op == BinaryOp::Maximum) return V::blend(b, a, V::or_(V::gt(a, b), V::isnan(a)));
    else return V::blend(b, a, V::or_(V::lt(a, b), V::isnan(a)));
  }
  static T one(T a, T b) {
    using U = std::conditional_t<std::is_integral_v<T>, uint64_t, T>;  // integers wrap, as in the reference
    if constexpr (Op == BinaryOp::Add) return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
    else if constexpr (Op == BinaryOp::Sub) return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
    else if constexpr (Op == BinaryOp::Mul) return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
    else if constexpr (Op == BinaryOp::Div) return a / b;
    else if constexpr (std::is_integral_v<T>) return (Op == BinaryOp::Maximum ? a > b : a < b) ? a : b;
    else if constexpr (Op == BinaryOp::Maximum) return (std::isnan(a) || a > b) ? a : b;
    else return (std::isnan(a) || a < b) ? a : b;
  }
};

// out[i] = op(a[i or 0], b[i or 0]) for a vectorisable run (SA, SB: a, b broadcast scalars).
template <typename T, BinaryOp Op, bool SA, bool SB>
void binary_run(T* o, const T* a, const T* b, int64_t n, bool nt) {
  using V = Vec<T>;
  using F = BinOp<T, Op>;
  const typename V::R va = V::set1(a[0]), vb = V::set1(b[0]);
  map_run<T>(
      o, n, nt,
      [&](int64_t i) EMBER_INLINE_LAMBDA { return F::vec(SA ? va : V::load(a + i), SB ? vb : V::load(b + i)); },
      [&](int64_t i) EMBER_INLINE_LAMBDA { return F::one(a[SA ? 0 : i], b[SB ? 0 : i]); });
}

// One operand read transposed (x.t() + y; transposed_operand), the other contiguous or
// broadcast along the last dim, the output's rows contiguous: a tile of rows of the
// transposed operand (one cache line of each of its columns, up to kStageCols columns) is
// transposed into a buffer in L2 first, then those rows run as contiguous ones with the
// same vector op, so every element gets the element loop's bits. False for other loops
// (both operands transposed: the tiled walk). x.t() + x, float32, 1 thread, ms, the tiled
// element loop -> this (torch), alternating processes: 1000 x 1000 1.04-1.48 -> 0.52-0.53
// (0.84-1.10), 1024 x 1024 3.3-3.4 -> 0.60 (4.9-5.2). Staged 64 columns at a time (in L1)
// it was 2x slower: the other operand and the output then advance 32 streams by 256 bytes.
constexpr int64_t kStageCols = 1024;
// The calling thread's staging buffer (kernels/scratch.h). On the heap: a thread_local
// array would take its bytes from every thread's static TLS (per template instance), which
// failed pthread_create for threads with small stacks.
char* stage_buffer(size_t bytes) {
  thread_local Scratch buf;
  return static_cast<char*>(buf.bytes(bytes));
}
template <typename T, BinaryOp Op>
bool binary_transposed(const Loop& l) {
  constexpr int64_t sz = sizeof(T);
  const int nd = l.ndim;
  if (nd < 2 || l.strides[0][nd - 1] != 1) return false;
  const bool ta = transposed_operand(l, 1, sz), tb = transposed_operand(l, 2, sz);
  if (ta == tb) return false;
  const int kt = ta ? 1 : 2, ky = ta ? 2 : 1;
  const int64_t ys = l.strides[ky][nd - 1];
  if (ys != 1 && ys != 0) return false;
  const int64_t os = l.strides[0][nd - 2], xs = l.strides[kt][nd - 1], yrs = l.strides[ky][nd - 2];
  const int64_t C = l.shape[nd - 1];
  transpose_blocks<3>(l, sz, [&](int64_t r0, int64_t r1, char** p) {
    T* buf = reinterpret_cast<T*>(stage_buffer(sizeof(T) * kTpRows<T> * kStageCols));
    T* o = reinterpret_cast<T*>(p[0]);
    const T* x = reinterpret_cast<const T*>(p[kt]);
    const T* y = reinterpret_cast<const T*>(p[ky]);
    for (int64_t rt = r0; rt < r1; rt += kTpRows<T>) {
      const int64_t rn = std::min(r1 - rt, kTpRows<T>);
      for (int64_t cc = 0; cc < C; cc += kStageCols) {
        const int64_t cn = std::min(kStageCols, C - cc);
        for (int64_t ct = 0; ct < cn; ct += kTpCols)
          transpose_tile(buf + ct, kStageCols, x + rt + (cc + ct) * xs, xs, rn, std::min(kTpCols, cn - ct));
        for (int64_t r = 0; r < rn; ++r) {
          T* orow = o + (rt + r) * os + cc;
          const T* trow = buf + r * kStageCols;
          const T* yrow = y + (rt + r) * yrs + ys * cc;
          if (ys == 0 && ta) binary_run<T, Op, false, true>(orow, trow, yrow, cn, false);
          else if (ys == 0) binary_run<T, Op, true, false>(orow, yrow, trow, cn, false);
          else if (ta) binary_run<T, Op, false, false>(orow, trow, yrow, cn, false);
          else binary_run<T, Op, false, false>(orow, yrow, trow, cn, false);
        }
      }
    }
  });
  return true;
}

template <typename T, BinaryOp Op>
void binary_typed(const Loop& l) {
  if (binary_transposed<T, Op>(l)) return;
  const size_t isz[3] = {sizeof(T), sizeof(T), sizeof(T)};
  nd_loop_par<3>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
    if (vector_run(s, 2, sizeof(T))) {
      T* o = reinterpret_cast<T*>(p[0]);
      const T* a = reinterpret_cast<const T*>(p[1]);
      const T* b = reinterpret_cast<const T*>(p[2]);
      const bool nt = stream_output<T>(n);
      with_flags(s[1] == 0, s[2] == 0, [&](auto sa, auto sb) {
        maybe_parallel(n, [&](int64_t off, int64_t cnt) {
          binary_run<T, Op, sa, sb>(o + off, sa ? a : a + off, sb ? b : b + off, cnt, nt);
        });
      });
      return;
    }
    for (int64_t i = 0; i < n; ++i)
      st<T>(p[0] + i * s[0], BinOp<T, Op>::one(ld<T>(p[1] + i * s[1]), ld<T>(p[2] + i * s[2])));
  });
}

// ---------------------------------------------------------------- pow

// Strided runs of the math functions and of pow are gathered into blocks of this many
// elements, run as contiguous ones and scattered back, so they get the same values as
// contiguous runs.
constexpr int64_t kGather = 256;

inline __m256 vsqrt(__m256 v) { return _mm256_sqrt_ps(v); }
inline __m256d vsqrt(__m256d v) { return _mm256_sqrt_pd(v); }

// a ** b as PyTorch computes a float tensor to a scalar power: 2 -> a * a, 3 -> a * a * a,
// -1 -> 1 / a (glibc's pow(a, -1) is one ulp off that now and then), -2 -> 1 / (a * a),
// 0.5 -> sqrt(a), -0.5 -> 1 / sqrt(a) (so (-0) ** 0.5 is -0 and (-inf) ** 0.5 NaN, as in
// PyTorch), others std::pow. The reference applies the same rule to each element.
template <typename T>
T pow_one(T a, T b) {
  if (b == T(2)) return a * a;
  if (b == T(3)) return a * a * a;
  if (b == T(-1)) return T(1) / a;
  if (b == T(-2)) return T(1) / (a * a);
  if (b == T(0.5)) return std::sqrt(a);
  if (b == T(-0.5)) return T(1) / std::sqrt(a);
  return std::pow(a, b);
}

// float32 to a finite broadcast exponent e outside pow_one's list (and not 1 or 0):
// vmath::pow_ps, nearly always the correctly rounded power (the reference's glibc powf is
// within 0.82 ulp of it); tails take the same function on one lane, so a value's result
// does not depend on where it sits in a run. Tensor exponents: pow_tensor_run.
struct PowF32 {
  float e;
  bool e_int, e_odd;
  explicit PowF32(float y) : e(y), e_int(std::floor(y) == y), e_odd(e_int && std::fmod(y, 2.0f) != 0) {}
  __m256 vec(__m256 v) const { return vmath::pow_ps(v, e, e_int, e_odd); }
  float one(float v) const { return _mm256_cvtss_f32(vec(_mm256_set1_ps(v))); }
  void run(float* o, const float* x, int64_t n, bool nt) const {
    map_run<float>(
        o, n, nt, [&](int64_t i) EMBER_INLINE_LAMBDA { return vec(Vec<float>::load(x + i)); },
        [&](int64_t i) EMBER_INLINE_LAMBDA { return one(x[i]); });
  }
};

// float32 to a tensor exponent, over a contiguous run (a: contiguous, or one broadcast base
// when sa): vmath::pow_pv, its other lanes (special exponents or bases) by pow_one; tails
// take the same vector function on one lane, so a value's result does not depend on where
// it sits in a run. 1000 x 1000, random exponents, 1 thread, ms, alternating processes,
// pow_one per element -> this (torch): a ** b 8.2-12.8 -> 4.7-4.9 (5.9-6.2), 2 ** b 8.9-9.1
// -> 4.7-5.0 (5.9-6.2).
template <bool SA>
void pow_tensor_run(float* o, const float* a, const float* b, int64_t n, bool nt) {
  auto vec = [](__m256 x, __m256 y) EMBER_INLINE_LAMBDA {
    int rest;
    __m256 r = vmath::pow_pv(x, y, rest);
    if (rest) {
      alignas(32) float xv[8], yv[8], rv[8];
      _mm256_store_ps(xv, x);
      _mm256_store_ps(yv, y);
      _mm256_store_ps(rv, r);
      for (int i = 0; i < 8; ++i)
        if (rest >> i & 1) rv[i] = pow_one<float>(xv[i], yv[i]);
      r = _mm256_load_ps(rv);
    }
    return r;
  };
  map_run<float>(
      o, n, nt,
      [&](int64_t i) EMBER_INLINE_LAMBDA {
        return vec(SA ? _mm256_set1_ps(a[0]) : _mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
      },
      [&](int64_t i) EMBER_INLINE_LAMBDA {
        return _mm256_cvtss_f32(vec(_mm256_set1_ps(a[SA ? 0 : i]), _mm256_set1_ps(b[i])));
      });
}

// A broadcast exponent of 2, 3, -2, -1, 0.5, -0.5, 1 or 0 runs as a vector loop, and so does
// any other finite one on float32 (PowF32: contiguous runs on the pool from two chunks,
// strided ones gathered as the unary math functions' are); so does a float32 tensor
// exponent over contiguous runs (pow_tensor_run); other exponents call pow_one per element
// (on the pool when the run is long).
template <typename T>
void pow_typed(const Loop& l) {
  using V = Vec<T>;
  const size_t isz[3] = {sizeof(T), sizeof(T), sizeof(T)};
  nd_loop_par<3>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
    T* o = reinterpret_cast<T*>(p[0]);
    const T* a = reinterpret_cast<const T*>(p[1]);
    const T* b = reinterpret_cast<const T*>(p[2]);
    const bool sb = s[2] == 0;
    const T e = b[0];
    const bool general = e != T(2) && e != T(3) && e != T(-2) && e != T(-1) && e != T(0.5) && e != T(-0.5) &&
                         e != T(1) && e != T(0);
    if constexpr (sizeof(T) == 4) {
      if (!sb && s[0] == 4 && s[2] == 4 && (s[1] == 4 || s[1] == 0)) {
        const bool nt = stream_output<T>(n);
        const bool sa = s[1] == 0;
        maybe_parallel(
            n,
            [&](int64_t off, int64_t cnt) {
              if (sa) pow_tensor_run<true>(o + off, a, b + off, cnt, nt);
              else pow_tensor_run<false>(o + off, a + off, b + off, cnt, nt);
            },
            2 * kChunk);
        return;
      }
      if (sb && general && std::isfinite(e)) {
        const PowF32 f(e);
        if (s[0] == 4 && s[1] == 4) {
          const bool nt = stream_output<T>(n);
          maybe_parallel(n, [&](int64_t off, int64_t cnt) { f.run(o + off, a + off, cnt, nt); }, 2 * kChunk);
          return;
        }
        alignas(32) float in[kGather], out[kGather];
        for (int64_t off = 0; off < n; off += kGather) {
          const int64_t cnt = std::min(kGather, n - off);
          for (int64_t i = 0; i < cnt; ++i) in[i] = ld<float>(p[1] + (off + i) * s[1]);
          f.run(out, in, cnt, false);
          for (int64_t i = 0; i < cnt; ++i) st<float>(p[0] + (off + i) * s[0], out[i]);
        }
        return;
      }
    }
    if (vector_run(s, 2, sizeof(T)) && s[1] != 0) {
      const bool nt = stream_output<T>(n);
      auto loop = [&](auto f) {
        maybe_parallel(n, [&](int64_t off, int64_t cnt) {
          const T* x = a + off;
          map_run<T>(
              o + off, cnt, nt, [&](int64_t i) EMBER_INLINE_LAMBDA { return f(V::load(x + i)); },
              [&](int64_t i) EMBER_INLINE_LAMBDA { return pow_one<T>(x[i], e); });
        });
      };
      if (sb && !general) {
        using R = typename V::R;
        const R one = V::set1(T(1));
        if (e == T(2)) return loop([](R v) EMBER_INLINE_LAMBDA { return V::mul(v, v); });
        if (e == T(3)) return loop([](R v) EMBER_INLINE_LAMBDA { return V::mul(V::mul(v, v), v); });
        if (e == T(-2)) return loop([one](R v) EMBER_INLINE_LAMBDA { return V::div(one, V::mul(v, v)); });
        if (e == T(-1)) return loop([one](R v) EMBER_INLINE_LAMBDA { return V::div(one, v); });
        if (e == T(0.5)) return loop([](R v) EMBER_INLINE_LAMBDA { return vsqrt(v); });
        if (e == T(-0.5))
          return loop([one](R v) EMBER_INLINE_LAMBDA { return V::div(one, vsqrt(v)); });
        // pow(x, 1) is x (PowBackward0 of x ** 2 computes x ** 1), pow(x, 0) is 1, NaN included.
        if (e == T(1)) return loop([](R v) EMBER_INLINE_LAMBDA { return v; });
        return loop([one](R) EMBER_INLINE_LAMBDA { return one; });  // e == 0
      }
      maybe_parallel(n, [&](int64_t off, int64_t cnt) {
        for (int64_t i = off; i < off + cnt; ++i) o[i] = pow_one<T>(a[i], b[sb ? 0 : i]);
      });
      return;
    }
    for (int64_t i = 0; i < n; ++i) st<T>(p[0] + i * s[0], pow_one<T>(ld<T>(p[1] + i * s[1]), ld<T>(p[2] + i * s[2])));
  });
}

template <typename T>
bool binary_float(BinaryOp op, const Loop& l) {
  switch (op) {
    case BinaryOp::Add: binary_typed<T, BinaryOp::Add>(l); return true;
    case BinaryOp::Sub: binary_typed<T, BinaryOp::Sub>(l); return true;
    case BinaryOp::Mul: binary_typed<T, BinaryOp::Mul>(l); return true;
    case BinaryOp::Div: binary_typed<T, BinaryOp::Div>(l); return true;
    case BinaryOp::Maximum: binary_typed<T, BinaryOp::Maximum>(l); return true;
    case BinaryOp::Minimum: binary_typed<T, BinaryOp::Minimum>(l); return true;
    case BinaryOp::Pow: pow_typed<T>(l); return true;
    default: return false;
  }
}

// ---------------------------------------------------------------- comparisons -> bool

// Lane masks of a comparison (NaN compares false, except Ne).
template <typename T, BinaryOp Op>
typename Vec<T>::R cmp_vec(typename Vec<T>::R a, typename Vec<T>::R b) {
  constexpr int imm = Op == BinaryOp::Eq   ? _CMP_EQ_OQ
                      : Op == BinaryOp::Ne ? _CMP_NEQ_UQ
                      : Op == BinaryOp::Lt ? _CMP_LT_OQ
                      : Op == BinaryOp::Le ? _CMP_LE_OQ
                      : Op == BinaryOp::Gt ? _CMP_GT_OQ
                                           : _CMP_GE_OQ;
  if constexpr (std::is_integral_v<T>) {
    using V = Vec<T>;
    if constexpr (Op == BinaryOp::Eq) return V::eq(a, b);
    else if constexpr (Op == BinaryOp::Ne) return V::not_(V::eq(a, b));
    else if constexpr (Op == BinaryOp::Lt) return V::lt(a, b);
    else if constexpr (Op == BinaryOp::Le) return V::not_(V::gt(a, b));
    else if constexpr (Op == BinaryOp::Gt) return V::gt(a, b);
    else return V::not_(V::lt(a, b));
  } else if constexpr (sizeof(T) == 4) {
    return _mm256_cmp_ps(a, b, imm);
  } else {
    return _mm256_cmp_pd(a, b, imm);
  }
}

template <typename T, BinaryOp Op>
bool cmp_one(T a, T b) {
  if constexpr (Op == BinaryOp::Eq) return a == b;
  else if constexpr (Op == BinaryOp::Ne) return a != b;
  else if constexpr (Op == BinaryOp::Lt) return a < b;
  else if constexpr (Op == BinaryOp::Le) return a <= b;
  else if constexpr (Op == BinaryOp::Gt) return a > b;
  else return a >= b;
}

inline __m256d as_pd(__m256d m) { return m; }
inline __m256d as_pd(__m256i m) { return _mm256_castsi256_pd(m); }

// o[i] = op(a[i or 0], b[i or 0]) as bool bytes, 32 per step.
template <typename T, BinaryOp Op, bool SA, bool SB>
void compare_run(bool* o, const T* a, const T* b, int64_t n) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const typename V::R va = V::set1(a[0]), vb = V::set1(b[0]);
  auto m = [&](int64_t i) EMBER_INLINE_LAMBDA {
    return cmp_vec<T, Op>(SA ? va : V::load(a + i), SB ? vb : V::load(b + i));
  };
  int64_t i = 0;
  if constexpr (sizeof(T) == 4) {
    const __m256i one = _mm256_set1_epi8(1), order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (; i + 32 <= n; i += 32) {
      const __m256i m0 = _mm256_castps_si256(m(i)), m1 = _mm256_castps_si256(m(i + 8)),
                    m2 = _mm256_castps_si256(m(i + 16)), m3 = _mm256_castps_si256(m(i + 24));
      __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(m0, m1), _mm256_packs_epi32(m2, m3));
      p = _mm256_and_si256(_mm256_permutevar8x32_epi32(p, order), one);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + i), p);
    }
  } else {
    for (; i + W <= n; i += W) {  // 4 lanes -> 4 bytes
      const int bits = _mm256_movemask_pd(as_pd(m(i)));
      const uint32_t bytes = (bits & 1) | ((bits & 2) << 7) | ((bits & 4) << 14) | ((bits & 8) << 21);
      std::memcpy(o + i, &bytes, 4);
    }
  }
  for (; i < n; ++i) o[i] = cmp_one<T, Op>(a[SA ? 0 : i], b[SB ? 0 : i]);
}

template <typename T, BinaryOp Op>
void compare_typed(const Loop& l) {
  const size_t isz[3] = {1, sizeof(T), sizeof(T)};
  nd_loop_par<3>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
    if (s[0] == 1 && (s[1] == sizeof(T) || s[1] == 0) && (s[2] == sizeof(T) || s[2] == 0)) {
      bool* o = reinterpret_cast<bool*>(p[0]);
      const T* a = reinterpret_cast<const T*>(p[1]);
      const T* b = reinterpret_cast<const T*>(p[2]);
      with_flags(s[1] == 0, s[2] == 0, [&](auto sa, auto sb) {
        maybe_parallel(n, [&](int64_t off, int64_t cnt) {
          compare_run<T, Op, sa, sb>(o + off, sa ? a : a + off, sb ? b : b + off, cnt);
        });
      });
      return;
    }
    for (int64_t i = 0; i < n; ++i)
      st<bool>(p[0] + i * s[0], cmp_one<T, Op>(ld<T>(p[1] + i * s[1]), ld<T>(p[2] + i * s[2])));
  });
}

// int64: the wrapping arithmetic, maximum / minimum and the comparisons (pow and the
// op layer's float division stay with the reference).
bool binary_int64(BinaryOp op, const Loop& l) {
  switch (op) {
    case BinaryOp::Add: binary_typed<int64_t, BinaryOp::Add>(l); return true;
    case BinaryOp::Sub: binary_typed<int64_t, BinaryOp::Sub>(l); return true;
    case BinaryOp::Mul: binary_typed<int64_t, BinaryOp::Mul>(l); return true;
    case BinaryOp::Maximum: binary_typed<int64_t, BinaryOp::Maximum>(l); return true;
    case BinaryOp::Minimum: binary_typed<int64_t, BinaryOp::Minimum>(l); return true;
    default: return false;
  }
}

template <typename T>
bool compare_typed_op(BinaryOp op, const Loop& l) {
  switch (op) {
    case BinaryOp::Eq: compare_typed<T, BinaryOp::Eq>(l); return true;
    case BinaryOp::Ne: compare_typed<T, BinaryOp::Ne>(l); return true;
    case BinaryOp::Lt: compare_typed<T, BinaryOp::Lt>(l); return true;
    case BinaryOp::Le: compare_typed<T, BinaryOp::Le>(l); return true;
    case BinaryOp::Gt: compare_typed<T, BinaryOp::Gt>(l); return true;
    case BinaryOp::Ge: compare_typed<T, BinaryOp::Ge>(l); return true;
    default: return false;
  }
}

// logical_and / logical_or of bool operands (any nonzero byte is true), 32 bytes per step.
template <BinaryOp Op>
void logical_typed(const Loop& l) {
  const size_t isz[3] = {1, 1, 1};
  nd_loop_par<3>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
    auto one = [](uint8_t a, uint8_t b) -> uint8_t { return Op == BinaryOp::LogicalAnd ? (a && b) : (a || b); };
    if (s[0] == 1 && (s[1] == 1 || s[1] == 0) && (s[2] == 1 || s[2] == 0)) {
      uint8_t* o = reinterpret_cast<uint8_t*>(p[0]);
      const uint8_t* a = reinterpret_cast<const uint8_t*>(p[1]);
      const uint8_t* b = reinterpret_cast<const uint8_t*>(p[2]);
      const bool sa = s[1] == 0, sb = s[2] == 0;
      maybe_parallel(n, [&](int64_t off, int64_t cnt) {
        const uint8_t* aa = sa ? a : a + off;
        const uint8_t* bb = sb ? b : b + off;
        uint8_t* oo = o + off;
        const __m256i zero = _mm256_setzero_si256(), ones = _mm256_set1_epi8(1);
        const __m256i za0 = _mm256_cmpeq_epi8(_mm256_set1_epi8(static_cast<char>(aa[0])), zero),
                      zb0 = _mm256_cmpeq_epi8(_mm256_set1_epi8(static_cast<char>(bb[0])), zero);
        int64_t i = 0;
        for (; i + 32 <= cnt; i += 32) {
          const __m256i za = sa ? za0 : _mm256_cmpeq_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(aa + i)), zero);
          const __m256i zb = sb ? zb0 : _mm256_cmpeq_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(bb + i)), zero);
          // and: neither is zero; or: not both zero
          const __m256i anyzero = Op == BinaryOp::LogicalAnd ? _mm256_or_si256(za, zb) : _mm256_and_si256(za, zb);
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(oo + i), _mm256_andnot_si256(anyzero, ones));
        }
        for (; i < cnt; ++i) oo[i] = one(aa[sa ? 0 : i], bb[sb ? 0 : i]);
      });
      return;
    }
    for (int64_t i = 0; i < n; ++i) st<uint8_t>(p[0] + i * s[0], one(ld<uint8_t>(p[1] + i * s[1]), ld<uint8_t>(p[2] + i * s[2])));
  });
}

// ---------------------------------------------------------------- unary

// One unary op on vectors and on one value. Exact ops (neg, abs, relu, sqrt, reciprocal,
// sign) give the reference's bits in both forms. float32 exp, log, tanh, sigmoid, sin and
// cos take vmath.h's functions, within one ulp of the exact value (and within two of the
// reference's std:: calls: glibc's tanhf is two ulps off at times); their `one` runs the
// same vector function on one lane, so a value's result does not depend on where it sits
// in a run. float64 exp, sigmoid, log, tanh, sin and cos take vmath's exp_pd_full,
// log_pd_full, tanh_pd_full and sincos_pd_full (within one ulp of the exact value; glibc's,
// the reference's, are too, tanh within two).
template <typename T, UnaryOp Op>
struct UnOp {
  using V = Vec<T>;
  using R = typename V::R;
  static constexpr bool kMath = Op == UnaryOp::Exp || Op == UnaryOp::Log || Op == UnaryOp::Tanh ||
                                Op == UnaryOp::Sigmoid || Op == UnaryOp::Sin || Op == UnaryOp::Cos;
  [[gnu::always_inline]] static R vec(R v) {
    if constexpr (Op == UnaryOp::Neg) return V::xor_(v, V::sign());
    else if constexpr (Op == UnaryOp::Abs) return V::andnot(V::sign(), v);
    // x where x > 0 or x is NaN, else +0 (so relu(-0) is +0 as in the reference)
    else if constexpr (Op == UnaryOp::Relu) return V::and_(V::or_(V::gt(v, V::zero()), V::isnan(v)), v);
    else if constexpr (Op == UnaryOp::Sqrt) return sqrt_(v);
    else if constexpr (Op == UnaryOp::Reciprocal) return V::div(V::set1(T(1)), v);
    // (x > 0) - (x < 0): +0 for +-0 and NaN, as in the reference
    else if constexpr (Op == UnaryOp::Sign)
      return V::sub(V::and_(V::gt(v, V::zero()), V::set1(T(1))), V::and_(V::lt(v, V::zero()), V::set1(T(1))));
    else if constexpr (Op == UnaryOp::Exp && sizeof(T) == 8) return vmath::exp_pd_full(v);
    else if constexpr (Op == UnaryOp::Sigmoid && sizeof(T) == 8) return vmath::sigmoid_pd(v);
    else if constexpr (Op == UnaryOp::Log && sizeof(T) == 8) return vmath::log_pd_full(v);
    else if constexpr (Op == UnaryOp::Tanh && sizeof(T) == 8) return vmath::tanh_pd_full(v);
    else if constexpr (Op == UnaryOp::Sin && sizeof(T) == 8) return vmath::sincos_pd_full<false>(v);
    else if constexpr (Op == UnaryOp::Cos && sizeof(T) == 8) return vmath::sincos_pd_full<true>(v);
    else if constexpr (Op == UnaryOp::Exp) return vmath::exp_ps(v);
    else if constexpr (Op == UnaryOp::Log) return vmath::log_ps(v);
    else if constexpr (Op == UnaryOp::Tanh) return vmath::tanh_ps(v);
    else if constexpr (Op == UnaryOp::Sigmoid) return vmath::sigmoid_ps(v);
    else if constexpr (Op == UnaryOp::Sin) return vmath::sincos_ps<false>(v);
    else return vmath::sincos_ps<true>(v);
  }
  static R sqrt_(R v) {
    if constexpr (sizeof(T) == 4) return _mm256_sqrt_ps(v);
    else return _mm256_sqrt_pd(v);
  }
  static T one(T v) {
    if constexpr (Op == UnaryOp::Neg) return -v;
    else if constexpr (Op == UnaryOp::Abs) return std::fabs(v);
    else if constexpr (Op == UnaryOp::Relu) return v > T(0) ? v : (std::isnan(v) ? v : T(0));
    else if constexpr (Op == UnaryOp::Sqrt) return std::sqrt(v);
    else if constexpr (Op == UnaryOp::Reciprocal) return T(1) / v;
    else if constexpr (Op == UnaryOp::Sign) return T((v > 0) - (v < 0));
    else if constexpr (sizeof(T) == 8) return _mm256_cvtsd_f64(vec(_mm256_set1_pd(v)));
    else return _mm256_cvtss_f32(vec(_mm256_set1_ps(v)));
  }
};

// o[i] = op(x[i]) over a contiguous run.
template <typename T, UnaryOp Op>
void unary_run(T* o, const T* x, int64_t n, bool nt) {
  using F = UnOp<T, Op>;
  map_run<T>(
      o, n, nt, [&](int64_t i) EMBER_INLINE_LAMBDA { return F::vec(Vec<T>::load(x + i)); },
      [&](int64_t i) EMBER_INLINE_LAMBDA { return F::one(x[i]); });
}

template <typename T, UnaryOp Op>
void unary_loop(const Loop& l) {
  const size_t isz[2] = {sizeof(T), sizeof(T)};
  nd_loop_par<2>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
    if (s[0] == sizeof(T) && s[1] == sizeof(T)) {
      T* o = reinterpret_cast<T*>(p[0]);
      const T* x = reinterpret_cast<const T*>(p[1]);
      const bool nt = stream_output<T>(n);
      // The math functions cost 10-20x a copy per element: they go to the pool from two chunks.
      maybe_parallel(
          n, [&](int64_t off, int64_t cnt) { unary_run<T, Op>(o + off, x + off, cnt, nt); },
          UnOp<T, Op>::kMath ? 2 * kChunk : kParallelElems);
      return;
    }
    alignas(32) T in[kGather], out[kGather];
    for (int64_t off = 0; off < n; off += kGather) {
      const int64_t cnt = std::min(kGather, n - off);
      for (int64_t i = 0; i < cnt; ++i) in[i] = ld<T>(p[1] + (off + i) * s[1]);
      unary_run<T, Op>(out, in, cnt, false);
      for (int64_t i = 0; i < cnt; ++i) st<T>(p[0] + (off + i) * s[0], out[i]);
    }
  });
}

template <typename T>
bool unary_typed(UnaryOp op, const Loop& l) {
  switch (op) {
    case UnaryOp::Neg: unary_loop<T, UnaryOp::Neg>(l); return true;
    case UnaryOp::Abs: unary_loop<T, UnaryOp::Abs>(l); return true;
    case UnaryOp::Relu: unary_loop<T, UnaryOp::Relu>(l); return true;
    case UnaryOp::Sqrt: unary_loop<T, UnaryOp::Sqrt>(l); return true;
    case UnaryOp::Reciprocal: unary_loop<T, UnaryOp::Reciprocal>(l); return true;
    case UnaryOp::Sign: unary_loop<T, UnaryOp::Sign>(l); return true;
    case UnaryOp::Exp: unary_loop<T, UnaryOp::Exp>(l); return true;
    case UnaryOp::Log: unary_loop<T, UnaryOp::Log>(l); return true;
    case UnaryOp::Tanh: unary_loop<T, UnaryOp::Tanh>(l); return true;
    case UnaryOp::Sigmoid: unary_loop<T, UnaryOp::Sigmoid>(l); return true;
    case UnaryOp::Sin: unary_loop<T, UnaryOp::Sin>(l); return true;
    case UnaryOp::Cos: unary_loop<T, UnaryOp::Cos>(l); return true;
    default: return false;  // LogicalNot (bool out)
  }
}

// ---------------------------------------------------------------- clamp

template <typename T>
void clamp_run(T* o, const T* x, int64_t n, bool has_lo, T lo, bool has_hi, T hi, bool nt) {
  using V = Vec<T>;
  // max(lo, x) is lo > x ? lo : x, so a NaN x stays NaN; likewise min(hi, .)
  const typename V::R vlo = V::set1(has_lo ? lo : -HUGE_VAL), vhi = V::set1(has_hi ? hi : HUGE_VAL);
  map_run<T>(
      o, n, nt, [&](int64_t i) { return V::min(vhi, V::max(vlo, V::load(x + i))); },
      [&](int64_t i) {
        T v = x[i];
        if (!std::isnan(v)) {
          if (has_lo && v < lo) v = lo;
          if (has_hi && v > hi) v = hi;
        }
        return v;
      });
}

template <typename T>
bool clamp_typed(const Loop& l, const ScalarValue* lo, const ScalarValue* hi) {
  const T vlo = lo ? static_cast<T>(lo->f) : T(0), vhi = hi ? static_cast<T>(hi->f) : T(0);
  if ((lo && std::isnan(vlo)) || (hi && std::isnan(vhi))) return false;  // rare: the reference handles it
  const size_t isz[2] = {sizeof(T), sizeof(T)};
  nd_loop_par<2>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
    if (s[0] == sizeof(T) && s[1] == sizeof(T)) {
      T* o = reinterpret_cast<T*>(p[0]);
      const T* x = reinterpret_cast<const T*>(p[1]);
      const bool nt = stream_output<T>(n);
      maybe_parallel(n, [&](int64_t off, int64_t cnt) { clamp_run<T>(o + off, x + off, cnt, lo, vlo, hi, vhi, nt); });
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      T v = ld<T>(p[1] + i * s[1]);
      if (!std::isnan(v)) {
        if (lo && v < vlo) v = vlo;
        if (hi && v > vhi) v = vhi;
      }
      st<T>(p[0] + i * s[0], v);
    }
  });
  return true;
}

// Gradients masked by their input, out = pass(x) ? g : 0, in one pass: the mask is never
// stored (as a bool tensor it took a comparison's pass, then where's). vpass(x) is the
// vector form (all ones where the gradient passes), spass(x) the scalar one. g contiguous
// or a broadcast scalar (the gradient of a sum).
template <typename T, typename VP, typename SP>
void masked_grad(const Loop& l, VP vpass, SP spass) {
  using V = Vec<T>;
  const size_t isz[3] = {sizeof(T), sizeof(T), sizeof(T)};
  nd_loop_par<3>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
    if (vector_run(s, 2, sizeof(T)) && s[2] != 0) {
      T* o = reinterpret_cast<T*>(p[0]);
      const T* g = reinterpret_cast<const T*>(p[1]);
      const T* x = reinterpret_cast<const T*>(p[2]);
      const bool nt = stream_output<T>(n);
      with_flags(s[1] == 0, false, [&](auto sg, auto) {
        maybe_parallel(n, [&](int64_t off, int64_t cnt) {
          const T* gg = sg ? g : g + off;
          const T* xx = x + off;
          const typename V::R g0 = V::set1(g[0]);
          map_run<T>(
              o + off, cnt, nt,
              [&](int64_t i) EMBER_INLINE_LAMBDA { return V::and_(vpass(V::load(xx + i)), sg ? g0 : V::load(gg + i)); },
              [&](int64_t i) EMBER_INLINE_LAMBDA { return spass(xx[i]) ? gg[sg ? 0 : i] : T(0); });
        });
      });
      return;
    }
    for (int64_t i = 0; i < n; ++i) st<T>(p[0] + i * s[0], spass(ld<T>(p[2] + i * s[2])) ? ld<T>(p[1] + i * s[1]) : T(0));
  });
}

// clamp's gradient: x >= lo && x <= hi. A missing bound is an infinite one, which every
// number passes and NaN fails, as the reference's comparison does.
template <typename T>
void clamp_backward_typed(const Loop& l, const ScalarValue* lo, const ScalarValue* hi) {
  using V = Vec<T>;
  const T vlo = lo ? static_cast<T>(lo->f) : -static_cast<T>(HUGE_VAL);
  const T vhi = hi ? static_cast<T>(hi->f) : static_cast<T>(HUGE_VAL);
  const typename V::R l0 = V::set1(vlo), h0 = V::set1(vhi);
  masked_grad<T>(
      l, [&](typename V::R x) EMBER_INLINE_LAMBDA { return V::and_(V::ge(x, l0), V::le(x, h0)); },
      [&](T x) EMBER_INLINE_LAMBDA { return x >= vlo && x <= vhi; });
}

// threshold_backward (relu's gradient): not x <= th, so a NaN x passes the gradient.
template <typename T>
void threshold_backward_typed(const Loop& l, ScalarValue th) {
  using V = Vec<T>;
  const T t = static_cast<T>(th.f);
  const typename V::R t0 = V::set1(t);
  masked_grad<T>(
      l, [&](typename V::R x) EMBER_INLINE_LAMBDA { return V::nle(x, t0); },
      [&](T x) EMBER_INLINE_LAMBDA { return !(x <= t); });
}

// ---------------------------------------------------------------- where

template <typename T>
void where_typed(const Loop& l) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const size_t isz[4] = {sizeof(T), 1, sizeof(T), sizeof(T)};
  nd_loop_par<4>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
    const bool ok = s[0] == sizeof(T) && (s[1] == 1 || s[1] == 0) && (s[2] == sizeof(T) || s[2] == 0) &&
                    (s[3] == sizeof(T) || s[3] == 0);
    if (!ok) {
      for (int64_t i = 0; i < n; ++i)
        st<T>(p[0] + i * s[0], ld<bool>(p[1] + i * s[1]) ? ld<T>(p[2] + i * s[2]) : ld<T>(p[3] + i * s[3]));
      return;
    }
    T* o = reinterpret_cast<T*>(p[0]);
    const char* c = p[1];
    const T* a = reinterpret_cast<const T*>(p[2]);
    const T* b = reinterpret_cast<const T*>(p[3]);
    const bool sc = s[1] == 0;
    with_flags(s[2] == 0, s[3] == 0, [&](auto sa, auto sb) {
      maybe_parallel(n, [&](int64_t off, int64_t cnt) {
        const char* cc = sc ? c : c + off;
        const T* aa = sa ? a : a + off;
        const T* bb = sb ? b : b + off;
        T* oo = o + off;
        const typename V::R va = V::set1(aa[0]), vb = V::set1(bb[0]);
        int64_t i = 0;
        if (sc) {  // a scalar condition: the output is all of one operand
          const bool take_a = ld<bool>(cc);
          for (; i + W <= cnt; i += W)
            V::store(oo + i, take_a ? (sa ? va : V::load(aa + i)) : (sb ? vb : V::load(bb + i)));
        } else {
          for (; i + W <= cnt; i += W)
            V::store(oo + i, V::blend(sb ? vb : V::load(bb + i), sa ? va : V::load(aa + i), V::from_bool(cc + i)));
        }
        for (; i < cnt; ++i) oo[i] = ld<bool>(cc + (sc ? 0 : i)) ? aa[sa ? 0 : i] : bb[sb ? 0 : i];
      });
    });
  });
}

// ---------------------------------------------------------------- sum

// Sum of a contiguous run, accumulated in double. float32 first adds up to 1024 elements in 8
// float vectors (each lane sums at most 16 values, as numpy's pairwise summation does at its
// lowest level), then widens them into the 4 double accumulators; float64 adds into 4
// double vectors. The float loop is kept rolled, with the loads in address order: fully
// unrolled (GCC -O3's choice), the same sums read 1e7 floats at 12.6-13.0 GB/s on the
// Zen 1 machine, rolled at 16.6-17.1 (with 4 values per lane, 14.0-14.3).
// With kAhead, every line is asked for kSumAhead bytes before it is read, while that is
// still inside the run (which ends at `end`, past this block). Whether that pays depends
// on the core (sum_asks_ahead): a standalone loop over 1e7 floats from memory, medians of
// 30 calls, 1 thread:
// - Zen 5: 22-36 GB/s from the hardware prefetchers alone, 51-54 with every line asked
//   for 16 KiB ahead (8 KiB 45-50, 4 KiB 37-41, 32 KiB 47-53);
// - Zen 3: 20.9-21.1 GB/s alone against 17.0-18.1 asked 2-16 KiB ahead (two runs); in
//   a third, 24.6 alone, 21.6 asked into L1 and 22.0-23.5 into L2. On 2 threads 39-50
//   either way.
constexpr int64_t kSumAhead = 16 << 10;
template <bool kAhead, typename T>
double sum_block(const T* x, int64_t n, const T* end) {
  const uintptr_t stop = reinterpret_cast<uintptr_t>(end);
  auto ahead = [stop](const T* p) [[gnu::always_inline]] {  // the line kSumAhead past p
    if constexpr (kAhead) {
      const uintptr_t q = reinterpret_cast<uintptr_t>(p) + kSumAhead;
      if (q < stop) prefetch::line(reinterpret_cast<const void*>(q));
    }
  };
  __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  if constexpr (sizeof(T) == 4) {
    auto widen = [&](__m256 lo, __m256 hi) {
      a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(lo)));
      a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(lo, 1)));
      a2 = _mm256_add_pd(a2, _mm256_cvtps_pd(_mm256_castps256_ps128(hi)));
      a3 = _mm256_add_pd(a3, _mm256_cvtps_pd(_mm256_extractf128_ps(hi, 1)));
    };
    // Groups of 1024, and then one of the whole 64s left (a row of 1000: 960 values in
    // float lanes of 15 values, then 40 widened; 1000 x 1000 sum(1), 1 thread: 0.109 -> 0.070
    // ms, torch 0.061-0.067).
    constexpr int64_t kGroup = 1024;
    for (int64_t g; (g = std::min(kGroup, (n - i) / 64 * 64)) > 0; i += g) {
      __m256 f0 = _mm256_loadu_ps(x + i), f1 = _mm256_loadu_ps(x + i + 8), f2 = _mm256_loadu_ps(x + i + 16),
             f3 = _mm256_loadu_ps(x + i + 24), f4 = _mm256_loadu_ps(x + i + 32), f5 = _mm256_loadu_ps(x + i + 40),
             f6 = _mm256_loadu_ps(x + i + 48), f7 = _mm256_loadu_ps(x + i + 56);
      for (int64_t l = 0; l < 4; ++l) ahead(x + i + 16 * l);
#pragma GCC unroll 1
      for (const T* p = x + i + 64; p < x + i + g; p += 64) {
        for (int64_t l = 0; l < 4; ++l) ahead(p + 16 * l);
        f0 = _mm256_add_ps(f0, _mm256_loadu_ps(p));
        f1 = _mm256_add_ps(f1, _mm256_loadu_ps(p + 8));
        f2 = _mm256_add_ps(f2, _mm256_loadu_ps(p + 16));
        f3 = _mm256_add_ps(f3, _mm256_loadu_ps(p + 24));
        f4 = _mm256_add_ps(f4, _mm256_loadu_ps(p + 32));
        f5 = _mm256_add_ps(f5, _mm256_loadu_ps(p + 40));
        f6 = _mm256_add_ps(f6, _mm256_loadu_ps(p + 48));
        f7 = _mm256_add_ps(f7, _mm256_loadu_ps(p + 56));
      }
      widen(f0, f1);
      widen(f2, f3);
      widen(f4, f5);
      widen(f6, f7);
    }
    // The rest (fewer than 64) into the four accumulators, 16 at a time.
    for (; i + 16 <= n; i += 16) {
      widen(_mm256_loadu_ps(x + i), _mm256_loadu_ps(x + i + 8));
    }
    for (; i + 8 <= n; i += 8) {
      __m256 v = _mm256_loadu_ps(x + i);
      a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
      a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
  } else {
    for (; i + 16 <= n; i += 16) {
      ahead(x + i);
      ahead(x + i + 8);
      a0 = _mm256_add_pd(a0, _mm256_loadu_pd(x + i));
      a1 = _mm256_add_pd(a1, _mm256_loadu_pd(x + i + 4));
      a2 = _mm256_add_pd(a2, _mm256_loadu_pd(x + i + 8));
      a3 = _mm256_add_pd(a3, _mm256_loadu_pd(x + i + 12));
    }
  }
  __m256d s = _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3));
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, s);
  double r = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; ++i) r += static_cast<double>(x[i]);
  return r;
}

// Whether sum_block asks for lines ahead on this CPU: on AMD family 0x1a (Zen 5) and
// later, where it was measured to pay; not on Zen 3, where it costs, nor on CPUs it was
// not measured on.
bool sum_asks_ahead() {
  static const bool yes = amd_cpu_family() >= 0x1a;
  return yes;
}

template <typename T>
double sum_contiguous(const T* x, int64_t n) {
  const int64_t nb = (n + kSumBlock - 1) / kSumBlock;
  const bool ask = sum_asks_ahead();
  auto sum_one = [ask](const T* p, int64_t cnt, const T* end) {
    return ask ? sum_block<true>(p, cnt, end) : sum_block<false>(p, cnt, end);
  };
  if (nb == 1) return sum_one(x, n, x + n);
  double partial_stack[64];
  double* partial = partial_stack;
  std::unique_ptr<double[]> heap;
  if (nb > 64) {
    heap.reset(new double[nb]);
    partial = heap.get();
  }
  auto block = [&](int64_t b) {
    const int64_t cnt = std::min(kSumBlock, n - b * kSumBlock);
    partial[b] = sum_one(x + b * kSumBlock, cnt, x + n);
    interrupt::poll(cnt);
  };
  // Threads take runs of kSumTaskBlocks adjacent blocks, so each reads one long stream
  // (and its lines asked for ahead are its own).
  const int64_t ntask = (nb + kSumTaskBlocks - 1) / kSumTaskBlocks;
  if (n >= kParallelElems && !parallel::in_parallel_region())
    parallel::parallel_for(ntask, [&](int64_t t) {
      for (int64_t b = t * kSumTaskBlocks, e = std::min(nb, b + kSumTaskBlocks); b < e; ++b) block(b);
    });
  else for (int64_t b = 0; b < nb; ++b) block(b);
  double r = 0;
  for (int64_t b = 0; b < nb; ++b) r += partial[b];
  return r;
}

// The inner space collapsed to one run of stride 1, if it is one.
bool inner_contiguous(const Loop& inner, int64_t& n) {
  n = 1;
  int64_t expect = 1;
  for (int d = inner.ndim - 1; d >= 0; --d) {
    if (inner.shape[d] == 0) return false;
    if (inner.shape[d] != 1 && inner.strides[1][d] != expect) return false;
    expect *= inner.shape[d];
    n *= inner.shape[d];
  }
  return true;
}

// 4 values from p widened to doubles (the sums over one dim add in double); the masked form
// reads only the lanes of m (mask4), so nothing past a row's end is touched.
[[gnu::always_inline]] inline __m256d widen4(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
[[gnu::always_inline]] inline __m256d widen4(const double* p) { return _mm256_loadu_pd(p); }
template <typename T>
[[gnu::always_inline]] inline __m256d widen4_masked(const T* p, __m256i m) {
  if constexpr (sizeof(T) == 4) return _mm256_cvtps_pd(_mm_maskload_ps(p, _mm256_castsi256_si128(m)));
  else return _mm256_maskload_pd(p, m);
}
// The first min(avail, 4) lanes of 4 (none for avail <= 0): float32's in the low 128 bits
// (32-bit lanes), float64's in all 256 (64-bit lanes).
template <typename T>
[[gnu::always_inline]] inline __m256i mask4(int64_t avail) {
  const int64_t n = std::clamp<int64_t>(avail, 0, 4);
  if constexpr (sizeof(T) == 4)
    return _mm256_castsi128_si256(_mm_cmpgt_epi32(_mm_set1_epi32(static_cast<int>(n)), _mm_setr_epi32(0, 1, 2, 3)));
  else return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
}

// Column sums of a (rows x nc) block with contiguous columns at row stride rs, nc <= kColTask:
// out[j] = sum over rows in row order, in double. Blocks of kColRows rows are swept in
// register chunks of 32 columns (8 vectors of 4 doubles); the last chunk, narrower, in as
// many vectors as it needs, the last one loaded under a mask (its lanes past nc read
// nothing and add 0). It was a scalar loop: 4096 x 10 took 12-18 us, now 3.9-4.7. The
// rows of a block are read side by side, so a block must not hold more rows than L1 has
// ways: rows a multiple of 4 KiB apart fall in the same L1 set. Blocks of 64 rows of a 4096 x 1024
// float32 input (4 KiB rows) thrashed one set and read from L2 on every access: sum(0) took
// 3.0-3.3 ms on 1 thread on the Zen 3 machine (numpy 0.9-1.0 ms); 8-row blocks 0.79-0.85 ms
// (C++ harness, median of 60 calls). A task of 512 columns reads 2 KiB of each such row, not
// 1 KiB (256 columns: 0.90-0.93 ms). float32 is widened 4 values at a time straight from
// memory (vcvtps2pd with a 16-byte memory operand) instead of a 32-byte load split by
// vextractf128. Both changes, C++ harness on the Zen 3 machine, 1 thread, input 16 bytes off
// a line (as numpy's), medians of 101 alternating runs, two runs, us: 1000 x 1000 154-170 ->
// 102-114, 4096 x 1024 875-879 -> 646-679, 4096 x 33 30 -> 17, 256 x 1024 44 -> 31; the
// same bits.
constexpr int64_t kColTask = 512, kColRows = 8;
template <typename T>
void column_sums(const T* in, int64_t rows, int64_t rs, int64_t nc, T* out) {
  alignas(32) double acc[kColTask] = {};
  // At most one chunk of columns: no line is read by two chunks, so all rows make one block
  // and the accumulators stay in registers (a store and reload every 8 rows lengthened the
  // chain of adds: 4096 x 10 8.6 against 4.6 us).
  const int64_t block = nc <= 32 ? rows : kColRows;
  for (int64_t r0 = 0; r0 < rows; r0 += block) {
    const int64_t r1 = std::min(rows, r0 + block);
    for (int64_t j = 0; j < nc; j += 32) {
      const int64_t w = std::min<int64_t>(32, nc - j);  // j + 32 <= kColTask: acc has the lanes
      __m256d a[8];
      for (int q = 0; q < 8; ++q) a[q] = _mm256_load_pd(acc + j + 4 * q);
      if (w == 32) {
        for (int64_t r = r0; r < r1; ++r) {
          const T* x = in + r * rs + j;
          for (int q = 0; q < 8; ++q) a[q] = _mm256_add_pd(a[q], widen4(x + 4 * q));
        }
      } else {  // ng groups of 4 columns, the last one masked; no branch per row
        auto narrow = [&](auto ng_c) [[gnu::always_inline]] {
          constexpr int NG = decltype(ng_c)::value;
          const __m256i mlast = mask4<T>(w - 4 * (NG - 1));
          for (int64_t r = r0; r < r1; ++r) {
            const T* x = in + r * rs + j;
            for (int q = 0; q < NG - 1; ++q) a[q] = _mm256_add_pd(a[q], widen4(x + 4 * q));
            a[NG - 1] = _mm256_add_pd(a[NG - 1], widen4_masked<T>(x + 4 * (NG - 1), mlast));
          }
        };
        switch ((w + 3) / 4) {
          case 1: narrow(std::integral_constant<int, 1>{}); break;
          case 2: narrow(std::integral_constant<int, 2>{}); break;
          case 3: narrow(std::integral_constant<int, 3>{}); break;
          case 4: narrow(std::integral_constant<int, 4>{}); break;
          case 5: narrow(std::integral_constant<int, 5>{}); break;
          case 6: narrow(std::integral_constant<int, 6>{}); break;
          case 7: narrow(std::integral_constant<int, 7>{}); break;
          default: narrow(std::integral_constant<int, 8>{}); break;
        }
      }
      for (int q = 0; q < 8; ++q) _mm256_store_pd(acc + j + 4 * q, a[q]);
    }
  }
  for (int64_t j = 0; j < nc; ++j) out[j] = static_cast<T>(acc[j]);
}

// Column sums over the pool, when the loop is one: one outer dim contiguous in the input and
// the output, one reduced dim. cols(in, rows, rs, nc, out) sums a task's kColTask columns.
template <typename T, typename Cols>
bool column_sum_loop(const Loop& outer, const Loop& inner, Cols cols) {
  if (outer.ndim != 1 || inner.ndim != 1 || outer.strides[0][0] != 1 || outer.strides[1][0] != 1) return false;
  const int64_t no = outer.shape[0], rows = inner.shape[0], rs = inner.strides[1][0];
  T* out = reinterpret_cast<T*>(outer.ptr[0]);
  const T* in = reinterpret_cast<const T*>(outer.ptr[1]);
  const int64_t tasks = (no + kColTask - 1) / kColTask;
  auto task = [&](int64_t t) {
    const int64_t j0 = t * kColTask;
    cols(in + j0, rows, rs, std::min(kColTask, no - j0), out + j0);
    interrupt::poll(rows * std::min(kColTask, no - j0));
  };
  if (rows * no >= kParallelElems && !parallel::in_parallel_region()) parallel::parallel_for(tasks, task);
  else for (int64_t t = 0; t < tasks; ++t) task(t);
  return true;
}

// Sums of short contiguous rows (n <= kShortRow values), one row at a time with no loop
// of its own: the row in four masked loads of 4 (nothing past it is read), widened into
// four vectors of 4 doubles, added as (a0 + a1) + (a2 + a3) and then lane pairs. Rows [r0, r1) of an
// outer loop with input rows si bytes apart and outputs so bytes apart. Through the general
// path (sum_contiguous per row) 4096 x 10 float32 took 37-44 us on 1 thread on the Zen 3
// machine, torch 28-29.
constexpr int64_t kShortRow = 16;
template <typename T>
void short_row_sums(const char* in, int64_t si, char* out, int64_t so, int64_t r0, int64_t r1, int64_t n) {
  __m256i m[4];
  for (int q = 0; q < 4; ++q) m[q] = mask4<T>(n - 4 * q);
  for (int64_t r = r0; r < r1; ++r) {
    const T* x = reinterpret_cast<const T*>(in + r * si);
    const __m256d s = _mm256_add_pd(_mm256_add_pd(widen4_masked(x, m[0]), widen4_masked(x + 4, m[1])),
                                    _mm256_add_pd(widen4_masked(x + 8, m[2]), widen4_masked(x + 12, m[3])));
    const __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    st<T>(out + r * so, static_cast<T>(_mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)))));
  }
}

template <typename T>
bool sum_typed(const Loop& outer, const Loop& inner) {
  int64_t n = 0;
  if (inner_contiguous(inner, n)) {
    if (outer.ndim == 1 && n <= kShortRow) {
      const int64_t rows = outer.shape[0];
      const int64_t so = outer.strides[0][0] * static_cast<int64_t>(sizeof(T));
      const int64_t si = outer.strides[1][0] * static_cast<int64_t>(sizeof(T));
      if (rows * n >= kParallelElems && !parallel::in_parallel_region()) {
        const int64_t per = kChunk / n;
        parallel::parallel_for((rows + per - 1) / per, [&](int64_t b) {
          short_row_sums<T>(outer.ptr[1], si, outer.ptr[0], so, b * per, std::min(rows, (b + 1) * per), n);
          interrupt::poll(per * n);
        });
      } else {
        short_row_sums<T>(outer.ptr[1], si, outer.ptr[0], so, 0, rows, n);
        interrupt::poll(rows * n);
      }
      return true;
    }
    // Many short rows (x.sum(1)): blocks of whole rows go to the pool, each row summed as
    // on one thread. 1000 x 1000 float32 on 2 threads: 0.13 -> 0.07 ms.
    if (outer.ndim == 1 && n < kParallelElems && outer.shape[0] * n >= kParallelElems &&
        !parallel::in_parallel_region()) {
      const int64_t rows = outer.shape[0], per = (kChunk + n - 1) / n;
      const int64_t so = outer.strides[0][0] * static_cast<int64_t>(sizeof(T));
      const int64_t si = outer.strides[1][0] * static_cast<int64_t>(sizeof(T));
      parallel::parallel_for((rows + per - 1) / per, [&](int64_t b) {
        for (int64_t r = b * per, e = std::min(rows, r + per); r < e; ++r) {
          const T* x = reinterpret_cast<const T*>(outer.ptr[1] + r * si);
          st<T>(outer.ptr[0] + r * so, static_cast<T>(sum_contiguous(x, n)));
        }
        interrupt::poll(per * n);
      });
      return true;
    }
    const size_t isz[2] = {sizeof(T), sizeof(T)};
    nd_loop<2>(outer, isz, [&](char** po, const int64_t* so, int64_t no) {
      interrupt::Poller poller;
      for (int64_t o = 0; o < no; ++o) {
        st<T>(po[0] + o * so[0], static_cast<T>(sum_contiguous(reinterpret_cast<const T*>(po[1] + o * so[1]), n)));
        poller.add(n);
      }
    });
    return true;
  }
  // Column sums: each output is summed in double in row order, exactly as the reference does.
  return column_sum_loop<T>(outer, inner, column_sums<T>);
}

// ---------------------------------------------------------------- max / min

// The reference's max (min) of a contiguous run of n >= 1 values: the first NaN if there is
// one, else the largest (smallest) value, the first of equal ones (which only tells +0 from
// -0). The vector loop finds the value and whether a NaN occurs; a NaN, or a zero result,
// sends the run to the reference's own scan, which picks the first NaN or the first zero.
template <typename T, bool IsMax>
T extreme_scan(const T* x, int64_t n) {
  T best = x[0];
  for (int64_t i = 1; i < n; ++i) {
    if (std::isnan(best)) break;
    if (std::isnan(x[i]) || (IsMax ? x[i] > best : x[i] < best)) best = x[i];
  }
  return best;
}
template <typename T, bool IsMax>
T extreme_run(const T* x, int64_t n) {
  using V = Vec<T>;
  using R = typename V::R;
  constexpr int W = V::W;
  auto pick = [](R a, R b) EMBER_INLINE_LAMBDA { return IsMax ? V::max(a, b) : V::min(a, b); };
  R m0 = V::set1(x[0]), m1 = m0, m2 = m0, m3 = m0, nan = V::zero();
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    const R a = V::load(x + i), b = V::load(x + i + W), c = V::load(x + i + 2 * W), d = V::load(x + i + 3 * W);
    nan = V::or_(nan, V::or_(V::or_(V::isnan(a), V::isnan(b)), V::or_(V::isnan(c), V::isnan(d))));
    m0 = pick(m0, a), m1 = pick(m1, b), m2 = pick(m2, c), m3 = pick(m3, d);
  }
  alignas(32) T lanes[W], flags[W];
  V::store(lanes, pick(pick(m0, m1), pick(m2, m3)));
  V::store(flags, nan);
  bool any_nan = false;
  T best = lanes[0];
  for (int k = 0; k < W; ++k) {
    T f = flags[k];
    uint64_t bits = 0;
    std::memcpy(&bits, &f, sizeof(T));
    any_nan |= bits != 0;
    if (IsMax ? lanes[k] > best : lanes[k] < best) best = lanes[k];
  }
  for (; i < n; ++i) {
    any_nan |= std::isnan(x[i]);
    if (IsMax ? x[i] > best : x[i] < best) best = x[i];
  }
  if (any_nan || best == T(0)) return extreme_scan<T, IsMax>(x, n);
  return best;
}

// Max / Min over a contiguous inner space. Long runs go to the pool in chunks of a size
// fixed by n; the chunks' results are combined in order by the reference's rule, so the
// result is the reference's on any thread count.
template <typename T>
bool extreme_typed(ReduceOp op, const Loop& outer, const Loop& inner) {
  int64_t n = 0;
  if (!inner_contiguous(inner, n)) return false;
  const bool is_max = op == ReduceOp::Max;
  auto run = [is_max](const T* x, int64_t cnt) {
    return is_max ? extreme_run<T, true>(x, cnt) : extreme_run<T, false>(x, cnt);
  };
  const size_t isz[2] = {sizeof(T), sizeof(T)};
  nd_loop<2>(outer, isz, [&](char** po, const int64_t* so, int64_t no) {
    for (int64_t o = 0; o < no; ++o) {
      const T* x = reinterpret_cast<const T*>(po[1] + o * so[1]);
      T best;
      if (n >= kParallelElems && !parallel::in_parallel_region()) {
        const int64_t chunks = (n + kChunk - 1) / kChunk;
        std::vector<T> part(static_cast<size_t>(chunks));
        parallel::parallel_for(chunks, [&](int64_t c) {
          const int64_t b = c * kChunk, cnt = std::min(kChunk, n - b);
          part[c] = run(x + b, cnt);
          interrupt::poll(cnt);
        });
        best = is_max ? extreme_scan<T, true>(part.data(), chunks) : extreme_scan<T, false>(part.data(), chunks);
      } else {
        best = run(x, n);
        interrupt::poll(n);
      }
      st<T>(po[0] + o * so[0], best);
    }
  });
  return true;
}

// ---------------------------------------------------------------- copy

// Copies `bytes` bytes: 32-byte vectors, streamed past the cache when the whole copy is
// larger than kStreamBytes (`nt`), after a head that aligns the destination.
void copy_bytes(char* dst, const char* src, int64_t bytes, bool nt) {
  int64_t i = 0;
  if (nt) {
    const int64_t head = std::min<int64_t>(bytes, (32 - (reinterpret_cast<uintptr_t>(dst) & 31)) & 31);
    std::memcpy(dst, src, static_cast<size_t>(head));
    for (i = head; i + 128 <= bytes; i += 128) {
      const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)),
                    v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 32)),
                    v2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 64)),
                    v3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 96));
      _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i), v0);
      _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 32), v1);
      _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 64), v2);
      _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 96), v3);
    }
    _mm_sfence();
  }
  std::memcpy(dst + i, src + i, static_cast<size_t>(bytes - i));
}

// One dense run of a same-dtype copy that does not overlap itself: split over the pool
// (PyTorch's copy_ of 1e6 floats runs on both cores), streamed when large. False for
// anything else (dtype conversion, strided or short runs), which the reference copies.
bool copy_dense(DType dst, DType src, const Loop& l) {
  if (dst != src || l.ndim != 1) return false;
  const int64_t sz = static_cast<int64_t>(itemsize(dst)), n = l.shape[0];
  if (n < kParallelElems || l.strides[0][0] != 1 || l.strides[1][0] != 1) return false;
  char* o = l.ptr[0];
  const char* x = l.ptr[1];
  if (o < x + n * sz && x < o + n * sz) return false;  // overlapping: the reference memmoves
  const bool nt = n * sz >= kStreamBytes;
  auto run = [&](int64_t b, int64_t cnt) { copy_bytes(o + b * sz, x + b * sz, cnt * sz, nt); };
  run_chunked(n, run);
  return true;
}

// The bytes an operand of the loop spans, [lo, hi).
void byte_range(const Loop& l, int k, int64_t sz, const char*& lo, const char*& hi) {
  int64_t neg = 0, pos = 0;
  for (int d = 0; d < l.ndim; ++d) {
    const int64_t e = (l.shape[d] - 1) * l.strides[k][d] * sz;
    (e < 0 ? neg : pos) += e;
  }
  lo = l.ptr[k] + neg;
  hi = l.ptr[k] + pos + sz;
}

template <int64_t SZ>
void copy_elems(char* o, int64_t so, const char* x, int64_t sx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) std::memcpy(o + i * so, x + i * sx, SZ);
}

// The transposing copy of a loop whose last dim is contiguous in the output and whose
// second-last is contiguous in the input, for 4- and 8-byte elements (the values move as
// bits: int64 takes the double path); the dims before are walked one matrix at a time,
// and blocks of rows go to the pool. False for other loops.
bool copy_transposed(int64_t sz, const Loop& l) {
  const int nd = l.ndim;
  if (nd < 2 || (sz != 4 && sz != 8) || l.strides[0][nd - 1] != 1 || !transposed_operand(l, 1, sz)) return false;
  const int64_t os = l.strides[0][nd - 2], xs = l.strides[1][nd - 1], C = l.shape[nd - 1];
  transpose_blocks<2>(l, sz, [&](int64_t r0, int64_t r1, char** p) {
    if (sz == 4) transpose_rows(reinterpret_cast<float*>(p[0]), os, reinterpret_cast<const float*>(p[1]), xs, r0, r1, C);
    else transpose_rows(reinterpret_cast<double*>(p[0]), os, reinterpret_cast<const double*>(p[1]), xs, r0, r1, C);
  });
  return true;
}

// A same-dtype copy of 2 or more dims that is not one dense run (x.t().contiguous(), a
// strided view's copy_): rows go to the pool, a transposed side is walked in tiles
// (nd_loop_par), and contiguous rows are copied whole. False for a copy whose two sides
// share bytes (the reference handles it) or for a small one. 4096 x 1024 float32,
// x.t().contiguous(), before -> after (the reference's element loop before): 1 thread
// 33.1 -> 20.5 ms, 2 threads 32.4 -> 11.5 (torch 13.7-17.2, on one thread either way).
bool copy_strided(DType dst, DType src, const Loop& l) {
  if (dst != src || l.ndim < 2) return false;
  int64_t n = 1;
  for (int d = 0; d < l.ndim; ++d) n *= l.shape[d];
  if (n < 4 * kTile * kTile) return false;
  const int64_t sz = static_cast<int64_t>(itemsize(dst));
  const char *olo, *ohi, *xlo, *xhi;
  byte_range(l, 0, sz, olo, ohi);
  byte_range(l, 1, sz, xlo, xhi);
  if (reinterpret_cast<uintptr_t>(olo) < reinterpret_cast<uintptr_t>(xhi) &&
      reinterpret_cast<uintptr_t>(xlo) < reinterpret_cast<uintptr_t>(ohi))
    return false;
  if (copy_transposed(sz, l)) return true;
  const size_t isz[2] = {static_cast<size_t>(sz), static_cast<size_t>(sz)};
  nd_loop_par<2>(l, isz, [&](char** p, const int64_t* s, int64_t cnt) {
    if (s[0] == sz && s[1] == sz) {
      std::memcpy(p[0], p[1], static_cast<size_t>(cnt * sz));
      return;
    }
    switch (sz) {
      case 1: copy_elems<1>(p[0], s[0], p[1], s[1], cnt); break;
      case 4: copy_elems<4>(p[0], s[0], p[1], s[1], cnt); break;
      default: copy_elems<8>(p[0], s[0], p[1], s[1], cnt); break;
    }
  });
  return true;
}

// ---------------------------------------------------------------- conversions and fills

// Dense conversions that models make: bool masks to float32 / float64 (x * (x > 0) casts its
// mask first) and to int64 ((a == b).sum() sums in int64), float32 <-> float64, int64 <->
// float32 / float64 (labels and indices), and floats and int64 to bool (x != 0, NaN true). The reference
// converts these element by element through a switch: 4096 x 1024 bool -> float32 took 6.9 ms
// on 1 thread (torch 2.9).
// The reference's float -> int64 rule: NaN is 0, out-of-range values saturate, the rest
// truncate toward zero.
template <typename S>
int64_t float_to_int64(S v) {
  if (std::isnan(v)) return 0;
  if (v >= static_cast<S>(std::numeric_limits<int64_t>::max())) return std::numeric_limits<int64_t>::max();
  if (v <= static_cast<S>(std::numeric_limits<int64_t>::min())) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

template <typename D, typename S>
void convert_run(D* o, const S* x, int64_t n) {
  int64_t i = 0;
  if constexpr (std::is_same_v<S, bool>) {  // a nonzero byte's lane mask, and'ed with 1.0
    using V = Vec<D>;
    const typename V::R one = V::set1(D(1));
    for (; i + V::W <= n; i += V::W) V::store(o + i, V::and_(V::from_bool(reinterpret_cast<const char*>(x + i)), one));
  } else if constexpr (std::is_same_v<S, float> && std::is_same_v<D, double>) {
    for (; i + 4 <= n; i += 4) _mm256_storeu_pd(o + i, _mm256_cvtps_pd(_mm_loadu_ps(x + i)));
  } else if constexpr (std::is_same_v<S, double> && std::is_same_v<D, float>) {
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(o + i, _mm256_cvtpd_ps(_mm256_loadu_pd(x + i)));
  } else if constexpr (std::is_same_v<S, int64_t> && std::is_floating_point_v<D>) {
    // Four lanes of |x| < 2^51 at a time: x's bits added to 1.5 * 2^52's make the double
    // 1.5 * 2^52 + x exactly, and subtracting 1.5 * 2^52 leaves x; float rounds that exact
    // double once, as a direct conversion would. Other groups take the scalar loop.
    const __m256i lim = _mm256_set1_epi64x(int64_t{1} << 51), nlim = _mm256_set1_epi64x(-(int64_t{1} << 51));
    const __m256d magic = _mm256_set1_pd(6755399441055744.0);
    for (; i + 4 <= n; i += 4) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
      const __m256i ok = _mm256_and_si256(_mm256_cmpgt_epi64(lim, v), _mm256_cmpgt_epi64(v, nlim));
      if (_mm256_movemask_pd(_mm256_castsi256_pd(ok)) != 15) {
        for (int k = 0; k < 4; ++k) o[i + k] = static_cast<D>(x[i + k]);
        continue;
      }
      const __m256d d = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64(v, _mm256_castpd_si256(magic))), magic);
      if constexpr (std::is_same_v<D, double>) _mm256_storeu_pd(o + i, d);
      else _mm_storeu_ps(o + i, _mm256_cvtpd_ps(d));
    }
  } else if constexpr (std::is_same_v<D, int64_t> && std::is_floating_point_v<S>) {
    // Truncated toward zero in double, then the reverse of the trick above, four lanes at a
    // time while all are below 2^51 in magnitude (NaN is not); other groups take the
    // reference's rule (NaN -> 0, saturating) in the scalar loop.
    const __m256d lim = _mm256_set1_pd(2251799813685248.0), magic = _mm256_set1_pd(6755399441055744.0);
    const __m256d sign = _mm256_set1_pd(-0.0);
    for (; i + 4 <= n; i += 4) {
      __m256d d;
      if constexpr (std::is_same_v<S, float>) d = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
      else d = _mm256_loadu_pd(x + i);
      if (_mm256_movemask_pd(_mm256_cmp_pd(_mm256_andnot_pd(sign, d), lim, _CMP_LT_OQ)) != 15) {
        for (int k = 0; k < 4; ++k) o[i + k] = float_to_int64(x[i + k]);
        continue;
      }
      const __m256d t = _mm256_round_pd(d, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + i),
                          _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(t, magic)), _mm256_castpd_si256(magic)));
    }
  }
  for (; i < n; ++i) {
    if constexpr (std::is_same_v<D, bool>) o[i] = x[i] != S(0);
    else if constexpr (std::is_same_v<D, int64_t> && std::is_floating_point_v<S>) o[i] = float_to_int64(x[i]);
    else o[i] = static_cast<D>(x[i]);
  }
}

template <typename D, typename S>
bool convert_dense(const Loop& l) {
  const int64_t n = l.shape[0];
  D* o = reinterpret_cast<D*>(l.ptr[0]);
  const S* x = reinterpret_cast<const S*>(l.ptr[1]);
  if constexpr (std::is_same_v<D, bool>) {
    const S zero = S(0);
    maybe_parallel(n, [&](int64_t off, int64_t cnt) {
      compare_run<S, BinaryOp::Ne, false, true>(reinterpret_cast<bool*>(o) + off, x + off, &zero, cnt);
    });
  } else {
    maybe_parallel(n, [&](int64_t off, int64_t cnt) { convert_run<D, S>(o + off, x + off, cnt); });
  }
  return true;
}

// One dense run of a conversion between different dtypes (bool, float32, float64), not
// overlapping itself; false for anything else (the reference converts it).
bool convert_copy(DType dst, DType src, const Loop& l) {
  if (dst == src || l.ndim != 1 || l.strides[0][0] != 1 || l.strides[1][0] != 1) return false;
  const int64_t n = l.shape[0];
  const int64_t so = static_cast<int64_t>(itemsize(dst)), sx = static_cast<int64_t>(itemsize(src));
  if (l.ptr[0] < l.ptr[1] + n * sx && l.ptr[1] < l.ptr[0] + n * so) return false;
  using F = DType;
  if (dst == F::Float32 && src == F::Bool) return convert_dense<float, bool>(l);
  if (dst == F::Float64 && src == F::Bool) return convert_dense<double, bool>(l);
  if (dst == F::Float64 && src == F::Float32) return convert_dense<double, float>(l);
  if (dst == F::Float32 && src == F::Float64) return convert_dense<float, double>(l);
  if (dst == F::Bool && src == F::Float32) return convert_dense<bool, float>(l);
  if (dst == F::Bool && src == F::Float64) return convert_dense<bool, double>(l);
  if (dst == F::Int64 && src == F::Bool) return convert_dense<int64_t, bool>(l);  // (a == b).sum() casts first
  if (dst == F::Bool && src == F::Int64) return convert_dense<bool, int64_t>(l);
  if (dst == F::Float32 && src == F::Int64) return convert_dense<float, int64_t>(l);
  if (dst == F::Float64 && src == F::Int64) return convert_dense<double, int64_t>(l);
  if (dst == F::Int64 && src == F::Float32) return convert_dense<int64_t, float>(l);
  if (dst == F::Int64 && src == F::Float64) return convert_dense<int64_t, double>(l);
  return false;
}

// A dense fill of float32 or float64 (ones, full, fill_, zero_): vector stores over
// the pool, non-temporal for large outputs. The reference's loop took 3.2-3.6 ms for
// ember.ones(4096, 1024) on 1 thread (torch 0.5-1.0).
template <typename T>
void fill_dense(T* o, int64_t n, T v) {
  const bool nt = stream_output<T>(n);
  const typename Vec<T>::R vv = Vec<T>::set1(v);
  maybe_parallel(n, [&](int64_t off, int64_t cnt) {
    map_run<T>(
        o + off, cnt, nt, [&](int64_t) EMBER_INLINE_LAMBDA { return vv; },
        [&](int64_t) EMBER_INLINE_LAMBDA { return v; });
  });
}

// ---------------------------------------------------------------- int64 unary ops and reductions

// neg, abs, relu and sign of int64, wrapping as the reference does (-INT64_MIN and
// abs(INT64_MIN) are INT64_MIN). Other unary ops never see int64 (the op layer promotes).
template <UnaryOp Op>
struct IntUnOp {
  using V = Vec<int64_t>;
  static V::R vec(V::R v) {
    const V::R zero = V::zero(), neg = V::sub(zero, v);
    if constexpr (Op == UnaryOp::Neg) return neg;
    else if constexpr (Op == UnaryOp::Abs) return V::blend(v, neg, V::lt(v, zero));
    else if constexpr (Op == UnaryOp::Relu) return V::and_(V::gt(v, zero), v);
    else return V::sub(V::and_(V::gt(v, zero), V::set1(1)), V::and_(V::lt(v, zero), V::set1(1)));  // sign
  }
  static int64_t one(int64_t x) {
    const int64_t neg = static_cast<int64_t>(uint64_t{0} - static_cast<uint64_t>(x));
    if constexpr (Op == UnaryOp::Neg) return neg;
    else if constexpr (Op == UnaryOp::Abs) return x < 0 ? neg : x;
    else if constexpr (Op == UnaryOp::Relu) return x > 0 ? x : 0;
    else return (x > 0) - (x < 0);
  }
};

template <UnaryOp Op>
void unary_int64_loop(const Loop& l) {
  using F = IntUnOp<Op>;
  const size_t isz[2] = {8, 8};
  nd_loop_par<2>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
    if (s[0] == 8 && s[1] == 8) {
      int64_t* o = reinterpret_cast<int64_t*>(p[0]);
      const int64_t* x = reinterpret_cast<const int64_t*>(p[1]);
      const bool nt = stream_output<int64_t>(n);
      maybe_parallel(n, [&](int64_t off, int64_t cnt) {
        map_run<int64_t>(
            o + off, cnt, nt, [&](int64_t i) EMBER_INLINE_LAMBDA { return F::vec(Vec<int64_t>::load(x + off + i)); },
            [&](int64_t i) EMBER_INLINE_LAMBDA { return F::one(x[off + i]); });
      });
      return;
    }
    for (int64_t i = 0; i < n; ++i) st<int64_t>(p[0] + i * s[0], F::one(ld<int64_t>(p[1] + i * s[1])));
  });
}

bool unary_int64(UnaryOp op, const Loop& l) {
  switch (op) {
    case UnaryOp::Neg: unary_int64_loop<UnaryOp::Neg>(l); return true;
    case UnaryOp::Abs: unary_int64_loop<UnaryOp::Abs>(l); return true;
    case UnaryOp::Relu: unary_int64_loop<UnaryOp::Relu>(l); return true;
    case UnaryOp::Sign: unary_int64_loop<UnaryOp::Sign>(l); return true;
    default: return false;
  }
}

// Sum (wrapping: any order gives the same bits), max or min of a contiguous int64 run, in
// 4 x 4 lanes; long runs in chunks over the pool.
template <ReduceOp Op>
int64_t int64_reduce_run(const int64_t* x, int64_t n) {
  using V = Vec<int64_t>;
  auto combine = [](V::R a, V::R b) EMBER_INLINE_LAMBDA {
    if constexpr (Op == ReduceOp::Sum) return V::add(a, b);
    else if constexpr (Op == ReduceOp::Max) return V::blend(b, a, V::gt(a, b));
    else return V::blend(b, a, V::lt(a, b));
  };
  auto one = [](int64_t a, int64_t b) {
    if constexpr (Op == ReduceOp::Sum) return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
    else if constexpr (Op == ReduceOp::Max) return a > b ? a : b;
    else return a < b ? a : b;
  };
  int64_t i = 0, r = Op == ReduceOp::Sum ? 0 : x[0];
  if (n >= 16) {
    V::R a0 = V::load(x), a1 = V::load(x + 4), a2 = V::load(x + 8), a3 = V::load(x + 12);
    for (i = 16; i + 16 <= n; i += 16) {
      a0 = combine(a0, V::load(x + i));
      a1 = combine(a1, V::load(x + i + 4));
      a2 = combine(a2, V::load(x + i + 8));
      a3 = combine(a3, V::load(x + i + 12));
    }
    alignas(32) int64_t lanes[4];
    V::store(lanes, combine(combine(a0, a1), combine(a2, a3)));
    r = one(one(lanes[0], lanes[1]), one(lanes[2], lanes[3]));
  }
  for (; i < n; ++i) r = one(r, x[i]);
  return r;
}

template <ReduceOp Op>
int64_t int64_reduce_contiguous(const int64_t* x, int64_t n) {
  if (n < kParallelElems || parallel::in_parallel_region()) return int64_reduce_run<Op>(x, n);
  const int64_t chunks = (n + kParallelElems - 1) / kParallelElems;
  std::vector<int64_t> part(static_cast<size_t>(chunks));
  parallel::parallel_for(chunks, [&](int64_t c) {
    const int64_t off = c * kParallelElems;
    part[c] = int64_reduce_run<Op>(x + off, std::min(kParallelElems, n - off));
    interrupt::poll(kParallelElems);
  });
  return int64_reduce_run<Op>(part.data(), chunks);
}

// Column sums of int64 (sum over dim 0 of a row-major block), wrapping as the reference's
// uint64 sums do, so any order gives its bits: column_sums's blocking (kColRows rows side
// by side, kColTask columns per task), 32 columns in 8 vectors of 4.
void column_sums_int64(const int64_t* in, int64_t rows, int64_t rs, int64_t nc, int64_t* out) {
  using V = Vec<int64_t>;
  alignas(32) int64_t acc[kColTask] = {};
  const int64_t nv = nc / 32 * 32;
  for (int64_t r0 = 0; r0 < rows; r0 += kColRows) {
    const int64_t r1 = std::min(rows, r0 + kColRows);
    for (int64_t j = 0; j < nv; j += 32) {
      V::R a[8];
      for (int q = 0; q < 8; ++q) a[q] = V::load(acc + j + 4 * q);
      for (int64_t r = r0; r < r1; ++r)
        for (int q = 0; q < 8; ++q) a[q] = V::add(a[q], V::load(in + r * rs + j + 4 * q));
      for (int q = 0; q < 8; ++q) V::store(acc + j + 4 * q, a[q]);
    }
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t j = nv; j < nc; ++j)
        acc[j] = static_cast<int64_t>(static_cast<uint64_t>(acc[j]) + static_cast<uint64_t>(in[r * rs + j]));
  }
  std::memcpy(out, acc, static_cast<size_t>(nc) * sizeof(int64_t));
}

// Sum, max and min of int64 over a contiguous inner space (whole tensors and rows); false
// for other layouts (the reference reduces them).
template <ReduceOp Op>
bool int64_reduce(const Loop& outer, const Loop& inner) {
  int64_t n = 0;
  if (Op == ReduceOp::Sum && column_sum_loop<int64_t>(outer, inner, column_sums_int64)) return true;
  if (!inner_contiguous(inner, n) || n == 0) return false;
  const size_t isz[2] = {8, 8};
  nd_loop<2>(outer, isz, [&](char** po, const int64_t* so, int64_t no) {
    interrupt::Poller poller;
    for (int64_t o = 0; o < no; ++o) {
      st<int64_t>(po[0] + o * so[0], int64_reduce_contiguous<Op>(reinterpret_cast<const int64_t*>(po[1] + o * so[1]), n));
      poller.add(n);
    }
  });
  return true;
}

}  // namespace

void cast_copy(DType dst, DType src, const Loop& l) {
  if (copy_dense(dst, src, l) || copy_strided(dst, src, l) || convert_copy(dst, src, l)) return;
  reference().cast_copy(dst, src, l);
}

void fill(DType dt, const Loop& l, ScalarValue value) {
  if (l.ndim == 1 && l.strides[0][0] == 1 && l.shape[0] > 0) {
    const int64_t n = l.shape[0];
    char* o = l.ptr[0];
    if (dt == DType::Float32) return fill_dense<float>(reinterpret_cast<float*>(o), n, static_cast<float>(value.f));
    if (dt == DType::Float64) return fill_dense<double>(reinterpret_cast<double*>(o), n, value.f);
    if (dt == DType::Int64) return fill_dense<int64_t>(reinterpret_cast<int64_t*>(o), n, value.i);
  }
  reference().fill(dt, l, value);
}

void unary(UnaryOp op, DType dt, const Loop& l) {
  if (dt == DType::Float32 && unary_typed<float>(op, l)) return;
  if (dt == DType::Float64 && unary_typed<double>(op, l)) return;
  if (dt == DType::Int64 && unary_int64(op, l)) return;
  reference().unary(op, dt, l);
}

void binary(BinaryOp op, DType dt, const Loop& l) {
  if (dt == DType::Float32 && (binary_float<float>(op, l) || compare_typed_op<float>(op, l))) return;
  if (dt == DType::Float64 && (binary_float<double>(op, l) || compare_typed_op<double>(op, l))) return;
  if (dt == DType::Int64 && (binary_int64(op, l) || compare_typed_op<int64_t>(op, l))) return;
  if (dt == DType::Bool && op == BinaryOp::LogicalAnd) return logical_typed<BinaryOp::LogicalAnd>(l);
  if (dt == DType::Bool && op == BinaryOp::LogicalOr) return logical_typed<BinaryOp::LogicalOr>(l);
  reference().binary(op, dt, l);
}

void clamp(DType dt, const Loop& l, const ScalarValue* lo, const ScalarValue* hi) {
  if (dt == DType::Float32 && clamp_typed<float>(l, lo, hi)) return;
  if (dt == DType::Float64 && clamp_typed<double>(l, lo, hi)) return;
  reference().clamp(dt, l, lo, hi);
}

void clamp_backward(DType dt, const Loop& l, const ScalarValue* lo, const ScalarValue* hi) {
  if (dt == DType::Float32) return clamp_backward_typed<float>(l, lo, hi);
  if (dt == DType::Float64) return clamp_backward_typed<double>(l, lo, hi);
  reference().clamp_backward(dt, l, lo, hi);
}

void threshold_backward(DType dt, const Loop& l, ScalarValue threshold) {
  if (dt == DType::Float32) return threshold_backward_typed<float>(l, threshold);
  if (dt == DType::Float64) return threshold_backward_typed<double>(l, threshold);
  reference().threshold_backward(dt, l, threshold);
}

void where(DType dt, const Loop& l) {
  if (dt == DType::Float32) return where_typed<float>(l);
  if (dt == DType::Float64) return where_typed<double>(l);
  if (dt == DType::Int64) return where_typed<int64_t>(l);
  reference().where(dt, l);
}

void reduce(ReduceOp op, DType dt, const Loop& outer, const Loop& inner) {
  if (op == ReduceOp::Sum && dt == DType::Float32 && sum_typed<float>(outer, inner)) return;
  if (op == ReduceOp::Sum && dt == DType::Float64 && sum_typed<double>(outer, inner)) return;
  const bool extreme = op == ReduceOp::Max || op == ReduceOp::Min;
  if (extreme && dt == DType::Float32 && extreme_typed<float>(op, outer, inner)) return;
  if (extreme && dt == DType::Float64 && extreme_typed<double>(op, outer, inner)) return;
  if (dt == DType::Int64) {
    if (op == ReduceOp::Sum && int64_reduce<ReduceOp::Sum>(outer, inner)) return;
    if (op == ReduceOp::Max && int64_reduce<ReduceOp::Max>(outer, inner)) return;
    if (op == ReduceOp::Min && int64_reduce<ReduceOp::Min>(outer, inner)) return;
  }
  reference().reduce(op, dt, outer, inner);
}

// The reference's kernel on blocks of the outer space, over the pool when the work is large
// (x.max(1), x.argmax(0)): each output is computed as on one thread. 1000 x 1000 float32,
// 2 threads, max(1) 1.0 -> 0.71 ms (torch 0.57), max(0) 1.56 -> 0.83.
void arg_reduce(ReduceOp op, DType dt, const Loop& outer, int64_t n, int64_t stride) {
  const int64_t no = outer.ndim == 1 ? outer.shape[0] : 0;
  if (no < 2 || no * n < kParallelElems || parallel::get_num_threads() == 1 || parallel::in_parallel_region()) {
    reference().arg_reduce(op, dt, outer, n, stride);
    return;
  }
  const int64_t per = std::max<int64_t>(1, kChunk / std::max<int64_t>(n, 1));
  const int64_t isz[3] = {static_cast<int64_t>(itemsize(dt)), 8, static_cast<int64_t>(itemsize(dt))};
  parallel::parallel_for((no + per - 1) / per, [&](int64_t b) {
    const int64_t o0 = b * per, cnt = std::min(per, no - o0);
    Loop part = outer;
    part.shape = &cnt;
    for (int k = 0; k < 3; ++k) part.ptr[k] = outer.ptr[k] + o0 * outer.strides[k][0] * isz[k];
    reference().arg_reduce(op, dt, part, n, stride);
  });
}

}  // namespace ember::kernels::avx2
