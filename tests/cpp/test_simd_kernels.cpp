// SIMD kernel tests: every kernel of the AVX2 table (and the AVX-512 table's GEMM, its only
// kernel of its own) against the reference table on the
// same inputs, over awkward sizes (1, 7, 8, 9, 15, 16, 17, the micro-tile +-1, 255, 257),
// contiguous, broadcast, strided and transposed operands, float32 and float64. Both tables
// run on identical buffers and the whole output buffers are compared, so writes outside the
// output show up too. Elementwise results must match bit for bit; GEMM and sums within a
// rounding bound. Results must not depend on the thread count. Skipped without AVX2+FMA.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/parallel.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"

namespace ember::kernels {
namespace {

const KernelTable* simd() { return avx2_table(); }

#define REQUIRE_SIMD() \
  if (!simd()) GTEST_SKIP() << "this CPU has no AVX2+FMA"

template <typename T>
constexpr DType dtype_of() {
  return std::is_same_v<T, float> ? DType::Float32 : std::is_same_v<T, int64_t> ? DType::Int64 : DType::Float64;
}

// Restores the thread count when a test ends.
struct ThreadCount {
  int saved = parallel::get_num_threads();
  explicit ThreadCount(int n) { parallel::set_num_threads(n); }
  ~ThreadCount() { parallel::set_num_threads(saved); }
};

const int64_t kSizes[] = {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 255, 257, 200003};

template <typename T>
std::vector<T> random_vec(std::mt19937_64& rng, size_t n, bool specials = false) {
  std::uniform_real_distribution<double> d(-3, 3);
  std::vector<T> v(n);
  if constexpr (std::is_integral_v<T>) {
    // int64: any bit pattern (products wrap; both 32-bit halves of each lane matter), one in
    // four a small value so that equal operands and signs near 0 come up; the extremes
    for (T& x : v) x = rng() % 4 ? static_cast<T>(rng()) : static_cast<T>(static_cast<int64_t>(rng() % 7) - 3);
    if (specials && n > 8) {
      v[1] = std::numeric_limits<T>::min();
      v[2] = std::numeric_limits<T>::max();
      v[3] = T(0);
      v[4] = T(-1);
    }
    return v;
  }
  for (T& x : v) x = static_cast<T>(d(rng));
  if (specials && n > 8) {
    v[1] = std::numeric_limits<T>::quiet_NaN();
    v[2] = T(-0.0);
    v[3] = T(0.0);
    v[4] = std::numeric_limits<T>::infinity();
    v[5] = -std::numeric_limits<T>::infinity();
  }
  return v;
}

// One 1-d or 2-d elementwise layout: strides in elements for (out, in1, in2, in3).
struct Layout {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<int64_t> s[4];
};

std::vector<Layout> layouts(int64_t n) {
  std::vector<Layout> L = {
      {"contiguous", {n}, {{1}, {1}, {1}, {1}}},
      {"scalar_b", {n}, {{1}, {1}, {0}, {1}}},
      {"scalar_a", {n}, {{1}, {0}, {1}, {0}}},
      {"all_scalar", {n}, {{1}, {0}, {0}, {0}}},
      {"strided", {n}, {{2}, {3}, {1}, {2}}},
  };
  if (n <= 257) {
    L.push_back({"row_broadcast", {3, n}, {{n, 1}, {n, 1}, {0, 1}, {n, 1}}});
    L.push_back({"col_broadcast", {3, n}, {{n, 1}, {1, 0}, {n, 1}, {0, 1}}});
    L.push_back({"transposed", {3, n}, {{n, 1}, {1, 3}, {n, 1}, {1, 3}}});
  }
  return L;
}

int64_t span(const Layout& L, int k) {
  int64_t s = 1;
  for (size_t d = 0; d < L.shape.size(); ++d) s += (L.shape[d] - 1) * L.s[k][d];
  return s;
}

Loop make_loop(const Layout& L, std::vector<char*> ptrs) {
  Loop l;
  l.ndim = static_cast<int>(L.shape.size());
  l.shape = L.shape.data();
  for (size_t k = 0; k < ptrs.size(); ++k) {
    l.ptr[k] = ptrs[k];
    l.strides[k] = L.s[k].data();
  }
  return l;
}

template <typename T>
char* cp(std::vector<T>& v) {
  return reinterpret_cast<char*>(v.data());
}

template <typename T>
void expect_same_bits(const std::vector<T>& got, const std::vector<T>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], sizeof(T)) != 0) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", reference " << want[i];
      return;
    }
  }
}

// ---------------------------------------------------------------- elementwise

template <typename T>
int64_t expect_within_ulps(const std::vector<T>& got, const std::vector<T>& want, const std::string& what,
                           int64_t max_ulps);

template <typename T>
void check_binary() {
  std::mt19937_64 rng(11);
  for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Maximum,
                      BinaryOp::Minimum, BinaryOp::Pow}) {
    for (int64_t n : kSizes) {
      for (const Layout& L : layouts(n)) {
        std::vector<T> a = random_vec<T>(rng, span(L, 1), true), b = random_vec<T>(rng, span(L, 2), true);
        std::vector<T> o1(span(L, 0) + 2, T(-7)), o2 = o1;
        simd()->binary(op, dtype_of<T>(), make_loop(L, {cp(o1), cp(a), cp(b)}));
        reference().binary(op, dtype_of<T>(), make_loop(L, {cp(o2), cp(a), cp(b)}));
        const std::string what = "binary " + std::to_string(int(op)) + " n=" + std::to_string(n) + " " + L.name;
        // float32 pow is vmath's (pow_ps, pow_pv): within one ulp of glibc's powf
        // (check_pow_scalar_exponent, PowMatchesExact and PowTensorExponent pin it further).
        if constexpr (std::is_same_v<T, float>) {
          if (op == BinaryOp::Pow) {
            expect_within_ulps(o1, o2, what, 1);
            continue;
          }
        }
        expect_same_bits(o1, o2, what);
      }
    }
  }
}
TEST(SimdKernels, BinaryFloat32) { REQUIRE_SIMD(); check_binary<float>(); }
TEST(SimdKernels, BinaryFloat64) { REQUIRE_SIMD(); check_binary<double>(); }
// int64: add, sub and mul wrap as the reference's uint64 arithmetic; maximum, minimum; div
// and pow go to the reference.
TEST(SimdKernels, BinaryInt64) { REQUIRE_SIMD(); check_binary<int64_t>(); }

TEST(SimdKernels, PowCubeIsTwoProducts) {
  // PyTorch's x ** 3 is x * x * x (two roundings), not the correctly rounded pow.
  REQUIRE_SIMD();
  std::vector<float> a(64), b(1, 3.0f), o1(64), o2(64);
  for (int i = 0; i < 64; ++i) a[i] = 1.0f + 0.0137f * static_cast<float>(i);
  Layout L{"scalar_b", {64}, {{1}, {1}, {0}, {1}}};
  simd()->binary(BinaryOp::Pow, DType::Float32, make_loop(L, {cp(o1), cp(a), cp(b)}));
  reference().binary(BinaryOp::Pow, DType::Float32, make_loop(L, {cp(o2), cp(a), cp(b)}));
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(o1[i], a[i] * a[i] * a[i]) << i;
    EXPECT_EQ(o2[i], a[i] * a[i] * a[i]) << i;
  }
}

// Comparisons write bool bytes; logical and/or read them. NaN, -0.0 and infinities are among
// the inputs, and b shares some values with a so that equality is exercised.
template <typename T>
void check_compare() {
  std::mt19937_64 rng(19);
  for (BinaryOp op : {BinaryOp::Eq, BinaryOp::Ne, BinaryOp::Lt, BinaryOp::Le, BinaryOp::Gt, BinaryOp::Ge}) {
    for (int64_t n : kSizes) {
      for (const Layout& L : layouts(n)) {
        std::vector<T> a = random_vec<T>(rng, span(L, 1), true), b = random_vec<T>(rng, span(L, 2), true);
        for (size_t i = 0; i < b.size() && i < a.size(); i += 3) b[i] = a[i];
        std::vector<uint8_t> o1(span(L, 0) + 2, 7), o2 = o1;
        simd()->binary(op, dtype_of<T>(), make_loop(L, {cp(o1), cp(a), cp(b)}));
        reference().binary(op, dtype_of<T>(), make_loop(L, {cp(o2), cp(a), cp(b)}));
        expect_same_bits(o1, o2, "compare " + std::to_string(int(op)) + " n=" + std::to_string(n) + " " + L.name);
      }
    }
  }
}
TEST(SimdKernels, CompareFloat32) { REQUIRE_SIMD(); check_compare<float>(); }
TEST(SimdKernels, CompareFloat64) { REQUIRE_SIMD(); check_compare<double>(); }
TEST(SimdKernels, CompareInt64) { REQUIRE_SIMD(); check_compare<int64_t>(); }

TEST(SimdKernels, LogicalAndOrOnBool) {
  REQUIRE_SIMD();
  std::mt19937_64 rng(20);
  for (BinaryOp op : {BinaryOp::LogicalAnd, BinaryOp::LogicalOr}) {
    for (int64_t n : kSizes) {
      for (const Layout& L : layouts(n)) {
        std::vector<uint8_t> a(span(L, 1)), b(span(L, 2));
        for (auto& x : a) x = rng() % 2;
        for (auto& x : b) x = rng() % 2;
        std::vector<uint8_t> o1(span(L, 0) + 2, 7), o2 = o1;
        simd()->binary(op, DType::Bool, make_loop(L, {cp(o1), cp(a), cp(b)}));
        reference().binary(op, DType::Bool, make_loop(L, {cp(o2), cp(a), cp(b)}));
        expect_same_bits(o1, o2, "logical " + std::to_string(int(op)) + " n=" + std::to_string(n) + " " + L.name);
      }
    }
  }
}

TEST(SimdKernels, BinaryInPlace) {
  REQUIRE_SIMD();
  std::mt19937_64 rng(12);
  for (int64_t n : kSizes) {
    Layout L{"inplace", {n}, {{1}, {1}, {1}, {1}}};
    std::vector<float> a = random_vec<float>(rng, n), b = random_vec<float>(rng, n), a2 = a;
    simd()->binary(BinaryOp::Add, DType::Float32, make_loop(L, {cp(a), cp(a), cp(b)}));
    reference().binary(BinaryOp::Add, DType::Float32, make_loop(L, {cp(a2), cp(a2), cp(b)}));
    expect_same_bits(a, a2, "add_ n=" + std::to_string(n));
  }
}

const UnaryOp kFloatUnary[] = {UnaryOp::Neg,  UnaryOp::Abs,  UnaryOp::Relu,       UnaryOp::Sqrt,
                               UnaryOp::Sign, UnaryOp::Exp,  UnaryOp::Log,        UnaryOp::Tanh,
                               UnaryOp::Sin,  UnaryOp::Cos,  UnaryOp::Reciprocal, UnaryOp::Sigmoid};
// float32 ops computed by vmath.h: within two ulps of the reference's std:: calls (glibc's
// tanhf is up to two ulps from the exact value, vmath.h's results within one), not always
// equal to them; float64 and the other ops must match bit for bit.
bool is_vmath(UnaryOp op) {
  return op == UnaryOp::Exp || op == UnaryOp::Log || op == UnaryOp::Tanh || op == UnaryOp::Sigmoid ||
         op == UnaryOp::Sin || op == UnaryOp::Cos;
}

// float64 ops computed by vmath.h (exp_pd_full, log_pd_full, tanh_pd_full,
// sincos_pd_full): within one ulp of the reference's std::exp, std::log, std::sin and
// std::cos, two of its std::tanh (glibc's tanh is up to two off the exact value, vmath's
// within one) and of its sigmoid (whose division rounds once more); the others match bit
// for bit.
bool is_vmath_f64(UnaryOp op) {
  return op == UnaryOp::Exp || op == UnaryOp::Sigmoid || op == UnaryOp::Log || op == UnaryOp::Tanh ||
         op == UnaryOp::Sin || op == UnaryOp::Cos;
}

// Ulps between two finite floats or doubles of any signs (0 for +0 against -0).
int64_t ulps_apart(float a, float b) {
  auto key = [](float v) {
    int32_t i;
    std::memcpy(&i, &v, 4);
    return i < 0 ? -static_cast<int64_t>(i & 0x7fffffff) : static_cast<int64_t>(i);
  };
  return std::llabs(key(a) - key(b));
}
int64_t ulps_apart(double a, double b) {
  auto key = [](double v) {
    int64_t i;
    std::memcpy(&i, &v, 8);
    return i < 0 ? -(i & 0x7fffffffffffffffLL) : i;
  };
  return std::llabs(key(a) - key(b));  // finite doubles: the keys differ by far less than 2^63
}

// NaN where the reference has NaN, the same bits where it has a zero or an infinity, and at
// most max_ulps from it elsewhere. Returns how many elements differ at all.
template <typename T>
int64_t expect_within_ulps(const std::vector<T>& got, const std::vector<T>& want, const std::string& what,
                           int64_t max_ulps) {
  int64_t differ = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const T g = got[i], w = want[i];
    bool ok;
    if (std::isnan(w) || std::isnan(g)) ok = std::isnan(w) && std::isnan(g);
    else if (w == 0 || std::isinf(w) || g == 0 || std::isinf(g)) ok = std::memcmp(&g, &w, sizeof(T)) == 0;
    else ok = ulps_apart(g, w) <= max_ulps;
    if (!ok) {
      ADD_FAILURE() << what << ": element " << i << " is " << g << ", reference " << w;
      return differ;
    }
    differ += std::memcmp(&g, &w, sizeof(T)) != 0 && !(std::isnan(g) && std::isnan(w));
  }
  return differ;
}

// clamp's bounds for the clamp and clamp-gradient tests: one-sided, both, relu's, crossed
// (lo > hi: the result is hi) and a NaN bound.
const ScalarValue kLo{-0.5, 0}, kHi{0.75, 0}, kZero{0.0, 0}, kNan{std::nan(""), 0};
struct Bounds {
  const char* name;
  const ScalarValue *lo, *hi;
};
const Bounds kBounds[] = {{"lo", &kLo, nullptr},   {"hi", nullptr, &kHi},     {"both", &kLo, &kHi},
                          {"relu", &kZero, nullptr}, {"crossed", &kHi, &kLo}, {"nan_lo", &kNan, &kHi}};

template <typename T>
void check_unary_and_clamp() {
  std::mt19937_64 rng(13);
  for (int64_t n : kSizes) {
    for (const Layout& L : layouts(n)) {
      std::vector<T> x = random_vec<T>(rng, span(L, 1), true);
      for (UnaryOp op : kFloatUnary) {
        std::vector<T> o1(span(L, 0) + 2, T(-7)), o2 = o1;
        simd()->unary(op, dtype_of<T>(), make_loop(L, {cp(o1), cp(x)}));
        reference().unary(op, dtype_of<T>(), make_loop(L, {cp(o2), cp(x)}));
        const std::string what = "unary " + std::to_string(int(op)) + " n=" + std::to_string(n) + " " + L.name;
        if (std::is_same_v<T, float> && is_vmath(op)) expect_within_ulps(o1, o2, what, 2);
        else if (std::is_same_v<T, double> && is_vmath_f64(op))
          expect_within_ulps(o1, o2, what, op == UnaryOp::Sigmoid || op == UnaryOp::Tanh ? 2 : 1);
        else expect_same_bits(o1, o2, what);
      }
      for (const Bounds& B : kBounds) {
        std::vector<T> o1(span(L, 0) + 2, T(-7)), o2 = o1;
        simd()->clamp(dtype_of<T>(), make_loop(L, {cp(o1), cp(x)}), B.lo, B.hi);
        reference().clamp(dtype_of<T>(), make_loop(L, {cp(o2), cp(x)}), B.lo, B.hi);
        expect_same_bits(o1, o2, std::string("clamp ") + B.name + " n=" + std::to_string(n) + " " + L.name);
      }
    }
  }
}
TEST(SimdKernels, UnaryClampFloat32) { REQUIRE_SIMD(); check_unary_and_clamp<float>(); }
TEST(SimdKernels, UnaryClampFloat64) { REQUIRE_SIMD(); check_unary_and_clamp<double>(); }

// clamp's and relu's gradients (operands out, g, x): x with NaN, +-0 and infinities, and
// values exactly on the bounds (where clamp's gradient passes and relu's does not); NaN and
// crossed bounds, a NaN threshold.
template <typename T>
void check_masked_gradients() {
  std::mt19937_64 rng(23);
  for (int64_t n : kSizes) {
    for (const Layout& L : layouts(n)) {
      std::vector<T> g = random_vec<T>(rng, span(L, 1), true), x = random_vec<T>(rng, span(L, 2), true);
      for (size_t i = 6; i < x.size(); i += 5) x[i] = static_cast<T>(i % 2 ? kLo.f : kHi.f);  // on a bound
      for (size_t i = 8; i < x.size(); i += 7) x[i] = T(0);
      for (const Bounds& B : kBounds) {
        std::vector<T> o1(span(L, 0) + 2, T(-7)), o2 = o1;
        simd()->clamp_backward(dtype_of<T>(), make_loop(L, {cp(o1), cp(g), cp(x)}), B.lo, B.hi);
        reference().clamp_backward(dtype_of<T>(), make_loop(L, {cp(o2), cp(g), cp(x)}), B.lo, B.hi);
        const std::string what = std::string("clamp_backward ") + B.name + " n=" + std::to_string(n) + " " + L.name;
        expect_same_bits(o1, o2, what);
      }
      // relu's gradient (threshold_backward): x <= th gives 0, a NaN x passes g
      for (const ScalarValue* th : {&kZero, &kHi, &kNan}) {
        std::vector<T> o1(span(L, 0) + 2, T(-7)), o2 = o1;
        simd()->threshold_backward(dtype_of<T>(), make_loop(L, {cp(o1), cp(g), cp(x)}), *th);
        reference().threshold_backward(dtype_of<T>(), make_loop(L, {cp(o2), cp(g), cp(x)}), *th);
        expect_same_bits(o1, o2, "threshold_backward " + std::to_string(th->f) + " n=" + std::to_string(n) + " " + L.name);
      }
    }
  }
}
TEST(SimdKernels, MaskedGradientsFloat32) { REQUIRE_SIMD(); check_masked_gradients<float>(); }
TEST(SimdKernels, MaskedGradientsFloat64) { REQUIRE_SIMD(); check_masked_gradients<double>(); }

// vmath.h over each op's whole domain: random bit patterns (every binade, denormals,
// infinities, NaNs), values spread over the range where the result is neither 0, 1 nor
// infinite, and the edges (overflow and underflow of exp, tanh's rounding to 1, the
// C-library cut-over of sin and cos, multiples of pi/2). Against the exact value (the
// double-precision C function rounded to float; for sigmoid, the reference's float formula
// on the rounded exp): at most one ulp apart anywhere, and equal nearly everywhere
// (measured: a few in 10^5 differ), so a coarser approximation, off by one ulp on a few
// percent of inputs, fails here while it would pass the one-ulp bound. Against the
// reference kernel (glibc's float functions): within two ulps (tanhf: 4% of inputs differ).
TEST(SimdKernels, UnaryMathMatchesReference) {
  REQUIRE_SIMD();
  std::mt19937_64 rng(23);
  struct Case {
    UnaryOp op;
    double lo, hi;
  };
  const Case cases[] = {{UnaryOp::Exp, -105, 90},  {UnaryOp::Log, 0, 4},    {UnaryOp::Tanh, -10, 10},
                        {UnaryOp::Sigmoid, -105, 105}, {UnaryOp::Sin, -2e5, 2e5}, {UnaryOp::Cos, -2e5, 2e5}};
  const float edges[] = {0.0f,         -0.0f,       INFINITY,      -INFINITY,   NAN,          1e-45f,
                         -1e-45f,      1.2e-38f,    88.72283f,     88.72284f,   89.0f,        -87.33654f,
                         -103.972f,    -103.973f,   -104.5f,       9.0f,        9.011f,       -9.02f,
                         1e5f,         -1e5f,       100000.01f,    1e30f,       -1e30f,       3.14159274f,
                         1.57079637f,  -1.57079637f, 4.71238898f,  1e-8f,       -1e-8f,       1.0f};
  const int64_t n = 1 << 19;
  for (const Case& c : cases) {
    std::vector<float> x(n);
    std::uniform_real_distribution<double> d(c.lo, c.hi);
    for (int64_t i = 0; i < n; ++i) {
      if (i % 2) {
        const uint32_t bits = static_cast<uint32_t>(rng());
        std::memcpy(&x[i], &bits, 4);
      } else {
        x[i] = static_cast<float>(c.op == UnaryOp::Log ? std::exp(d(rng) * 60 - 150) : d(rng));
      }
    }
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); ++i) x[i * 2] = edges[i];
    std::vector<float> got(n), ref(n), exact(n);
    Layout L{"contiguous", {n}, {{1}, {1}, {1}, {1}}};
    simd()->unary(c.op, DType::Float32, make_loop(L, {cp(got), cp(x)}));
    reference().unary(c.op, DType::Float32, make_loop(L, {cp(ref), cp(x)}));
    for (int64_t i = 0; i < n; ++i) {
      const double v = x[i];
      switch (c.op) {
        case UnaryOp::Exp: exact[i] = static_cast<float>(std::exp(v)); break;
        case UnaryOp::Log: exact[i] = static_cast<float>(std::log(v)); break;
        case UnaryOp::Tanh: exact[i] = static_cast<float>(std::tanh(v)); break;
        case UnaryOp::Sin: exact[i] = static_cast<float>(std::sin(v)); break;
        case UnaryOp::Cos: exact[i] = static_cast<float>(std::cos(v)); break;
        default: exact[i] = 1.0f / (1.0f + static_cast<float>(std::exp(-v))); break;
      }
      // Beyond kTrigMax sin and cos are the C library's own (glibc's sinf and cosf): the same bits.
      if ((c.op == UnaryOp::Sin || c.op == UnaryOp::Cos) && std::fabs(v) > 1e5) exact[i] = ref[i];
    }
    const std::string what = "unary " + std::to_string(int(c.op));
    const int64_t differ = expect_within_ulps(got, exact, what + " against the exact value", 1);
    const int64_t differ_ref = expect_within_ulps(got, ref, what + " against the reference", 2);
    std::printf("unary op %d: of %lld, %lld differ from the exact value by one ulp, %lld from the reference\n",
                int(c.op), static_cast<long long>(n), static_cast<long long>(differ),
                static_cast<long long>(differ_ref));
    EXPECT_LE(differ, n / 1000) << what;
  }
}

// float64 exp (vmath::exp_pd_full), sigmoid, log (log_pd_full) and tanh (tanh_pd_full) over
// their domains:
// random bit patterns (every binade, denormals, infinities, NaNs), values spread over the
// range where exp is neither 1, 0 nor infinite and over the denormal results (log: every
// binade, and [0.5, 2]), and the edges. exp and log against the exact value (long double
// rounded to double): at most one ulp apart, and equal on all but a few percent (measured:
// exp 1.0% of these inputs, 1.5% of values spread over [-700, 700]; log 0.3%. Left out,
// exp_pd_full's 1 + r split gives 6.3% and log_pd_full's exact sums 2.3%: both fail here.)
// Against the reference
// (glibc's exp and log): one ulp; sigmoid, 1 / (1 + exp(-x)) in both, and tanh (glibc's
// tanh is up to two ulps off; vmath's one ulp off on 0.8% of [-1, 1]), two.
TEST(SimdKernels, Float64ExpSigmoidLogMatchReference) {
  REQUIRE_SIMD();
  std::mt19937_64 rng(27);
  const double edges[] = {0.0,     -0.0,     INFINITY, -INFINITY, NAN,     709.782712893384, 709.7827128933841,
                          710.0,   -745.133, -745.134, -746.0,    -708.4,  1e-320,           -1e-320,
                          1.0,     -1.0,     1e-17,    -1e-17,    37.0,    -37.0,            1e300};
  const double log_edges[] = {0.0,     -0.0,    INFINITY, -INFINITY, NAN,          -1.0,        1.0,
                              2.0,     0.5,     4.9e-324, 1e-310,    2.2250738585072014e-308, 1.7976931348623157e308,
                              1.4142135623730951, 1.414213562373095, 1.0000000000000002, 0.9999999999999999};
  for (UnaryOp op : {UnaryOp::Exp, UnaryOp::Sigmoid, UnaryOp::Log, UnaryOp::Tanh}) {
    const int64_t n = 1 << 19;
    std::vector<double> x(n);
    // exp and sigmoid: the finite, non-trivial range and [-2, 2]; log: values spread
    // log-uniformly over every binade (denormals too) and over [0.5, 2], near log's zero.
    std::uniform_real_distribution<double> d(-745.5, 709.9), narrow(-2, 2), logu(-744, 709), near1(0.5, 2);
    for (int64_t i = 0; i < n; ++i) {
      if (i % 3 == 0) {
        const uint64_t bits = rng();
        std::memcpy(&x[i], &bits, 8);
      } else if (op == UnaryOp::Log) {
        x[i] = i % 3 == 1 ? std::exp(logu(rng)) : near1(rng);
      } else if (op == UnaryOp::Tanh) {  // [-20, 20], and [0.25, 0.35] around the switch at 0.3
        x[i] = i % 3 == 1 ? 10 * narrow(rng) : 0.3 + 0.025 * narrow(rng);
      } else {
        x[i] = i % 3 == 1 ? d(rng) : narrow(rng);
      }
    }
    if (op == UnaryOp::Log)
      for (size_t i = 0; i < sizeof(log_edges) / sizeof(log_edges[0]); ++i) x[i * 3 + 1] = log_edges[i];
    else
      for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); ++i) x[i * 3 + 1] = edges[i];
    std::vector<double> got(n), ref(n), exact(n);
    Layout L{"contiguous", {n}, {{1}, {1}, {1}, {1}}};
    simd()->unary(op, DType::Float64, make_loop(L, {cp(got), cp(x)}));
    reference().unary(op, DType::Float64, make_loop(L, {cp(ref), cp(x)}));
    const std::string what =
        op == UnaryOp::Exp   ? "float64 exp"
        : op == UnaryOp::Log ? "float64 log"
        : op == UnaryOp::Tanh ? "float64 tanh"
                              : "float64 sigmoid";
    if (op != UnaryOp::Sigmoid) {
      for (int64_t i = 0; i < n; ++i) {
        const long double v = x[i];
        exact[i] = static_cast<double>(op == UnaryOp::Exp ? std::exp(v) : op == UnaryOp::Log ? std::log(v) : std::tanh(v));
      }
      const int64_t differ = expect_within_ulps(got, exact, what + " against the exact value", 1);
      std::printf("%s: of %lld, %lld differ from the exact value by one ulp\n", what.c_str(),
                  static_cast<long long>(n), static_cast<long long>(differ));
      EXPECT_LE(differ, op == UnaryOp::Exp ? n / 25 : n / 100) << what;
    }
    const int64_t differ_ref =
        expect_within_ulps(got, ref, what + " against the reference", op == UnaryOp::Exp || op == UnaryOp::Log ? 1 : 2);
    std::printf("%s: of %lld, %lld differ from the reference\n", what.c_str(), static_cast<long long>(n),
                static_cast<long long>(differ_ref));
  }
}

// float64 sin and cos (vmath::sincos_pd_full) over their domain: random bit patterns (every
// binade, denormals, infinities, NaNs, and the huge values the C library takes), values
// spread over [-1e6, 1e6] and over [-4, 4], the doubles nearest to multiples of pi/2 and
// their neighbours (where x - j pi/2 cancels most), and the edges (kTrigMaxD and the doubles
// beside it, +-0, pi/4). Against the exact value (long double rounded to double): at most
// one ulp apart, and equal on all but a few percent (measured: sin 0.8%, cos 0.7% of these
// inputs; 2.3% of [-pi/4, pi/4] for sin). Against the reference (glibc's sin and cos): one
// ulp. (With the reduction's TwoSums replaced by plain adds, some results are several ulps
// off: the test fails.)
TEST(SimdKernels, Float64SinCosMatchReference) {
  REQUIRE_SIMD();
  std::mt19937_64 rng(29);
  const long double kPio2L = 1.5707963267948966192313216916397514L;
  const double edges[] = {0.0,       -0.0,      INFINITY, -INFINITY,         NAN, 1e6, -1e6, std::nextafter(1e6, 2e6),
                          -std::nextafter(1e6, 2e6), std::nextafter(1e6, 0.0), 1e300, -1e300, 1e-320, -1e-320,
                          0.7853981633974483, -0.7853981633974483, 2.2250738585072014e-308, 1e-8};
  const int64_t n = 1 << 19;
  std::vector<double> x(n);
  std::uniform_real_distribution<double> wide(-1e6, 1e6), narrow(-4, 4);
  std::uniform_int_distribution<int64_t> mult(-636000, 636000), nudge(-3, 3);
  for (int64_t i = 0; i < n; ++i) {
    if (i % 4 == 0) {
      const uint64_t bits = rng();
      std::memcpy(&x[i], &bits, 8);
    } else if (i % 4 == 1) {
      x[i] = wide(rng);
    } else if (i % 4 == 2) {
      x[i] = narrow(rng);
    } else {  // a multiple of pi/2, rounded, moved by up to 3 ulps
      double v = static_cast<double>(static_cast<long double>(mult(rng)) * kPio2L);
      for (int64_t s = nudge(rng); s != 0; s += s > 0 ? -1 : 1) v = std::nextafter(v, s > 0 ? INFINITY : -INFINITY);
      x[i] = v;
    }
  }
  for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); ++i) x[i * 4 + 1] = edges[i];
  for (UnaryOp op : {UnaryOp::Sin, UnaryOp::Cos}) {
    std::vector<double> got(n), ref(n), exact(n);
    Layout L{"contiguous", {n}, {{1}, {1}, {1}, {1}}};
    simd()->unary(op, DType::Float64, make_loop(L, {cp(got), cp(x)}));
    reference().unary(op, DType::Float64, make_loop(L, {cp(ref), cp(x)}));
    const std::string what = op == UnaryOp::Sin ? "float64 sin" : "float64 cos";
    for (int64_t i = 0; i < n; ++i) {
      const long double v = x[i];
      exact[i] = static_cast<double>(op == UnaryOp::Sin ? std::sin(v) : std::cos(v));
    }
    const int64_t differ = expect_within_ulps(got, exact, what + " against the exact value", 1);
    const int64_t differ_ref = expect_within_ulps(got, ref, what + " against the reference", 1);
    std::printf("%s: of %lld, %lld differ from the exact value by one ulp, %lld from the reference\n", what.c_str(),
                static_cast<long long>(n), static_cast<long long>(differ), static_cast<long long>(differ_ref));
    EXPECT_LE(differ, n / 50) << what;
  }
}

// A broadcast exponent: 2, 3, -2, -1, 0.5, -0.5, 1 and 0 take vector loops of PyTorch's
// products, quotients and square roots, bit for bit as the reference; other finite
// exponents on float32 take vmath::pow_ps, within one ulp of the reference (glibc's powf);
// float64's call std::pow as the reference does. A float32 tensor of one repeated exponent
// takes vmath::pow_pv (within one ulp of the reference outside the list, bit for bit on
// it); float64's the element loop. A strided run with a broadcast exponent is gathered: the
// same bits as the contiguous run.
template <typename T>
void check_pow_scalar_exponent() {
  std::mt19937_64 rng(24);
  for (T e : {T(2), T(3), T(-2), T(-1), T(0.5), T(-0.5), T(1), T(0), T(2.5), T(-3), T(4), T(5), T(-0.75)}) {
    const bool listed = e == T(2) || e == T(3) || e == T(-2) || e == T(-1) || e == T(0.5) || e == T(-0.5) ||
                        e == T(1) || e == T(0);
    for (int64_t n : kSizes) {
      const std::string what = "pow e=" + std::to_string(e) + " n=" + std::to_string(n);
      std::vector<T> a = random_vec<T>(rng, n, true), b(n, e), scalar_out;
      for (const char* name : {"scalar_b", "contiguous"}) {
        Layout L = layouts(n)[std::string(name) == "scalar_b" ? 1 : 0];
        std::vector<T> o1(n + 2, T(-7)), o2 = o1;
        simd()->binary(BinaryOp::Pow, dtype_of<T>(), make_loop(L, {cp(o1), cp(a), cp(b)}));
        reference().binary(BinaryOp::Pow, dtype_of<T>(), make_loop(L, {cp(o2), cp(a), cp(b)}));
        if (std::is_same_v<T, float> && !listed) expect_within_ulps(o1, o2, what + " " + name, 1);
        else expect_same_bits(o1, o2, what + " " + name);
        if (std::string(name) == "scalar_b") scalar_out = o1;
      }
      // the same values, a 3 apart and the output 2 apart
      Layout L{"strided_scalar_b", {n}, {{2}, {3}, {0}, {2}}};
      std::vector<T> as(3 * n), os(2 * n, T(-7));
      for (int64_t i = 0; i < n; ++i) as[3 * i] = a[i];
      simd()->binary(BinaryOp::Pow, dtype_of<T>(), make_loop(L, {cp(os), cp(as), cp(b)}));
      std::vector<T> got(n + 2, T(-7));
      for (int64_t i = 0; i < n; ++i) got[i] = os[2 * i];
      expect_same_bits(got, scalar_out, what + " strided against contiguous");
    }
  }
}
TEST(SimdKernels, PowScalarExponentFloat32) { REQUIRE_SIMD(); check_pow_scalar_exponent<float>(); }
TEST(SimdKernels, PowScalarExponentFloat64) { REQUIRE_SIMD(); check_pow_scalar_exponent<double>(); }

// float32 to a broadcast exponent outside PyTorch's list (vmath::pow_ps) over its domain:
// random bit patterns (every binade, negative bases, denormals, infinities, NaNs), bases
// spread over the range where the result is finite and not 0 (negative ones for integral
// exponents), and the edges. Against the exact value (the double-precision pow rounded to
// float): at most one ulp apart anywhere and equal nearly everywhere, so a version off by
// one ulp on a few percent of inputs fails; against the reference (glibc's powf, within
// 0.82 ulp of the exact value): within one ulp, NaN, zeros and infinities bit for bit.
TEST(SimdKernels, PowMatchesExact) {
  REQUIRE_SIMD();
  std::mt19937_64 rng(31);
  const float edges[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1.0f, -1.0f, 1e-45f, -1e-45f, 1.2e-38f,
                         3.4e38f, -3.4e38f, 2.0f, -2.0f, 0.5f, -0.5f, 1e-10f, 1e10f, -1e10f, 65536.0f};
  const int64_t n = 1 << 18;
  for (float e : {2.5f, -3.0f, 4.0f, 7.0f, 1.5f, -0.75f, 0.33333334f, 10.5f, -1.5f, 1e-3f, 100.0f}) {
    std::vector<float> x(n), b(1, e);
    const bool integral = std::floor(e) == e;
    const double lim = 87.0 / std::fabs(e);  // |e log x| below this: a finite, normal result
    std::uniform_real_distribution<double> d(-lim, lim);
    for (int64_t i = 0; i < n; ++i) {
      if (i % 2) {
        const uint32_t bits = static_cast<uint32_t>(rng());
        std::memcpy(&x[i], &bits, 4);
      } else {
        x[i] = static_cast<float>(std::exp(d(rng)));
        if (integral && rng() % 2) x[i] = -x[i];
      }
    }
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); ++i) x[i * 2] = edges[i];
    std::vector<float> got(n), ref(n), exact(n);
    Layout L{"scalar_b", {n}, {{1}, {1}, {0}, {1}}};
    simd()->binary(BinaryOp::Pow, DType::Float32, make_loop(L, {cp(got), cp(x), cp(b)}));
    reference().binary(BinaryOp::Pow, DType::Float32, make_loop(L, {cp(ref), cp(x), cp(b)}));
    for (int64_t i = 0; i < n; ++i) exact[i] = static_cast<float>(std::pow(static_cast<double>(x[i]), double{e}));
    const std::string what = "pow e=" + std::to_string(e);
    const int64_t differ = expect_within_ulps(got, exact, what + " against the exact value", 1);
    const int64_t differ_ref = expect_within_ulps(got, ref, what + " against the reference", 1);
    std::printf("pow e=%g: of %lld, %lld differ from the exact value by one ulp, %lld from the reference\n", e,
                static_cast<long long>(n), static_cast<long long>(differ), static_cast<long long>(differ_ref));
    EXPECT_LE(differ, n / 1000) << what;
  }
}

// float32 to a tensor exponent (vmath::pow_pv, its other lanes through pow_one): exponents
// mixed per element (random reals, integers odd and even, up to 2^25, PyTorch's special
// exponents, infinities and NaN) on bases of random bit patterns, spread magnitudes, and
// negative ones. Lanes with a special exponent or base: the reference's bits; the others
// within one ulp of the exact value (the double pow rounded) and of the reference, and
// equal to the exact value nearly everywhere. A broadcast base (2 ** y) the same.
TEST(SimdKernels, PowTensorExponent) {
  REQUIRE_SIMD();
  std::mt19937_64 rng(43);
  const int64_t n = 1 << 18;
  const float listed[] = {2.0f, 3.0f, -2.0f, -1.0f, 0.5f, -0.5f, 1.0f, 0.0f};
  std::vector<float> x(n), y(n);
  std::uniform_real_distribution<double> d(-20, 20), ex(-4, 4);
  for (int64_t i = 0; i < n; ++i) {
    switch (rng() % 8) {
      case 0: y[i] = listed[rng() % 8]; break;
      case 1: y[i] = static_cast<float>(static_cast<int64_t>(rng() % 41) - 20); break;  // integers
      case 2:  // large integers: the odd 2^24 - 1, even ones from 2^23 up
        y[i] = rng() % 3 ? std::ldexp(static_cast<float>(rng() % 2 ? 3 : 1), 23 + static_cast<int>(rng() % 3))
                         : (rng() % 2 ? 16777215.0f : -16777215.0f);
        break;
      case 3: y[i] = rng() % 3 == 0 ? NAN : (rng() % 2 ? INFINITY : -INFINITY); break;
      default: y[i] = static_cast<float>(ex(rng)); break;
    }
    if (rng() % 3 == 0) {
      const uint32_t bits = static_cast<uint32_t>(rng());
      std::memcpy(&x[i], &bits, 4);
    } else {
      x[i] = static_cast<float>(std::exp(d(rng) / std::max(1.0, std::fabs(static_cast<double>(y[i])) / 4)));
      if (rng() % 2) x[i] = -x[i];
    }
  }
  for (bool broadcast_base : {false, true}) {
    std::vector<float> xb = broadcast_base ? std::vector<float>{2.0f} : x;
    Layout L{broadcast_base ? "scalar_a" : "contiguous", {n}, {{1}, {broadcast_base ? 0 : 1}, {1}, {1}}};
    std::vector<float> got(n), ref(n);
    simd()->binary(BinaryOp::Pow, DType::Float32, make_loop(L, {cp(got), cp(xb), cp(y)}));
    reference().binary(BinaryOp::Pow, DType::Float32, make_loop(L, {cp(ref), cp(xb), cp(y)}));
    std::vector<float> g1, r1, e1, g2, r2;  // general lanes; special lanes
    for (int64_t i = 0; i < n; ++i) {
      const float xi = xb[broadcast_base ? 0 : i], yi = y[i];
      const bool special = std::find(std::begin(listed), std::end(listed), yi) != std::end(listed) ||
                           !std::isfinite(yi) || !std::isfinite(xi) || xi == 0.0f;
      (special ? g2 : g1).push_back(got[i]);
      (special ? r2 : r1).push_back(ref[i]);
      if (!special) e1.push_back(static_cast<float>(std::pow(static_cast<double>(xi), static_cast<double>(yi))));
    }
    const std::string what = std::string("pow tensor exponent, ") + L.name;
    expect_same_bits(g2, r2, what + ", special lanes");
    const int64_t differ = expect_within_ulps(g1, e1, what + " against the exact value", 1);
    expect_within_ulps(g1, r1, what + " against the reference", 1);
    std::printf("%s: %zu general lanes, %lld one ulp from the exact value; %zu special lanes\n", what.c_str(),
                g1.size(), static_cast<long long>(differ), g2.size());
    EXPECT_GT(g1.size(), static_cast<size_t>(n / 2));
    EXPECT_LE(differ, static_cast<int64_t>(g1.size()) / 1000) << what;
  }
}

template <typename T>
void check_where() {
  std::mt19937_64 rng(14);
  for (int64_t n : kSizes) {
    for (Layout L : layouts(n)) {
      // operand 1 is the bool condition: reuse the layout's strides.
      std::vector<uint8_t> cond(static_cast<size_t>(span(L, 1)));
      for (auto& c : cond) c = rng() % 2;
      std::vector<T> a = random_vec<T>(rng, span(L, 2), true), b = random_vec<T>(rng, span(L, 3), true);
      std::vector<T> o1(span(L, 0) + 2, T(-7)), o2 = o1;
      simd()->where(dtype_of<T>(), make_loop(L, {cp(o1), reinterpret_cast<char*>(cond.data()), cp(a), cp(b)}));
      reference().where(dtype_of<T>(), make_loop(L, {cp(o2), reinterpret_cast<char*>(cond.data()), cp(a), cp(b)}));
      expect_same_bits(o1, o2, "where n=" + std::to_string(n) + " " + L.name);
    }
  }
}
TEST(SimdKernels, WhereFloat32) { REQUIRE_SIMD(); check_where<float>(); }
TEST(SimdKernels, WhereFloat64) { REQUIRE_SIMD(); check_where<double>(); }
TEST(SimdKernels, WhereInt64) { REQUIRE_SIMD(); check_where<int64_t>(); }

TEST(SimdKernels, LargeOutputsStreamedMatchTheReference) {
  // Outputs past kStreamBytes use non-temporal stores after an aligning scalar head: start
  // the output one element off a 32-byte boundary.
  REQUIRE_SIMD();
  std::mt19937_64 rng(18);
  const int64_t n = 6500003;
  Layout L{"contiguous", {n}, {{1}, {1}, {1}, {1}}};
  std::vector<float> a = random_vec<float>(rng, n, true), b = random_vec<float>(rng, n, true);
  std::vector<float> o1(n + 2, -7.0f), o2 = o1;
  simd()->binary(BinaryOp::Add, DType::Float32, make_loop(L, {cp(o1) + 4, cp(a), cp(b)}));
  reference().binary(BinaryOp::Add, DType::Float32, make_loop(L, {cp(o2) + 4, cp(a), cp(b)}));
  expect_same_bits(o1, o2, "streamed add");
  const ScalarValue zero{0.0, 0};
  simd()->clamp(DType::Float32, make_loop(L, {cp(o1) + 4, cp(a)}), &zero, nullptr);
  reference().clamp(DType::Float32, make_loop(L, {cp(o2) + 4, cp(a)}), &zero, nullptr);
  expect_same_bits(o1, o2, "streamed clamp");
  simd()->unary(UnaryOp::Relu, DType::Float32, make_loop(L, {cp(o1) + 4, cp(a)}));
  reference().unary(UnaryOp::Relu, DType::Float32, make_loop(L, {cp(o2) + 4, cp(a)}));
  expect_same_bits(o1, o2, "streamed relu");
}

// Large spaces of short rows go to the pool in blocks of whole rows (nd_loop_par): 700 x 3
// x 131 (275100 elements, above the parallel threshold, rows of 131), with a broadcast row,
// a broadcast column, a transposed input (walked in tiles of kTile rows and elements, with
// partial tiles both ways) and a strided output, on 1, 2 and 3 threads. Every element must
// match the reference, and the output's gaps stay untouched.
TEST(SimdKernels, ShortRowsOfALargeSpaceMatchTheReferenceOnAnyThreadCount) {
  REQUIRE_SIMD();
  std::mt19937_64 rng(21);
  const int64_t R = 700, M = 3, C = 131;
  const std::vector<Layout> big = {
      {"row_broadcast", {R, M, C}, {{M * C, C, 1}, {M * C, C, 1}, {0, 0, 1}, {M * C, C, 1}}},
      {"col_broadcast", {R, M, C}, {{M * C, C, 1}, {M, 1, 0}, {M * C, C, 1}, {0, 0, 1}}},
      {"transposed", {R, M, C}, {{M * C, C, 1}, {1, R, R * M}, {M * C, C, 1}, {1, R, R * M}}},
      {"strided_out", {R, M, C}, {{2 * M * C, 2 * C, 2}, {M * C, C, 1}, {M * C, C, 1}, {M * C, C, 1}}},
  };
  const ScalarValue lo{-0.5, 0};
  for (int threads : {1, 2, 3}) {
    ThreadCount tc(threads);
    for (const Layout& L : big) {
      const std::string what = L.name + " threads=" + std::to_string(threads);
      std::vector<float> a = random_vec<float>(rng, span(L, 1), true), b = random_vec<float>(rng, span(L, 2), true),
                         c = random_vec<float>(rng, span(L, 3), true);
      std::vector<uint8_t> cond(span(L, 1));
      for (auto& x : cond) x = rng() % 2;
      std::vector<float> o1(span(L, 0) + 2, -7.0f), o2 = o1;
      simd()->binary(BinaryOp::Mul, DType::Float32, make_loop(L, {cp(o1), cp(a), cp(b)}));
      reference().binary(BinaryOp::Mul, DType::Float32, make_loop(L, {cp(o2), cp(a), cp(b)}));
      expect_same_bits(o1, o2, "mul " + what);
      simd()->clamp(DType::Float32, make_loop(L, {cp(o1), cp(a)}), &lo, nullptr);
      reference().clamp(DType::Float32, make_loop(L, {cp(o2), cp(a)}), &lo, nullptr);
      expect_same_bits(o1, o2, "clamp " + what);
      simd()->unary(UnaryOp::Neg, DType::Float32, make_loop(L, {cp(o1), cp(a)}));
      reference().unary(UnaryOp::Neg, DType::Float32, make_loop(L, {cp(o2), cp(a)}));
      expect_same_bits(o1, o2, "neg " + what);
      simd()->where(DType::Float32, make_loop(L, {cp(o1), reinterpret_cast<char*>(cond.data()), cp(b), cp(c)}));
      reference().where(DType::Float32, make_loop(L, {cp(o2), reinterpret_cast<char*>(cond.data()), cp(b), cp(c)}));
      expect_same_bits(o1, o2, "where " + what);
      std::vector<uint8_t> m1(span(L, 0) + 2, 7), m2 = m1;
      simd()->binary(BinaryOp::Gt, DType::Float32, make_loop(L, {cp(m1), cp(a), cp(b)}));
      reference().binary(BinaryOp::Gt, DType::Float32, make_loop(L, {cp(m2), cp(a), cp(b)}));
      expect_same_bits(m1, m2, "gt " + what);
    }
  }
}

// ---------------------------------------------------------------- sum

// Sum over the inner (r, c) space of an (o, r, c) buffer with the given strides.
template <typename T>
std::vector<T> run_sum_at(const KernelTable& t, const T* x, std::vector<int64_t> oshape, std::vector<int64_t> ostr,
                          std::vector<int64_t> ishape, std::vector<int64_t> istr, ReduceOp op = ReduceOp::Sum) {
  int64_t no = 1;
  for (int64_t s : oshape) no *= s;
  std::vector<T> out(static_cast<size_t>(no) + 2, T(-7));
  std::vector<int64_t> out_str(oshape.size());
  for (int64_t d = static_cast<int64_t>(oshape.size()) - 1, s = 1; d >= 0; --d) out_str[d] = s, s *= oshape[d];
  Loop outer, inner;
  outer.ndim = static_cast<int>(oshape.size());
  outer.shape = oshape.data();
  outer.ptr[0] = reinterpret_cast<char*>(out.data());
  outer.strides[0] = out_str.data();
  outer.ptr[1] = const_cast<char*>(reinterpret_cast<const char*>(x));
  outer.strides[1] = ostr.data();
  inner.ndim = static_cast<int>(ishape.size());
  inner.shape = ishape.data();
  inner.strides[1] = istr.data();
  t.reduce(op, dtype_of<T>(), outer, inner);
  return out;
}
template <typename T>
std::vector<T> run_sum(const KernelTable& t, const std::vector<T>& x, std::vector<int64_t> oshape,
                       std::vector<int64_t> ostr, std::vector<int64_t> ishape, std::vector<int64_t> istr,
                       ReduceOp op = ReduceOp::Sum) {
  return run_sum_at<T>(t, x.data(), std::move(oshape), std::move(ostr), std::move(ishape), std::move(istr), op);
}

template <typename T>
void check_sum() {
  std::mt19937_64 rng(15);
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-13;
  for (int64_t n : kSizes) {
    std::vector<T> x = random_vec<T>(rng, static_cast<size_t>(3 * n));
    // whole-tensor sum of n elements, of a (3, n) block, of each of 3 rows, and column sums
    struct Case {
      std::vector<int64_t> os, ostr, is, istr;
      bool exact;
    };
    const Case cases[] = {{{}, {}, {n}, {1}, false},
                          {{}, {}, {3, n}, {n, 1}, false},
                          {{3}, {n}, {n}, {1}, false},
                          {{n}, {1}, {3}, {n}, true},
                          {{3}, {1}, {n}, {3}, true}};
    for (const Case& c : cases) {
      std::vector<T> got = run_sum<T>(*simd(), x, c.os, c.ostr, c.is, c.istr);
      std::vector<T> want = run_sum<T>(reference(), x, c.os, c.ostr, c.is, c.istr);
      if (c.exact) {
        expect_same_bits(got, want, "column sum n=" + std::to_string(n));
        continue;
      }
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_NEAR(got[i], want[i], tol * (1 + std::sqrt(double(n)) * 3)) << "sum n=" << n << " out " << i;
    }
  }
}
TEST(SimdKernels, SumFloat32) { REQUIRE_SIMD(); check_sum<float>(); }
// Column sums (sum over dim 0) of tall blocks: row blocks, 32-column register chunks, the
// column tail, and the parallel split over column ranges (300 x 1100: tasks of 512, 512 and
// 76 columns); exact against the reference.
template <typename T>
void check_column_sums() {
  std::mt19937_64 rng(21);
  const std::vector<std::pair<int64_t, int64_t>> shapes{{130, 37}, {65, 300},  {1000, 290}, {4096, 10}, {300, 1100},
                                                       {2000, 7}, {257, 29}, {100, 20},   {33, 32},   {40, 64}};
  for (auto [rows, cols] : shapes) {
    std::vector<T> x = random_vec<T>(rng, static_cast<size_t>(rows * cols));
    for (int threads : {1, 2}) {
      ThreadCount tc(threads);
      std::vector<T> got = run_sum<T>(*simd(), x, {cols}, {1}, {rows}, {cols});
      std::vector<T> want = run_sum<T>(reference(), x, {cols}, {1}, {rows}, {cols});
      expect_same_bits(got, want, "column sums " + std::to_string(rows) + "x" + std::to_string(cols));
    }
  }
}
// Column sums of a block whose last row ends where an inaccessible page begins, every width
// of the narrow (masked) chunk and a few past it: a load of a whole group of 4 where the row
// has fewer values left would fault here. (One column is a contiguous run: the short-row
// and whole-sum tests.)
template <typename T>
void check_column_sums_at_page_end() {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::mt19937_64 rng(29);
  for (int64_t cols = 2; cols <= 70; ++cols)
    for (int64_t rows : {1, 3, 9}) {
      const size_t bytes = static_cast<size_t>(rows * cols) * sizeof(T);
      const size_t span = (bytes + page - 1) / page * page;
      void* base = mmap(nullptr, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      ASSERT_NE(base, MAP_FAILED);
      char* bytes_at = static_cast<char*>(base);
      ASSERT_EQ(mprotect(bytes_at + span, page, PROT_NONE), 0);
      T* x = reinterpret_cast<T*>(bytes_at + span - bytes);
      const std::vector<T> v = random_vec<T>(rng, static_cast<size_t>(rows * cols));
      std::memcpy(x, v.data(), bytes);
      std::vector<T> got = run_sum_at<T>(*simd(), x, {cols}, {1}, {rows}, {cols});
      std::vector<T> want = run_sum_at<T>(reference(), x, {cols}, {1}, {rows}, {cols});
      expect_same_bits(got, want, "column sums at a page end " + std::to_string(rows) + "x" + std::to_string(cols));
      munmap(base, span + page);
    }
}
// Row sums of short rows (x.sum(1) with up to 16 values per row: the short-row path, and 17
// past it), rows packed or ld apart (the first n columns of a wider matrix), a few rows and
// enough for the pool: the same bits on 1 and 2 threads, near the reference (which sums in
// another order), and no read past the last row when it ends at an inaccessible page.
template <typename T>
void check_short_row_sums() {
  std::mt19937_64 rng(31);
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  for (int64_t n = 1; n <= 17; ++n)
    for (int64_t rows : {1, 5, 20000})
      for (int64_t ld : {n, n + 3}) {
        const size_t count = static_cast<size_t>((rows - 1) * ld + n);
        const size_t bytes = count * sizeof(T), span = (bytes + page - 1) / page * page;
        void* base = mmap(nullptr, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ASSERT_NE(base, MAP_FAILED);
        ASSERT_EQ(mprotect(static_cast<char*>(base) + span, page, PROT_NONE), 0);
        T* x = reinterpret_cast<T*>(static_cast<char*>(base) + span - bytes);
        const std::vector<T> v = random_vec<T>(rng, count);
        std::memcpy(x, v.data(), bytes);
        std::vector<T> got[2];
        for (int threads : {1, 2}) {
          ThreadCount tc(threads);
          got[threads - 1] = run_sum_at<T>(*simd(), x, {rows}, {ld}, {n}, {1});
        }
        const std::string what = "row sums " + std::to_string(rows) + "x" + std::to_string(n) + " ld " + std::to_string(ld);
        expect_same_bits(got[0], got[1], what + " (1 against 2 threads)");
        const std::vector<T> want = run_sum_at<T>(reference(), x, {rows}, {ld}, {n}, {1});
        for (size_t i = 0; i < want.size(); ++i) {
          double mag = 0;  // sum of |x| over the row: the bound's scale
          if (i < static_cast<size_t>(rows))
            for (int64_t j = 0; j < n; ++j) mag += std::abs(static_cast<double>(x[i * ld + j]));
          ASSERT_NEAR(got[0][i], want[i], tol * (1 + mag)) << what << " out " << i;
        }
        munmap(base, span + page);
      }
}
TEST(SimdKernels, ShortRowSumsFloat32) { REQUIRE_SIMD(); check_short_row_sums<float>(); }
TEST(SimdKernels, ShortRowSumsFloat64) { REQUIRE_SIMD(); check_short_row_sums<double>(); }

TEST(SimdKernels, ColumnSumsAtPageEndFloat32) { REQUIRE_SIMD(); check_column_sums_at_page_end<float>(); }
TEST(SimdKernels, ColumnSumsAtPageEndFloat64) { REQUIRE_SIMD(); check_column_sums_at_page_end<double>(); }

// Max and min over contiguous runs: the reference's bits, which are the first NaN when
// there is one (payloads tell NaNs apart) and the first of equal zeros (+0 against -0, also
// with the later zero in the same vector lane, where the vector max alone gives +0), on
// 1 and 2 threads (runs from 2^17 elements are cut into chunks), whole-tensor and per row.
template <typename T>
void check_extremes() {
  std::mt19937_64 rng(25);
  auto nan_with = [](uint64_t payload) {
    T v = std::numeric_limits<T>::quiet_NaN();
    if constexpr (sizeof(T) == 4) {
      uint32_t b;
      std::memcpy(&b, &v, 4);
      b |= static_cast<uint32_t>(payload);
      std::memcpy(&v, &b, 4);
    } else {
      uint64_t b;
      std::memcpy(&b, &v, 8);
      b |= payload;
      std::memcpy(&v, &b, 8);
    }
    return v;
  };
  for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{8}, int64_t{9}, int64_t{33}, int64_t{255}, int64_t{257},
                    int64_t{300001}}) {
    for (int variant = 0; variant < 7; ++variant) {
      std::vector<T> x = random_vec<T>(rng, static_cast<size_t>(n));
      if (variant == 1) {  // two NaNs: the first one's payload must win
        x[n / 3] = nan_with(5);
        x[n - 1] = nan_with(9);
      } else if (variant == 2 || variant == 3) {  // all <= 0 (max) or >= 0 (min), zeros of both signs
        for (T& v : x) v = variant == 2 ? -std::fabs(v) : std::fabs(v);
        x[n / 2] = T(-0.0);
        x[n - 1] = T(0.0);
        if (variant == 3) std::swap(x[n / 2], x[n - 1]);
      } else if (variant == 4) {  // infinities
        x[0] = -std::numeric_limits<T>::infinity();
        x[n - 1] = std::numeric_limits<T>::infinity();
      } else if (variant >= 5 && n > 40) {  // -0 first, +0 later in the same vector lane (max); mirrored (min)
        for (T& v : x) v = variant == 5 ? -std::fabs(v) - 1 : std::fabs(v) + 1;
        x[1] = variant == 5 ? T(-0.0) : T(0.0);
        x[17] = x[33] = variant == 5 ? T(0.0) : T(-0.0);
      }
      for (int threads : {1, 2}) {
        ThreadCount tc(threads);
        for (ReduceOp op : {ReduceOp::Max, ReduceOp::Min}) {
          const std::string what = std::string(op == ReduceOp::Max ? "max" : "min") + " n=" + std::to_string(n) +
                                    " variant " + std::to_string(variant) + " threads " + std::to_string(threads);
          std::vector<T> got = run_sum<T>(*simd(), x, {}, {}, {n}, {1}, op);
          std::vector<T> want = run_sum<T>(reference(), x, {}, {}, {n}, {1}, op);
          expect_same_bits(got, want, what);
        }
      }
    }
  }
  // Per row: 3 rows of 101 (a row of zeros of both signs, a row with a NaN).
  std::vector<T> x = random_vec<T>(rng, 303);
  for (int i = 0; i < 101; ++i) x[i] = i % 2 ? T(-0.0) : T(0.0);
  x[101 + 50] = nan_with(3);
  for (ReduceOp op : {ReduceOp::Max, ReduceOp::Min}) {
    std::vector<T> got = run_sum<T>(*simd(), x, {3}, {101}, {101}, {1}, op);
    std::vector<T> want = run_sum<T>(reference(), x, {3}, {101}, {101}, {1}, op);
    expect_same_bits(got, want, op == ReduceOp::Max ? "max per row" : "min per row");
  }
}
// Max / min with indices along one dim (values and int64 indices), rows and columns of a
// 300 x 1000 block with NaNs and ties: the row blocks on 2 threads against the reference.
TEST(SimdKernels, ArgReduceOnThreadsMatchesReference) {
  REQUIRE_SIMD();
  std::mt19937_64 rng(26);
  const int64_t rows = 300, cols = 1000;
  std::vector<float> x = random_vec<float>(rng, rows * cols);
  for (int64_t i = 0; i < rows * cols; i += 977) x[i] = std::nanf("");
  for (int64_t i = 5; i < rows * cols; i += 1013) x[i] = x[i - 3];  // ties
  for (int threads : {1, 2}) {
    ThreadCount tc(threads);
    for (ReduceOp op : {ReduceOp::Max, ReduceOp::Min}) {
      for (int dim : {0, 1}) {  // reduce over rows (outer: columns) or over columns (outer: rows)
        const int64_t no = dim == 0 ? cols : rows, n = dim == 0 ? rows : cols, stride = dim == 0 ? cols : 1;
        const int64_t ostep = dim == 0 ? 1 : cols;
        std::vector<float> v1(no), v2(no);
        std::vector<int64_t> i1(no), i2(no);
        const int64_t shape[1] = {no}, s0[1] = {1}, s2[1] = {ostep};
        auto run = [&](const KernelTable& t, std::vector<float>& v, std::vector<int64_t>& idx) {
          Loop l;
          l.ndim = 1;
          l.shape = shape;
          l.ptr[0] = cp(v);
          l.ptr[1] = reinterpret_cast<char*>(idx.data());
          l.ptr[2] = cp(x);
          l.strides[0] = s0;
          l.strides[1] = s0;
          l.strides[2] = s2;
          t.arg_reduce(op, DType::Float32, l, n, stride);
        };
        run(*simd(), v1, i1);
        run(reference(), v2, i2);
        const std::string what = "arg_reduce dim " + std::to_string(dim) + " threads " + std::to_string(threads);
        expect_same_bits(v1, v2, what);
        EXPECT_EQ(i1, i2) << what;
      }
    }
  }
}

TEST(SimdKernels, MaxMinFloat32) { REQUIRE_SIMD(); check_extremes<float>(); }
TEST(SimdKernels, MaxMinFloat64) { REQUIRE_SIMD(); check_extremes<double>(); }

TEST(SimdKernels, ColumnSumsFloat32) { REQUIRE_SIMD(); check_column_sums<float>(); }
TEST(SimdKernels, ColumnSumsFloat64) { REQUIRE_SIMD(); check_column_sums<double>(); }
// int64 (random bit patterns: the sums wrap) through column_sums_int64.
TEST(SimdKernels, ColumnSumsInt64) { REQUIRE_SIMD(); check_column_sums<int64_t>(); }
TEST(SimdKernels, SumFloat64) { REQUIRE_SIMD(); check_sum<double>(); }

// Dense same-dtype copies go over the pool (and past the cache when large); everything
// else is the reference's. (Overlapping copies never reach the kernel: copy_ stages them.)
template <typename T>
void check_copy(int threads) {  // run under ThreadCount(threads)
  std::mt19937_64 rng(21);
  const int64_t stream_elems = (int64_t{24} << 20) / static_cast<int64_t>(sizeof(T)) + 77;
  for (int64_t n : {int64_t{1000}, int64_t{1} << 17, (int64_t{1} << 17) + 3, int64_t{1000003}, stream_elems}) {
    for (int64_t off : {0, 1, 3}) {  // destination and source misaligned by `off` elements
      std::vector<T> src(static_cast<size_t>(n + 4)), d1(static_cast<size_t>(n + 4)), d2;
      for (auto& v : src) v = static_cast<T>(static_cast<int64_t>(rng() % 1000) - 500);
      for (auto& v : d1) v = static_cast<T>(7);
      d2 = d1;
      const std::vector<int64_t> shape{n}, one{1};
      Loop l;
      l.ndim = 1;
      l.shape = shape.data();
      l.strides[0] = l.strides[1] = one.data();
      l.ptr[1] = cp(src) + (3 - off) * sizeof(T);
      l.ptr[0] = cp(d1) + off * sizeof(T);
      simd()->cast_copy(dtype_of<T>(), dtype_of<T>(), l);
      l.ptr[0] = cp(d2) + off * sizeof(T);
      reference().cast_copy(dtype_of<T>(), dtype_of<T>(), l);
      expect_same_bits(d1, d2, "copy n=" + std::to_string(n) + " off=" + std::to_string(off) + " threads=" +
                                   std::to_string(threads));
    }
  }
}
TEST(SimdKernels, DenseCopyMatchesReference) {
  REQUIRE_SIMD();
  for (int threads : {1, 2}) {
    ThreadCount tc(threads);
    check_copy<float>(threads);
    check_copy<double>(threads);
  }
}

// Dense conversions between bool, float32 and float64 (convert_copy) and dense fills, on 1
// and 2 threads, against the reference's bits: specials (NaN, infinities, -0, denormals,
// float64 values that round when narrowed), every tail length, runs long enough for the
// pool, and a fill large enough for non-temporal stores.
template <typename D, typename S>
void check_convert(DType dd, DType ds) {
  std::mt19937_64 rng(27);
  for (int64_t n : kSizes) {
    std::vector<S> x(static_cast<size_t>(n));
    for (auto& v : x) {
      if constexpr (std::is_same_v<S, uint8_t>) v = rng() % 2;  // a bool: 0 or 1
      else if constexpr (std::is_integral_v<S>) {  // int64: zeros, any 64 bits, and |x| < 2^52 (exact in double)
        const uint64_t r = rng() % 8;
        v = r == 0 ? S(0) : r == 1 ? static_cast<S>(rng()) : static_cast<S>(rng() % (uint64_t{1} << 53)) - (S{1} << 52);
      } else {
        // small values (zeros among them); some near 2^51 and 2^53 (int64's vector limits)
        const double scale = rng() % 5 == 0 ? 1e15 : rng() % 7 == 0 ? 1e17 : 1.0;
        v = static_cast<S>(std::uniform_real_distribution<double>(-3, 3)(rng) * scale) * (rng() % 4 == 0 ? S(0) : S(1));
      }
    }
    if constexpr (std::is_same_v<S, int64_t>) {
      const int64_t edges[] = {int64_t{1} << 51, (int64_t{1} << 51) - 1, -(int64_t{1} << 51), 1 - (int64_t{1} << 51),
                               (int64_t{1} << 53) + 1, std::numeric_limits<int64_t>::min(),
                               std::numeric_limits<int64_t>::max(), -1};
      for (size_t k = 0; k < std::size(edges) && k < x.size(); ++k) x[k * 3 % x.size()] = edges[k];
    }
    if constexpr (std::is_floating_point_v<S>) {
      if (n > 8) {
        x[1] = std::numeric_limits<S>::quiet_NaN();
        x[2] = S(-0.0);
        x[3] = std::numeric_limits<S>::infinity();
        x[4] = -std::numeric_limits<S>::infinity();
        x[5] = std::numeric_limits<S>::denorm_min();
        x[6] = static_cast<S>(1.0000000596046448);  // rounds to even as a float
        x[7] = static_cast<S>(1e300 > std::numeric_limits<S>::max() ? 3e38 : 1e300);  // overflows as a float
      }
    }
    std::vector<D> o1(static_cast<size_t>(n) + 2, D(7)), o2 = o1;
    Layout L{"contiguous", {n}, {{1}, {1}, {1}, {1}}};
    simd()->cast_copy(dd, ds, make_loop(L, {cp(o1), cp(x)}));
    reference().cast_copy(dd, ds, make_loop(L, {cp(o2), cp(x)}));
    expect_same_bits(o1, o2, "convert n=" + std::to_string(n));
  }
}
template <typename T>
void check_fill(DType dt, int64_t n) {
  for (double v : {0.0, -0.0, 1.0, 3.25, std::nan(""), -HUGE_VAL, 1e-310}) {
    std::vector<T> o1(static_cast<size_t>(n) + 3, T(7)), o2 = o1;
    Layout L{"contiguous", {n}, {{1}, {1}, {1}, {1}}};
    // From the second element, so the run starts off a 32-byte line (the non-temporal head).
    Loop l1 = make_loop(L, {cp(o1) + sizeof(T)}), l2 = make_loop(L, {cp(o2) + sizeof(T)});
    simd()->fill(dt, l1, ScalarValue{v, 0});
    reference().fill(dt, l2, ScalarValue{v, 0});
    expect_same_bits(o1, o2, "fill " + std::to_string(v) + " n=" + std::to_string(n));
  }
}
TEST(SimdKernels, ConvertAndFillMatchReference) {
  REQUIRE_SIMD();
  for (int threads : {1, 2}) {
    ThreadCount tc(threads);
    check_convert<float, uint8_t>(DType::Float32, DType::Bool);
    check_convert<double, uint8_t>(DType::Float64, DType::Bool);
    check_convert<double, float>(DType::Float64, DType::Float32);
    check_convert<float, double>(DType::Float32, DType::Float64);
    check_convert<uint8_t, float>(DType::Bool, DType::Float32);
    check_convert<uint8_t, double>(DType::Bool, DType::Float64);
    check_convert<int64_t, uint8_t>(DType::Int64, DType::Bool);
    check_convert<uint8_t, int64_t>(DType::Bool, DType::Int64);
    check_convert<float, int64_t>(DType::Float32, DType::Int64);
    check_convert<double, int64_t>(DType::Float64, DType::Int64);
    check_convert<int64_t, float>(DType::Int64, DType::Float32);
    check_convert<int64_t, double>(DType::Int64, DType::Float64);
    for (int64_t n : kSizes) {
      check_fill<float>(DType::Float32, n);
      check_fill<double>(DType::Float64, n);
      for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{7}, std::numeric_limits<int64_t>::min()}) {
        std::vector<int64_t> o1(static_cast<size_t>(n) + 3, 5), o2 = o1;
        Layout L{"contiguous", {n}, {{1}, {1}, {1}, {1}}};
        simd()->fill(DType::Int64, make_loop(L, {cp(o1) + 8}), ScalarValue{0.0, v});
        reference().fill(DType::Int64, make_loop(L, {cp(o2) + 8}), ScalarValue{0.0, v});
        expect_same_bits(o1, o2, "fill int64 " + std::to_string(v) + " n=" + std::to_string(n));
      }
    }
  }
  check_fill<float>(DType::Float32, int64_t{7} << 20);  // 28 MiB: non-temporal stores
}

// int64 neg, abs, relu and sign over every layout (wrapping at INT64_MIN, as the
// reference), and sum, max and min of whole runs and of rows, on 1 and 2 threads (runs
// long enough for the pool), against the reference's bits.
TEST(SimdKernels, UnaryAndReduceInt64) {
  REQUIRE_SIMD();
  std::mt19937_64 rng(33);
  for (int threads : {1, 2}) {
    ThreadCount tc(threads);
    for (int64_t n : kSizes) {
      for (const Layout& L : layouts(n)) {
        std::vector<int64_t> x = random_vec<int64_t>(rng, span(L, 1), true);
        for (UnaryOp op : {UnaryOp::Neg, UnaryOp::Abs, UnaryOp::Relu, UnaryOp::Sign}) {
          std::vector<int64_t> o1(span(L, 0) + 2, -7), o2 = o1;
          simd()->unary(op, DType::Int64, make_loop(L, {cp(o1), cp(x)}));
          reference().unary(op, DType::Int64, make_loop(L, {cp(o2), cp(x)}));
          expect_same_bits(o1, o2, "int64 unary " + std::to_string(int(op)) + " n=" + std::to_string(n) + " " + L.name);
        }
      }
    }
    for (int64_t n : {int64_t{1}, int64_t{15}, int64_t{16}, int64_t{17}, int64_t{1000}, int64_t{300007}}) {
      std::vector<int64_t> x = random_vec<int64_t>(rng, n, true), small(n);
      for (int64_t i = 0; i < n; ++i) small[i] = x[i] % 1000;  // sums that do not wrap, too
      for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min}) {
        for (const auto* v : {&x, &small}) {
          const std::string what = "int64 reduce " + std::to_string(int(op)) + " n=" + std::to_string(n);
          expect_same_bits(run_sum<int64_t>(*simd(), *v, {}, {}, {n}, {1}, op),
                           run_sum<int64_t>(reference(), *v, {}, {}, {n}, {1}, op), what);
          if (n % 1000 == 0) {  // rows of 100 (x.sum(1)) and columns (x.sum(0), the reference's)
            const int64_t rows = n / 100;
            expect_same_bits(run_sum<int64_t>(*simd(), *v, {rows}, {100}, {100}, {1}, op),
                             run_sum<int64_t>(reference(), *v, {rows}, {100}, {100}, {1}, op), what + " rows");
            expect_same_bits(run_sum<int64_t>(*simd(), *v, {100}, {1}, {rows}, {100}, op),
                             run_sum<int64_t>(reference(), *v, {100}, {1}, {rows}, {100}, op), what + " columns");
          }
        }
      }
    }
  }
}

// Same-dtype copies that are not one dense run (copy_strided): a transposed source (for 4-
// and 8-byte elements, copy_transposed's register blocks with partial tiles both ways; also
// batched, and with padded rows), a transposed destination, a strided 3-d view, for every
// dtype's element size, on 1 and 2 threads, against the reference; gaps of a strided
// destination stay untouched.
template <typename T>
void check_strided_copy(DType dt, int threads) {
  std::mt19937_64 rng(22);
  const int64_t R = 601, C = 523;  // partial tiles both ways, 314323 elements
  struct Case {
    std::string name;
    std::vector<int64_t> shape, so, sx;
    int64_t dst_span, src_span;
  };
  const std::vector<Case> cases = {
      {"transposed source", {R, C}, {C, 1}, {1, R}, R * C, R * C},
      {"transposed destination", {R, C}, {1, R}, {C, 1}, R * C, R * C},
      {"strided 3-d", {7, R, 97}, {2 * R * 97, 97, 1}, {R * 97 * 2, 2 * 97, 2}, 14 * R * 97, 14 * R * 97},
      // copy_transposed: a batch of transposes, and padded rows on both sides
      {"transposed source, batched", {3, 130, 70}, {130 * 70, 70, 1}, {130 * 70, 1, 130}, 3 * 130 * 70, 3 * 130 * 70},
      {"transposed source, padded", {R, C}, {C + 3, 1}, {1, R + 5}, R * (C + 3), C * (R + 5)},
  };
  for (const Case& c : cases) {
    std::vector<T> src(static_cast<size_t>(c.src_span)), d1(static_cast<size_t>(c.dst_span) + 3), d2;
    for (auto& v : src) v = static_cast<T>(sizeof(T) == 1 ? rng() % 2 : rng() % 1000);  // bools 0 or 1
    for (auto& v : d1) v = static_cast<T>(sizeof(T) == 1 ? 1 : 7);
    d2 = d1;
    Loop l;
    l.ndim = static_cast<int>(c.shape.size());
    l.shape = c.shape.data();
    l.strides[0] = c.so.data();
    l.strides[1] = c.sx.data();
    l.ptr[1] = reinterpret_cast<char*>(src.data());
    l.ptr[0] = reinterpret_cast<char*>(d1.data());
    simd()->cast_copy(dt, dt, l);
    l.ptr[0] = reinterpret_cast<char*>(d2.data());
    reference().cast_copy(dt, dt, l);
    expect_same_bits(d1, d2, "strided copy " + c.name + " threads=" + std::to_string(threads));
  }
}
TEST(SimdKernels, StridedCopyMatchesReference) {
  REQUIRE_SIMD();
  for (int threads : {1, 2}) {
    ThreadCount tc(threads);
    check_strided_copy<float>(DType::Float32, threads);
    check_strided_copy<double>(DType::Float64, threads);
    check_strided_copy<int64_t>(DType::Int64, threads);
    check_strided_copy<uint8_t>(DType::Bool, threads);
  }
}

// Binary ops with one operand transposed (binary_transposed: tiles staged through a
// register transpose): a transposed a or b, the other contiguous or one value per row
// (stride 0 along the last dim), a batch of matrices, partial tiles both ways; float32
// and float64 on 1 and 2 threads, against the reference's bits (NaNs and signed zeros
// included, so maximum and minimum keep their operand order).
template <typename T>
void check_binary_transposed(int threads) {
  std::mt19937_64 rng(41);
  const int64_t R = 601, C = 523;
  struct Case {
    std::string name;
    std::vector<int64_t> shape, so, sa, sb;
    int64_t na, nb;
  };
  const std::vector<Case> cases = {
      {"a transposed", {R, C}, {C, 1}, {1, R}, {C, 1}, R * C, R * C},
      {"b transposed", {R, C}, {C, 1}, {C, 1}, {1, R}, R * C, R * C},
      {"a transposed, b per row", {R, C}, {C, 1}, {1, R}, {1, 0}, R * C, R},
      {"b transposed, a per row", {R, C}, {C, 1}, {1, 0}, {1, R}, R, R * C},
      {"batched, padded rows", {3, 70, 130}, {70 * 133, 133, 1}, {75 * 130, 1, 75}, {70 * 130, 130, 1},
       3 * 75 * 130, 3 * 70 * 130},
  };
  for (const Case& c : cases) {
    std::vector<T> a = random_vec<T>(rng, static_cast<size_t>(c.na), true),
                   b = random_vec<T>(rng, static_cast<size_t>(c.nb), true);
    int64_t span = 1;
    for (size_t d = 0; d < c.shape.size(); ++d) span += (c.shape[d] - 1) * c.so[d];
    for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Maximum,
                        BinaryOp::Minimum}) {
      std::vector<T> o1(static_cast<size_t>(span) + 3, T(-7)), o2 = o1;
      Loop l;
      l.ndim = static_cast<int>(c.shape.size());
      l.shape = c.shape.data();
      l.strides[0] = c.so.data();
      l.strides[1] = c.sa.data();
      l.strides[2] = c.sb.data();
      l.ptr[1] = reinterpret_cast<char*>(a.data());
      l.ptr[2] = reinterpret_cast<char*>(b.data());
      l.ptr[0] = reinterpret_cast<char*>(o1.data());
      simd()->binary(op, dtype_of<T>(), l);
      l.ptr[0] = reinterpret_cast<char*>(o2.data());
      reference().binary(op, dtype_of<T>(), l);
      expect_same_bits(o1, o2, "binary " + std::to_string(int(op)) + " " + c.name + " threads=" + std::to_string(threads));
    }
  }
}
TEST(SimdKernels, BinaryTransposedOperand) {
  REQUIRE_SIMD();
  for (int threads : {1, 2}) {
    ThreadCount tc(threads);
    check_binary_transposed<float>(threads);
    check_binary_transposed<double>(threads);
  }
}

// 1e7 copies of 0.1f: a float accumulator drifts by 8% (1087937), a double one is exact.
// The bound is 4 ulps of the result (0.25 at 1e6); the float lanes' 16-term runs make it
// 3 ulps here, numpy's pairwise sum 2, torch 7. Normal data: the error stays within a few
// ulps of the result too.
TEST(SimdKernels, SumIsAccurateOn1e7Float32) {
  REQUIRE_SIMD();
  const int64_t n = 10000000;
  std::vector<float> x(n, 0.1f);
  std::vector<float> got = run_sum<float>(*simd(), x, {}, {}, {n}, {1});
  const double exact = static_cast<double>(0.1f) * n;
  EXPECT_NEAR(got[0], exact, 4 * 0.0625);
  std::mt19937 gen(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  double exact_normal = 0;
  for (float& v : x) exact_normal += (v = normal(gen));
  got = run_sum<float>(*simd(), x, {}, {}, {n}, {1});
  EXPECT_NEAR(got[0], exact_normal, 4 * std::abs(std::nextafter(static_cast<float>(exact_normal), 0.0f) -
                                                 static_cast<float>(exact_normal)));
}

// ---------------------------------------------------------------- gemm

// The GEMM tests run once per SIMD table with GEMM kernels of its own: "avx2" (6 x 16 and
// 6 x 8 tiles) and "avx512" (12 x 32 and 12 x 16), each skipped on a CPU without it.
const KernelTable* g_gemm_table = nullptr;
const KernelTable* gemm_table() { return g_gemm_table; }
class SimdGemm : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    g_gemm_table = GetParam() == "avx512" ? avx512_table() : avx2_table();
    if (!g_gemm_table) GTEST_SKIP() << "this CPU has no " << GetParam();
  }
};
INSTANTIATE_TEST_SUITE_P(Isa, SimdGemm, ::testing::Values("avx2", "avx512"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });
// The table's tile sizes.
template <typename T>
blis::Blocking gemm_blocking() {
  const bool z = gemm_table() == avx512_table();
  if (std::is_same_v<T, float>) return z ? blis::kBlockingF32Avx512 : blis::kBlockingF32;
  return z ? blis::kBlockingF64Avx512 : blis::kBlockingF64;
}

struct Mat {
  bool transposed;  // column-major
  int64_t step;     // every step-th row (or column) of a bigger buffer: x[::2]
};

// What is added to the product: nothing, C itself (C += A B), a bias row (rsd = 0), a bias
// column (csd = 0), or a separate transposed matrix.
enum class Add { None, C, Row, Col, Full };

template <typename T>
void check_gemm_case(int64_t m, int64_t n, int64_t k, Mat la, Mat lb, Mat lc, Add add, std::mt19937_64& rng) {
  const bool accumulate = add == Add::C;
  auto strides = [](Mat l, int64_t rows, int64_t cols) {
    return l.transposed ? std::pair<int64_t, int64_t>{l.step, rows * l.step} : std::pair<int64_t, int64_t>{cols * l.step, 1};
  };
  auto [rsa, csa] = strides(la, m, k);
  auto [rsb, csb] = strides(lb, k, n);
  auto [rsc, csc] = strides(lc, m, n);
  std::vector<T> A = random_vec<T>(rng, static_cast<size_t>(m * k * la.step)),
                 B = random_vec<T>(rng, static_cast<size_t>(k * n * lb.step)),
                 C1 = random_vec<T>(rng, static_cast<size_t>(m * n * lc.step)), C2 = C1;
  std::vector<T> D = random_vec<T>(rng, static_cast<size_t>(m * n));
  const int64_t rsd = add == Add::Row ? 0 : add == Add::Col ? 1 : add == Add::Full ? 1 : 0,
                csd = add == Add::Row ? 1 : add == Add::Col ? 0 : add == Add::Full ? m : 0;
  auto run = [&](const KernelTable& table, std::vector<T>& C) {
    char* d = accumulate ? cp(C) : add == Add::None ? nullptr : cp(D);
    table.gemm(dtype_of<T>(), m, n, k, cp(A), rsa, csa, cp(B), rsb, csb, cp(C), rsc, csc, d,
               accumulate ? rsc : rsd, accumulate ? csc : csd);
  };
  run(*gemm_table(), C1);
  run(reference(), C2);
  const char* add_name[] = {"", " +=", " + bias row", " + bias column", " + D^T"};
  const std::string what = "gemm " + std::to_string(m) + "x" + std::to_string(k) + " @ " + std::to_string(k) + "x" +
                           std::to_string(n) + (la.transposed ? " At" : "") + (lb.transposed ? " Bt" : "") +
                           (lc.transposed ? " Ct" : "") + add_name[static_cast<int>(add)];
  const double eps = std::is_same_v<T, float> ? 6e-8 : 1.2e-16;
  // |a b| <= 9 per product: the error bound of two k-term sums in different orders.
  const double bound = 2.0 * (k + 2) * eps * (9.0 * k + 3.0);
  for (size_t i = 0; i < C1.size(); ++i) {
    if (std::abs(double(C1[i]) - double(C2[i])) > bound) {
      ADD_FAILURE() << what << ": element " << i << " " << C1[i] << " vs reference " << C2[i];
      return;
    }
  }
}

template <typename T>
void check_gemm() {
  std::mt19937_64 rng(16);
  const int64_t MR = gemm_blocking<T>().mr, NR = gemm_blocking<T>().nr;
  std::vector<int64_t> sizes = {1, 7, 8, 9, 15, 16, 17, MR - 1, MR, MR + 1, NR - 1, NR + 1, 255, 257};
  std::vector<std::array<int64_t, 3>> shapes;
  for (int64_t s : sizes) {
    shapes.push_back({s, 17, 9});
    shapes.push_back({9, s, 33});
    shapes.push_back({13, 18, s});
    if (s <= 17) shapes.push_back({s, s, s});
  }
  // The chapter's shapes, the small path's layouts, and blocks past MC, KC and NC; the
  // unpacked path's shapes (small m n k, n <= NR, m <= MR, short k, each layout, so the
  // C^T = B^T A^T swap runs too), and a packed B block that spans all of k and so has
  // fewer columns than NC.
  for (auto sh : std::vector<std::array<int64_t, 3>>{{100, 32, 3},   {100, 1, 32},    {100, 32, 1},   {32, 1, 100},
                                                     {3, 32, 100},   {150, 40, 300},  {300, 70, 520}, {7, 4100, 5},
                                                     {255, 257, 17}, {40, 4100, 40},  {300, 10, 600}, {10, 300, 600},
                                                     {5, 300, 200},  {300, 200, 10},  {97, 101, 103}, {7, 2100, 2100},
                                                     // unpacked, m cut into MC-row chunks (short k; small m n k)
                                                     {1000, 37, 20}, {301, 40, 33},
                                                     // the dot path (n <= 16, row-major A): every
                                                     // row-group size, row and k tails, several
                                                     // chunks per thread
                                                     {200, 1, 300}, {37, 16, 1000}, {301, 3, 65},
                                                     {90, 13, 100}, {150, 7, 33}, {141, 12, 47},
                                                     {1000, 10, 300}}) {
    shapes.push_back(sh);
  }
  // Shapes for the packed and streamed paths: k is raised where m n k would otherwise
  // fall under the table's unpacked limit (blocking.sup_mnk).
  const int64_t sup_mnk = gemm_blocking<T>().sup_mnk;
  auto packed_k = [&](int64_t m, int64_t n, int64_t k) { return std::max(k, sup_mnk / (m * n) + 1); };
  for (auto sh : std::vector<std::array<int64_t, 3>>{// packed, one row block per thread; and
                                                     // an odd tile-row shared by panels
                                                     {200, 70, 300}, {256, 70, 300}, {255, 40, 600},
                                                     {300, 70, 520},
                                                     // packed, full groups of pb B panels and a
                                                     // partial one (pb = 16 or 8 for float32)
                                                     {300, 549, 120},
                                                     // streamed (m <= stream_rows): several groups of
                                                     // B panels, a partial last group and panel, KC
                                                     // steps; m at the limit and one past it
                                                     {97, 1000, 600}, {264, 300, 300}, {265, 77, 530}}) {
    shapes.push_back({sh[0], sh[1], packed_k(sh[0], sh[1], sh[2])});
  }
  // Bottom-edge tiles of every body the micro-kernel has (AVX2: 2, 4 and 6 rows; AVX-512:
  // 4, 8 and 12), in the streamed path and in the five loops, beside right-edge panels of
  // one register exactly (the AVX-512 kernels' one-register body), one register and one
  // column, one and three columns, and one column short of two registers.
  // (Large enough that neither dtype takes the unpacked path; three of the layouts below.)
  std::vector<std::array<int64_t, 3>> edge_shapes;
  for (int64_t r : {int64_t{1}, MR / 3 + 1, 2 * MR / 3 + 1, MR - 1}) {
    for (int64_t n : {4 * NR + NR / 2, 4 * NR + NR / 2 + 1, 4 * NR + NR / 2 + 3})
      edge_shapes.push_back({8 * MR + r, n, packed_k(8 * MR + r, n, 600)});
    edge_shapes.push_back({25 * MR + r, 2 * NR - 1, packed_k(25 * MR + r, 2 * NR - 1, 600)});
  }
  const Mat row{false, 1}, col{true, 1}, row2{false, 2}, col2{true, 2};
  struct Combo {
    Mat a, b, c;
    Add add;
  };
  const Combo combos[] = {{row, row, row, Add::None},  {col, row, row, Add::Row},   {row, col, row, Add::None},
                          {col, col, col, Add::C},     {row2, row, row, Add::Col},  {row, col2, row2, Add::C},
                          {col2, row2, col, Add::None}, {row, row, row2, Add::Full}, {col, row, col, Add::Row}};
  for (const auto& sh : shapes)
    for (const Combo& c : combos) check_gemm_case<T>(sh[0], sh[1], sh[2], c.a, c.b, c.c, c.add, rng);
  for (const auto& sh : edge_shapes)
    for (int i : {0, 3, 4}) check_gemm_case<T>(sh[0], sh[1], sh[2], combos[i].a, combos[i].b, combos[i].c, combos[i].add, rng);
}
TEST_P(SimdGemm, Float32) { check_gemm<float>(); }
TEST_P(SimdGemm, Float64) { check_gemm<double>(); }

// The group of B micro-panels takes at most half of L2, and never more than the table's pb.
TEST(SimdKernels, GemmGroupFitsHalfOfL2) {
  const blis::Blocking f32 = blis::kBlockingF32Avx512, f64 = blis::kBlockingF64Avx512;
  // float32: a 512 x 32 micro-panel is 64 KiB.
  EXPECT_EQ(blis::pb_for_l2(f32, 4, int64_t{1} << 20), 8);       // Zen 5: 1 MiB
  EXPECT_EQ(blis::pb_for_l2(f32, 4, int64_t{2} << 20), 16);      // the Intel machine: 2 MiB
  EXPECT_EQ(blis::pb_for_l2(f32, 4, int64_t{512} << 10), 4);     // Zen 3: 512 KiB
  EXPECT_EQ(blis::pb_for_l2(f32, 4, int64_t{3} << 20), f32.pb);  // capped at the table's
  EXPECT_EQ(blis::pb_for_l2(f32, 4, int64_t{64} << 10), 1);      // at least one
  EXPECT_EQ(blis::pb_for_l2(f32, 4, 0), f32.pb);                 // not reported
  // float64: a 256 x 16 micro-panel is 32 KiB.
  EXPECT_EQ(blis::pb_for_l2(f64, 8, int64_t{1} << 20), 16);
  EXPECT_EQ(blis::pb_for_l2(f64, 8, int64_t{256} << 10), 4);
}

TEST(SimdKernels, GemmKcFollowsL2) {
  const blis::Blocking f32 = blis::kBlockingF32Avx512, f64 = blis::kBlockingF64Avx512;
  const int64_t kc = blis::kLargeL2KcF32;
  // 2 MiB (the Intel machine): KC 256, and the group re-fitted to it (32 x 32 KiB fill
  // half of L2, capped at the table's 16).
  blis::Blocking b = blis::fit_l2(f32, 4, blis::kLargeL2Bytes, kc);
  EXPECT_EQ(b.kc, kc);
  EXPECT_EQ(b.pb, std::min<int64_t>(f32.pb, blis::kLargeL2Bytes / 2 / (kc * f32.nr * 4)));
  EXPECT_EQ(b.mc, f32.mc);
  EXPECT_EQ(b.mr, f32.mr);
  // 1 MiB (Zen 5): the table's KC, pb 8.
  b = blis::fit_l2(f32, 4, blis::kLargeL2Bytes / 2, kc);
  EXPECT_EQ(b.kc, f32.kc);
  EXPECT_EQ(b.pb, 8);
  // L2 not reported: the table as it is.
  b = blis::fit_l2(f32, 4, 0, kc);
  EXPECT_EQ(b.kc, f32.kc);
  EXPECT_EQ(b.pb, f32.pb);
  // No large-L2 KC (float64): KC stays whatever the L2.
  b = blis::fit_l2(f64, 8, int64_t{4} << 20, 0);
  EXPECT_EQ(b.kc, f64.kc);
  EXPECT_EQ(b.pb, f64.pb);
}

TEST_P(SimdGemm, NeverReadsCWithoutAccumulate) {
  for (int64_t m : {5, 6, 7, 200}) {
    const int64_t n = 19, k = 11;
    std::vector<float> a(m * k, 1.0f), b(k * n, 2.0f), c(m * n, std::nanf(""));
    gemm_table()->gemm(DType::Float32, m, n, k, cp(a), k, 1, cp(b), n, 1, cp(c), n, 1, nullptr, 0, 0);
    for (float x : c) ASSERT_EQ(x, 22.0f) << "m=" << m;
    // with a bias row: C = A B + bias, C still not read
    std::vector<float> bias(n, 0.5f);
    std::fill(c.begin(), c.end(), std::nanf(""));
    gemm_table()->gemm(DType::Float32, m, n, k, cp(a), k, 1, cp(b), n, 1, cp(c), n, 1, cp(bias), 0, 1);
    for (float x : c) ASSERT_EQ(x, 22.5f) << "m=" << m;
  }
}

// A tile at C's bottom edge (the micro-kernel's shorter bodies) gives its rows the same
// bits as a full tile over the same rows of A, with A read in place and transposed. AVX2
// (6-row tiles, 4- and 2-row bodies): the streamed path (262 = 43 x 6 + 4 and 260 rows
// against 264), the five loops (298 and 302 rows, whose last row block ends in 4 and 2
// rows, against 306), float64's five loops (148 and 146 against 150). AVX-512 (12-row
// tiles, 4- and 8-row bodies): 256 = 21 x 12 + 4 and 260 against 264, 304 and 308 against
// 312, float64 148 and 152 against 156.
template <typename T>
void check_edge_rows(int64_t m_full, std::vector<int64_t> ms, int64_t n, int64_t k, std::mt19937_64& rng) {
  std::vector<T> A = random_vec<T>(rng, m_full * k), B = random_vec<T>(rng, k * n);
  for (bool at : {false, true}) {
    const int64_t rsa = at ? 1 : k, csa = at ? m_full : 1;
    std::vector<T> full(m_full * n);
    gemm_table()->gemm(dtype_of<T>(), m_full, n, k, cp(A), rsa, csa, cp(B), n, 1, cp(full), n, 1, nullptr, 0, 0);
    for (int64_t m : ms) {
      std::vector<T> c(m * n);
      gemm_table()->gemm(dtype_of<T>(), m, n, k, cp(A), rsa, csa, cp(B), n, 1, cp(c), n, 1, nullptr, 0, 0);
      const std::string what =
          "gemm " + std::to_string(m) + " rows" + (at ? " At" : "") + " against " + std::to_string(m_full);
      expect_same_bits(c, std::vector<T>(full.begin(), full.begin() + m * n), what);
    }
  }
}
TEST_P(SimdGemm, EdgeRowsMatchFullTiles) {
  std::mt19937_64 rng(19);
  if (gemm_table() == avx512_table()) {
    check_edge_rows<float>(264, {256, 260}, 300, 300, rng);
    check_edge_rows<float>(312, {304, 308}, 70, 600, rng);
    check_edge_rows<double>(156, {148, 152}, 70, 300, rng);
  } else {
    check_edge_rows<float>(264, {262, 260}, 300, 300, rng);
    check_edge_rows<float>(306, {298, 302}, 70, 600, rng);
    check_edge_rows<double>(150, {148, 146}, 70, 300, rng);
  }
}

// The unpacked path reads a row-major B in place, but packs its micro-panels when the rows'
// stride would crowd them into a few L1 sets (128 floats or 64 doubles apart, with enough
// row tiles: gemm.cpp's rows_crowd_l1), and, on tables that do not read them in place
// (Kernels::sup_unaligned_b), when B is off a cache line. Packing only moves B, so B with
// its rows n apart (crowded for these n), n + 16 apart (never crowded, read in place), and
// 16 bytes off a line must all give the same bits.
template <typename T>
void check_sup_b_layouts(int64_t m, int64_t k, int64_t n, std::mt19937_64& rng) {
  std::vector<T> A = random_vec<T>(rng, m * k), Bv = random_vec<T>(rng, k * n);
  const int64_t skew = 16 / static_cast<int64_t>(sizeof(T)), wide = n + 16;
  T* buf = static_cast<T*>(std::aligned_alloc(64, (k * wide * sizeof(T) + 63) / 64 * 64));
  ASSERT_NE(buf, nullptr);
  auto product = [&](int64_t offset, int64_t ldb) {
    for (int64_t p = 0; p < k; ++p) std::copy(&Bv[p * n], &Bv[p * n] + n, buf + offset + p * ldb);
    std::vector<T> c(m * n);
    gemm_table()->gemm(dtype_of<T>(), m, n, k, cp(A), k, 1, reinterpret_cast<const char*>(buf + offset), ldb, 1, cp(c),
                       n, 1, nullptr, 0, 0);
    return c;
  };
  const std::vector<T> dense = product(0, n), spread = product(0, wide), skewed = product(skew, n);
  std::free(buf);
  const std::string what =
      "gemm " + std::to_string(m) + "x" + std::to_string(k) + " @ " + std::to_string(k) + "x" + std::to_string(n);
  expect_same_bits(dense, spread, what + ", B rows n apart against n + 16 apart");
  expect_same_bits(skewed, spread, what + ", B 16 bytes off a line against n + 16 apart");
}
TEST_P(SimdGemm, UnpackedPathPacksCrowdedRows) {
  std::mt19937_64 rng(29);
  // crowded and packed (128^3, 100 rows), too few row tiles to pack (4 rows), not crowded
  // (64^3, 96 x 160 x 96), and a double B 64 values apart
  for (auto [m, k, n] : std::vector<std::array<int64_t, 3>>{{128, 128, 128}, {100, 128, 128}, {4, 1024, 128},
                                                             {64, 64, 64}, {96, 160, 96}, {150, 100, 128}})
    check_sup_b_layouts<float>(m, k, n, rng);
  for (auto [m, k, n] : std::vector<std::array<int64_t, 3>>{{64, 128, 64}, {100, 100, 64}})
    check_sup_b_layouts<double>(m, k, n, rng);
  for (int threads : {2, 3}) {
    ThreadCount tc(threads);
    check_sup_b_layouts<float>(128, 128, 128, rng);
    // B's panels packed G at a time: two KC steps; on 3 threads a task's last group partial
    check_sup_b_layouts<float>(30, 300, 256, rng);
    check_sup_b_layouts<double>(40, 200, 128, rng);
  }
}

// ---------------------------------------------------------------- threads

TEST_P(SimdGemm, ResultsDoNotDependOnThreadCount) {
  std::mt19937_64 rng(17);
  const int64_t m = 300, n = 290, k = 700;
  std::vector<float> A = random_vec<float>(rng, m * k), B = random_vec<float>(rng, k * n);
  std::vector<double> Ad(A.begin(), A.end()), Bd(B.begin(), B.end());
  // More GEMM shapes: unpacked (n <= NR with A transposed, short k, small m n k), and
  // packed with several NC blocks (B's packed block spans all of k); the unpacked path
  // with m in MC-row chunks (k = 10, as in the training step's g @ w2^T); streamed (256^3,
  // m = 256 with a long k, the transposed MLP shape's layout, m = 100 over 21 panels).
  struct Shape {
    int64_t m, n, k;
    bool at;
  };
  // And B's rows crowding L1 (rows 512 bytes apart): streamed on one thread, unpacked with
  // B packed G micro-panels at a time on more (128^3; k = 300, two KC steps; m = 30).
  const Shape shapes[] = {{1000, 10, 700, true},  {700, 300, 10, false},  {150, 140, 130, false},
                          {9, 2100, 2100, false}, {1500, 300, 10, false}, {256, 256, 256, false},
                          {256, 100, 1000, true}, {256, 1000, 600, true}, {100, 330, 530, false},
                          {128, 128, 128, false}, {30, 128, 300, false},  {100, 256, 128, false}};
  std::vector<std::vector<float>> more;
  const int64_t big = 3000017;
  std::vector<float> x = random_vec<float>(rng, big), y = random_vec<float>(rng, big);
  std::vector<std::vector<float>> gemms, sums, adds;
  std::vector<std::vector<double>> gemms_d;
  for (int threads : {1, 2, 3}) {
    ThreadCount tc(threads);
    std::vector<float> C(m * n);
    gemm_table()->gemm(DType::Float32, m, n, k, cp(A), 1, m, cp(B), n, 1, cp(C), n, 1, nullptr, 0, 0);  // A read transposed
    gemms.push_back(C);
    std::vector<double> Cd(m * n);
    gemm_table()->gemm(DType::Float64, m, n, k, cp(Ad), k, 1, cp(Bd), 1, k, cp(Cd), n, 1, nullptr, 0, 0);
    gemms_d.push_back(Cd);
    for (const Shape& sh : shapes) {
      std::mt19937_64 r2(18);
      std::vector<float> a = random_vec<float>(r2, sh.m * sh.k), b = random_vec<float>(r2, sh.k * sh.n), c(sh.m * sh.n);
      gemm_table()->gemm(DType::Float32, sh.m, sh.n, sh.k, cp(a), sh.at ? 1 : sh.k, sh.at ? sh.m : 1, cp(b), sh.n, 1, cp(c),
                   sh.n, 1, nullptr, 0, 0);
      more.push_back(c);
    }
    sums.push_back(run_sum<float>(*simd(), x, {}, {}, {big}, {1}));
    Layout L{"c", {big}, {{1}, {1}, {1}, {1}}};
    std::vector<float> o(big);
    simd()->binary(BinaryOp::Mul, DType::Float32, make_loop(L, {cp(o), cp(x), cp(y)}));
    adds.push_back(o);
  }
  for (size_t t = 1; t < gemms.size(); ++t) {
    expect_same_bits(gemms[t], gemms[0], "sgemm, threads " + std::to_string(t + 1));
    expect_same_bits(gemms_d[t], gemms_d[0], "dgemm, threads " + std::to_string(t + 1));
    expect_same_bits(sums[t], sums[0], "sum, threads " + std::to_string(t + 1));
    expect_same_bits(adds[t], adds[0], "mul, threads " + std::to_string(t + 1));
  }
  const size_t ns = std::size(shapes);
  for (size_t i = ns; i < more.size(); ++i)
    expect_same_bits(more[i], more[i % ns], "sgemm shape " + std::to_string(i % ns) + ", threads " +
                                                std::to_string(i / ns + 1));
}

// The packed path on threads reuses two slots of packed B in turn: a step's pairs must not
// repack a slot that a pair two steps back still reads. Many KC steps, more threads than
// cores (so threads are preempted mid-step), several runs: every result must match one
// thread's bit for bit.
TEST_P(SimdGemm, PackedSlotsAreNotReusedEarly) {
  std::mt19937_64 rng(23);
  const int64_t m = 600, n = 700, k = 2600;  // 11 KC steps at KC 256, 6 at 512
  std::vector<float> a = random_vec<float>(rng, m * k), b = random_vec<float>(rng, k * n);
  auto product = [&] {
    std::vector<float> c(m * n);
    gemm_table()->gemm(DType::Float32, m, n, k, cp(a), k, 1, cp(b), n, 1, cp(c), n, 1, nullptr, 0, 0);
    return c;
  };
  std::vector<float> one;
  {
    ThreadCount tc(1);
    one = product();
  }
  for (int threads : {2, 3, 4})
    for (int run = 0; run < 3; ++run) {
      ThreadCount tc(threads);
      expect_same_bits(product(), one, "threads " + std::to_string(threads) + ", run " + std::to_string(run));
    }
}

TEST(SimdKernels, ParallelForRunsEveryTaskOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadCount tc(threads);
    std::vector<int> hits(1000, 0);
    parallel::parallel_for(1000, [&](int64_t i) { hits[i] += 1; });
    for (int h : hits) ASSERT_EQ(h, 1);
    // Nested calls run serially inside the task.
    std::vector<int> nested(64, 0);
    parallel::parallel_for(8, [&](int64_t i) { parallel::parallel_for(8, [&](int64_t j) { nested[i * 8 + j]++; }); });
    for (int h : nested) ASSERT_EQ(h, 1);
  }
}

TEST(SimdKernels, DispatchHonoursTheCpu) {
  BackendInfo info = backend_info();
  EXPECT_STREQ(info.table, active().name);
  if (!(info.cpu_avx2 && info.cpu_fma)) EXPECT_EQ(simd(), nullptr);
  if (!info.cpu_avx512) EXPECT_EQ(avx512_table(), nullptr);
  const char* env = std::getenv("EMBER_CPU");
  if (env && std::string(env) == "reference") EXPECT_EQ(&active(), &reference());
  else if (avx512_table() && !(env && std::string(env) == "avx2")) EXPECT_EQ(&active(), avx512_table());
  else if (simd()) EXPECT_EQ(&active(), simd());
  // The AVX-512 table differs from the AVX2 one in its GEMM only, so the elementwise tests
  // above (run on the AVX2 table) cover it too.
  if (const KernelTable* z = avx512_table()) {
    EXPECT_STREQ(z->name, "avx512");
    EXPECT_EQ(z->unary, simd()->unary);
    EXPECT_EQ(z->binary, simd()->binary);
    EXPECT_EQ(z->clamp, simd()->clamp);
    EXPECT_EQ(z->where, simd()->where);
    EXPECT_EQ(z->cast_copy, simd()->cast_copy);
    EXPECT_EQ(z->fill, simd()->fill);
    EXPECT_EQ(z->reduce, simd()->reduce);
    EXPECT_EQ(z->arg_reduce, simd()->arg_reduce);
    EXPECT_NE(z->gemm, simd()->gemm);
  }
}

}  // namespace
}  // namespace ember::kernels
