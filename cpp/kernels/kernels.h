// The kernel interface: raw pointers, sizes and strides, never Tensor.
//
// The op layer checks arguments, allocates outputs, broadcasts and coalesces
// dimensions, then calls one entry of the KernelTable chosen at start-up. Kernels only
// compute. Strides are in elements, may be zero (broadcast) and are never negative.
//
// Contract shared by every elementwise kernel: a Loop describes an N-d iteration
// space (ndim >= 1, shape[i] >= 1 unless the space is empty) and up to four operands,
// each a base pointer plus one stride per dim. Operand 0 is the output. An output may
// alias an input only with identical strides (in-place ops).
//
// The reference table (ref/) is plain scalar loops; it stays forever as the fallback
// and as the oracle for faster tables. EMBER_CPU=reference forces it.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ember::kernels {

constexpr int kMaxOperands = 4;

struct Loop {
  int ndim = 0;
  const int64_t* shape = nullptr;
  char* ptr[kMaxOperands] = {};
  const int64_t* strides[kMaxOperands] = {};
};

enum class UnaryOp : uint8_t { Neg, Exp, Log, Sqrt, Tanh, Sigmoid, Relu, Abs, Sin, Cos, Sign, Reciprocal, LogicalNot };

// Arithmetic ops write the operands' dtype; comparison and logical ops write bool.
enum class BinaryOp : uint8_t { Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr };

enum class ReduceOp : uint8_t { Sum, Max, Min };

inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::Eq; }

// One value of any dtype, for fills and clamp bounds.
struct ScalarValue {
  double f = 0;
  int64_t i = 0;
};

struct KernelTable {
  const char* name;
  // out = op(in); operands 0 (out), 1 (in), both of `dt` (LogicalNot: bool in, bool out).
  void (*unary)(UnaryOp op, DType dt, const Loop& loop);
  // out = op(a, b); operands 0 (out), 1 (a), 2 (b); a, b of `dt`; out of `dt` or bool.
  void (*binary)(BinaryOp op, DType dt, const Loop& loop);
  // out = min(max(in, lo), hi), each bound optional; NaN propagates. Operands 0, 1.
  void (*clamp)(DType dt, const Loop& loop, const ScalarValue* lo, const ScalarValue* hi);
  // clamp's gradient: out = (x >= lo && x <= hi) ? g : 0, each bound optional, compared in
  // `dt` (0 where x or a bound is NaN, as PyTorch's where(mask, g, 0)). Operands 0 (out),
  // 1 (g), 2 (x), all of `dt`.
  void (*clamp_backward)(DType dt, const Loop& loop, const ScalarValue* lo, const ScalarValue* hi);
  // relu's gradient (PyTorch's threshold_backward): out = x <= threshold ? 0 : g, so a NaN
  // x passes g. Operands 0 (out), 1 (g), 2 (x), all of `dt`.
  void (*threshold_backward)(DType dt, const Loop& loop, ScalarValue threshold);
  // out = cond ? a : b; operands 0 (out), 1 (cond, bool), 2 (a), 3 (b).
  void (*where)(DType dt, const Loop& loop);
  // out (dst dtype) = in (src dtype) converted; operands 0, 1.
  void (*cast_copy)(DType dst, DType src, const Loop& loop);
  // out = value; operand 0.
  void (*fill)(DType dt, const Loop& loop, ScalarValue value);
  // For each index of `outer` (operand 0: out, operand 1: in), reduces `in` over the
  // `inner` space (its strides are in inner.strides[1]). Sum accumulates floats in
  // double and integers in int64, in a fixed order (results do not depend on threads).
  // Max/Min propagate NaN. The output dtype equals `dt` (the op layer casts).
  void (*reduce)(ReduceOp op, DType dt, const Loop& outer, const Loop& inner);
  // Max/Min over one dim with the index of the first extreme (first NaN wins).
  // outer operands: 0 values (dt), 1 indices (int64), 2 in; the reduced dim has n
  // elements at stride `stride` of operand 2.
  void (*arg_reduce)(ReduceOp op, DType dt, const Loop& outer, int64_t n, int64_t stride);
  // C (m x n) = A (m x k) @ B (k x n) + D, or = A @ B when d is null. Every operand is
  // addressed by a row stride and a column stride, so transposed views need no copy. D is
  // C itself (C += A B: d == c with C's strides) or does not overlap C; a stride of 0
  // broadcasts it (a bias row: rsd = 0). C is never read unless it is D.
  void (*gemm)(DType dt, int64_t m, int64_t n, int64_t k, const char* a, int64_t rsa, int64_t csa, const char* b,
               int64_t rsb, int64_t csb, char* c, int64_t rsc, int64_t csc, const char* d, int64_t rsd,
               int64_t csd);
};

// The table in use, chosen once (first call) from the CPU and EMBER_CPU:
// EMBER_CPU=reference forces the scalar table and EMBER_CPU=avx2 the AVX2 one; otherwise
// AVX-512 when the CPU has F, VL, DQ and BW, else AVX2+FMA when it has both.
const KernelTable& active();
// The scalar reference table.
const KernelTable& reference();
// The AVX2+FMA table (avx2/: vector kernels, falling back to the reference ones for
// what they do not cover), or null when this CPU lacks AVX2 or FMA.
const KernelTable* avx2_table();
// The AVX2 table with avx512/'s GEMM, or null when this CPU lacks AVX-512 (F, VL, DQ, BW).
const KernelTable* avx512_table();

// Which build of PyTorch's CPU kernels ember's bit-exact results (random streams,
// linspace) follow, by torch.backends.cpu.get_cpu_capability()'s names: "AVX512" with the
// AVX-512 table, "AVX2" with the AVX2 table, "DEFAULT" with the reference table (torch,
// too, runs its baseline build on a CPU without AVX2+FMA, and with
// ATEN_CPU_CAPABILITY=default). torch's AVX512 and AVX2 builds give the same streams
// (checked on the Zen 5 machine). See core/torch_fma.h.
const char* torch_capability();
// torch_capability() is "AVX2" or "AVX512": those builds of torch fuse the multiply-adds
// ember reproduces.
bool torch_fused_build();

// The CPU's family when it is an AMD one (0x19: Zen 3 and Zen 4, 0x1a: Zen 5), else 0;
// for the tunings measured on one family only.
unsigned amd_cpu_family();

// What dispatch saw and chose, for ember.backend_info().
struct BackendInfo {
  const char* table;       // active().name
  bool cpu_avx2, cpu_fma, cpu_avx512;  // CPU features detected (avx512: F, VL, DQ and BW)
  const char* ember_cpu;   // the EMBER_CPU value read at start-up, or null
};
BackendInfo backend_info();

}  // namespace ember::kernels
