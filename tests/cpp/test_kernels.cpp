// Kernel tests: each kernel table (the scalar reference and the table chosen at
// start-up) against naive loops written here, over awkward sizes (1, 7, 8, 9, 15, 16,
// 17, 255, 257) and contiguous, strided, broadcast, transposed and in-place operands,
// in float32 and float64. Gaps between strided output elements must stay untouched.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/shape.h"
#include "kernels/kernels.h"

namespace ember::kernels {
namespace {

const int64_t kSizes[] = {1, 7, 8, 9, 15, 16, 17, 255, 257};

struct TableParam {
  const char* name;
  const KernelTable& (*get)();
};

class Kernels : public ::testing::TestWithParam<TableParam> {
 protected:
  const KernelTable& table() const { return GetParam().get(); }
};

template <typename T>
constexpr DType dtype_of() {
  return std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
}

template <typename T>
double rel_tol() {
  return std::is_same_v<T, float> ? 2e-6 : 1e-14;
}

// What untouched memory holds. Bool outputs are read as uint8_t (a kernel writes 0 or 1).
template <typename T>
T sentinel() {
  if constexpr (std::is_same_v<T, uint8_t>) return 0xAB;
  else return static_cast<T>(-12345.0);
}

// One N-d operand: a buffer plus strides (in elements) over a shared shape.
template <typename T>
struct Operand {
  std::vector<T> buf;
  Strides strides;
  int64_t offset = 0;
  char* ptr() { return reinterpret_cast<char*>(buf.data() + offset); }
  T& at(const Shape& shape, int64_t flat) {
    int64_t off = offset;
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      off += (flat % shape[d]) * strides[d];
      flat /= shape[d];
    }
    return buf[static_cast<size_t>(off)];
  }
};

// A buffer big enough for (shape, strides) plus `offset`, filled with the sentinel.
template <typename T>
Operand<T> make_operand(const Shape& shape, const Strides& strides, int64_t offset = 0) {
  int64_t span = 1;
  for (size_t d = 0; d < shape.size(); ++d) span += (shape[d] - 1) * strides[d];
  Operand<T> o;
  o.buf.assign(static_cast<size_t>(span + offset + 3), sentinel<T>());
  o.strides = strides;
  o.offset = offset;
  return o;
}

// The layouts every elementwise test runs: (shape, out strides, input strides).
struct Layout {
  std::string name;
  Shape shape;
  Strides out, in1, in2;
  bool inplace = false;  // out aliases in1 (same strides)
};

std::vector<Layout> layouts(int64_t n) {
  return {
      {"contiguous", {n}, {1}, {1}, {1}},
      {"strided", {n}, {2}, {3}, {5}},
      {"broadcast_b", {n}, {1}, {1}, {0}},
      {"broadcast_a", {n}, {1}, {0}, {2}},
      {"inplace", {n}, {1}, {1}, {1}, true},
      // a (3, n) loop reading in1 transposed from an (n, 3) buffer.
      {"transposed", {3, n}, {n, 1}, {1, 3}, {n, 1}},
      {"2d_strided", {2, n}, {n + 3, 1}, {2 * n + 1, 2}, {0, 1}},
  };
}

template <typename T>
std::vector<T> random_vec(std::mt19937_64& rng, size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(d(rng));
  return v;
}

void expect_near_rel(double got, double want, double rtol, const std::string& what) {
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << what << ": got " << got << ", want nan";
    return;
  }
  EXPECT_NEAR(got, want, rtol * (1.0 + std::abs(want))) << what;
}

// Elements of `o`'s buffer not covered by the loop must still hold the sentinel.
template <typename T>
void expect_gaps_untouched(Operand<T>& o, const Shape& shape, const std::string& what) {
  std::vector<bool> covered(o.buf.size(), false);
  for (int64_t i = 0; i < shape_numel(shape); ++i) covered[&o.at(shape, i) - o.buf.data()] = true;
  for (size_t i = 0; i < o.buf.size(); ++i) {
    if (covered[i]) continue;
    ASSERT_EQ(o.buf[i], sentinel<T>()) << what << ": wrote outside the output, at " << i;
  }
}

// ---------------------------------------------------------------- unary

double unary_ref(UnaryOp op, double x) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Log: return std::log(x);
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Tanh: return std::tanh(x);
    case UnaryOp::Sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case UnaryOp::Relu: return x > 0 ? x : 0.0;
    case UnaryOp::Abs: return std::fabs(x);
    case UnaryOp::Sin: return std::sin(x);
    case UnaryOp::Cos: return std::cos(x);
    case UnaryOp::Sign: return (x > 0) - (x < 0);
    case UnaryOp::Reciprocal: return 1.0 / x;
    case UnaryOp::LogicalNot: return x == 0;
  }
  return 0;
}

const UnaryOp kUnaryOps[] = {UnaryOp::Neg,  UnaryOp::Exp, UnaryOp::Log, UnaryOp::Sqrt, UnaryOp::Tanh,
                             UnaryOp::Sigmoid, UnaryOp::Relu, UnaryOp::Abs, UnaryOp::Sin, UnaryOp::Cos,
                             UnaryOp::Sign, UnaryOp::Reciprocal};

template <typename T>
void check_unary(const KernelTable& table) {
  std::mt19937_64 rng(1);
  for (UnaryOp op : kUnaryOps) {
    const bool positive = op == UnaryOp::Log || op == UnaryOp::Sqrt;
    for (int64_t n : kSizes) {
      for (const Layout& L : layouts(n)) {
        const std::string what = std::string("unary op ") + std::to_string(static_cast<int>(op)) + " n=" +
                                 std::to_string(n) + " " + L.name;
        Operand<T> in = make_operand<T>(L.shape, L.in1);
        const int64_t numel = shape_numel(L.shape);
        std::vector<T> vals = random_vec<T>(rng, static_cast<size_t>(numel), positive ? 0.01 : -4.0, 4.0);
        if (op == UnaryOp::Relu || op == UnaryOp::Sign || op == UnaryOp::Abs) vals[0] = T(0);
        // in1 may broadcast (stride 0): write in order so repeated slots hold the last value.
        for (int64_t i = 0; i < numel; ++i) in.at(L.shape, i) = vals[i];
        for (int64_t i = 0; i < numel; ++i) vals[i] = in.at(L.shape, i);
        Operand<T> out = L.inplace ? in : make_operand<T>(L.shape, L.out);
        Loop loop;
        loop.ndim = static_cast<int>(L.shape.size());
        loop.shape = L.shape.data();
        loop.ptr[0] = out.ptr();
        loop.strides[0] = out.strides.data();
        loop.ptr[1] = L.inplace ? out.ptr() : in.ptr();
        loop.strides[1] = in.strides.data();
        table.unary(op, dtype_of<T>(), loop);
        for (int64_t i = 0; i < numel; ++i) {
          double want = static_cast<T>(unary_ref(op, static_cast<double>(vals[i])));
          expect_near_rel(out.at(L.shape, i), want, rel_tol<T>(), what + " element " + std::to_string(i));
        }
        if (!L.inplace) expect_gaps_untouched(out, L.shape, what);
      }
    }
  }
}

TEST_P(Kernels, UnaryFloat32) { check_unary<float>(table()); }
TEST_P(Kernels, UnaryFloat64) { check_unary<double>(table()); }

TEST_P(Kernels, UnarySpecialValues) {
  const double nan = std::nan("");
  const double inf = HUGE_VAL;
  std::vector<double> x = {nan, inf, -inf, 0.0, -0.0};
  Shape shape{static_cast<int64_t>(x.size())};
  Strides s{1};
  for (UnaryOp op : {UnaryOp::Relu, UnaryOp::Sign, UnaryOp::Abs, UnaryOp::Neg}) {
    std::vector<double> out(x.size());
    Loop loop;
    loop.ndim = 1;
    loop.shape = shape.data();
    loop.ptr[0] = reinterpret_cast<char*>(out.data());
    loop.ptr[1] = reinterpret_cast<char*>(x.data());
    loop.strides[0] = s.data();
    loop.strides[1] = s.data();
    table().unary(op, DType::Float64, loop);
    if (op == UnaryOp::Sign) {  // PyTorch: sign(nan) == 0
      EXPECT_EQ(out[0], 0.0) << "sign(nan) is 0, as in PyTorch";
      continue;
    }
    EXPECT_TRUE(std::isnan(out[0])) << "NaN must propagate through op " << static_cast<int>(op);
  }
}

// ---------------------------------------------------------------- binary

const BinaryOp kArith[] = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div,
                           BinaryOp::Pow, BinaryOp::Maximum, BinaryOp::Minimum};
const BinaryOp kCompare[] = {BinaryOp::Eq, BinaryOp::Ne, BinaryOp::Lt,        BinaryOp::Le,
                             BinaryOp::Gt, BinaryOp::Ge, BinaryOp::LogicalAnd, BinaryOp::LogicalOr};

double binary_ref(BinaryOp op, double a, double b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
    case BinaryOp::Pow: return std::pow(a, b);
    case BinaryOp::Maximum: return std::isnan(a) || std::isnan(b) ? NAN : (a > b ? a : b);
    case BinaryOp::Minimum: return std::isnan(a) || std::isnan(b) ? NAN : (a < b ? a : b);
    case BinaryOp::Eq: return a == b;
    case BinaryOp::Ne: return a != b;
    case BinaryOp::Lt: return a < b;
    case BinaryOp::Le: return a <= b;
    case BinaryOp::Gt: return a > b;
    case BinaryOp::Ge: return a >= b;
    case BinaryOp::LogicalAnd: return a != 0 && b != 0;
    case BinaryOp::LogicalOr: return a != 0 || b != 0;
  }
  return 0;
}

template <typename T, typename Out>
void check_binary_op(const KernelTable& table, BinaryOp op, std::mt19937_64& rng) {
  for (int64_t n : kSizes) {
    for (const Layout& L : layouts(n)) {
      if (L.inplace && !std::is_same_v<T, Out>) continue;
      const std::string what = std::string("binary op ") + std::to_string(static_cast<int>(op)) + " n=" +
                               std::to_string(n) + " " + L.name;
      const int64_t numel = shape_numel(L.shape);
      Operand<T> a = make_operand<T>(L.shape, L.in1), b = make_operand<T>(L.shape, L.in2);
      const bool pos = op == BinaryOp::Pow;
      std::vector<T> va = random_vec<T>(rng, numel, pos ? 0.1 : -3.0, 3.0);
      std::vector<T> vb = random_vec<T>(rng, numel, pos ? -2.0 : -3.0, 3.0);
      for (int64_t i = 0; i < numel; ++i) {
        if (i % 3 == 0) vb[i] = va[i];  // ties, for the comparisons
        if (i % 5 == 1) va[i] = T(0);   // zeros, for the logical ops
        if (op == BinaryOp::Div && vb[i] == T(0)) vb[i] = T(1);
        if (pos && va[i] == T(0)) va[i] = T(0.5);
      }
      for (int64_t i = 0; i < numel; ++i) a.at(L.shape, i) = va[i];
      for (int64_t i = 0; i < numel; ++i) b.at(L.shape, i) = vb[i];
      for (int64_t i = 0; i < numel; ++i) va[i] = a.at(L.shape, i), vb[i] = b.at(L.shape, i);
      Operand<Out> out = make_operand<Out>(L.shape, L.out);
      Loop loop;
      loop.ndim = static_cast<int>(L.shape.size());
      loop.shape = L.shape.data();
      loop.ptr[0] = out.ptr();
      loop.strides[0] = out.strides.data();
      if constexpr (std::is_same_v<T, Out>) {
        if (L.inplace) {
          loop.ptr[0] = a.ptr();
          loop.strides[0] = a.strides.data();
        }
      }
      loop.ptr[1] = a.ptr();
      loop.strides[1] = a.strides.data();
      loop.ptr[2] = b.ptr();
      loop.strides[2] = b.strides.data();
      table.binary(op, dtype_of<T>(), loop);
      for (int64_t i = 0; i < numel; ++i) {
        double want = static_cast<Out>(binary_ref(op, va[i], vb[i]));
        double got;
        if constexpr (std::is_same_v<T, Out>) got = L.inplace ? a.at(L.shape, i) : out.at(L.shape, i);
        else got = out.at(L.shape, i);
        expect_near_rel(got, want, std::is_same_v<Out, uint8_t> ? 0.0 : rel_tol<T>() * (pos ? 8 : 1),
                        what + " element " + std::to_string(i));
      }
      if (!L.inplace) expect_gaps_untouched(out, L.shape, what);
    }
  }
}

template <typename T>
void check_binary(const KernelTable& table) {
  std::mt19937_64 rng(2);
  for (BinaryOp op : kArith) check_binary_op<T, T>(table, op, rng);
  for (BinaryOp op : kCompare) check_binary_op<T, uint8_t>(table, op, rng);
}

TEST_P(Kernels, BinaryFloat32) { check_binary<float>(table()); }
TEST_P(Kernels, BinaryFloat64) { check_binary<double>(table()); }

TEST_P(Kernels, BinaryNaNPropagation) {
  const double nan = std::nan("");
  std::vector<double> a = {nan, 1.0, nan}, b = {1.0, nan, nan}, out(3);
  Shape shape{3};
  Strides s{1};
  for (BinaryOp op : {BinaryOp::Maximum, BinaryOp::Minimum, BinaryOp::Add}) {
    Loop loop;
    loop.ndim = 1;
    loop.shape = shape.data();
    loop.ptr[0] = reinterpret_cast<char*>(out.data());
    loop.ptr[1] = reinterpret_cast<char*>(a.data());
    loop.ptr[2] = reinterpret_cast<char*>(b.data());
    for (int k = 0; k < 3; ++k) loop.strides[k] = s.data();
    table().binary(op, DType::Float64, loop);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(std::isnan(out[i])) << "op " << static_cast<int>(op) << " element " << i;
  }
}

// ---------------------------------------------------------------- reduce

struct ReduceLayout {
  std::string name;
  Shape outer_shape, inner_shape;
  Strides out_outer, in_outer, in_inner;
};

std::vector<ReduceLayout> reduce_layouts(int64_t n) {
  return {
      {"all", {}, {n}, {}, {}, {1}},
      {"all_strided", {}, {n}, {}, {}, {3}},
      {"rows", {3}, {n}, {1}, {n}, {1}},          // (3, n) summed over its last dim
      {"columns", {n}, {3}, {1}, {1}, {n}},       // (3, n) summed over its first dim
      {"columns_out_strided", {n}, {2}, {2}, {1}, {n}},
      {"inner_2d", {2}, {3, n}, {1}, {1}, {2, 6}},  // (3, n, 2) summed over dims 0 and 1
  };
}

template <typename T>
void check_reduce(const KernelTable& table) {
  std::mt19937_64 rng(3);
  for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min}) {
    for (int64_t n : kSizes) {
      for (const ReduceLayout& L : reduce_layouts(n)) {
        const std::string what =
            std::string("reduce op ") + std::to_string(static_cast<int>(op)) + " n=" + std::to_string(n) + " " + L.name;
        // The input spans outer x inner; address it through both stride lists.
        Shape full = L.outer_shape;
        full.insert(full.end(), L.inner_shape.begin(), L.inner_shape.end());
        Strides full_strides = L.in_outer;
        full_strides.insert(full_strides.end(), L.in_inner.begin(), L.in_inner.end());
        Operand<T> in = make_operand<T>(full, full_strides);
        const int64_t n_outer = shape_numel(L.outer_shape), n_inner = shape_numel(L.inner_shape);
        std::vector<T> vals = random_vec<T>(rng, static_cast<size_t>(n_outer * n_inner), -5.0, 5.0);
        for (int64_t i = 0; i < n_outer * n_inner; ++i) in.at(full, i) = vals[i];
        Operand<T> out = make_operand<T>(L.outer_shape, L.out_outer);
        Loop outer, inner;
        outer.ndim = static_cast<int>(L.outer_shape.size());
        outer.shape = L.outer_shape.data();
        outer.ptr[0] = out.ptr();
        outer.strides[0] = out.strides.data();
        outer.ptr[1] = in.ptr();
        outer.strides[1] = L.in_outer.data();
        inner.ndim = static_cast<int>(L.inner_shape.size());
        inner.shape = L.inner_shape.data();
        inner.strides[1] = L.in_inner.data();
        table.reduce(op, dtype_of<T>(), outer, inner);
        for (int64_t o = 0; o < n_outer; ++o) {
          double acc = op == ReduceOp::Sum ? 0.0 : static_cast<double>(vals[o * n_inner]);
          double abs_sum = 0;
          for (int64_t i = 0; i < n_inner; ++i) {
            double x = vals[o * n_inner + i];
            abs_sum += std::abs(x);
            if (op == ReduceOp::Sum) acc += x;
            else if (op == ReduceOp::Max) acc = std::max(acc, x);
            else acc = std::min(acc, x);
          }
          double got = out.at(L.outer_shape, o);
          if (op == ReduceOp::Sum) {
            EXPECT_NEAR(got, static_cast<T>(acc), rel_tol<T>() * (1 + abs_sum)) << what << " outer " << o;
          } else {
            EXPECT_EQ(got, acc) << what << " outer " << o;
          }
        }
        expect_gaps_untouched(out, L.outer_shape, what);
      }
    }
  }
}

TEST_P(Kernels, ReduceFloat32) { check_reduce<float>(table()); }
TEST_P(Kernels, ReduceFloat64) { check_reduce<double>(table()); }

TEST_P(Kernels, ReduceMaxPropagatesNaN) {
  std::vector<double> x = {1.0, std::nan(""), 3.0, 2.0};
  double out = 0;
  Shape inner_shape{4};
  Strides s{1};
  Loop outer, inner;
  outer.ndim = 0;
  outer.ptr[0] = reinterpret_cast<char*>(&out);
  outer.ptr[1] = reinterpret_cast<char*>(x.data());
  inner.ndim = 1;
  inner.shape = inner_shape.data();
  inner.strides[1] = s.data();
  for (ReduceOp op : {ReduceOp::Max, ReduceOp::Min, ReduceOp::Sum}) {
    table().reduce(op, DType::Float64, outer, inner);
    EXPECT_TRUE(std::isnan(out)) << static_cast<int>(op);
  }
}

TEST_P(Kernels, ArgReduceFirstExtreme) {
  for (int64_t n : kSizes) {
    // (3, n): max/min over the last dim, with the extreme duplicated to test "first wins".
    std::vector<double> x(static_cast<size_t>(3 * n));
    std::mt19937_64 rng(n);
    for (double& v : x) v = std::uniform_real_distribution<double>(-1, 1)(rng);
    for (int64_t r = 0; r < 3; ++r) {
      x[r * n + (r * 5) % n] = 10.0 + r;
      x[r * n + n - 1] = n > 1 ? 10.0 + r : x[r * n + n - 1];
    }
    std::vector<double> vals(3);
    std::vector<int64_t> idx(3);
    Shape outer_shape{3};
    Strides one{1}, row{n};
    Loop outer;
    outer.ndim = 1;
    outer.shape = outer_shape.data();
    outer.ptr[0] = reinterpret_cast<char*>(vals.data());
    outer.ptr[1] = reinterpret_cast<char*>(idx.data());
    outer.ptr[2] = reinterpret_cast<char*>(x.data());
    outer.strides[0] = one.data();
    outer.strides[1] = one.data();
    outer.strides[2] = row.data();
    table().arg_reduce(ReduceOp::Max, DType::Float64, outer, n, 1);
    for (int64_t r = 0; r < 3; ++r) {
      EXPECT_EQ(vals[r], 10.0 + r) << "n=" << n;
      EXPECT_EQ(idx[r], (r * 5) % n) << "n=" << n;
    }
  }
}

// ---------------------------------------------------------------- gemm

struct MatLayout {
  const char* name;
  bool transposed;  // column-major
  int64_t pad;      // extra elements per row (or column)
};

template <typename T>
void check_gemm_case(const KernelTable& table, int64_t m, int64_t n, int64_t k, MatLayout la, MatLayout lb,
                     MatLayout lc, bool accumulate, std::mt19937_64& rng) {
  auto strides = [](MatLayout l, int64_t rows, int64_t cols) {
    return l.transposed ? std::pair<int64_t, int64_t>{1, rows + l.pad} : std::pair<int64_t, int64_t>{cols + l.pad, 1};
  };
  auto [rsa, csa] = strides(la, m, k);
  auto [rsb, csb] = strides(lb, k, n);
  auto [rsc, csc] = strides(lc, m, n);
  Operand<T> A = make_operand<T>({m, k}, {rsa, csa}), B = make_operand<T>({k, n}, {rsb, csb});
  Operand<T> C = make_operand<T>({m, n}, {rsc, csc});
  std::vector<T> va = random_vec<T>(rng, m * k, -1, 1), vb = random_vec<T>(rng, k * n, -1, 1),
                 vc = random_vec<T>(rng, m * n, -1, 1);
  for (int64_t i = 0; i < m * k; ++i) A.at({m, k}, i) = va[i];
  for (int64_t i = 0; i < k * n; ++i) B.at({k, n}, i) = vb[i];
  for (int64_t i = 0; i < m * n; ++i) C.at({m, n}, i) = vc[i];
  table.gemm(dtype_of<T>(), m, n, k, A.ptr(), rsa, csa, B.ptr(), rsb, csb, C.ptr(), rsc, csc,
             accumulate ? C.ptr() : nullptr, rsc, csc);
  const std::string what = "gemm m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                           " A " + la.name + " B " + lb.name + " C " + lc.name + (accumulate ? " +=" : "");
  const double eps = std::is_same_v<T, float> ? 1.2e-7 : 2.3e-16;
  int failures = 0;
  for (int64_t i = 0; i < m && failures < 5; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = accumulate ? static_cast<double>(vc[i * n + j]) : 0.0, bound = std::abs(acc);
      for (int64_t p = 0; p < k; ++p) {
        double prod = static_cast<double>(va[i * k + p]) * static_cast<double>(vb[p * n + j]);
        acc += prod;
        bound += std::abs(prod);
      }
      double got = C.at({m, n}, i * n + j);
      if (std::abs(got - acc) > 2.0 * (k + 2) * eps * (bound + 1e-30)) {
        ADD_FAILURE() << what << ": C[" << i << "][" << j << "] = " << got << ", want " << acc;
        ++failures;
      }
    }
  }
  expect_gaps_untouched(C, {m, n}, what);
}

template <typename T>
void check_gemm(const KernelTable& table) {
  std::mt19937_64 rng(4);
  const MatLayout row{"row", false, 0}, col{"col", true, 0}, row_pad{"row+3", false, 3}, col_pad{"col+2", true, 2};
  struct Combo {
    MatLayout a, b, c;
    bool acc;
  };
  const Combo combos[] = {
      {row, row, row, false}, {col, row, row, false}, {row, col, row_pad, false},
      {col_pad, col, col, true}, {row_pad, row_pad, col_pad, true},
  };
  std::vector<std::array<int64_t, 3>> shapes;
  for (int64_t s : kSizes) {
    shapes.push_back({s, 7, 9});
    shapes.push_back({9, s, 8});
    shapes.push_back({8, 17, s});
    if (s <= 17) shapes.push_back({s, s, s});
  }
  shapes.push_back({255, 257, 17});
  shapes.push_back({16, 255, 257});
  for (const auto& sh : shapes)
    for (const Combo& c : combos) check_gemm_case<T>(table, sh[0], sh[1], sh[2], c.a, c.b, c.c, c.acc, rng);
}

TEST_P(Kernels, GemmFloat32) { check_gemm<float>(table()); }
TEST_P(Kernels, GemmFloat64) { check_gemm<double>(table()); }

TEST_P(Kernels, GemmAccumulateKeepsC) {
  // C += A @ B with a zero A leaves C exactly as it was; without accumulate C is zeroed.
  const int64_t m = 9, n = 17, k = 8;
  std::vector<double> a(m * k, 0.0), b(k * n, 1.0), c(m * n, 3.5);
  char* cc = reinterpret_cast<char*>(c.data());
  table().gemm(DType::Float64, m, n, k, reinterpret_cast<char*>(a.data()), k, 1, reinterpret_cast<char*>(b.data()), n,
               1, cc, n, 1, cc, n, 1);
  for (double x : c) ASSERT_EQ(x, 3.5);
  table().gemm(DType::Float64, m, n, k, reinterpret_cast<char*>(a.data()), k, 1, reinterpret_cast<char*>(b.data()), n,
               1, cc, n, 1, nullptr, 0, 0);
  for (double x : c) ASSERT_EQ(x, 0.0);
}

TEST_P(Kernels, GemmAddsD) {
  // C = A @ B + D for a bias row (rsd = 0), a bias column (csd = 0) and a transposed D,
  // with C full of NaN (never read), against sums in long double; k = 0 gives C = D.
  std::mt19937_64 rng(7);
  for (int64_t k : {0, 1, 9, 300}) {
    for (int mode = 0; mode < 3; ++mode) {
      const int64_t m = 13, n = 21;
      std::vector<double> a = random_vec<double>(rng, m * k, -1, 1), b = random_vec<double>(rng, k * n, -1, 1);
      std::vector<double> d = random_vec<double>(rng, m * n, -1, 1), c(m * n, std::nan(""));
      const int64_t rsd = mode == 0 ? 0 : mode == 1 ? 1 : 1, csd = mode == 0 ? 1 : mode == 1 ? 0 : m;
      table().gemm(DType::Float64, m, n, k, reinterpret_cast<char*>(a.data()), k, 1,
                   reinterpret_cast<char*>(b.data()), n, 1, reinterpret_cast<char*>(c.data()), n, 1,
                   reinterpret_cast<char*>(d.data()), rsd, csd);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          long double want = d[i * rsd + j * csd];
          for (int64_t p = 0; p < k; ++p) want += static_cast<long double>(a[i * k + p]) * b[p * n + j];
          ASSERT_NEAR(c[i * n + j], static_cast<double>(want), 1e-13) << "k=" << k << " mode " << mode;
        }
    }
  }
}

// ---------------------------------------------------------------- the small kernels

template <typename T>
void check_small_kernels(const KernelTable& table) {
  std::mt19937_64 rng(5);
  for (int64_t n : kSizes) {
    for (const Layout& L : layouts(n)) {
      if (L.inplace) continue;
      const std::string what = "n=" + std::to_string(n) + " " + L.name;
      const int64_t numel = shape_numel(L.shape);
      Operand<T> in = make_operand<T>(L.shape, L.in1);
      for (int64_t i = 0; i < numel; ++i) in.at(L.shape, i) = static_cast<T>(std::uniform_real_distribution<double>(-2, 2)(rng));
      std::vector<double> v(static_cast<size_t>(numel));
      for (int64_t i = 0; i < numel; ++i) v[i] = in.at(L.shape, i);
      Loop loop;
      loop.ndim = static_cast<int>(L.shape.size());
      loop.shape = L.shape.data();
      loop.ptr[1] = in.ptr();
      loop.strides[1] = in.strides.data();

      // clamp to [-0.5, 0.75]
      Operand<T> out = make_operand<T>(L.shape, L.out);
      loop.ptr[0] = out.ptr();
      loop.strides[0] = out.strides.data();
      ScalarValue lo{-0.5, 0}, hi{0.75, 0};
      table.clamp(dtype_of<T>(), loop, &lo, &hi);
      for (int64_t i = 0; i < numel; ++i)
        EXPECT_EQ(out.at(L.shape, i), static_cast<T>(std::min(std::max(v[i], -0.5), 0.75))) << "clamp " << what;
      expect_gaps_untouched(out, L.shape, "clamp " + what);

      // clamp's gradient at x = in, with in as the incoming gradient too
      Operand<T> grad = make_operand<T>(L.shape, L.out);
      Loop gl = loop;
      gl.ptr[0] = grad.ptr();
      gl.strides[0] = grad.strides.data();
      gl.ptr[2] = in.ptr();
      gl.strides[2] = in.strides.data();
      table.clamp_backward(dtype_of<T>(), gl, &lo, &hi);
      for (int64_t i = 0; i < numel; ++i)
        EXPECT_EQ(grad.at(L.shape, i), static_cast<T>(v[i] >= -0.5 && v[i] <= 0.75 ? v[i] : 0.0))
            << "clamp_backward " << what;
      expect_gaps_untouched(grad, L.shape, "clamp_backward " + what);
      table.threshold_backward(dtype_of<T>(), gl, ScalarValue{0.25, 0});
      for (int64_t i = 0; i < numel; ++i)
        EXPECT_EQ(grad.at(L.shape, i), static_cast<T>(v[i] <= 0.25 ? 0.0 : v[i])) << "threshold_backward " << what;
      expect_gaps_untouched(grad, L.shape, "threshold_backward " + what);

      // cast to float64 (and back for float32)
      Operand<double> dbl = make_operand<double>(L.shape, L.out);
      loop.ptr[0] = dbl.ptr();
      loop.strides[0] = dbl.strides.data();
      table.cast_copy(DType::Float64, dtype_of<T>(), loop);
      for (int64_t i = 0; i < numel; ++i) EXPECT_EQ(dbl.at(L.shape, i), v[i]) << "cast_copy " << what;
      expect_gaps_untouched(dbl, L.shape, "cast_copy " + what);

      // fill
      Operand<T> f = make_operand<T>(L.shape, L.out);
      Loop fl;
      fl.ndim = loop.ndim;
      fl.shape = loop.shape;
      fl.ptr[0] = f.ptr();
      fl.strides[0] = f.strides.data();
      table.fill(dtype_of<T>(), fl, ScalarValue{2.25, 2});
      for (int64_t i = 0; i < numel; ++i) EXPECT_EQ(f.at(L.shape, i), T(2.25)) << "fill " << what;
      expect_gaps_untouched(f, L.shape, "fill " + what);

      // where(cond, in, -in)
      std::vector<bool> cbits(static_cast<size_t>(numel));
      std::vector<uint8_t> cbuf(static_cast<size_t>(numel));
      for (int64_t i = 0; i < numel; ++i) cbuf[i] = cbits[i] = (i * 7) % 3 == 0;
      Strides cstr = contiguous_strides(L.shape);
      std::vector<T> neg(static_cast<size_t>(numel));
      for (int64_t i = 0; i < numel; ++i) neg[i] = static_cast<T>(-v[i]);
      Operand<T> w = make_operand<T>(L.shape, L.out);
      Loop wl;
      wl.ndim = loop.ndim;
      wl.shape = loop.shape;
      wl.ptr[0] = w.ptr();
      wl.strides[0] = w.strides.data();
      wl.ptr[1] = reinterpret_cast<char*>(cbuf.data());
      wl.strides[1] = cstr.data();
      wl.ptr[2] = in.ptr();
      wl.strides[2] = in.strides.data();
      wl.ptr[3] = reinterpret_cast<char*>(neg.data());
      wl.strides[3] = cstr.data();
      table.where(dtype_of<T>(), wl);
      for (int64_t i = 0; i < numel; ++i)
        EXPECT_EQ(w.at(L.shape, i), cbits[i] ? static_cast<T>(v[i]) : neg[i]) << "where " << what;
      expect_gaps_untouched(w, L.shape, "where " + what);
    }
  }
}

TEST_P(Kernels, SmallKernelsFloat32) { check_small_kernels<float>(table()); }
TEST_P(Kernels, SmallKernelsFloat64) { check_small_kernels<double>(table()); }

INSTANTIATE_TEST_SUITE_P(Tables, Kernels,
                         ::testing::Values(TableParam{"reference", &reference}, TableParam{"active", &active}),
                         [](const ::testing::TestParamInfo<TableParam>& info) { return std::string(info.param.name); });

TEST(KernelTables, ActiveIsChosenOnce) {
  EXPECT_EQ(&active(), &active());
  EXPECT_STREQ(reference().name, "reference");
  EXPECT_NE(active().name, nullptr);
}

}  // namespace
}  // namespace ember::kernels
