// The op set: every function a user can call on tensors.
//
// Each op checks its arguments (throwing ember::Error with PyTorch's wording and the
// op's name), computes through the kernel table in kernels/, and, when grad mode is on
// and an input requires grad, records a backward Node whose formula is written in
// these same ops (so gradients are themselves differentiable). Forward and backward of
// each op live side by side in one file per family: elementwise.cpp, reduce.cpp,
// matmul.cpp, shape_ops.cpp, factory.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ember {

// A Python number: bool, int or float. Arithmetic with a tensor wraps it as a 0-dim
// "wrapped number" tensor, which takes part in type promotion with low priority.
struct Scalar {
  enum class Kind : uint8_t { Bool, Int, Float } kind = Kind::Float;
  double f = 0;
  int64_t i = 0;
  Scalar() = default;
  Scalar(double v) : kind(Kind::Float), f(v), i(static_cast<int64_t>(v)) {}
  Scalar(int64_t v) : kind(Kind::Int), f(static_cast<double>(v)), i(v) {}
  Scalar(int v) : Scalar(static_cast<int64_t>(v)) {}
  static Scalar from_bool(bool b) {
    Scalar s(static_cast<int64_t>(b));
    s.kind = Kind::Bool;
    return s;
  }
  double to_double() const { return f; }
  DType natural_dtype() const {
    return kind == Kind::Float ? DType::Float32 : (kind == Kind::Int ? DType::Int64 : DType::Bool);
  }
  bool is_float() const { return kind == Kind::Float; }
};

// ---- factories (factory.cpp) ----
Tensor full(const Shape& shape, Scalar value, DType dtype);
Tensor zeros(const Shape& shape, DType dtype);
Tensor ones(const Shape& shape, DType dtype);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor arange(Scalar start, Scalar end, Scalar step, std::optional<DType> dtype);
Tensor linspace(double start, double end, int64_t steps, DType dtype);
Tensor eye(int64_t n, int64_t m, DType dtype);
Tensor randn(const Shape& shape, DType dtype);
Tensor rand(const Shape& shape, DType dtype);
void manual_seed(uint64_t seed);
uint64_t initial_seed();
Tensor scalar_tensor(Scalar value, DType dtype);
Tensor wrapped_scalar(Scalar value);  // 0-dim, is_wrapped_number

// ---- copies and conversions (shape_ops.cpp) ----
Tensor contiguous_copy(const Tensor& t);       // dense copy, no autograd
Tensor cast_copy(const Tensor& t, DType dtype);  // dense copy with conversion, no autograd
Tensor clone(const Tensor& t);                 // CloneBackward0
Tensor contiguous(const Tensor& t);            // self if already contiguous
Tensor to_dtype(const Tensor& t, DType dtype);   // ToCopyBackward0 (self if same dtype)
Tensor detach(const Tensor& t);                // shares storage, no history
void detach_(const Tensor& t);                 // drops t's history in place (not for views)

// ---- elementwise (elementwise.cpp) ----
Tensor add(const Tensor& a, const Tensor& b, Scalar alpha = Scalar(int64_t{1}));
Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha = Scalar(int64_t{1}));
Tensor rsub(const Tensor& a, Scalar b);  // b - a
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, Scalar exponent);
Tensor pow(const Tensor& a, const Tensor& exponent);
Tensor pow(Scalar base, const Tensor& exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor sigmoid(const Tensor& a);
Tensor relu(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor sin(const Tensor& a);
Tensor cos(const Tensor& a);
Tensor sign(const Tensor& a);
Tensor reciprocal(const Tensor& a);
Tensor clamp(const Tensor& a, std::optional<Scalar> min, std::optional<Scalar> max);
Tensor clamp(const Tensor& a, const Tensor& min, const Tensor& max);  // either may be undefined
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);

// ---- in-place (elementwise.cpp); each bumps the version counter ----
Tensor& add_(Tensor& self, const Tensor& other, Scalar alpha = Scalar(int64_t{1}));
Tensor& sub_(Tensor& self, const Tensor& other, Scalar alpha = Scalar(int64_t{1}));
Tensor& mul_(Tensor& self, const Tensor& other);
Tensor& div_(Tensor& self, const Tensor& other);
Tensor& pow_(Tensor& self, Scalar exponent);
Tensor& clamp_(Tensor& self, std::optional<Scalar> min, std::optional<Scalar> max);
Tensor& copy_(Tensor& self, const Tensor& src);
Tensor& fill_(Tensor& self, Scalar value);
Tensor& fill_(Tensor& self, const Tensor& value);  // value is 0-d; FillBackward3
Tensor& zero_(Tensor& self);
void add_inplace_nograd(Tensor& self, const Tensor& other);  // for gradient accumulation

// ---- reductions (reduce.cpp); dims may be negative; empty dims = all ----
Tensor sum(const Tensor& a, std::optional<DType> dtype = std::nullopt);
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim, std::optional<DType> dtype = std::nullopt);
Tensor mean(const Tensor& a, std::optional<DType> dtype = std::nullopt);
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim, std::optional<DType> dtype = std::nullopt);
Tensor max(const Tensor& a);
Tensor min(const Tensor& a);
std::pair<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim);
std::pair<Tensor, Tensor> min(const Tensor& a, int64_t dim, bool keepdim);
Tensor argmax(const Tensor& a, std::optional<int64_t> dim, bool keepdim);
Tensor argmin(const Tensor& a, std::optional<int64_t> dim, bool keepdim);
// Sums a (broadcast) gradient down to `shape`.
Tensor sum_to(const Tensor& a, const Shape& shape);

// ---- linear algebra (matmul.cpp) ----
Tensor mm(const Tensor& a, const Tensor& b);
Tensor mv(const Tensor& a, const Tensor& v);
Tensor dot(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);
Tensor matmul(const Tensor& a, const Tensor& b);
// beta * self + alpha * (mat1 @ mat2), self broadcast to the product's shape (AddmmBackward0).
// With beta == 0, self is not read (its NaNs do not propagate), as in PyTorch.
Tensor addmm(const Tensor& self, const Tensor& mat1, const Tensor& mat2, Scalar beta = Scalar(int64_t{1}),
             Scalar alpha = Scalar(int64_t{1}));
Tensor& addmm_(Tensor& self, const Tensor& mat1, const Tensor& mat2, Scalar beta = Scalar(int64_t{1}),
               Scalar alpha = Scalar(int64_t{1}));

// ---- views and shape (shape_ops.cpp) ----
Tensor view(const Tensor& a, const std::vector<int64_t>& shape);  // one -1 allowed
Tensor reshape(const Tensor& a, const std::vector<int64_t>& shape);
// Reshapes a fresh result without making it a view (PyTorch's _unsafe_view; also its
// squeeze_ on a temporary, under another node name).
Tensor unsafe_view(const Tensor& a, const std::vector<int64_t>& shape, const char* node_name = "UnsafeViewBackward0");
Tensor t(const Tensor& a);
Tensor transpose(const Tensor& a, int64_t d0, int64_t d1);
Tensor permute(const Tensor& a, const std::vector<int64_t>& dims);
Tensor unsqueeze(const Tensor& a, int64_t dim);
Tensor squeeze(const Tensor& a);
Tensor squeeze(const Tensor& a, int64_t dim);
Tensor squeeze(const Tensor& a, const std::vector<int64_t>& dims);
Tensor expand(const Tensor& a, const std::vector<int64_t>& shape);  // -1 keeps a size
Tensor select(const Tensor& a, int64_t dim, int64_t index);
Tensor slice(const Tensor& a, int64_t dim, std::optional<int64_t> start, std::optional<int64_t> end, int64_t step);
Tensor alias(const Tensor& a);
Tensor flatten(const Tensor& a, int64_t start_dim, int64_t end_dim);
// Backward helpers, themselves differentiable: place `grad` into zeros of `input_shape`.
Tensor select_backward(const Tensor& grad, const Shape& input_shape, int64_t dim, int64_t index);
Tensor slice_backward(const Tensor& grad, const Shape& input_shape, int64_t dim, int64_t start, int64_t end,
                      int64_t step);

}  // namespace ember
