// Scalar reference kernels: the oracle and the fallback for every faster table.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/interrupt.h"
#include "kernels/kernels.h"

namespace ember::kernels {
namespace {

// Runs longer than this are handed to `inner` in pieces, with an interrupt poll after each.
constexpr int64_t kRunChunk = int64_t{1} << 16;

// Out of line, so that the short path of nd_loop inlines `inner` once.
template <int N, typename Inner>
__attribute__((noinline)) void run_in_pieces(Inner& inner, char** p, const int64_t* step, int64_t n) {
  char* q[N];
  for (int64_t b = 0; b < n; b += kRunChunk) {
    for (int k = 0; k < N; ++k) q[k] = p[k] + b * step[k];
    const int64_t cnt = std::min(kRunChunk, n - b);
    inner(q, step, cnt);
    interrupt::poll(cnt);
  }
}

// Walks an N-d loop: `inner(p, step, n)` handles one run of the last dim (or a piece of
// it, in order), where p[k] is operand k's address and step[k] its byte stride along it.
template <int N, typename Inner>
void nd_loop(const Loop& l, const size_t (&isz)[N], Inner inner_run) {
  interrupt::Poller poller;
  auto inner = [&](char** p, const int64_t* step, int64_t n) {
    if (n <= kRunChunk) {
      inner_run(p, step, n);
      poller.add(n);
      return;
    }
    run_in_pieces<N>(inner_run, p, step, n);
  };
  const int nd = l.ndim;
  for (int d = 0; d < nd; ++d)
    if (l.shape[d] == 0) return;
  int64_t step[N];
  for (int k = 0; k < N; ++k) step[k] = nd ? l.strides[k][nd - 1] * static_cast<int64_t>(isz[k]) : 0;
  const int64_t n = nd ? l.shape[nd - 1] : 1;
  char* p[N];
  for (int k = 0; k < N; ++k) p[k] = l.ptr[k];
  if (nd <= 1) {
    inner(p, step, n);
    return;
  }
  int64_t idx[64] = {0};
  for (;;) {
    inner(p, step, n);
    int d = nd - 2;
    for (; d >= 0; --d) {
      for (int k = 0; k < N; ++k) p[k] += l.strides[k][d] * static_cast<int64_t>(isz[k]);
      if (++idx[d] < l.shape[d]) break;
      for (int k = 0; k < N; ++k) p[k] -= l.strides[k][d] * static_cast<int64_t>(isz[k]) * l.shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

template <typename T>
T load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <typename T>
void store(char* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

template <typename F>
void dispatch_dtype(DType dt, F f) {
  switch (dt) {
    case DType::Bool: f(bool{}); break;
    case DType::Int64: f(int64_t{}); break;
    case DType::Float32: f(float{}); break;
    case DType::Float64: f(double{}); break;
  }
}

template <typename T>
T unary_one(UnaryOp op, T x) {
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case UnaryOp::Neg: return -x;
      case UnaryOp::Exp: return std::exp(x);
      case UnaryOp::Log: return std::log(x);
      case UnaryOp::Sqrt: return std::sqrt(x);
      case UnaryOp::Tanh: return std::tanh(x);
      case UnaryOp::Sigmoid: return T(1) / (T(1) + std::exp(-x));
      case UnaryOp::Relu: return x > T(0) ? x : (std::isnan(x) ? x : T(0));
      case UnaryOp::Abs: return std::fabs(x);
      case UnaryOp::Sin: return std::sin(x);
      case UnaryOp::Cos: return std::cos(x);
      case UnaryOp::Sign: return T((x > 0) - (x < 0));  // sign(nan) == 0, as in PyTorch
      case UnaryOp::Reciprocal: return T(1) / x;
      case UnaryOp::LogicalNot: return x == T(0);
    }
  } else if constexpr (std::is_same_v<T, bool>) {
    switch (op) {
      case UnaryOp::LogicalNot: return !x;
      default: return x;  // abs, relu and sign of a bool are the bool itself
    }
  } else {
    switch (op) {
      // negated through uint64, so that -INT64_MIN wraps to itself (as in PyTorch) without UB
      case UnaryOp::Neg: return static_cast<T>(uint64_t{0} - static_cast<uint64_t>(x));
      case UnaryOp::Abs: return x < 0 ? static_cast<T>(uint64_t{0} - static_cast<uint64_t>(x)) : x;
      case UnaryOp::Relu: return x > 0 ? x : T(0);
      case UnaryOp::Sign: return static_cast<T>((x > 0) - (x < 0));
      case UnaryOp::LogicalNot: return !x;
      default: return x;  // the op layer promotes integers to float for the rest
    }
  }
  return x;
}

void unary_ref(UnaryOp op, DType dt, const Loop& l) {
  dispatch_dtype(dt, [&](auto tag) {
    using T = decltype(tag);
    const size_t isz[2] = {sizeof(T), sizeof(T)};
    nd_loop<2>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
      for (int64_t i = 0; i < n; ++i) store<T>(p[0] + i * s[0], unary_one<T>(op, load<T>(p[1] + i * s[1])));
    });
  });
}

// PyTorch's integer power: a negative exponent gives 0 (1 ** e is 1, (-1) ** e is +-1,
// 0 ** e is 0); products wrap modulo 2^64 instead of overflowing (UB on signed T).
template <typename T>
T ipow(T base, T exp) {
  if (exp < 0) {
    if (base == 1) return 1;
    if (base == -1) return (exp & 1) ? T(-1) : T(1);
    return 0;
  }
  uint64_t result = 1, b = static_cast<uint64_t>(base);
  while (exp > 0) {
    if (exp & 1) result *= b;
    b *= b;
    exp >>= 1;
  }
  return static_cast<T>(result);
}

template <typename T>
T arith_one(BinaryOp op, T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    switch (op) {
      case BinaryOp::Add: case BinaryOp::Maximum: case BinaryOp::LogicalOr: return a || b;
      case BinaryOp::Mul: case BinaryOp::Minimum: case BinaryOp::LogicalAnd: return a && b;
      case BinaryOp::Sub: return a != b;
      case BinaryOp::Pow: return a || !b;
      default: return a;
    }
  } else if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case BinaryOp::Add: return a + b;
      case BinaryOp::Sub: return a - b;
      case BinaryOp::Mul: return a * b;
      case BinaryOp::Div: return a / b;
      // PyTorch's float pow to a scalar exponent: 2, 3, -1 and -2 by products and quotients,
      // 0.5 and -0.5 by sqrt.
      case BinaryOp::Pow:
        if (b == T(2)) return a * a;
        if (b == T(3)) return a * a * a;
        if (b == T(-1)) return T(1) / a;
        if (b == T(-2)) return T(1) / (a * a);
        if (b == T(0.5)) return std::sqrt(a);
        if (b == T(-0.5)) return T(1) / std::sqrt(a);
        return std::pow(a, b);
      case BinaryOp::Maximum: return (std::isnan(a) || a > b) ? a : b;
      case BinaryOp::Minimum: return (std::isnan(a) || a < b) ? a : b;
      default: return a;
    }
  } else {
    switch (op) {
      case BinaryOp::Add: return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
      case BinaryOp::Sub: return static_cast<T>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
      case BinaryOp::Mul: return static_cast<T>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
      case BinaryOp::Div: return b == 0 ? T(0) : a / b;  // unreachable: the op layer divides in float
      case BinaryOp::Pow: return ipow<T>(a, b);
      case BinaryOp::Maximum: return a > b ? a : b;
      case BinaryOp::Minimum: return a < b ? a : b;
      default: return a;
    }
  }
}

template <typename T>
bool compare_one(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Eq: return a == b;
    case BinaryOp::Ne: return a != b;
    case BinaryOp::Lt: return a < b;
    case BinaryOp::Le: return a <= b;
    case BinaryOp::Gt: return a > b;
    case BinaryOp::Ge: return a >= b;
    case BinaryOp::LogicalAnd: return (a != T(0)) && (b != T(0));
    case BinaryOp::LogicalOr: return (a != T(0)) || (b != T(0));
    default: return false;
  }
}

void binary_ref(BinaryOp op, DType dt, const Loop& l) {
  dispatch_dtype(dt, [&](auto tag) {
    using T = decltype(tag);
    if (is_comparison(op)) {
      const size_t isz[3] = {sizeof(bool), sizeof(T), sizeof(T)};
      nd_loop<3>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
        for (int64_t i = 0; i < n; ++i)
          store<bool>(p[0] + i * s[0], compare_one<T>(op, load<T>(p[1] + i * s[1]), load<T>(p[2] + i * s[2])));
      });
    } else {
      const size_t isz[3] = {sizeof(T), sizeof(T), sizeof(T)};
      nd_loop<3>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
        for (int64_t i = 0; i < n; ++i)
          store<T>(p[0] + i * s[0], arith_one<T>(op, load<T>(p[1] + i * s[1]), load<T>(p[2] + i * s[2])));
      });
    }
  });
}

template <typename T>
T scalar_as(const ScalarValue& v) {
  if constexpr (std::is_floating_point_v<T>) return static_cast<T>(v.f);
  else return static_cast<T>(v.i);
}

void clamp_ref(DType dt, const Loop& l, const ScalarValue* lo, const ScalarValue* hi) {
  dispatch_dtype(dt, [&](auto tag) {
    using T = decltype(tag);
    const size_t isz[2] = {sizeof(T), sizeof(T)};
    const bool has_lo = lo != nullptr, has_hi = hi != nullptr;
    const T vlo = has_lo ? scalar_as<T>(*lo) : T(0), vhi = has_hi ? scalar_as<T>(*hi) : T(0);
    nd_loop<2>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
      for (int64_t i = 0; i < n; ++i) {
        T x = load<T>(p[1] + i * s[1]);
        if constexpr (std::is_floating_point_v<T>) {
          if (!std::isnan(x)) {
            if (has_lo) x = (x < vlo || std::isnan(vlo)) ? vlo : x;
            if (has_hi) x = (x > vhi || std::isnan(vhi)) ? vhi : x;
          }
        } else {
          if (has_lo && x < vlo) x = vlo;
          if (has_hi && x > vhi) x = vhi;
        }
        store<T>(p[0] + i * s[0], x);
      }
    });
  });
}

void clamp_backward_ref(DType dt, const Loop& l, const ScalarValue* lo, const ScalarValue* hi) {
  dispatch_dtype(dt, [&](auto tag) {
    using T = decltype(tag);
    const size_t isz[3] = {sizeof(T), sizeof(T), sizeof(T)};
    const T vlo = lo ? scalar_as<T>(*lo) : T(0), vhi = hi ? scalar_as<T>(*hi) : T(0);
    nd_loop<3>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
      for (int64_t i = 0; i < n; ++i) {
        const T x = load<T>(p[2] + i * s[2]);
        const bool inside = (!lo || x >= vlo) && (!hi || x <= vhi);
        store<T>(p[0] + i * s[0], inside ? load<T>(p[1] + i * s[1]) : T(0));
      }
    });
  });
}

void threshold_backward_ref(DType dt, const Loop& l, ScalarValue threshold) {
  dispatch_dtype(dt, [&](auto tag) {
    using T = decltype(tag);
    const size_t isz[3] = {sizeof(T), sizeof(T), sizeof(T)};
    const T th = scalar_as<T>(threshold);
    nd_loop<3>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
      for (int64_t i = 0; i < n; ++i)
        store<T>(p[0] + i * s[0], load<T>(p[2] + i * s[2]) <= th ? T(0) : load<T>(p[1] + i * s[1]));
    });
  });
}

void where_ref(DType dt, const Loop& l) {
  dispatch_dtype(dt, [&](auto tag) {
    using T = decltype(tag);
    const size_t isz[4] = {sizeof(T), 1, sizeof(T), sizeof(T)};
    nd_loop<4>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
      for (int64_t i = 0; i < n; ++i)
        store<T>(p[0] + i * s[0], load<bool>(p[1] + i * s[1]) ? load<T>(p[2] + i * s[2]) : load<T>(p[3] + i * s[3]));
    });
  });
}

template <typename D, typename S>
D convert(S v) {
  if constexpr (std::is_same_v<D, bool>) return v != S(0);
  else if constexpr (std::is_integral_v<D> && std::is_floating_point_v<S>) {
    // Out-of-range and NaN conversions are undefined in C++; saturate instead of trapping.
    if (std::isnan(v)) return D(0);
    if (v >= static_cast<S>(std::numeric_limits<D>::max())) return std::numeric_limits<D>::max();
    if (v <= static_cast<S>(std::numeric_limits<D>::min())) return std::numeric_limits<D>::min();
    return static_cast<D>(v);
  } else return static_cast<D>(v);
}

void cast_copy_ref(DType dst, DType src, const Loop& l) {
  dispatch_dtype(dst, [&](auto dtag) {
    using D = decltype(dtag);
    dispatch_dtype(src, [&](auto stag) {
      using S = decltype(stag);
      const size_t isz[2] = {sizeof(D), sizeof(S)};
      nd_loop<2>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
        if (std::is_same_v<D, S> && s[0] == static_cast<int64_t>(sizeof(D)) && s[1] == s[0]) {
          std::memmove(p[0], p[1], static_cast<size_t>(n) * sizeof(D));
          return;
        }
        for (int64_t i = 0; i < n; ++i) store<D>(p[0] + i * s[0], convert<D, S>(load<S>(p[1] + i * s[1])));
      });
    });
  });
}

void fill_ref(DType dt, const Loop& l, ScalarValue value) {
  dispatch_dtype(dt, [&](auto tag) {
    using T = decltype(tag);
    const T v = scalar_as<T>(value);
    const T zero{};
    const bool zero_bits = std::memcmp(&v, &zero, sizeof(T)) == 0;  // not -0.0
    const size_t isz[1] = {sizeof(T)};
    nd_loop<1>(l, isz, [&](char** p, const int64_t* s, int64_t n) {
      if (s[0] == static_cast<int64_t>(sizeof(T))) {  // a dense run: memset, or a loop the compiler vectorises
        if (zero_bits) {
          std::memset(p[0], 0, static_cast<size_t>(n) * sizeof(T));
        } else {
          for (int64_t i = 0; i < n; ++i) store<T>(p[0] + i * static_cast<int64_t>(sizeof(T)), v);
        }
        return;
      }
      for (int64_t i = 0; i < n; ++i) store<T>(p[0] + i * s[0], v);
    });
  });
}

// Integers sum in uint64: wrapping, as PyTorch's int64 sums do, without signed overflow.
template <typename T>
using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;

void reduce_ref(ReduceOp op, DType dt, const Loop& outer, const Loop& inner) {
  dispatch_dtype(dt, [&](auto tag) {
    using T = decltype(tag);
    const size_t isz2[2] = {sizeof(T), sizeof(T)};
    const size_t isz1[1] = {sizeof(T)};
    int64_t inner_n = 1;
    for (int d = 0; d < inner.ndim; ++d) inner_n *= inner.shape[d];
    interrupt::Poller poller;
    nd_loop<2>(outer, isz2, [&](char** po, const int64_t* so, int64_t no) {
      for (int64_t o = 0; o < no; ++o) {
        Loop in = inner;
        in.ptr[0] = po[1] + o * so[1];
        in.strides[0] = inner.strides[1];
        if (op == ReduceOp::Sum) {
          acc_t<T> acc = 0;
          nd_loop<1>(in, isz1, [&](char** p, const int64_t* s, int64_t n) {
            for (int64_t i = 0; i < n; ++i) acc += static_cast<acc_t<T>>(load<T>(p[0] + i * s[0]));
          });
          store<T>(po[0] + o * so[0], static_cast<T>(acc));
          poller.add(inner_n);
        } else {
          bool first = true;
          T best{};
          const bool is_max = op == ReduceOp::Max;
          nd_loop<1>(in, isz1, [&](char** p, const int64_t* s, int64_t n) {
            for (int64_t i = 0; i < n; ++i) {
              T x = load<T>(p[0] + i * s[0]);
              if (first) {
                best = x;
                first = false;
                continue;
              }
              if constexpr (std::is_floating_point_v<T>) {
                if (std::isnan(best)) continue;
                if (std::isnan(x) || (is_max ? x > best : x < best)) best = x;
              } else {
                if (is_max ? x > best : x < best) best = x;
              }
            }
          });
          store<T>(po[0] + o * so[0], best);
          poller.add(inner_n);
        }
      }
    });
  });
}

void arg_reduce_ref(ReduceOp op, DType dt, const Loop& outer, int64_t n, int64_t stride) {
  dispatch_dtype(dt, [&](auto tag) {
    using T = decltype(tag);
    const size_t isz[3] = {sizeof(T), sizeof(int64_t), sizeof(T)};
    const bool is_max = op == ReduceOp::Max;
    interrupt::Poller poller;
    nd_loop<3>(outer, isz, [&](char** p, const int64_t* s, int64_t no) {
      for (int64_t o = 0; o < no; ++o) {
        const char* in = p[2] + o * s[2];
        T best = load<T>(in);
        int64_t best_i = 0;
        for (int64_t i = 1; i < n; ++i) {
          T x = load<T>(in + i * stride * static_cast<int64_t>(sizeof(T)));
          if constexpr (std::is_floating_point_v<T>) {
            if (std::isnan(best)) break;
            if (std::isnan(x) || (is_max ? x > best : x < best)) best = x, best_i = i;
          } else {
            if (is_max ? x > best : x < best) best = x, best_i = i;
          }
        }
        store<T>(p[0] + o * s[0], best);
        store<int64_t>(p[1] + o * s[1], best_i);
        poller.add(n);
      }
    });
  });
}

// c is (m, n), a is (m, k), b is (k, n); all addressed through row/column strides.
void gemm_ref(DType dt, int64_t m, int64_t n, int64_t k, const char* a, int64_t rsa, int64_t csa, const char* b,
              int64_t rsb, int64_t csb, char* c, int64_t rsc, int64_t csc, const char* d, int64_t rsd, int64_t csd) {
  dispatch_dtype(dt, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) {
      const T* A = reinterpret_cast<const T*>(a);
      const T* B = reinterpret_cast<const T*>(b);
      const T* D = reinterpret_cast<const T*>(d);
      T* C = reinterpret_cast<T*>(c);
      const bool accumulate = D == C && rsd == rsc && csd == csc;
      interrupt::Poller poller;
      for (int64_t i = 0; i < m; ++i) {
        // C's row starts as D's or zero (when accumulating it already holds D).
        if (!accumulate)
          for (int64_t j = 0; j < n; ++j) C[i * rsc + j * csc] = D ? D[i * rsd + j * csd] : T(0);
        for (int64_t p = 0; p < k; ++p) {
          const T aip = A[i * rsa + p * csa];
          for (int64_t j = 0; j < n; ++j) C[i * rsc + j * csc] += aip * B[p * rsb + j * csb];
        }
        poller.add(n * k);
      }
    }
  });
}

}  // namespace

const KernelTable& reference() {
  static const KernelTable table{"reference", unary_ref, binary_ref, clamp_ref, clamp_backward_ref,
                                 threshold_backward_ref, where_ref,
                                 cast_copy_ref, fill_ref, reduce_ref, arg_reduce_ref, gemm_ref};
  return table;
}

}  // namespace ember::kernels
