// The dot kernel's body (gemm.h's DotKernel) for any ISA's vector type V of T (W lanes;
// zero, load, loadu, mask, maskload, fma, sum): R rows of A against N columns of B, R x N
// accumulators along k, each summed across its lanes at the end. With n <= 16 a wide
// micro-tile would leave most of its columns empty (n = 10: 10 of 16 or of 32).
//
// Internal linkage (see avx2/transpose.h): the AVX2 and AVX-512 units each keep their own
// copy, compiled with their own flags.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace ember::kernels::dot {
namespace {

template <typename V, typename T, int R, int N>
[[gnu::always_inline]] inline void body(int64_t k, const T* a, int64_t rsa, const T* bt, int64_t kp, T* c,
                                        int64_t rsc, int64_t csc, const T* d, int64_t rsd, int64_t csd) {
  constexpr int W = V::W;
  typename V::R acc[R][N];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int j = 0; j < N; ++j) acc[r][j] = V::zero();
  auto step = [&](int64_t p, auto m, bool full) [[gnu::always_inline]] {
    typename V::R av[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) av[r] = full ? V::loadu(a + r * rsa + p) : V::maskload(a + r * rsa + p, m);
#pragma GCC unroll 16
    for (int j = 0; j < N; ++j) {
      const typename V::R bv = V::load(bt + j * kp + p);  // zero past k
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) acc[r][j] = V::fma(av[r], bv, acc[r][j]);
    }
  };
  int64_t p = 0;
  for (; p + W <= k; p += W) step(p, V::mask(W), true);
  if (p < k) step(p, V::mask(k - p), false);
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int j = 0; j < N; ++j) {
      const T s = V::sum(acc[r][j]);
      T* cij = c + r * rsc + j * csc;
      *cij = d ? d[r * rsd + j * csd] + s : s;
    }
}

// Rows in groups of R, the rest one at a time.
template <typename V, typename T, int N, int R>
void rows(int64_t rows, int64_t k, const T* a, int64_t rsa, const T* bt, int64_t kp, T* c, int64_t rsc,
          int64_t csc, const T* d, int64_t rsd, int64_t csd) {
  int64_t i = 0;
  for (; i + R <= rows; i += R)
    body<V, T, R, N>(k, a + i * rsa, rsa, bt, kp, c + i * rsc, rsc, csc, d ? d + i * rsd : nullptr, rsd, csd);
  for (; i < rows; ++i)
    body<V, T, 1, N>(k, a + i * rsa, rsa, bt, kp, c + i * rsc, rsc, csc, d ? d + i * rsd : nullptr, rsd, csd);
}

template <typename T>
using Rows = void (*)(int64_t, int64_t, const T*, int64_t, const T*, int64_t, T*, int64_t, int64_t, const T*,
                      int64_t, int64_t);

// rows<N> for N = 1, 2, ..., sizeof...(I), each with RowsFor(N) rows per group (what the
// ISA's registers hold: R x N accumulators and R rows of A).
template <typename V, typename T, int (*RowsFor)(int), size_t... I>
constexpr std::array<Rows<T>, sizeof...(I)> table(std::index_sequence<I...>) {
  return {&rows<V, T, static_cast<int>(I) + 1, RowsFor(static_cast<int>(I) + 1)>...};
}

}  // namespace
}  // namespace ember::kernels::dot
