// GEMM, BLIS style: five loops around one register-blocked micro-kernel.
//
//   loop 5  jc over n in steps of NC     B panel (KC x NC) -> packed once per (jc, pc), shared
//   loop 4  pc over k in steps of KC       by every thread, as NR-wide column micro-panels
//   loop 3  ic over m in steps of MC     A block (MC x KC) -> packed by the thread that runs
//   loop 2  jr over the NC panel by NR     this ic block, as MR-tall row micro-panels
//   loop 1  ir over the MC block by MR   micro-kernel: an MR x NR tile of C
//
// Sizes: BLIS's zen3 context (32 KiB L1d, 512 KiB L2/core) has KC = 256, a KC x NR
// micro-panel of B (16 KiB) in L1 and the MC x KC block of A (144 KiB) in L2. On the Zen 1
// machine float32 runs a little better at KC = 512 (a 32 KiB B micro-panel streamed from
// L2, a 288 KiB A block; fewer KC steps mean fewer passes of C through the cache). A/B in
// one process, KC 512 against 256: operands on 4 KiB pages, 512^3 / 1024^3 / 2048^3 +1.3 /
// +1.2 / +1.5% on one thread and +1.6 / +1.4 / +1.8% on two; on huge pages (as numpy's
// large arrays and ember's own are) +0.9-1.4 / +0.7-1.0 / +0.1-0.7% and +0.9 / +0.9 /
// +0.4%; (4096 x 256)^T @ (4096 x 1024) -0.5 to +0.8% either way. KC = 384 and 768 were
// 0.7-1.4% slower than 512; MC = 96 1-2% slower than 144, MC = 192 within 0.8%. float64
// keeps KC = 256 (not measured at 512). The unpacked path keeps KC = kSupKc.
//
// Packing reads any row/column strides (so A^T, B^T and x[::2] are never copied) and
// zero-pads partial micro-panels to MR / NR, so edge tiles run the same micro-kernel (the
// AVX2 one runs tiles of at most 4 or 2 rows through a 4- or 2-row body, with the same FMAs
// in the same order per element). The ISA's packers transpose in registers (A's rows and a
// column-major B's columns, 8 values of k at a time); the portable loops take the other
// layouts and the edges.
//
// Threads: one parallel_for per NC block of B (usually one per call). Its tasks are
// (ic block, jr range) pairs, and each task runs its rows through every KC step, so tasks
// never write the same C and need no barrier between KC steps. B is packed on demand: the
// first task that needs a KC x NR micro-panel packs it and its group of neighbours (a flag
// per group of 4, claimed with a compare-and-swap), the others wait for the flag, and the
// packed NC block (all of K) is shared. Every element of C is computed by the same
// sequence of FMAs whatever the split, so results do not depend on the thread count.
//
// Small and skinny products take the unpacked path ("sup", as BLIS calls it): A is read in
// place through its strides, B too when it is row-major (else one KC x NR micro-panel at a
// time is packed; and G at a time, row by row, when B's rows would crowd a few L1 sets),
// so nothing of size m x k or k x n is copied. It wins when a packed operand would be used
// only a few times: small m n k, n <= NR (A used once), m <= MR, or a short k. Its k split
// is in steps of kSupKc. (On one thread, a small product whose B rows crowd L1 takes the
// streamed path instead, where the table asks for it: gemm.cpp's prefer_sup.)
//
// Products with few rows take the streamed path (m <= stream_rows: float32 264, so the
// transposed MLP shape's 256 and 256^3). All m rows of A make one block (m x kStreamKc, in
// L2), so each B micro-panel serves every row right after it is packed and B is never held
// whole: its micro-panels are packed G at a time into one of two group buffers (2 x 64 KiB,
// in L2 beside A), and while the micro-kernel runs on one group the next is packed a few
// rows before each call, so B's reads from memory overlap the FMAs. In the five loops the
// same shape writes its 2 MiB B block out to L3 and the second row block reads it back; the
// packing, timed alone (the loops with B's packing skipped), was 4% of (256 x 4096)^T @
// (4096 x 1024) on one thread. With threads, each takes a range of column panels and packs
// all of A itself; with fewer than kStreamMinPanels panels per thread, the five loops run
// at KC = kStreamKc instead, the same sums in the same order. A/B in one process on the
// Zen 1 machine (operands on huge pages, against the five loops at KC 512), 1 thread:
// (256 x 4096)^T @ (4096 x 1024) +2.4-3.0%, (256 x 4096) @ (4096 x 1024) +1.7%, 256^3
// +1.2-2.3%, (100 x 4096)^T @ (4096 x 1024) +4.7%; 2 threads: +3.6-5.5% / -1.1-+3.4% /
// -1.7-+0.7% on the first three. The column split against the loops at KC 256 on 2 threads,
// (256 x 4096)^T @ (4096 x n): n = 64 / 128 / 256 / 512 -9 / -4 / -2 / +3.5%. float64 does
// not take this path (not measured).
//
// Micro-kernel contract (written once, here):
//   ukr(k, a, b, c, rsc, csc, m_eff, n_eff, d, rsd, csd)
//   a: packed MR x k micro-panel, a[p * MR + i]; b: packed k x NR micro-panel, b[p * NR + j]
//   (both 32-byte aligned); c: an m_eff x n_eff tile (m_eff <= MR, n_eff <= NR) at row
//   stride rsc and column stride csc. It computes the full MR x NR product in registers
//   and writes C = A B + D (C = A B when d is null) to the m_eff x n_eff part only. D is
//   the tile of the addend at strides (rsd, csd): C itself (C += A B, the later KC steps),
//   a bias row or column (a stride of 0) or any matrix not overlapping C (the first KC
//   step of C = A B + D). C is never read unless it is D (it may hold garbage or NaN).
#pragma once

#include <cstdint>

namespace ember::kernels::blis {

template <typename T>
using MicroKernel = void (*)(int64_t k, const T* a, const T* b, T* c, int64_t rsc, int64_t csc, int64_t m_eff,
                             int64_t n_eff, const T* d, int64_t rsd, int64_t csd);

// stream_rows: products with m up to this take the streamed path (0: never).
// sup_mnk: the unpacked path takes products with m n k up to this (and the shapes of
// prefer_sup in gemm.cpp whatever their size).
// pb: the packed path's B micro-panels per group (1..kMaxPb). Loop 2 (over B's
// micro-panels) runs outside loop 1 (over A's) one group at a time: with pb = 1 a B
// micro-panel stays in L1 while every A micro-panel of the block streams past it; with
// pb > 1 an A micro-panel stays in L1 while the group's B micro-panels stream from L2.
struct Blocking {
  int64_t mr, nr, kc, mc, nc, stream_rows, pb, sup_mnk;
};
constexpr int64_t kMaxPb = 32;

// float32: 6 x 16 micro-tile (12 ymm accumulators).
constexpr Blocking kBlockingF32{6, 16, 512, 144, 4080, 264, 1, 160 * 160 * 160};
// float64: 6 x 8 micro-tile (12 ymm accumulators).
constexpr Blocking kBlockingF64{6, 8, 256, 72, 4080, 0, 1, 160 * 160 * 160};
// AVX-512 (avx512/gemm_avx512.cpp): 12 x 32 float32 and 12 x 16 float64 tiles (24 zmm
// accumulators). A KC x NR micro-panel of B is KC x 128 bytes for both. On the Zen 5
// machine (48 KiB L1d, 1 MiB L2 per core) float32 ran best at KC = 512 and MC = 480 (a
// 64 KiB B micro-panel streamed from L2 beside a 960 KiB A block), though within the
// noise of KC = 512, MC = 240: 512^3 / 1024^3 / 2048^3 against numpy in the same process,
// three alternating runs each, 1 thread: KC 256 MC 240 0.96-0.98 / 0.98-1.02 / 0.97-0.98,
// KC 512 MC 480 0.95-0.98 / 0.99-1.03 / 0.99-1.00, KC 384 MC 480 0.97-0.99 / 1.00-1.02 /
// 0.94-0.95, KC 192 up to 8% slower at 2048^3. Asking for B's rows 8 or 16 k steps ahead
// in the micro-kernel gained nothing.
// On the Intel Xeon machine (AVX-512, 48 KiB L1d, 2 MiB L2 per core) the same blocking
// ran 0.90-0.95 of torch (MKL) at 1024^3 and 2048^3 whatever KC (192..512) and MC
// (480..960); running each A micro-panel over a group of 16 B micro-panels (pb = 16: 1
// MiB of B in L2, the 24 KiB A micro-panel in L1) instead gave 0.96-0.99 at KC = 512, MC
// = 480, the MLP shapes +5-12% and float64 +4-7% (ember and torch alternating in one
// process, three rounds per shape, 1 thread; pb 4, 8: 2-3% below 16). Against
// bench/fma_peak.c in the same interleaved rounds there (that machine's clock moves by
// ~10% within minutes): a bare 12 x 32 loop of broadcast loads and FMAs 0.92 of the peak,
// the micro-kernel on one pair of panels 0.87, over 16 B micro-panels 0.85, over a pre-
// packed 1008 x 512 x 1008 product with its C 0.81 (bench/gemm_interleaved.py, whole
// products: 0.69-0.75, MKL 0.70-0.78). Bare loops of 14 x 32, 8 x 48, 9 x 48 and 6 x 64
// tiles ran within 5% of 12 x 32. Products up to 256^3 run unpacked there (256^3: 1.00 of
// MKL unpacked, 0.89 packed; 192^3 0.99 against 0.84); float64 keeps the 160^3 limit and
// the AVX2 table's KC (not measured there); its pb = 16 ran 0.90-0.97 of MKL at
// 256^3..2048^3, pb = 1 0.86-0.91.
// The pb here is the most a group takes: at start-up pb_for_l2 cuts it so that a group
// fits in half of the L2 the CPU reports. On the Zen 5 machine (1 MiB L2) that makes the
// float32 group 8 micro-panels (512 KiB) instead of 16 (1 MiB, all of L2): one process per
// variant, alternating, 8 rounds, median ratio to numpy, 512^3 / 1024^3 / 2048^3 /
// (256 x 4096)^T @ (4096 x 1024): 1 thread pb 16 0.96 / 1.06 / 1.03 / 1.07, pb 8 1.01 /
// 1.10 / 1.06 / 1.09; 2 threads pb 16 1.06 / 1.00 / 0.99 / 1.03, pb 8 1.12 / 1.04 / 1.05 /
// 1.06 (pb 4 within 2% of pb 8). The float64 group (32 KiB micro-panels) stays at 16.
// The Zen 4 machine (32 KiB L1d, 1 MiB L2 per core, 512-bit operations on 256-bit units)
// runs the same fitted blocking (KC 512, MC 480, pb 8), not tuned there: float32 at 83-93%
// of the FMA loop on 1 thread over 256^3..2048^3 and the MLP shapes, 1.02-1.16x the better
// of numpy and torch on 1 and 2 threads (bench/run.py, four runs).
constexpr Blocking kBlockingF32Avx512{12, 32, 512, 480, 4064, 264, 16, 256 * 256 * 256};
constexpr Blocking kBlockingF64Avx512{12, 16, 256, 120, 4064, 0, 16, 160 * 160 * 160};
static_assert(kBlockingF32Avx512.pb <= kMaxPb && kBlockingF64Avx512.pb <= kMaxPb);

// The group size (Blocking::pb) for a CPU with l2_bytes of L2 per core (0: not known, the
// table's pb): as many KC x NR micro-panels of elem_bytes values as fill half of L2, at
// least 1 and at most the table's pb.
int64_t pb_for_l2(const Blocking& bs, int64_t elem_bytes, int64_t l2_bytes);

// CPUs with at least this much L2 per core run the AVX-512 float32 table at KC =
// kLargeL2KcF32. On the Intel Xeon machine (2 MiB L2) KC 256 against 512, one process per
// variant, alternating, 6 rounds, median ratio: 2 threads 768^3 / 1024^3 / 1536^3 /
// 2048^3 1.016 / 1.036 / 1.035 / 1.040 (1000^3 1.014, 3000 x 1500 @ 1500 x 2000 1.021);
// 1 thread 1.003-1.011. KC 384 on 2 threads: 1.02; KC 192 0.97-0.98 of KC 256; MC 240 and
// 960 at KC 256 within 1.6%. The Zen 5 machine (1 MiB L2) ran best at KC 512 (above).
constexpr int64_t kLargeL2Bytes = int64_t{2} << 20;
constexpr int64_t kLargeL2KcF32 = 256;

// The table's blocking for a CPU with l2_bytes of L2 per core: KC becomes large_l2_kc (when
// > 0) if l2_bytes >= kLargeL2Bytes, then pb_for_l2 cuts the group to the new KC.
Blocking fit_l2(Blocking bs, int64_t elem_bytes, int64_t l2_bytes, int64_t large_l2_kc);
// The L2 per core the CPU reports (glibc's sysconf), or 0.
int64_t l2_cache_bytes();

// Products with m * n * k below this skip the loops entirely (avx2/gemm_avx2.cpp's small path).
constexpr int64_t kSmallMNK = 32 * 32 * 32;
// Products with 2 m n k below this stay on one thread.
constexpr int64_t kParallelFlops = 2 * 96 * 96 * 96;
// The unpacked path takes any product with k up to this, n <= NR or m <= MR.
constexpr int64_t kSupMaxShortK = 32;
// The unpacked path's KC (both dtypes): its B micro-panel, read in place or packed one
// at a time, stays in L1 at 256.
constexpr int64_t kSupKc = 256;
// The streamed path's KC: its m x KC block of A (up to 264 x 256 floats, 264 KiB) and two
// groups of G B micro-panels (2 x 64 KiB) stay in L2 together.
constexpr int64_t kStreamKc = 256;
// With threads, the streamed path gives each thread at least this many column panels;
// narrower products run the five loops at KC = kStreamKc (the same sums, in the same order).
constexpr int64_t kStreamMinPanels = 16;
// The packed B block (all of k, NC columns) is kept within this many bytes.
constexpr int64_t kPackBBytes = int64_t{16} << 20;
// With threads, the packed path cuts m into at least 2 tasks per thread while each keeps
// at least this many rows.
constexpr int64_t kMinTaskRows = 96;

// Unpacked micro-kernel contract: sukr(k, a, rsa, csa, b, ldb, c, rsc, csc, m_eff, n_eff,
// d, rsd, csd) is ukr with A read in place (row i, step p at a[i * rsa + p * csa]; rows
// >= m_eff are never read) and B read as k rows of NR contiguous values at row stride ldb
// (b[p * ldb + j], any alignment; all NR columns are read).
template <typename T>
using SupKernel = void (*)(int64_t k, const T* a, int64_t rsa, int64_t csa, const T* b, int64_t ldb, T* c,
                           int64_t rsc, int64_t csc, int64_t m_eff, int64_t n_eff, const T* d, int64_t rsd,
                           int64_t csd);

// Packing one full micro-panel, ISA-specific (null, or returning false, for a layout it
// does not handle: the portable loops in gemm.cpp then pack it):
//   pack_a(dst, a, rsa, csa, kc): MR rows of A at `a` -> dst[p * MR + i], p < kc
//   pack_b(dst, b, rsb, csb, kc): NR columns of B at `b` -> dst[p * NR + j], p < kc
// dst is 32-byte aligned; nothing outside the MR x kc (kc x NR) operand is read.
template <typename T>
using PackPanel = bool (*)(T* dst, const T* src, int64_t rs, int64_t cs, int64_t kc);

// Dot-product kernel for products with few columns (ISA-specific, may be null):
//   dot(rows, n, k, a, rsa, bt, kp, c, rsc, csc, d, rsd, csd)
// computes C = A B (+ D) for `rows` rows of row-major A (row i at a + i * rsa, k
// contiguous values) and n <= kDotMaxN columns, as dot products along k: bt holds B^T,
// column j of B at bt + j * kp (kp >= k a multiple of 16, zero past k, 64-byte aligned).
// C and D at any strides (D as in the micro-kernel's contract; null: no addend).
template <typename T>
using DotKernel = void (*)(int64_t rows, int64_t n, int64_t k, const T* a, int64_t rsa, const T* bt, int64_t kp,
                           T* c, int64_t rsc, int64_t csc, const T* d, int64_t rsd, int64_t csd);
// The dot path takes products with n up to this, A row-major and k at least kDotMinK.
constexpr int64_t kDotMaxN = 16;
constexpr int64_t kDotMinK = 32;

template <typename T>
struct Kernels {
  Blocking bs;
  MicroKernel<T> ukr;
  SupKernel<T> sukr;
  PackPanel<T> pack_a = nullptr;
  PackPanel<T> pack_b = nullptr;
  DotKernel<T> dot = nullptr;
  // The dot path takes a product only while its packed B^T (n columns of k rounded up to 16)
  // has at most this many bytes; 0: any size.
  int64_t dot_max_bt_bytes = 0;
  // The unpacked path reads a row-major B in place even when its rows do not start on
  // cache lines (false: it packs such B one micro-panel at a time).
  bool sup_unaligned_b = false;
  // On one thread, products in the unpacked path's range whose row-major B has rows that
  // crowd L1 take the streamed path instead (gemm.cpp's prefer_sup; measured on AVX2 only).
  bool stream_crowded_b = false;
};

// C (m x n) = A (m x k) @ B (k x n) [+ D] (kernels.h's contract for D): the unpacked path or
// the five loops, chosen from the shape and the layout only. Requires m, n, k >= 1.
void gemm_f32(const Kernels<float>& kr, int64_t m, int64_t n, int64_t k, const float* a, int64_t rsa, int64_t csa,
              const float* b, int64_t rsb, int64_t csb, float* c, int64_t rsc, int64_t csc, const float* d,
              int64_t rsd, int64_t csd);
void gemm_f64(const Kernels<double>& kr, int64_t m, int64_t n, int64_t k, const double* a, int64_t rsa,
              int64_t csa, const double* b, int64_t rsb, int64_t csb, double* c, int64_t rsc, int64_t csc,
              const double* d, int64_t rsd, int64_t csd);

}  // namespace ember::kernels::blis
