// Tensor factories: constants, ranges, identity, random.
#include <cmath>

#include "core/random.h"
#include "core/torch_fma.h"
#include "kernels/kernels.h"
#include "ops/op_helpers.h"

namespace ember {

Tensor full(const Shape& shape, Scalar value, DType dtype) {
  Tensor out = empty(shape, dtype);
  if (out.numel() > 0) {
    detail::LoopBuilder lb(out.shape());
    lb.add(out);
    kernels::active().fill(dtype, lb.build(), detail::scalar_value(value));
  }
  return out;
}

Tensor zeros(const Shape& shape, DType dtype) { return full(shape, Scalar(int64_t{0}), dtype); }
Tensor ones(const Shape& shape, DType dtype) { return full(shape, Scalar(int64_t{1}), dtype); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }

// The value written directly, with the fill kernels' conversions (no loop for one element).
Tensor scalar_tensor(Scalar value, DType dtype) {
  Tensor out = empty({}, dtype);
  switch (dtype) {
    case DType::Float32: *out.data<float>() = static_cast<float>(value.f); return out;
    case DType::Float64: *out.data<double>() = value.f; return out;
    case DType::Int64: *out.data<int64_t>() = value.i; return out;
    case DType::Bool: *out.data<bool>() = static_cast<bool>(value.i); return out;
  }
  return full({}, value, dtype);
}

Tensor wrapped_scalar(Scalar value) {
  DType dt = value.natural_dtype();
  if (dt == DType::Float32) dt = DType::Float64;  // keep the Python float exactly; promotion ignores it
  Tensor t = scalar_tensor(value, dt);
  t->is_wrapped_number = true;
  return t;
}

Tensor arange(Scalar start, Scalar end, Scalar step, std::optional<DType> dtype) {
  bool any_float = start.is_float() || end.is_float() || step.is_float();
  DType dt = dtype ? *dtype : (any_float ? DType::Float32 : DType::Int64);
  EMBER_CHECK(step.f != 0, "step must be nonzero (in arange)");
  EMBER_CHECK(std::isfinite(start.f) && std::isfinite(end.f), "unsupported range: ", start.f, " -> ", end.f,
              " (in arange)");
  EMBER_CHECK((step.f > 0 && end.f >= start.f) || (step.f < 0 && end.f <= start.f),
              "upper bound and lower bound inconsistent with step sign (in arange: start=", start.f, ", end=", end.f,
              ", step=", step.f, ")");
  double n = std::ceil((end.f - start.f) / step.f);
  Tensor out = empty({static_cast<int64_t>(n)}, dt);
  int64_t count = out.numel();
  switch (dt) {
    case DType::Float32: {
      float* p = out.data<float>();
      for (int64_t i = 0; i < count; ++i) p[i] = static_cast<float>(start.f + static_cast<double>(i) * step.f);
      break;
    }
    case DType::Float64: {
      double* p = out.data<double>();
      for (int64_t i = 0; i < count; ++i) p[i] = start.f + static_cast<double>(i) * step.f;
      break;
    }
    case DType::Int64: {
      int64_t* p = out.data<int64_t>();
      bool ints = !any_float;
      for (int64_t i = 0; i < count; ++i)
        p[i] = ints ? start.i + i * step.i : static_cast<int64_t>(start.f + static_cast<double>(i) * step.f);
      break;
    }
    case DType::Bool:
      throw Error(ErrorKind::NotImplemented, "\"arange_cpu\" not implemented for 'Bool'");
  }
  return out;
}

Tensor linspace(double start, double end, int64_t steps, DType dtype) {
  EMBER_CHECK(steps >= 0, "number of steps must be non-negative (in linspace)");
  Tensor out = empty({steps}, dtype);
  // Fill from both ends so the last element is exactly `end`.
  auto fill = [&](auto* p, auto s, auto e) {
    using T = std::remove_pointer_t<decltype(p)>;
    if (steps == 1) {
      p[0] = static_cast<T>(s);
      return;
    }
    T step = static_cast<T>((e - s) / static_cast<T>(steps - 1));
    int64_t half = steps / 2;
    // start + step * i from the front, end - step * (steps - 1 - i) from the back, fused as
    // torch's AVX2 build computes them or rounded as its baseline build does: its values
    // bit for bit.
    const bool fused = kernels::torch_fused_build();
    for (int64_t i = 0; i < steps; ++i)
      p[i] = i < half ? torch_mul_add(fused, step, static_cast<T>(i), s)
                      : torch_mul_add(fused, -step, static_cast<T>(steps - i - 1), e);
  };
  switch (dtype) {
    case DType::Float32: fill(out.data<float>(), static_cast<float>(start), static_cast<float>(end)); break;
    case DType::Float64: fill(out.data<double>(), start, end); break;
    case DType::Int64: {
      Tensor f = linspace(start, end, steps, DType::Float64);
      return cast_copy(f, DType::Int64);
    }
    case DType::Bool: throw Error(ErrorKind::NotImplemented, "\"linspace_cpu\" not implemented for 'Bool'");
  }
  return out;
}

Tensor eye(int64_t n, int64_t m, DType dtype) {
  EMBER_CHECK(n >= 0, "n must be greater or equal to 0, got ", n, " (in eye)");
  EMBER_CHECK(m >= 0, "m must be greater or equal to 0, got ", m, " (in eye)");
  Tensor out = zeros({n, m}, dtype);
  int64_t k = n < m ? n : m;
  if (k > 0) {
    Tensor diag = make_tensor(out.storage(), 0, {k}, {m + 1}, dtype);
    detail::LoopBuilder lb({k});
    lb.add(diag);
    kernels::active().fill(dtype, lb.build(), detail::scalar_value(Scalar(int64_t{1})));
  }
  return out;
}

namespace {
void check_random_dtype(DType dtype, const char* op) {
  if (!is_floating(dtype)) {
    throw Error(ErrorKind::NotImplemented, str("\"", op, "\" not implemented for '", dtype_name(dtype),
                                        "' (only floating dtypes can be sampled)"));
  }
}
}  // namespace

Tensor randn(const Shape& shape, DType dtype) {
  check_random_dtype(dtype, "normal_kernel_cpu");
  Tensor out = empty(shape, dtype);
  if (dtype == DType::Float32) fill_normal(out.data<float>(), out.numel(), 0.0, 1.0, default_generator());
  else fill_normal(out.data<double>(), out.numel(), 0.0, 1.0, default_generator());
  return out;
}

Tensor rand(const Shape& shape, DType dtype) {
  check_random_dtype(dtype, "uniform_kernel_cpu");
  Tensor out = empty(shape, dtype);
  if (dtype == DType::Float32) fill_uniform(out.data<float>(), out.numel(), 0.0, 1.0, default_generator());
  else fill_uniform(out.data<double>(), out.numel(), 0.0, 1.0, default_generator());
  return out;
}

uint64_t initial_seed() { return default_generator().initial_seed(); }

}  // namespace ember
