// The five BLIS loops and the packing routines (see gemm.h). This file is compiled for
// the baseline ISA; only the micro-kernel passed in is ISA-specific.
#include "kernels/gemm.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <type_traits>

#include <unistd.h>

#include "core/interrupt.h"
#include "core/parallel.h"
#include "kernels/prefetch.h"
#include "kernels/scratch.h"

namespace ember::kernels::blis {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Rows of B that the packers ask for ahead of the row they copy, when they copy rows back
// to back (the five loops' groups, the streamed path's first group of a KC step). The
// streamed path's later groups, packed a few rows before each micro-kernel call, ask for
// kStreamAheadChunks calls' rows ahead: on the Zen 3 machine ((4096 x 256)^T @ (4096 x
// 1024), 1 thread, perf samples in pack_b_rows per sample in the micro-kernel, two runs
// each) 16 rows ahead 0.067-0.075, 4 (two calls' rows) 0.061-0.062, 8 0.060-0.072; in the
// five loops (1024^3, 2048^3) 16 and 32 rows read the same.
constexpr int64_t kPackBAhead = 16;
constexpr int64_t kStreamAheadChunks = 2;
// B micro-panels packed together (one claim flag per group): for row-major B, a group
// reads G adjacent cache lines of each row instead of one line 4 KiB from the last. On
// the Zen 1 machine, packing alone went from ~2.6 to ~2.0 ms for a 4096 x 1024 B, and
// 2-thread products were ~1% faster than with G = 1 (A/B harness, same process).
constexpr int64_t G = 4;

// One scratch buffer per thread and role (kernels/scratch.h), as an array of T.
template <typename T>
T* scratch(Scratch& s, int64_t count) {
  return static_cast<T*>(s.bytes(static_cast<size_t>(count) * sizeof(T)));
}
thread_local Scratch t_pack_a, t_pack_b, t_pack_x;

// Packs the mc x kc block of A at `a` into MR-tall micro-panels: dst[panel][p * MR + i].
// a is (mc, kc) with strides (rsa, csa); rows past mc are zero.
// `fast` (the ISA's packer, may be null) takes the full micro-panels it handles.
template <typename T>
void pack_a(T* dst, const T* a, int64_t rsa, int64_t csa, int64_t mc, int64_t kc, int64_t mr, PackPanel<T> fast) {
  for (int64_t i0 = 0; i0 < mc; i0 += mr, dst += mr * kc) {
    const int64_t me = std::min(mr, mc - i0);
    const T* src = a + i0 * rsa;
    if (me == mr && fast && fast(dst, src, rsa, csa, kc)) continue;
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

// Packs rows [p0, p1) of `np` adjacent full micro-panels of row-major B (NR values, one or
// two 64-byte lines, per panel row; kc rows in all) in one pass over B's rows: each row's
// np runs are adjacent in memory, so the DRAM page and the hardware prefetchers serve them
// together. Panel j goes to dst + j * pstride. The row `ahead` rows on (up to kc) is asked
// for before each copy: every line of it, the last one too when B's rows do not start on a
// line (numpy's arrays are 16 bytes off one: a row of 4 panels then spans 5 lines, and the
// 5th, not asked for, cost (4096 x 256)^T @ (4096 x 1024) 4% on the Zen 3 machine, perf
// samples in pack_b_rows per sample in the micro-kernel 0.113 against 0.073).
template <typename T>
void pack_b_rows(T* dst, const T* b, int64_t rsb, int64_t p0, int64_t p1, int64_t kc, int64_t np, int64_t pstride,
                 int64_t nr, int64_t ahead) {
  constexpr int64_t L = 64 / sizeof(T);
  const size_t bytes = static_cast<size_t>(nr) * sizeof(T);
  // The copy's size is a constant in each loop, so that it compiles to vector moves: a
  // call to memcpy per row cost ~15 ns (256 x 256 x 256 unpacked with B packed one
  // micro-panel at a time: 144 GFLOP/s, 170 reading B in place).
  auto rows = [&](auto size) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* src = b + p * rsb;
      if (p + ahead < kc) {
        const T* next = src + ahead * rsb;
        for (int64_t j = 0; j < np * nr; j += L) prefetch::line(next + j);
        prefetch::line(next + np * nr - 1);
      }
      for (int64_t j = 0; j < np; ++j) std::memcpy(dst + j * pstride + p * nr, src + j * nr, size);
    }
  };
  if (bytes == 128) rows(std::integral_constant<size_t, 128>{});
  else if (bytes == 64) rows(std::integral_constant<size_t, 64>{});
  else rows(bytes);
}

// Row-major B whose panel rows are whole cache lines (64 or 128 bytes) takes pack_b_rows.
template <typename T>
bool line_rows(int64_t csb, int64_t nr) {
  const int64_t bytes = nr * static_cast<int64_t>(sizeof(T));
  return csb == 1 && (bytes == 64 || bytes == 128);
}

// Packs the kc x nc panel of B at `b` into NR-wide micro-panels: dst[panel][p * NR + j].
// b is (kc, nc) with strides (rsb, csb); columns past nc are zero.
template <typename T>
void pack_b_panel(T* dst, const T* b, int64_t rsb, int64_t csb, int64_t kc, int64_t ne, int64_t nr, PackPanel<T> fast) {
  if (ne == nr && fast && fast(dst, b, rsb, csb, kc)) return;
  if (ne < nr) std::fill(dst, dst + nr * kc, T(0));
  if (ne == nr && line_rows<T>(csb, nr)) {
    // Row-major B, whole cache lines per row: the rows are a page apart when B is wide,
    // where the hardware prefetchers do not follow, so pack_b_rows asks for them ahead.
    pack_b_rows(dst, b, rsb, 0, kc, kc, 1, 0, nr, kPackBAhead);
  } else if (csb == 1 && ne == nr) {  // row-major B: each row of the panel is one contiguous run
    for (int64_t p = 0; p < kc; ++p) std::memcpy(dst + p * nr, b + p * rsb, sizeof(T) * nr);
  } else if (csb == 1) {
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t j = 0; j < ne; ++j) dst[p * nr + j] = b[p * rsb + j];
  } else {  // column-major B (a transposed view): read each column along p
    for (int64_t j = 0; j < ne; ++j)
      for (int64_t p = 0; p < kc; ++p) dst[p * nr + j] = b[p * rsb + j * csb];
  }
}

// Packs rows [r0, r1) (of a KC step of kc rows) of the np micro-panels of B at `b` into
// dst, panel j at dst + j * pstride. `ncols` columns of B start at b: the last panel may be
// partial. Full row-major groups of whole-line panels are read row by row (pack_b_rows,
// asking for rows `ahead` rows on).
template <typename T>
void pack_b_group(T* dst, const T* b, int64_t rsb, int64_t csb, int64_t r0, int64_t r1, int64_t kc, int64_t np,
                  int64_t ncols, int64_t nr, int64_t pstride, PackPanel<T> fast, int64_t ahead = kPackBAhead) {
  if (np * nr <= ncols && line_rows<T>(csb, nr)) {
    pack_b_rows<T>(dst, b, rsb, r0, r1, kc, np, pstride, nr, ahead);
    return;
  }
  for (int64_t j = 0; j < np; ++j)
    pack_b_panel<T>(dst + j * pstride + r0 * nr, b + r0 * rsb + j * nr * csb, rsb, csb, r1 - r0,
                    std::min(nr, ncols - j * nr), nr, fast);
}

// How many threads a product of this size gets.
int threads_for(int64_t m, int64_t n, int64_t k) {
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (flops < static_cast<double>(kParallelFlops) || parallel::in_parallel_region()) return 1;
  return parallel::get_num_threads();
}

// Cuts `rows` rows (in units of `unit`) and `panels` column panels into tasks: at least
// `want` tasks when possible, rows first (blocks of at most `max_rows` and at least
// `min_rows` rows), then columns. Row blocks differ by at most one unit, and their count is
// rounded up to a multiple of `threads`, so that with dynamic hand-out every thread gets
// the same rows (15 blocks of 2048 rows on 2 threads left one thread 8 and the other 7).
struct Split {
  int64_t units, unit, rows, nrb, nsplit, per_split, tasks;
  int64_t row_begin(int64_t ib) const { return std::min(rows, ib * units / nrb * unit); }
  int64_t row_end(int64_t ib) const { return row_begin(ib + 1); }
};
Split split_tasks(int64_t rows, int64_t panels, int64_t unit, int64_t max_rows, int64_t min_rows, int64_t want,
                  int64_t threads) {
  const int64_t units = ceil_div(rows, unit);
  int64_t nrb = ceil_div(units, std::max<int64_t>(1, max_rows / unit));
  nrb = std::max(nrb, std::min(want, rows / std::max(min_rows, unit)));
  if (threads > 1 && nrb > 1) nrb = round_up(nrb, threads);
  nrb = std::clamp<int64_t>(nrb, 1, units);
  const int64_t nsplit = std::min(panels, std::max<int64_t>(1, ceil_div(want, nrb)));
  const int64_t per_split = ceil_div(panels, nsplit);
  return {units, unit, rows, nrb, nsplit, per_split, nrb * ceil_div(panels, per_split)};
}

// Tasks wanted from the packed path: two per thread, so that a thread slowed by a noisy
// neighbour takes fewer. But when m makes at most one row block (<= MC rows, >= kMinTaskRows)
// per thread, one task per thread, rows only: the column split that would make the second
// task per thread has both halves pack the same rows of A (256^3 and (256 x 4096) @
// (4096 x 1024) on 2 threads gain 4-7%).
int64_t packed_tasks_wanted(const Blocking& bs, int64_t m, int nt) {
  if (nt <= 1) return 1;
  if (ceil_div(m, bs.mc) <= nt && m >= nt * kMinTaskRows) return nt;
  return 2 * nt;
}

// What a tile adds to its product (the micro-kernel's d, rsd, csd): C itself after the
// first KC step (C += A B), else D's tile at (i, j), or nothing.
template <typename T>
struct Addend {
  const T* p;
  int64_t rs, cs;
};
template <typename T>
Addend<T> tile_addend(bool later_step, T* ct, int64_t rsc, int64_t csc, const T* d, int64_t rsd, int64_t csd, int64_t i,
                      int64_t j) {
  if (later_step) return {ct, rsc, csc};
  return {d ? d + i * rsd + j * csd : nullptr, rsd, csd};
}

// Panel flags, per group of G micro-panels and slot (see gemm_packed).
thread_local Scratch t_flags;
// Per task of the packed path: its KC steps done.
thread_local Scratch t_done;
// Per KC step of the packed path: its (step, task) pairs finished.
thread_local Scratch t_steps;

template <typename T>
void gemm_packed(const Kernels<T>& kr, int64_t m, int64_t n, int64_t k, const T* a, int64_t rsa, int64_t csa,
                 const T* b, int64_t rsb, int64_t csb, T* c, int64_t rsc, int64_t csc, const T* d, int64_t rsd,
                 int64_t csd, int64_t kc_target) {
  const Blocking& bs = kr.bs;
  const int64_t MR = bs.mr, NR = bs.nr;
  const int nt = threads_for(m, n, k);
  // Balanced blocks: the k split depends on k only, so the order of the sums is fixed.
  const int64_t kc_max = ceil_div(k, ceil_div(k, kc_target));
  const int64_t npc = ceil_div(k, kc_max);
  // The packed B block spans all of k: NC shrinks so that it stays within kPackBBytes.
  const int64_t nc_blk =
      std::min(bs.nc, std::max(NR, (kPackBBytes / static_cast<int64_t>(sizeof(T)) / (npc * kc_max)) / NR * NR));
  const int64_t panels_max = ceil_div(std::min(nc_blk, n), NR);
  // The packed B panel of KC step q lives in slot q % slots. One thread reuses one slot,
  // which then stays in cache. Threads take two (tasks run a step ahead of each other), and
  // a pair of step q starts only when every pair of step q - 2 has finished with the slot.
  // One slot per KC step instead (16 MiB of packed B at 2048^3, written afresh each call)
  // was 1.6-2.2% slower at 1536^3..2048^3 on 2 threads on the Intel machine (one process
  // per variant, alternating, 6 rounds twice; 1024^3 +0.3 / +1.7%).
  const int64_t slots = nt > 1 ? std::min<int64_t>(npc, 2) : 1;
  T* bpack = scratch<T>(t_pack_b, slots * panels_max * kc_max * NR);
  int* flags = scratch<int>(t_flags, slots * panels_max);

  for (int64_t jc = 0; jc < n; jc += nc_blk) {
    const int64_t nc = std::min(nc_blk, n - jc);
    const int64_t npanels = ceil_div(nc, NR), ngroups = ceil_div(npanels, G);
    std::fill(flags, flags + slots * ngroups, 0);
    // Where the packed micro-panel (q, jp) (KC step q, columns jc + jp NR) lives, and the
    // flag of its group: panels are packed in groups of G. A flag holds 2q + 1 while its
    // group is packed for step q and 2q + 2 once it is ready, so a slot's flags need no
    // reset between the steps that use it (they hold an earlier step's values).
    auto packed_at = [&](int64_t q, int64_t jp) { return bpack + ((q % slots) * npanels + jp) * kc_max * NR; };
    auto flag_of = [&](int64_t q, int64_t jp) { return flags + (q % slots) * ngroups + jp / G; };
    auto ready_at = [](int64_t q) { return static_cast<int>(2 * q + 2); };
    auto panel = [&](int64_t q, int64_t jp) -> const T* {
      T* dst = packed_at(q, jp);
      const int64_t g = jp / G;
      int* f = flag_of(q, jp);
      const int ready = ready_at(q), packing = ready - 1;
      int state = __atomic_load_n(f, __ATOMIC_ACQUIRE);
      if (state == ready) return dst;
      if (state < packing &&
          __atomic_compare_exchange_n(f, &state, packing, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        const int64_t pc = q * kc_max, kc = std::min(kc_max, k - pc);
        const int64_t jg0 = g * G, jg1 = std::min(npanels, jg0 + G);
        pack_b_group<T>(packed_at(q, jg0), b + pc * rsb + (jc + jg0 * NR) * csb, rsb, csb, 0, kc, kc, jg1 - jg0,
                        nc - jg0 * NR, NR, kc_max * NR, kr.pack_b);
        __atomic_store_n(f, ready, __ATOMIC_RELEASE);
        return dst;
      }
      while (__atomic_load_n(f, __ATOMIC_ACQUIRE) < ready) cpu_relax();
      return dst;
    };
    const Split sp_all = split_tasks(m, npanels, MR, bs.mc, kMinTaskRows, packed_tasks_wanted(bs, m, nt), nt);
    // One task per thread and one tile-row more than the threads can share (m = 256 on 2
    // threads: 43 tile-rows, 21 and 22): the tasks split the rows before the last tile-row,
    // and each also runs its share of the last tile-row's panels, so all end together
    // (256^3 on 2 threads +3%, (256 x 4096) @ (4096 x 1024) +0.5%; A/B in one process).
    const int64_t units = ceil_div(m, MR), m_main = (units - 1) * MR;
    const bool odd_row = nt > 1 && sp_all.tasks == nt && sp_all.nsplit == 1 && units % nt == 1 && units > nt;
    const Split sp_main = odd_row ? split_tasks(m_main, npanels, MR, bs.mc, kMinTaskRows, nt, nt) : sp_all;
    const bool share_last = odd_row && sp_main.tasks == nt;
    const Split& sp = share_last ? sp_main : sp_all;
    // Task t at KC step q: pack its rows of A, then run its panels.
    auto step = [&](int64_t t, int64_t q) {
      const int64_t ib = t / sp.nsplit, part = t % sp.nsplit;
      const int64_t ic = sp.row_begin(ib), mc = sp.row_end(ib) - ic;
      const int64_t jp0 = part * sp.per_split, jp1 = std::min(npanels, jp0 + sp.per_split);
      if (jp0 >= jp1 || mc <= 0) return;
      const int64_t pc = q * kc_max, kc = std::min(kc_max, k - pc);
      T* apack = scratch<T>(t_pack_a, round_up(mc, MR) * kc_max);
      pack_a<T>(apack, a + ic * rsa + pc * csa, rsa, csa, mc, kc, MR, kr.pack_a);
      // Tasks start at different panel groups, so concurrent tasks pack different groups.
      const int64_t len = jp1 - jp0, rot = nt > 1 ? (ib % nt) * len / nt / G * G : 0;
      // The task's panels in groups of PB (pb: one, or a group held in L2), each A
      // micro-panel run over the whole group before the next (from L1 when PB > 1).
      const int64_t PB = std::clamp<int64_t>(bs.pb, 1, kMaxPb);
      const int64_t tiles = ceil_div(mc, MR);
      auto jp_at = [&](int64_t r) { return jp0 + (r + rot) % len; };  // the task's r-th panel
      for (int64_t r0 = 0; r0 < len; r0 += PB) {
        const int64_t r1 = std::min(len, r0 + PB);
        // The group's panels are claimed (packed, or waited for) on the first tile-row, one
        // at a time, so packing interleaves with the first A micro-panel's products.
        const T* bps[kMaxPb];
        // With pb = 1, the next panel, when it is packed already (by another task, or by
        // this one at an earlier row block): asked into L2 a few lines per tile, since a
        // shared B block spanning all of k can be larger than L3 (Zen 1 machine, 2048^3 on
        // 2 threads: +1-1.5%, 1 thread +0.3-0.7%; prefetcht0 and t2 measured the same
        // within noise). The next group of 16 on the Intel machine: within noise.
        const char* next = nullptr;
        int64_t lines = 0;
        if (r1 < len && bs.pb <= 1) {
          if (__atomic_load_n(flag_of(q, jp_at(r1)), __ATOMIC_ACQUIRE) == ready_at(q)) {
            next = reinterpret_cast<const char*>(packed_at(q, jp_at(r1)));
            lines = kc * NR * static_cast<int64_t>(sizeof(T)) / 64;
          }
        }
        const int64_t per_tile = ceil_div(lines, tiles);
        int64_t line = 0;
        for (int64_t i0 = 0; i0 < mc; i0 += MR) {
          if (next)
            for (const int64_t e = std::min(lines, line + per_tile); line < e; ++line) prefetch::l2(next + 64 * line);
          for (int64_t r = r0; r < r1; ++r) {
            if (i0 == 0) bps[r - r0] = panel(q, jp_at(r));
            const int64_t j0 = jp_at(r) * NR, ne = std::min(NR, nc - j0);
            T* ct = c + (ic + i0) * rsc + (jc + j0) * csc;
            const Addend<T> ad = tile_addend(q > 0, ct, rsc, csc, d, rsd, csd, ic + i0, jc + j0);
            kr.ukr(kc, apack + i0 * kc, bps[r - r0], ct, rsc, csc, std::min(MR, mc - i0), ne, ad.p, ad.rs, ad.cs);
          }
        }
        interrupt::poll(mc * kc * (r1 - r0) * NR);
      }
      if (share_last) {
        const int64_t e0 = t * npanels / nt, e1 = (t + 1) * npanels / nt, me = m - m_main;
        T* xpack = scratch<T>(t_pack_x, MR * kc_max);
        pack_a<T>(xpack, a + m_main * rsa + pc * csa, rsa, csa, me, kc, MR, kr.pack_a);
        for (int64_t jp = e0; jp < e1; ++jp) {
          const int64_t j0 = jp * NR, ne = std::min(NR, nc - j0);
          T* ct = c + m_main * rsc + (jc + j0) * csc;
          const Addend<T> ad = tile_addend(q > 0, ct, rsc, csc, d, rsd, csd, m_main, jc + j0);
          kr.ukr(kc, xpack, panel(q, jp), ct, rsc, csc, me, ne, ad.p, ad.rs, ad.cs);
        }
        interrupt::poll(me * kc * (e1 - e0) * NR);
      }
    };
    // One thread: loop 4 outside loop 3, so a KC step's B panel is reused from the cache by
    // every row block. Threads: the (KC step, task) pairs are handed out in that order,
    // so the threads too work on one KC step's B panel at a time (while it is in cache),
    // and a pair waits until its rows' previous KC step is done (on another thread, when
    // that one is slower) and until its slot of B is free (step q - 2 finished: every pair
    // of it was handed out earlier, and waits only on earlier ones). The same FMAs either
    // way, in the same order. Running each task through every KC step instead reads each
    // task's whole B block (all of k) from memory: one thread running its tasks that way
    // was 3-5% slower at 1024^3 and 2048^3 on the Intel machine; two threads went from
    // 0.92-0.94 / 0.87-0.93 of torch to 0.94-0.97 / 0.89-0.91 (within that machine's noise).
    if (nt > 1) {
      int* done = scratch<int>(t_done, sp.tasks);  // KC steps finished, per task
      std::fill(done, done + sp.tasks, 0);
      int* finished = scratch<int>(t_steps, npc);  // pairs finished, per KC step
      std::fill(finished, finished + npc, 0);
      parallel::parallel_for(npc * sp.tasks, [&](int64_t i) {
        const int64_t q = i / sp.tasks, t = i % sp.tasks;
        while (__atomic_load_n(done + t, __ATOMIC_ACQUIRE) < q ||
               (q >= slots && __atomic_load_n(finished + q - slots, __ATOMIC_ACQUIRE) < sp.tasks)) {
          if (parallel::job_cancelled()) return;  // the previous step failed
          cpu_relax();
        }
        step(t, q);
        __atomic_store_n(done + t, static_cast<int>(q + 1), __ATOMIC_RELEASE);
        __atomic_add_fetch(finished + q, 1, __ATOMIC_RELEASE);
      });
    } else {
      for (int64_t q = 0; q < npc; ++q)
        for (int64_t t = 0; t < sp.tasks; ++t) step(t, q);
    }
  }
}

// The streamed path (see gemm.h) on the column panels of C at b and c: the whole MR-rounded
// m x KC block of A packed once per KC step, B's micro-panels packed G at a time into one of
// two group buffers, the next group a few rows before each micro-kernel call.
template <typename T>
void gemm_streamed_cols(const Kernels<T>& kr, int64_t m, int64_t n, int64_t k, const T* a, int64_t rsa,
                        int64_t csa, const T* b, int64_t rsb, int64_t csb, T* c, int64_t rsc, int64_t csc,
                        const T* d, int64_t rsd, int64_t csd) {
  const int64_t MR = kr.bs.mr, NR = kr.bs.nr;
  const int64_t kc_max = ceil_div(k, ceil_div(k, kStreamKc));
  const int64_t npc = ceil_div(k, kc_max);
  const int64_t npanels = ceil_div(n, NR), ngroups = ceil_div(npanels, G), tiles = ceil_div(m, MR);
  const int64_t pstride = kc_max * NR, gstride = G * pstride;
  T* apack = scratch<T>(t_pack_a, tiles * MR * kc_max);
  T* bbuf = scratch<T>(t_pack_b, 2 * gstride);
  const bool whole_lines = line_rows<T>(csb, NR);
  // Rows [r0, r1) of group g's micro-panels at KC step pc (kc rows) into dst.
  auto pack_rows = [&](T* dst, int64_t g, int64_t pc, int64_t kc, int64_t r0, int64_t r1, int64_t ahead) {
    const int64_t j0 = g * G, j1 = std::min(npanels, j0 + G);
    pack_b_group<T>(dst, b + pc * rsb + j0 * NR * csb, rsb, csb, r0, r1, kc, j1 - j0, n - j0 * NR, NR, pstride,
                    kr.pack_b, ahead);
  };
  for (int64_t q = 0; q < npc; ++q) {
    const int64_t pc = q * kc_max, kc = std::min(kc_max, k - pc);
    pack_a<T>(apack, a + pc * csa, rsa, csa, m, kc, MR, kr.pack_a);
    pack_rows(bbuf, 0, pc, kc, 0, kc, kPackBAhead);
    for (int64_t g = 0; g < ngroups; ++g) {
      const T* cur = bbuf + (g & 1) * gstride;
      T* nxt = bbuf + ((g + 1) & 1) * gstride;
      const bool more = g + 1 < ngroups;
      const int64_t j0 = g * G, j1 = std::min(npanels, j0 + G);
      // The next group's rows per micro-kernel call: all are packed by this group's end.
      // The transposing packers take 8 rows at a time.
      int64_t chunk = ceil_div(kc, (j1 - j0) * tiles);
      if (!whole_lines) chunk = round_up(chunk, 8);
      int64_t r = 0;
      auto tile = [&](int64_t j, int64_t i0) {
        if (more && r < kc) {
          const int64_t e = std::min(kc, r + chunk);
          pack_rows(nxt, g + 1, pc, kc, r, e, kStreamAheadChunks * chunk);
          r = e;
        }
        T* ct = c + i0 * rsc + j * NR * csc;
        const Addend<T> ad = tile_addend(q > 0, ct, rsc, csc, d, rsd, csd, i0, j * NR);
        kr.ukr(kc, apack + i0 * kc, cur + (j - j0) * pstride, ct, rsc, csc, std::min(MR, m - i0),
               std::min(NR, n - j * NR), ad.p, ad.rs, ad.cs);
      };
      // The packed path's loop order (Blocking::pb): B micro-panels outside (pb = 1) or
      // the A micro-panels outside, each run over the group's G panels.
      if (kr.bs.pb > 1) {
        for (int64_t i0 = 0; i0 < m; i0 += MR)
          for (int64_t j = j0; j < j1; ++j) tile(j, i0);
      } else {
        for (int64_t j = j0; j < j1; ++j)
          for (int64_t i0 = 0; i0 < m; i0 += MR) tile(j, i0);
      }
      interrupt::poll(m * kc * std::min(n - j0 * NR, (j1 - j0) * NR));
      if (more && r < kc) pack_rows(nxt, g + 1, pc, kc, r, kc, kPackBAhead);
    }
  }
}

// The streamed path: one task per thread, each on its own range of column panels (each
// packs all of A for itself: no panel is shared, so nothing waits on another thread).
template <typename T>
void gemm_streamed(const Kernels<T>& kr, int64_t m, int64_t n, int64_t k, const T* a, int64_t rsa, int64_t csa,
                   const T* b, int64_t rsb, int64_t csb, T* c, int64_t rsc, int64_t csc, const T* d, int64_t rsd,
                   int64_t csd) {
  const int64_t NR = kr.bs.nr, npanels = ceil_div(n, NR);
  const int64_t tasks = std::min<int64_t>(threads_for(m, n, k), npanels);
  if (tasks > 1 && npanels < tasks * kStreamMinPanels) {
    gemm_packed<T>(kr, m, n, k, a, rsa, csa, b, rsb, csb, c, rsc, csc, d, rsd, csd, kStreamKc);
    return;
  }
  auto task = [&](int64_t t) {
    const int64_t j0 = t * npanels / tasks * NR, j1 = std::min(n, (t + 1) * npanels / tasks * NR);
    gemm_streamed_cols<T>(kr, m, j1 - j0, k, a, rsa, csa, b + j0 * csb, rsb, csb, c + j0 * csc, rsc, csc,
                          d ? d + j0 * csd : nullptr, rsd, csd);
  };
  if (tasks > 1) parallel::parallel_for(tasks, task);
  else task(0);
}

thread_local Scratch t_sup_b;

// Whether every row of B (at b, row stride rsb) starts on a 64-byte line.
template <typename T>
bool line_aligned(const T* b, int64_t rsb) {
  return reinterpret_cast<uintptr_t>(b) % 64 == 0 && (rsb * static_cast<int64_t>(sizeof(T))) % 64 == 0;
}

// Whether kc rows of a B micro-panel, rsb elements apart (whole lines), fall into so few L1
// sets that the panel cannot stay in L1 while the row tiles read it: a row stride with a
// large power of two in it (128 floats: every 8th set) puts kc / (sets touched) lines in
// each set, against 8 or 12 ways. An L1 way is 4 KiB on every machine measured (32 KiB
// 8-way, 48 KiB 12-way). On the Zen 3 machine (C++ harness, 1 thread, 21 alternating
// rounds, operands line-aligned on huge pages) packing such panels took 128^3 from 71-72
// to 82-83 GFLOP/s (2 threads 129 -> 146), 100 x 128 @ 128 x 128 +12%, (128 x 128)^T @
// 128 x 128 +17%; 64^3, 96^3, 160^3 (32 sets, 5 lines each: packing them was 6% slower)
// and 4 x 1024 x 1024 (one row tile per panel: 33% slower) keep reading in place.
constexpr int64_t kL1WayBytes = 4096;
constexpr int64_t kL1SetLines = 8;
constexpr int64_t kSupPackMinTiles = 4;
template <typename T>
bool rows_crowd_l1(int64_t rsb, int64_t kc) {
  const int64_t stride = rsb * static_cast<int64_t>(sizeof(T)), sets = kL1WayBytes / 64;
  if (stride <= 0 || stride % 64 != 0) return false;
  const int64_t touched = sets / std::gcd(stride / 64, sets);
  return kc / touched > kL1SetLines;
}
// A row-major B whose kc rows crowd L1 while `rows` rows of A (at least kSupPackMinTiles
// row tiles) read each of its micro-panels.
template <typename T>
bool crowded_b(int64_t rsb, int64_t csb, int64_t rows, int64_t mr, int64_t kc) {
  return csb == 1 && rows >= kSupPackMinTiles * mr && rows_crowd_l1<T>(rsb, kc);
}

// The unpacked path (see gemm.h). Tasks are (row block, column-panel range) pairs; each
// runs every KC step of its tile range.
template <typename T>
void gemm_sup(const Kernels<T>& kr, int64_t m, int64_t n, int64_t k, const T* a, int64_t rsa, int64_t csa,
              const T* b, int64_t rsb, int64_t csb, T* c, int64_t rsc, int64_t csc, const T* d, int64_t rsd,
              int64_t csd) {
  const Blocking& bs = kr.bs;
  const int64_t MR = bs.mr, NR = bs.nr;
  const int nt = threads_for(m, n, k);
  const int64_t kc_max = ceil_div(k, ceil_div(k, kSupKc));
  const int64_t npanels = ceil_div(n, NR);
  // One task per thread: every task reads (or packs) all of its KC steps' B micro-panels,
  // so more tasks read B more times (Intel machine, 2 threads, against torch: 128^3
  // 0.92 -> 1.02, 192^3 0.86 -> 0.98, 256^3 0.88 -> 0.97 with one task per thread instead
  // of two; skinny shapes the same).
  const Split sp = split_tasks(m, npanels, MR, m, MR, nt, nt);
  auto task = [&](int64_t t) {
    const int64_t ib = t / sp.nsplit, part = t % sp.nsplit;
    const int64_t i_begin = sp.row_begin(ib), i_end = sp.row_end(ib);
    const int64_t jp0 = part * sp.per_split, jp1 = std::min(npanels, jp0 + sp.per_split);
    if (jp0 >= jp1 || i_begin >= i_end) return;
    // Rows in chunks of MC: a column panel's pass then touches MC rows of C (a few dozen
    // pages, not thousands when m is large), and the chunk's rows of A stay in cache.
    for (int64_t ib0 = i_begin; ib0 < i_end; ib0 += bs.mc) {
      const int64_t ib1 = std::min(i_end, ib0 + bs.mc);
      for (int64_t pc = 0; pc < k; pc += kc_max) {
        const int64_t kc = std::min(kc_max, k - pc);
        // B's rows, read in place, would crowd into a few sets of L1 (rows_crowd_l1) while
        // at least kSupPackMinTiles row tiles read each panel: pack them, G panels at a
        // time, so that each row of B is read once per group, whole lines, instead of a
        // line or two of it per panel (Zen 3, 1 thread, against packing each panel on its
        // own, 24 rounds in one process: 128^3 +3%, 100 x 128 @ 128 x 128 +3%, 64 x 128 @
        // 128 x 256 +5%; 2 threads +3%, +3%, +8%).
        const bool crowd = crowded_b<T>(rsb, csb, ib1 - ib0, MR, kc);
        T* gbuf = crowd ? scratch<T>(t_sup_b, G * kc_max * NR) : nullptr;
        for (int64_t jp = jp0; jp < jp1; ++jp) {
          const int64_t j0 = jp * NR, ne = std::min(NR, n - j0);
          const T* bp = b + pc * rsb + j0 * csb;
          int64_t ldb = rsb;
          if (crowd) {
            const int64_t jg = jp0 + (jp - jp0) / G * G;
            if (jp == jg) {
              const int64_t jg1 = std::min(jp1, jg + G);
              pack_b_group<T>(gbuf, b + pc * rsb + jg * NR, rsb, csb, 0, kc, kc, jg1 - jg, n - jg * NR, NR,
                              kc_max * NR, kr.pack_b);
            }
            bp = gbuf + (jp - jg) * kc_max * NR;
            ldb = NR;
          } else if (csb != 1 || ne < NR || (!kr.sup_unaligned_b && !line_aligned(b, rsb))) {
            // Pack this micro-panel when B is transposed, at the edge, or (unless the ISA's
            // kernel reads them in place: Kernels::sup_unaligned_b) when its rows do not start
            // on cache lines: every vector load would then take two lines (on the Intel
            // machine, 256^3 with both operands 16 bytes off a line: 152 GFLOP/s read in
            // place, 170 with the lines aligned; numpy's arrays are 16-byte aligned).
            T* buf = scratch<T>(t_sup_b, kc_max * NR);
            pack_b_panel<T>(buf, bp, rsb, csb, kc, ne, NR, kr.pack_b);
            bp = buf;
            ldb = NR;
          }
          for (int64_t i0 = ib0; i0 < ib1; i0 += MR) {
            T* ct = c + i0 * rsc + j0 * csc;
            const Addend<T> ad = tile_addend(pc > 0, ct, rsc, csc, d, rsd, csd, i0, j0);
            kr.sukr(kc, a + i0 * rsa + pc * csa, rsa, csa, bp, ldb, ct, rsc, csc, std::min(MR, ib1 - i0), ne, ad.p,
                    ad.rs, ad.cs);
          }
          interrupt::poll((ib1 - ib0) * kc * ne);
        }
      }
    }
  };
  if (nt > 1) parallel::parallel_for(sp.tasks, task);
  else for (int64_t t = 0; t < sp.tasks; ++t) task(t);
}

// The dot path (gemm.h's DotKernel): B^T packed once, zero-padded to a multiple of 16
// values per column; the rows of A cut into one task per thread, each task's rows run
// in chunks between interrupt polls.
template <typename T>
void gemm_dot(const Kernels<T>& kr, int64_t m, int64_t n, int64_t k, const T* a, int64_t rsa, const T* b,
              int64_t rsb, int64_t csb, T* c, int64_t rsc, int64_t csc, const T* d, int64_t rsd, int64_t csd) {
  const int64_t kp = round_up(k, 16);
  T* bt = scratch<T>(t_pack_b, n * kp);
  for (int64_t j = 0; j < n; ++j) {
    T* col = bt + j * kp;
    for (int64_t p = 0; p < k; ++p) col[p] = b[p * rsb + j * csb];
    std::fill(col + k, col + kp, T(0));
  }
  const int nt = threads_for(m, n, k);
  const Split sp = split_tasks(m, 1, 8, m, 8, nt, nt);  // row blocks of whole 8-row units
  // Rows per chunk: about 2^18 multiply-adds between polls.
  const int64_t chunk = std::max<int64_t>(8, (int64_t{1} << 18) / (n * k) / 8 * 8);
  auto task = [&](int64_t t) {
    const int64_t i0 = sp.row_begin(t), i1 = sp.row_end(t);
    for (int64_t i = i0; i < i1; i += chunk) {
      const int64_t rows = std::min(chunk, i1 - i);
      kr.dot(rows, n, k, a + i * rsa, rsa, bt, kp, c + i * rsc, rsc, csc, d ? d + i * rsd : nullptr, rsd, csd);
      interrupt::poll(rows * n * k);
    }
  };
  if (sp.tasks > 1) parallel::parallel_for(sp.tasks, task);
  else task(0);
}

// The unpacked path when a packed operand would be used only a few times. But on one
// thread (and where the table asks for it: Kernels::stream_crowded_b), not when a
// row-major B's rows crowd L1 (rows_crowd_l1: a row stride of 512 bytes, 1024, ...) and
// the rows fit the streamed path: there B's packing is interleaved with the micro-kernel's
// calls. On the Zen 3 machine (AVX2 float32, 1 thread, both operands from numpy, 24 rounds
// in one process, median ratio of rates, against the unpacked path with its group packing):
// 100 x 128 @ 128 x 128 +6%, 64 x 128 @ 128 x 256 +7%, 32 x 256 @ 256 x 256 +15%, 128^3
// +1%, 200 x 100 @ 100 x 128 -2%. On two threads the streamed path lost 12-15% at 128^3
// and 100 x 128 @ 128 x 128 (one task per thread here, the columns split there), so
// threads keep the unpacked path. Both paths split k in steps of 256 (kSupKc, kStreamKc)
// and give every element the same FMAs in the same order: the same bits either way
// (tests/cpp: ResultsDoNotDependOnThreadCount).
template <typename T>
bool prefer_sup(const Kernels<T>& kr, int64_t m, int64_t n, int64_t k, int64_t rsb, int64_t csb, int nt) {
  static_assert(kSupKc == kStreamKc);
  const Blocking& bs = kr.bs;
  if (n <= bs.nr || m <= bs.mr || k <= kSupMaxShortK) return true;
  if (m * n * k > bs.sup_mnk) return false;
  return !(kr.stream_crowded_b && nt == 1 && m <= bs.stream_rows &&
           crowded_b<T>(rsb, csb, m, bs.mr, std::min(k, kSupKc)));
}

// The interrupt handler may run Python code that multiplies matrices on this thread in
// the middle of a product: the nested product then packs into buffers of its own.
thread_local int t_depth = 0;
struct Reentry {
  Scratch saved[7];
  bool nested;
  Reentry() : nested(t_depth++ > 0) {
    if (nested) swap();
  }
  ~Reentry() {
    --t_depth;
    if (nested) swap();  // the nested buffers end up in `saved`, freed here
  }
  void swap() {
    Scratch* live[7] = {&t_pack_a, &t_pack_b, &t_flags, &t_sup_b, &t_pack_x, &t_done, &t_steps};
    for (int i = 0; i < 7; ++i) {
      std::swap(saved[i].p, live[i]->p);
      std::swap(saved[i].cap, live[i]->cap);
    }
  }
};

template <typename T>
void gemm_any(const Kernels<T>& kr, int64_t m, int64_t n, int64_t k, const T* a, int64_t rsa, int64_t csa,
              const T* b, int64_t rsb, int64_t csb, T* c, int64_t rsc, int64_t csc, const T* d, int64_t rsd,
              int64_t csd) {
  Reentry reentry;
  const int64_t bt_bytes = n * round_up(k, 16) * static_cast<int64_t>(sizeof(T));
  const bool bt_fits = kr.dot_max_bt_bytes == 0 || bt_bytes <= kr.dot_max_bt_bytes;
  if (kr.dot && n <= kDotMaxN && csa == 1 && k >= kDotMinK && bt_fits) {
    gemm_dot<T>(kr, m, n, k, a, rsa, b, rsb, csb, c, rsc, csc, d, rsd, csd);
    return;
  }
  if (prefer_sup<T>(kr, m, n, k, rsb, csb, threads_for(m, n, k))) {
    // C^T = B^T A^T when that makes B row-major (A column-major, B not), or when both are
    // row-major either way and the transposed tile grid wastes less of the MR x NR tiles.
    const bool b_rows = csb == 1, bt_rows = rsa == 1;  // B, and B' = A^T, row-major
    auto waste = [&](int64_t mm, int64_t nn) { return round_up(mm, kr.bs.mr) * round_up(nn, kr.bs.nr); };
    const bool swap = (!b_rows && bt_rows) || (b_rows && bt_rows && waste(n, m) < waste(m, n));
    if (swap) gemm_sup<T>(kr, n, m, k, b, csb, rsb, a, csa, rsa, c, csc, rsc, d, csd, rsd);
    else gemm_sup<T>(kr, m, n, k, a, rsa, csa, b, rsb, csb, c, rsc, csc, d, rsd, csd);
    return;
  }
  if (m <= kr.bs.stream_rows) {
    gemm_streamed<T>(kr, m, n, k, a, rsa, csa, b, rsb, csb, c, rsc, csc, d, rsd, csd);
    return;
  }
  gemm_packed<T>(kr, m, n, k, a, rsa, csa, b, rsb, csb, c, rsc, csc, d, rsd, csd, kr.bs.kc);
}

}  // namespace

int64_t pb_for_l2(const Blocking& bs, int64_t elem_bytes, int64_t l2_bytes) {
  if (l2_bytes <= 0) return bs.pb;
  const int64_t panel = bs.kc * bs.nr * elem_bytes;
  return std::clamp<int64_t>(l2_bytes / 2 / panel, 1, bs.pb);
}

Blocking fit_l2(Blocking bs, int64_t elem_bytes, int64_t l2_bytes, int64_t large_l2_kc) {
  if (large_l2_kc > 0 && l2_bytes >= kLargeL2Bytes) bs.kc = large_l2_kc;
  bs.pb = pb_for_l2(bs, elem_bytes, l2_bytes);
  return bs;
}

int64_t l2_cache_bytes() {
#ifdef _SC_LEVEL2_CACHE_SIZE
  const long v = sysconf(_SC_LEVEL2_CACHE_SIZE);
  return v > 0 ? v : 0;
#else
  return 0;
#endif
}

void gemm_f32(const Kernels<float>& kr, int64_t m, int64_t n, int64_t k, const float* a, int64_t rsa, int64_t csa,
              const float* b, int64_t rsb, int64_t csb, float* c, int64_t rsc, int64_t csc, const float* d,
              int64_t rsd, int64_t csd) {
  gemm_any<float>(kr, m, n, k, a, rsa, csa, b, rsb, csb, c, rsc, csc, d, rsd, csd);
}

void gemm_f64(const Kernels<double>& kr, int64_t m, int64_t n, int64_t k, const double* a, int64_t rsa,
              int64_t csa, const double* b, int64_t rsb, int64_t csb, double* c, int64_t rsc, int64_t csc,
              const double* d, int64_t rsd, int64_t csd) {
  gemm_any<double>(kr, m, n, k, a, rsa, csa, b, rsb, csb, c, rsc, csc, d, rsd, csd);
}

}  // namespace ember::kernels::blis
