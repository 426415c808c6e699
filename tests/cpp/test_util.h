// Helpers shared by the GoogleTest files: building tensors from values, reading any
// layout back as doubles, and the bits of autograd state the Python layer normally sets
// (requires_grad, .grad, retain_grad).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "autograd/node.h"
#include "core/error.h"
#include "core/tensor.h"
#include "ops/ops.h"

namespace ember::test {

inline double load_as_double(const char* p, DType dt) {
  switch (dt) {
    case DType::Bool: return *reinterpret_cast<const bool*>(p) ? 1.0 : 0.0;
    case DType::Int64: {
      int64_t v;
      std::memcpy(&v, p, 8);
      return static_cast<double>(v);
    }
    case DType::Float32: {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case DType::Float64: {
      double v;
      std::memcpy(&v, p, 8);
      return v;
    }
  }
  return 0;
}

inline void store_double(char* p, DType dt, double v) {
  switch (dt) {
    case DType::Bool: *reinterpret_cast<bool*>(p) = v != 0; break;
    case DType::Int64: {
      int64_t i = static_cast<int64_t>(v);
      std::memcpy(p, &i, 8);
      break;
    }
    case DType::Float32: {
      float f = static_cast<float>(v);
      std::memcpy(p, &f, 4);
      break;
    }
    case DType::Float64: std::memcpy(p, &v, 8); break;
  }
}

// Address of the element with row-major logical index `flat`, following the strides.
inline char* elem_ptr(const Tensor& t, int64_t flat) {
  int64_t off = 0;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    int64_t s = t.shape()[d];
    off += (flat % s) * t.strides()[d];
    flat /= s;
  }
  return t.raw_data() + off * static_cast<int64_t>(itemsize(t.dtype()));
}

// Every element in logical (row-major) order, whatever the layout.
inline std::vector<double> values(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = load_as_double(elem_ptr(t, i), t.dtype());
  return out;
}

inline double item(const Tensor& t) {
  EXPECT_EQ(t.numel(), 1);
  return load_as_double(elem_ptr(t, 0), t.dtype());
}

inline Tensor tensor(const std::vector<double>& v, const Shape& shape, DType dt = DType::Float64) {
  Tensor t = empty(shape, dt);
  EXPECT_EQ(static_cast<int64_t>(v.size()), t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) store_double(elem_ptr(t, i), dt, v[i]);
  return t;
}

inline Tensor scalar(double v, DType dt = DType::Float64) { return tensor({v}, {}, dt); }

// 0, 1, 2, ... as a tensor of `shape`.
inline Tensor iota(const Shape& shape, DType dt = DType::Float64) {
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  return tensor(v, shape, dt);
}

inline Tensor uniform(std::mt19937_64& rng, const Shape& shape, double lo, double hi, DType dt = DType::Float64) {
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = dist(rng);
  return tensor(v, shape, dt);
}

// What `t.requires_grad_()` does for a leaf.
inline Tensor requires_grad(Tensor t) {
  t->ensure_autograd().requires_grad = true;
  return t;
}

inline Tensor grad(const Tensor& t) {
  auto* m = t->autograd();
  return m ? m->grad : Tensor();
}

// What `t.retain_grad()` does for a non-leaf.
inline void retain_grad(const Tensor& t) {
  AutogradMeta& m = t->ensure_autograd();
  if (m.retains_grad || !m.grad_fn) return;
  m.retains_grad = true;
  m.grad_fn->retained.emplace_back(m.output_nr, t.impl());
}

inline void expect_values_eq(const Tensor& t, const std::vector<double>& want) {
  std::vector<double> got = values(t);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << "at element " << i;
}

// Runs `f` and checks it throws ember::Error of `kind` whose message contains `needle`.
template <typename F>
void expect_error(F&& f, ErrorKind kind, const std::string& needle = "") {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
    return;
  }
  ADD_FAILURE() << "expected ember::Error containing '" << needle << "'";
}

}  // namespace ember::test
