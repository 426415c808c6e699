// The five BLIS loops and the packing routines (see gemm.h). This file is compiled for
// the baseline ISA; only the micro-kernel passed in is ISA-specific.
#include "kernels/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/parallel.h"

namespace ember::kernels::blis {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// A grow-only 64-byte aligned scratch buffer, one per thread and role, so packing never
// allocates (and never page-faults) after the first large product.
struct Scratch {
  void* p = nullptr;
  size_t cap = 0;
  ~Scratch() { std::free(p); }
  template <typename T>
  T* get(int64_t count) {
    size_t bytes = round_up(static_cast<int64_t>(count * sizeof(T)), 64);
    if (bytes > cap) {
      std::free(p);
      p = std::aligned_alloc(64, bytes);
      if (!p) throw std::bad_alloc();
      cap = bytes;
    }
    return static_cast<T*>(p);
  }
};
thread_local Scratch t_pack_a, t_pack_b;

// Packs the mc x kc block of A at `a` into MR-tall micro-panels: dst[panel][p * MR + i].
// a is (mc, kc) with strides (rsa, csa); rows past mc are zero.
template <typename T>
void pack_a(T* dst, const T* a, int64_t rsa, int64_t csa, int64_t mc, int64_t kc, int64_t mr) {
  for (int64_t i0 = 0; i0 < mc; i0 += mr, dst += mr * kc) {
    const int64_t me = std::min(mr, mc - i0);
    const T* src = a + i0 * rsa;
    if (me < mr) std::fill(dst, dst + mr * kc, T(0));
    if (rsa == 1 && me == mr) {  // column-major A (a transposed view): contiguous in i
      for (int64_t p = 0; p < kc; ++p)
        for (int64_t i = 0; i < mr; ++i) dst[p * mr + i] = src[p * csa + i];
    } else {  // row-major A: read each row along p
      for (int64_t i = 0; i < me; ++i)
        for (int64_t p = 0; p < kc; ++p) dst[p * mr + i] = src[i * rsa + p * csa];
    }
  }
}

// Packs the kc x nc panel of B at `b` into NR-wide micro-panels: dst[panel][p * NR + j].
// b is (kc, nc) with strides (rsb, csb); columns past nc are zero.
template <typename T>
void pack_b_panel(T* dst, const T* b, int64_t rsb, int64_t csb, int64_t kc, int64_t ne, int64_t nr) {
  if (ne < nr) std::fill(dst, dst + nr * kc, T(0));
  if (csb == 1 && ne == nr) {  // row-major B: each row of the panel is one contiguous run
    for (int64_t p = 0; p < kc; ++p) std::memcpy(dst + p * nr, b + p * rsb, sizeof(T) * nr);
  } else if (csb == 1) {
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t j = 0; j < ne; ++j) dst[p * nr + j] = b[p * rsb + j];
  } else {  // column-major B (a transposed view): read each column along p
    for (int64_t j = 0; j < ne; ++j)
      for (int64_t p = 0; p < kc; ++p) dst[p * nr + j] = b[p * rsb + j * csb];
  }
}

template <typename T>
void gemm_packed(const Blocking& bs, MicroKernel<T> ukr, int64_t m, int64_t n, int64_t k, const T* a, int64_t rsa,
                 int64_t csa, const T* b, int64_t rsb, int64_t csb, T* c, int64_t rsc, int64_t csc,
                 bool accumulate) {
  const int64_t MR = bs.mr, NR = bs.nr;
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  const int nt = (flops >= static_cast<double>(kParallelFlops) && !parallel::in_parallel_region())
                     ? parallel::get_num_threads()
                     : 1;
  // Balanced blocks: the k split depends on k only, so the order of the sums is fixed.
  const int64_t kc_max = ceil_div(k, ceil_div(k, bs.kc));
  const int64_t mc_blk = round_up(ceil_div(m, ceil_div(m, bs.mc)), MR);
  const int64_t nc_max = std::min(round_up(n, NR), bs.nc);
  T* bpack = t_pack_b.get<T>(kc_max * nc_max);

  for (int64_t jc = 0; jc < n; jc += bs.nc) {
    const int64_t nc = std::min(bs.nc, n - jc);
    const int64_t npanels = ceil_div(nc, NR);
    for (int64_t pc = 0; pc < k; pc += kc_max) {
      const int64_t kc = std::min(kc_max, k - pc);
      const bool acc = accumulate || pc > 0;
      // Pack B: groups of 8 micro-panels per task.
      const int64_t groups = ceil_div(npanels, 8);
      auto pack_b_group = [&](int64_t g) {
        for (int64_t jp = g * 8; jp < std::min(npanels, g * 8 + 8); ++jp) {
          const int64_t j0 = jp * NR;
          pack_b_panel<T>(bpack + jp * NR * kc, b + pc * rsb + (jc + j0) * csb, rsb, csb, kc,
                          std::min(NR, nc - j0), NR);
        }
      };
      if (nt > 1) parallel::parallel_for(groups, pack_b_group);
      else for (int64_t g = 0; g < groups; ++g) pack_b_group(g);

      // Loop 3 as tasks: every ic block, its jr range cut in `nsplit` parts when there are
      // too few blocks to keep every thread busy.
      const int64_t nic = ceil_div(m, mc_blk);
      const int64_t nsplit = nt > 1 ? std::min(npanels, std::max<int64_t>(1, ceil_div(2 * nt, nic))) : 1;
      const int64_t per_split = ceil_div(npanels, nsplit);
      auto task = [&](int64_t t) {
        const int64_t ib = t / nsplit, sp = t % nsplit;
        const int64_t ic = ib * mc_blk, mc = std::min(mc_blk, m - ic);
        const int64_t jp0 = sp * per_split, jp1 = std::min(npanels, jp0 + per_split);
        if (jp0 >= jp1) return;
        T* apack = t_pack_a.get<T>(round_up(mc, MR) * kc);
        pack_a<T>(apack, a + ic * rsa + pc * csa, rsa, csa, mc, kc, MR);
        for (int64_t jp = jp0; jp < jp1; ++jp) {
          const int64_t j0 = jp * NR, ne = std::min(NR, nc - j0);
          const T* bp = bpack + jp * NR * kc;
          for (int64_t i0 = 0; i0 < mc; i0 += MR) {
            ukr(kc, apack + i0 * kc, bp, c + (ic + i0) * rsc + (jc + j0) * csc, rsc, csc, std::min(MR, mc - i0), ne,
                acc);
          }
        }
      };
      if (nt > 1) parallel::parallel_for(nic * nsplit, task);
      else for (int64_t t = 0; t < nic * nsplit; ++t) task(t);
    }
  }
}

}  // namespace

void gemm_packed_f32(const Blocking& bs, MicroKernel<float> ukr, int64_t m, int64_t n, int64_t k, const float* a,
                     int64_t rsa, int64_t csa, const float* b, int64_t rsb, int64_t csb, float* c, int64_t rsc,
                     int64_t csc, bool accumulate) {
  gemm_packed<float>(bs, ukr, m, n, k, a, rsa, csa, b, rsb, csb, c, rsc, csc, accumulate);
}

void gemm_packed_f64(const Blocking& bs, MicroKernel<double> ukr, int64_t m, int64_t n, int64_t k, const double* a,
                     int64_t rsa, int64_t csa, const double* b, int64_t rsb, int64_t csb, double* c, int64_t rsc,
                     int64_t csc, bool accumulate) {
  gemm_packed<double>(bs, ukr, m, n, k, a, rsa, csa, b, rsb, csb, c, rsc, csc, accumulate);
}

}  // namespace ember::kernels::blis
