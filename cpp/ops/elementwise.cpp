// Elementwise ops: arithmetic, math functions, clamp, where, comparisons, and the
// in-place family. Each forward sits next to its backward node.
#include <algorithm>
#include <cmath>

#include "core/interrupt.h"
#include "ops/op_helpers.h"

namespace ember {

using detail::make_node;
using detail::set_history;
using kernels::BinaryOp;
using kernels::UnaryOp;

namespace detail {

DType result_type(std::initializer_list<const Tensor*> operands) {
  ResultTypeState st;
  for (const Tensor* t : operands) {
    if (t->get()->is_wrapped_number) st.add_scalar(t->dtype());
    else st.add_tensor(t->dtype(), t->dim());
  }
  return st.result();
}

void check_can_cast(DType from, DType to, const char* op) {
  if (dtype_category(from) > dtype_category(to)) {
    throw Error(ErrorKind::Runtime, str("result type ", dtype_scalar_type_name(from),
                                        " can't be cast to the desired output type ", dtype_scalar_type_name(to),
                                        " (in ", op, ")"));
  }
}

void copy_into(const Tensor& dst, const Tensor& src) {
  if (dst.numel() == 0) return;
  LoopBuilder lb(dst.shape());
  lb.add(dst).add(src);
  interrupt::NoInterrupt whole;  // dst is someone's tensor: never leave it half-copied
  kernels::active().cast_copy(dst.dtype(), src.dtype(), lb.build());
}

namespace {
// The elements of t cover numel() consecutive elements of memory exactly once, in some order
// of its dims (size-1 dims ignored): PyTorch's is_non_overlapping_and_dense.
bool non_overlapping_and_dense(const Tensor& t) {
  std::vector<std::pair<int64_t, int64_t>> dims;  // (stride, size)
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.shape()[d] != 1) dims.emplace_back(t.strides()[d], t.shape()[d]);
  std::sort(dims.begin(), dims.end());
  int64_t expected = 1;
  for (const auto& [stride, size] : dims) {
    if (stride != expected) return false;
    expected *= size;
  }
  return true;
}
}  // namespace

void check_no_partial_overlap(const Tensor& self, const Tensor& other, const char* op) {
  // PyTorch's rule (assert_no_partial_overlap): only two non-overlapping dense tensors are
  // compared. Covering the same bytes with the same strides is a full overlap, which the
  // kernels handle (x.add_(x)); any other meeting of the two byte ranges is partial
  // (x[1:].add_(x[:-1]), x.add_(x.t()), x.add_(x[0])), where the result would depend on the
  // order the kernel writes in.
  if (!other.defined() || self.get() == other.get() || self.numel() == 0 || other.numel() == 0) return;
  // The byte ranges a dense tensor covers; a tensor that is not dense is not compared, so
  // disjoint ranges end the check before the (rarer) density test.
  // (As integers: the two may point into different allocations.)
  const auto a0 = reinterpret_cast<uintptr_t>(self.raw_data()), b0 = reinterpret_cast<uintptr_t>(other.raw_data());
  const uintptr_t a1 = a0 + static_cast<uintptr_t>(self.numel() * itemsize(self.dtype()));
  const uintptr_t b1 = b0 + static_cast<uintptr_t>(other.numel() * itemsize(other.dtype()));
  if (!(a0 < b1 && b0 < a1)) return;
  if (!non_overlapping_and_dense(self) || !non_overlapping_and_dense(other)) return;
  const bool full = a0 == b0 && a1 == b1 && self.strides() == other.strides();
  if (!full) {
    throw Error(ErrorKind::Runtime,
                str("unsupported operation: some elements of the input tensor and the written-to tensor refer to a "
                    "single memory location. Please clone() the tensor before performing the operation. (",
                    op, " on ", tensor_desc(self), " from ", tensor_desc(other), ")"));
  }
}

void check_inplace(const Tensor& self, const char* op, std::initializer_list<const Tensor*> others) {
  // An expanded tensor (stride 0 over a dim of size > 1) cannot be written: PyTorch's assert_no_internal_overlap
  for (int64_t d = 0; d < self.dim() && self.numel() > 0; ++d) {
    if (self.strides()[d] == 0 && self.shape()[d] > 1) {
      throw Error(ErrorKind::Runtime, str("unsupported operation: more than one element of the written-to tensor "
                                          "refers to a single memory location. Please clone() the tensor before "
                                          "performing the operation. (", op, " on ", tensor_desc(self), ")"));
    }
  }
  if (!GradMode::is_enabled()) return;
  if (self.requires_grad() && self.is_leaf()) {
    throw Error(ErrorKind::Runtime,
                str("a leaf Variable that requires grad is being used in an in-place operation. (", op, " on ",
                    tensor_desc(self),
                    "; wrap parameter updates in `with ember.no_grad():`, or use an out-of-place op)"));
  }
  bool others_need_grad = false;
  for (const Tensor* t : others) others_need_grad |= t->defined() && t->requires_grad();
  if (self->is_view()) {
    const Tensor& base = self->view_base();
    if (base.requires_grad() && base.is_leaf()) {
      throw Error(ErrorKind::Runtime,
                  str("a view of a leaf Variable that requires grad is being used in an in-place operation. (", op,
                      " on a view ", shape_str(self.shape()), " of a leaf ", tensor_desc(base),
                      "; do the update under `with ember.no_grad():`)"));
    }
    if (self.requires_grad() || base.requires_grad() || others_need_grad) {
      throw Error(ErrorKind::NotImplemented,
                  str(op, ": in-place modification of a view of a tensor that is part of the autograd graph is "
                          "not supported by ember yet (PyTorch records CopySlices here). Use an out-of-place op, "
                          "or clone() the view first."));
    }
  }
}

void rebase_history(Tensor& self, const std::shared_ptr<Node>& node, uint32_t output_nr) {
  AutogradMeta& m = self->ensure_autograd();
  if (m.retains_grad && m.grad_fn) {
    auto& old = m.grad_fn->retained;
    for (size_t i = 0; i < old.size(); ++i) {
      if (old[i].second.lock().get() == self.get()) {
        old.erase(old.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
    node->retained.emplace_back(output_nr, self.impl());
  }
  std::shared_ptr<Node> prev = std::move(m.grad_fn);
  m.grad_fn = node;
  m.output_nr = output_nr;
  release_node(std::move(prev));
}

}  // namespace detail

namespace {

using detail::LoopBuilder;

Tensor as_dtype(const Tensor& t, DType dt) { return t.dtype() == dt ? t : cast_copy(t, dt); }
// The same without copying the handle when no cast is needed (no refcount traffic on the
// per-op path): returns `t`, or the cast copy kept in `keep`.
// A wrapped Python number (float64, int64 or bool, 0-dim) is made again in `dt` from its
// value instead of through the copy kernels.
const Tensor& as_dtype(const Tensor& t, DType dt, Tensor& keep) {
  if (t.dtype() == dt) return t;
  if (t->is_wrapped_number && t.dim() == 0) {
    Scalar v = t.dtype() == DType::Float64 ? Scalar(*t.data<double>())
               : t.dtype() == DType::Int64 ? Scalar(*t.data<int64_t>())
               : t.dtype() == DType::Bool  ? Scalar::from_bool(*t.data<bool>())
                                           : Scalar(*t.data<float>());
    keep = scalar_tensor(v, dt);
    keep->is_wrapped_number = true;
    return keep;
  }
  keep = cast_copy(t, dt);
  return keep;
}

// out = op(a, b) with broadcasting, computing in `dt`; returns a new tensor.
Tensor binary_kernel(BinaryOp op, const Tensor& a, const Tensor& b, DType dt, const char* name) {
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor keep_a, keep_b;
  const Tensor& ac = as_dtype(a, dt, keep_a);
  const Tensor& bc = as_dtype(b, dt, keep_b);
  Tensor out = empty(shape, kernels::is_comparison(op) ? DType::Bool : dt);
  if (out.numel() == 0) return out;
  LoopBuilder lb(shape);
  lb.add(out).add(ac).add(bc);
  kernels::active().binary(op, dt, lb.build());
  return out;
}

Tensor unary_kernel(UnaryOp op, const Tensor& a, DType dt) {
  Tensor keep;
  const Tensor& ac = as_dtype(a, dt, keep);
  Tensor out = empty(a.shape(), dt);
  if (out.numel() == 0) return out;
  LoopBuilder lb(a.shape());
  lb.add(out).add(ac);
  kernels::active().unary(op, dt, lb.build());
  return out;
}

// Dtype of a math function's result: floats stay, integers and bools become float32.
DType float_result(const Tensor& a) { return is_floating(a.dtype()) ? a.dtype() : DType::Float32; }

Tensor zeros_like_grad(const Tensor& g) { return zeros(g.shape(), g.dtype()); }
// A 0-dim zero of g's dtype, for where(mask, g, zero): broadcast by the kernel instead of
// a full tensor of zeros filled and read (16 MiB per clamp backward in the scaled step).
Tensor zero_scalar(const Tensor& g) { return scalar_tensor(Scalar(int64_t{0}), g.dtype()); }

// A gradient masked by its input x (clamp's, relu's) in one kernel pass, run(dt, loop) with
// operands (out, g, x); or undefined when the ops must build it instead: under
// create_graph (the gradient then needs a graph of its own), or when g's dtype or shape
// differs from x's.
template <typename Run>
Tensor fused_mask_grad(const Tensor& g, const Tensor& x, Run run) {
  if (GradMode::is_enabled() || g.dtype() != x.dtype() || g.shape() != x.shape()) return Tensor();
  Tensor out = empty(x.shape(), x.dtype());
  if (out.numel() > 0) {
    LoopBuilder lb(x.shape());
    lb.add(out).add(g).add(x);
    run(x.dtype(), lb.build());
  }
  return out;
}

// ---------------------------------------------------------------- add / sub / rsub

struct AddBackward0 : Node {
  Scalar alpha;
  std::string name() const override { return "AddBackward0"; }
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    if (needs_input_grad(0)) r[0] = g[0];
    if (needs_input_grad(1)) r[1] = alpha.f == 1.0 ? g[0] : mul(g[0], wrapped_scalar(alpha));
    return r;
  }
};

struct SubBackward0 : Node {
  Scalar alpha;
  std::string name() const override { return "SubBackward0"; }
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    if (needs_input_grad(0)) r[0] = g[0];
    if (needs_input_grad(1)) r[1] = alpha.f == 1.0 ? neg(g[0]) : mul(g[0], wrapped_scalar(Scalar(-alpha.f)));
    return r;
  }
};

struct RsubBackward1 : Node {
  std::string name() const override { return "RsubBackward1"; }
  variable_list apply(variable_list&& g) override { return {neg(g[0])}; }
};

// alpha * b without grad: `b` itself when alpha is 1 (no copy of the handle), else the
// product, kept in `keep`.
const Tensor& scaled(const Tensor& b, Scalar alpha, Tensor& keep) {
  if (alpha.kind != Scalar::Kind::Float && alpha.i == 1) return b;
  if (alpha.kind == Scalar::Kind::Float && alpha.f == 1.0) return b;
  NoGradGuard ng;
  keep = mul(b, wrapped_scalar(alpha));
  return keep;
}

// `dt` is the operands' result type.
void check_alpha(DType dt, Scalar alpha, const char* op) {
  if (!is_floating(dt) && alpha.is_float()) {
    throw Error(ErrorKind::Runtime, str("For integral input tensors, argument alpha must not be a floating point "
                                        "number. (in ", op, ")"));
  }
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b, Scalar alpha) {
  DType dt = detail::result_type({&a, &b});
  check_alpha(dt, alpha, "add");
  Tensor keep;
  Tensor out = binary_kernel(BinaryOp::Add, a, scaled(b, alpha, keep), dt, "add");
  if (auto n = make_node<AddBackward0>({&a, &b})) {
    n->alpha = alpha;
    set_history(out, n);
  }
  return out;
}

// One bool operand (a tensor or a Python bool) is refused too, as in PyTorch's sub_check.
static void check_sub_bool(const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.dtype() != DType::Bool && b.dtype() != DType::Bool,
              "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a "
              "mask, use the `~` or `logical_not()` operator instead. (in sub)");
}

Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha) {
  if (a.dtype() == DType::Bool && b.dtype() == DType::Bool) {
    throw Error(ErrorKind::Runtime,
                "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
                "`logical_xor()` operator instead.");
  }
  check_sub_bool(a, b);
  DType dt = detail::result_type({&a, &b});
  check_alpha(dt, alpha, "sub");
  Tensor keep;
  Tensor out = binary_kernel(BinaryOp::Sub, a, scaled(b, alpha, keep), dt, "sub");
  if (auto n = make_node<SubBackward0>({&a, &b})) {
    n->alpha = alpha;
    set_history(out, n);
  }
  return out;
}

Tensor rsub(const Tensor& a, Scalar b) {
  Tensor bt = wrapped_scalar(b);
  check_sub_bool(bt, a);
  DType dt = detail::result_type({&a, &bt});
  Tensor out = binary_kernel(BinaryOp::Sub, bt, a, dt, "rsub");
  if (auto n = make_node<RsubBackward1>({&a})) set_history(out, n);
  return out;
}

// ---------------------------------------------------------------- mul / div

namespace {
struct MulBackward0 : Node {
  SavedVariable self, other;
  std::string name() const override { return "MulBackward0"; }
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    if (needs_input_grad(0)) r[0] = mul(g[0], other.unpack(this));
    if (needs_input_grad(1)) r[1] = mul(g[0], self.unpack(this));
    return r;
  }
  SavedSlots saved_variables() override { return {{"self", &self}, {"other", &other}}; }
};

struct DivBackward0 : Node {
  SavedVariable self, other;
  std::string name() const override { return "DivBackward0"; }
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    Tensor o = other.unpack(this);
    if (needs_input_grad(0)) r[0] = div(g[0], o);
    if (needs_input_grad(1)) r[1] = neg(div(mul(g[0], self.unpack(this)), mul(o, o)));
    return r;
  }
  SavedSlots saved_variables() override { return {{"self", &self}, {"other", &other}}; }
};
}  // namespace

Tensor mul(const Tensor& a, const Tensor& b) {
  DType dt = detail::result_type({&a, &b});
  Tensor out = binary_kernel(BinaryOp::Mul, a, b, dt, "mul");
  if (auto n = make_node<MulBackward0>({&a, &b})) {
    if (n->needs_input_grad(1)) n->self = SavedVariable(a, false);
    if (n->needs_input_grad(0)) n->other = SavedVariable(b, false);
    set_history(out, n);
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  DType dt = detail::result_type({&a, &b});
  if (!is_floating(dt)) dt = DType::Float32;  // true division
  Tensor out = binary_kernel(BinaryOp::Div, a, b, dt, "div");
  if (auto n = make_node<DivBackward0>({&a, &b})) {
    if (n->needs_input_grad(1)) n->self = SavedVariable(a, false);
    n->other = SavedVariable(b, false);
    set_history(out, n);
  }
  return out;
}

// ---------------------------------------------------------------- pow

namespace {
struct PowBackward0 : Node {  // tensor ** scalar
  SavedVariable self;
  Scalar exponent;
  std::string name() const override { return "PowBackward0"; }
  variable_list apply(variable_list&& g) override {
    Tensor s = self.unpack(this);
    if (exponent.f == 0.0) return {zeros_like_grad(g[0])};
    Scalar em1 = exponent.is_float() ? Scalar(exponent.f - 1.0) : Scalar(exponent.i - 1);
    return {mul(g[0], mul(pow(s, em1), wrapped_scalar(exponent)))};
  }
  SavedSlots saved_variables() override { return {{"self", &self}}; }
};

struct PowBackward1 : Node {  // tensor ** tensor
  SavedVariable self, exponent, result;
  std::string name() const override { return "PowBackward1"; }
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    Tensor s = self.unpack(this), e = exponent.unpack(this), res = result.unpack(this);  // all checked, as PyTorch
    if (needs_input_grad(0)) {
      Tensor d = mul(g[0], mul(e, pow(s, sub(e, wrapped_scalar(Scalar(1.0))))));
      r[0] = where(eq(e, wrapped_scalar(Scalar(0.0))), zero_scalar(d), d);
    }
    if (needs_input_grad(1)) {
      Tensor d = mul(g[0], mul(res, log(s)));
      Tensor zero_base = logical_and(eq(s, wrapped_scalar(Scalar(0.0))), ge(e, wrapped_scalar(Scalar(0.0))));
      r[1] = where(zero_base, zero_scalar(d), d);
    }
    return r;
  }
  SavedSlots saved_variables() override { return {{"self", &self}, {"exponent", &exponent}, {"result", &result}}; }
};

struct PowBackward2 : Node {  // scalar ** tensor
  SavedVariable result;
  Scalar base;
  std::string name() const override { return "PowBackward2"; }
  variable_list apply(variable_list&& g) override {
    Tensor res = result.unpack(this);
    if (base.f == 0.0) return {zeros_like_grad(g[0])};  // d/dx 0**x is 0 where defined
    return {mul(g[0], mul(res, wrapped_scalar(Scalar(std::log(base.f)))))};
  }
  SavedSlots saved_variables() override { return {{"result", &result}}; }
};

void check_int_pow(const Tensor& a, Scalar e) {
  if (!is_floating(a.dtype()) && !e.is_float() && e.i < 0)
    throw Error(ErrorKind::Runtime, "Integers to negative integer powers are not allowed. (in pow)");
}
}  // namespace

Tensor pow(const Tensor& a, Scalar exponent) {
  check_int_pow(a, exponent);
  Tensor e = wrapped_scalar(exponent);
  DType dt = detail::result_type({&a, &e});
  Tensor out;
  if (is_floating(dt) && exponent.is_float() && (exponent.f == 0.5 || exponent.f == -0.5)) {
    // PyTorch computes x ** 0.5 as sqrt(x) and x ** -0.5 as 1 / sqrt(x): they differ from
    // std::pow at -inf (nan, not inf) and -0.0 (-0.0 and -inf).
    NoGradGuard ng;
    out = sqrt(as_dtype(a, dt));
    if (exponent.f < 0) out = reciprocal(out);
  } else {
    out = binary_kernel(BinaryOp::Pow, a, e, dt, "pow");
  }
  if (auto n = make_node<PowBackward0>({&a})) {
    n->self = SavedVariable(a, false);
    n->exponent = exponent;
    set_history(out, n);
  }
  return out;
}

Tensor pow(const Tensor& a, const Tensor& exponent) {
  DType dt = detail::result_type({&a, &exponent});
  Tensor out = binary_kernel(BinaryOp::Pow, a, exponent, dt, "pow");
  if (auto n = make_node<PowBackward1>({&a, &exponent})) {
    n->self = SavedVariable(a, false);
    n->exponent = SavedVariable(exponent, false);
    n->result = SavedVariable(out, true);  // always, as PyTorch: an in-place op on it then fails backward
    set_history(out, n);
  }
  return out;
}

Tensor pow(Scalar base, const Tensor& exponent) {
  Tensor b = wrapped_scalar(base);
  DType dt = detail::result_type({&b, &exponent});
  Tensor out = binary_kernel(BinaryOp::Pow, b, exponent, dt, "pow");
  if (auto n = make_node<PowBackward2>({&exponent})) {
    n->result = SavedVariable(out, true);
    n->base = base;
    set_history(out, n);
  }
  return out;
}

// ---------------------------------------------------------------- maximum / minimum

namespace {
template <bool IsMax>
struct ExtremumBackward : Node {
  SavedVariable self, other;
  std::string name() const override { return IsMax ? "MaximumBackward0" : "MinimumBackward0"; }
  variable_list apply(variable_list&& g) override {
    Tensor a = self.unpack(this), b = other.unpack(this);
    Tensor half = mul(g[0], wrapped_scalar(Scalar(0.5)));
    Tensor z = zero_scalar(g[0]);
    Tensor tie = eq(a, b);
    variable_list r(2);
    // PyTorch's formula: zero only where the other operand wins, so a nan passes the gradient to both
    Tensor shared = where(tie, half, g[0]);
    if (needs_input_grad(0)) r[0] = where(IsMax ? lt(a, b) : gt(a, b), z, shared);
    if (needs_input_grad(1)) r[1] = where(IsMax ? gt(a, b) : lt(a, b), z, shared);
    return r;
  }
  SavedSlots saved_variables() override { return {{"self", &self}, {"other", &other}}; }
};

template <bool IsMax>
Tensor extremum(const Tensor& a, const Tensor& b) {
  DType dt = detail::result_type({&a, &b});
  Tensor out = binary_kernel(IsMax ? BinaryOp::Maximum : BinaryOp::Minimum, a, b, dt, IsMax ? "maximum" : "minimum");
  if (auto n = make_node<ExtremumBackward<IsMax>>({&a, &b})) {
    n->self = SavedVariable(a, false);
    n->other = SavedVariable(b, false);
    set_history(out, n);
  }
  return out;
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum<true>(a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum<false>(a, b); }

// ---------------------------------------------------------------- unary math

namespace {

template <UnaryOp Op>
constexpr bool kSavesResult = Op == UnaryOp::Exp || Op == UnaryOp::Sqrt || Op == UnaryOp::Tanh ||
                              Op == UnaryOp::Sigmoid || Op == UnaryOp::Relu || Op == UnaryOp::Reciprocal;

// A unary op whose backward needs the saved input (kSavesResult false) or result.
template <UnaryOp Op>
struct UnaryBackward : Node {
  SavedVariable saved;
  std::string name() const override;
  variable_list apply(variable_list&& g) override;
  SavedSlots saved_variables() override { return {{kSavesResult<Op> ? "result" : "self", &saved}}; }
};


#define EMBER_UNARY_NAME(OP, NAME) \
  template <>                      \
  std::string UnaryBackward<UnaryOp::OP>::name() const { return NAME; }
EMBER_UNARY_NAME(Neg, "NegBackward0")
EMBER_UNARY_NAME(Exp, "ExpBackward0")
EMBER_UNARY_NAME(Log, "LogBackward0")
EMBER_UNARY_NAME(Sqrt, "SqrtBackward0")
EMBER_UNARY_NAME(Tanh, "TanhBackward0")
EMBER_UNARY_NAME(Sigmoid, "SigmoidBackward0")
EMBER_UNARY_NAME(Relu, "ReluBackward0")
EMBER_UNARY_NAME(Abs, "AbsBackward0")
EMBER_UNARY_NAME(Sin, "SinBackward0")
EMBER_UNARY_NAME(Cos, "CosBackward0")
EMBER_UNARY_NAME(Sign, "SignBackward0")
EMBER_UNARY_NAME(Reciprocal, "ReciprocalBackward0")
#undef EMBER_UNARY_NAME

Tensor one_like(const Tensor& g) { return wrapped_scalar(Scalar(1.0)); }

template <UnaryOp Op>
variable_list UnaryBackward<Op>::apply(variable_list&& g) {
  const Tensor& gr = g[0];
  if constexpr (Op == UnaryOp::Neg) return {neg(gr)};
  if constexpr (Op == UnaryOp::Sign) return {zeros_like_grad(gr)};
  Tensor s = saved.unpack(this);  // input, or result where kSavesResult
  if constexpr (Op == UnaryOp::Exp) return {mul(gr, s)};
  if constexpr (Op == UnaryOp::Log) return {div(gr, s)};
  if constexpr (Op == UnaryOp::Sqrt) return {div(gr, mul(s, wrapped_scalar(Scalar(2.0))))};
  if constexpr (Op == UnaryOp::Tanh) return {mul(gr, rsub(mul(s, s), Scalar(1.0)))};
  if constexpr (Op == UnaryOp::Sigmoid) return {mul(gr, mul(s, rsub(s, Scalar(1.0))))};
  // threshold_backward: zero where result <= 0, so a nan result passes the gradient, as in PyTorch
  if constexpr (Op == UnaryOp::Relu) {
    Tensor fused = fused_mask_grad(gr, s, [](DType dt, const kernels::Loop& l) {
      kernels::active().threshold_backward(dt, l, kernels::ScalarValue{0.0, 0});
    });
    if (fused.defined()) return {fused};
    return {where(le(s, wrapped_scalar(Scalar(0.0))), zero_scalar(gr), gr)};
  }
  if constexpr (Op == UnaryOp::Abs) return {mul(gr, sign(s))};
  if constexpr (Op == UnaryOp::Sin) return {mul(gr, cos(s))};
  if constexpr (Op == UnaryOp::Cos) return {mul(gr, neg(sin(s)))};
  if constexpr (Op == UnaryOp::Reciprocal) return {neg(mul(gr, mul(s, s)))};
  (void)one_like;
  return {gr};
}

template <UnaryOp Op>
Tensor unary_op(const Tensor& a, DType dt) {
  Tensor out = unary_kernel(Op, a, dt);
  if (auto n = make_node<UnaryBackward<Op>>({&a})) {
    if constexpr (Op != UnaryOp::Neg && Op != UnaryOp::Sign)
      n->saved = kSavesResult<Op> ? SavedVariable(out, true) : SavedVariable(a, false);
    set_history(out, n);
  }
  return out;
}

}  // namespace

Tensor neg(const Tensor& a) {
  if (a.dtype() == DType::Bool)
    throw Error(ErrorKind::Runtime,
                "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, "
                "use the `~` or `logical_not()` operator instead.");
  return unary_op<UnaryOp::Neg>(a, a.dtype());
}
Tensor exp(const Tensor& a) { return unary_op<UnaryOp::Exp>(a, float_result(a)); }
Tensor log(const Tensor& a) { return unary_op<UnaryOp::Log>(a, float_result(a)); }
Tensor sqrt(const Tensor& a) { return unary_op<UnaryOp::Sqrt>(a, float_result(a)); }
Tensor tanh(const Tensor& a) { return unary_op<UnaryOp::Tanh>(a, float_result(a)); }
Tensor sigmoid(const Tensor& a) { return unary_op<UnaryOp::Sigmoid>(a, float_result(a)); }
Tensor sin(const Tensor& a) { return unary_op<UnaryOp::Sin>(a, float_result(a)); }
Tensor cos(const Tensor& a) { return unary_op<UnaryOp::Cos>(a, float_result(a)); }
Tensor reciprocal(const Tensor& a) { return unary_op<UnaryOp::Reciprocal>(a, float_result(a)); }
Tensor relu(const Tensor& a) {
  EMBER_CHECK(a.dtype() != DType::Bool, "\"clamp_min_scalar_cpu\" not implemented for 'Bool' (in relu)");
  return unary_op<UnaryOp::Relu>(a, a.dtype());
}
Tensor abs(const Tensor& a) {
  EMBER_CHECK_KIND(a.dtype() != DType::Bool, ErrorKind::NotImplemented, "\"abs_cpu\" not implemented for 'Bool' (in abs)");
  return unary_op<UnaryOp::Abs>(a, a.dtype());
}
Tensor sign(const Tensor& a) { return unary_op<UnaryOp::Sign>(a, a.dtype()); }

Tensor logical_not(const Tensor& a) {
  Tensor b = as_dtype(a, DType::Bool);
  return unary_kernel(UnaryOp::LogicalNot, b, DType::Bool);
}

// ---------------------------------------------------------------- clamp

namespace {
struct ClampBackward1 : Node {  // scalar bounds
  SavedVariable self;
  std::optional<Scalar> min, max;
  std::string name() const override { return "ClampBackward1"; }
  variable_list apply(variable_list&& g) override {
    Tensor s = self.unpack(this);
    const kernels::ScalarValue lo = detail::scalar_value(min.value_or(Scalar())),
                               hi = detail::scalar_value(max.value_or(Scalar()));
    Tensor fused = fused_mask_grad(g[0], s, [&](DType dt, const kernels::Loop& l) {
      kernels::active().clamp_backward(dt, l, min ? &lo : nullptr, max ? &hi : nullptr);
    });
    if (fused.defined()) return {fused};
    Tensor mask;
    if (min) mask = ge(s, wrapped_scalar(*min));
    if (max) {
      Tensor m2 = le(s, wrapped_scalar(*max));
      mask = mask.defined() ? logical_and(mask, m2) : m2;
    }
    return {where(mask, g[0], zero_scalar(g[0]))};
  }
  SavedSlots saved_variables() override { return {{"self", &self}}; }
};

struct ClampBackward0 : Node {  // tensor bounds
  SavedVariable self, min, max;
  std::string name() const override { return "ClampBackward0"; }
  variable_list apply(variable_list&& g) override {
    Tensor s = self.unpack(this), lo = min.unpack(this), hi = max.unpack(this);
    Tensor z = zero_scalar(g[0]);
    Tensor inside;
    if (lo.defined()) inside = ge(s, lo);
    if (hi.defined()) inside = inside.defined() ? logical_and(inside, le(s, hi)) : le(s, hi);
    variable_list r(3);
    if (needs_input_grad(0)) r[0] = where(inside, g[0], z);
    // Where min > max the result is max: the gradient goes to max (PyTorch's clamp_backward_min_max).
    bool both = lo.defined() && hi.defined();
    if (lo.defined() && needs_input_grad(1)) r[1] = where(both ? logical_and(lt(s, lo), lt(lo, hi)) : lt(s, lo), g[0], z);
    if (hi.defined() && needs_input_grad(2)) r[2] = where(both ? logical_or(gt(s, hi), lt(hi, lo)) : gt(s, hi), g[0], z);
    return r;
  }
  SavedSlots saved_variables() override { return {{"self", &self}, {"min", &min}, {"max", &max}}; }
};

// Only a bool *result* is refused (bool.clamp(min=0) promotes to int64), as in PyTorch.
void check_clamp_dtype(DType result) {
  EMBER_CHECK_KIND(result != DType::Bool, ErrorKind::NotImplemented, "\"clamp_cpu\" not implemented for 'Bool' (in clamp)");
}
}  // namespace

Tensor clamp(const Tensor& a, std::optional<Scalar> min, std::optional<Scalar> max) {
  EMBER_CHECK(min || max, "torch.clamp: At least one of 'min' or 'max' must not be None (in clamp)");
  ResultTypeState st;
  st.add_tensor(a.dtype(), a.dim());
  if (min) st.add_scalar(min->natural_dtype());
  if (max) st.add_scalar(max->natural_dtype());
  DType dt = st.result();
  check_clamp_dtype(dt);
  Tensor keep;
  const Tensor& ac = as_dtype(a, dt, keep);
  Tensor out = empty(a.shape(), dt);
  if (out.numel() > 0) {
    kernels::ScalarValue lo = detail::scalar_value(min.value_or(Scalar())), hi = detail::scalar_value(max.value_or(Scalar()));
    LoopBuilder lb(a.shape());
    lb.add(out).add(ac);
    kernels::active().clamp(dt, lb.build(), min ? &lo : nullptr, max ? &hi : nullptr);
  }
  if (auto n = make_node<ClampBackward1>({&a})) {
    n->self = SavedVariable(a, false);
    n->min = min;
    n->max = max;
    set_history(out, n);
  }
  return out;
}

Tensor clamp(const Tensor& a, const Tensor& min, const Tensor& max) {
  EMBER_CHECK(min.defined() || max.defined(), "torch.clamp: At least one of 'min' or 'max' must not be None (in clamp)");
  check_clamp_dtype(a.dtype());
  Tensor out;
  {
    NoGradGuard ng;
    out = a;
    if (min.defined()) out = maximum(out, min);
    if (max.defined()) out = minimum(out, max);
    if (out.is_same(a)) out = clone(a);
  }
  if (detail::should_record({&a, &min, &max})) {
    // One edge per forward input; an absent bound gets an invalid edge, as in PyTorch.
    auto n = detail::new_node<ClampBackward0>();
    for (const Tensor* t : {&a, &min, &max}) {
      if (t->defined()) {
        n->add_input(*t);
      } else {
        n->mutable_next_edges().emplace_back();
        n->mutable_input_meta().emplace_back();
      }
    }
    n->self = SavedVariable(a, false);
    if (min.defined()) n->min = SavedVariable(min, false);
    if (max.defined()) n->max = SavedVariable(max, false);
    set_history(out, n);
  }
  return out;
}

// ---------------------------------------------------------------- where

namespace {
struct WhereBackward0 : Node {
  SavedVariable condition;
  std::string name() const override { return "WhereBackward0"; }
  variable_list apply(variable_list&& g) override {
    Tensor c = condition.unpack(this);
    Tensor z = zeros_like_grad(g[0]);
    variable_list r(2);  // the condition gets no edge
    if (needs_input_grad(0)) r[0] = where(c, g[0], z);
    if (needs_input_grad(1)) r[1] = where(c, z, g[0]);
    return r;
  }
  SavedSlots saved_variables() override { return {{"condition", &condition}}; }
};
}  // namespace

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  EMBER_CHECK(cond.dtype() == DType::Bool, "where expected condition to be a boolean tensor, but got a tensor with dtype ",
              dtype_name(cond.dtype()));
  DType dt = detail::result_type({&a, &b});
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor ac = as_dtype(a, dt), bc = as_dtype(b, dt);
  Tensor out = empty(shape, dt);
  if (out.numel() > 0) {
    LoopBuilder lb(shape);
    lb.add(out).add(cond).add(ac).add(bc);
    kernels::active().where(dt, lb.build());
  }
  if (auto n = make_node<WhereBackward0>({&a, &b})) {
    n->condition = SavedVariable(cond, false);
    set_history(out, n);
  }
  return out;
}

// ---------------------------------------------------------------- comparisons

namespace {
Tensor compare(BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  DType dt = detail::result_type({&a, &b});
  return binary_kernel(op, a, b, dt, name);
}
}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Eq, a, b, "eq"); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Ne, a, b, "ne"); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Lt, a, b, "lt"); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Le, a, b, "le"); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Gt, a, b, "gt"); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Ge, a, b, "ge"); }
Tensor logical_and(const Tensor& a, const Tensor& b) { return compare(BinaryOp::LogicalAnd, a, b, "logical_and"); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return compare(BinaryOp::LogicalOr, a, b, "logical_or"); }

// ---------------------------------------------------------------- in-place

namespace {

// Fast path for binary in-place ops on tensors outside any graph: write into self.
bool try_direct_binary(Tensor& self, BinaryOp op, const Tensor& other, const char* name) {
  if (GradMode::is_enabled() && (self.requires_grad() || other.requires_grad())) return false;
  DType dt = detail::result_type({&self, &other});
  if (dt != self.dtype()) return false;
  Shape shape = broadcast_shapes(self.shape(), other.shape(), name);
  if (shape != self.shape()) return false;  // let the general path raise
  if (op == BinaryOp::Div && !is_floating(dt)) return false;
  // An input overlapping self in another layout would be read after being written.
  if (other.storage() == self.storage() && (other.offset() != self.offset() || other.strides() != self.strides()))
    return false;
  Tensor oc = as_dtype(other, dt);
  if (self.numel() > 0) {
    LoopBuilder lb(shape);
    lb.add(self).add(self).add(oc);
    interrupt::NoInterrupt whole;  // writes into self
    kernels::active().binary(op, dt, lb.build());
  }
  self->bump_version(name);
  return true;
}

}  // namespace

Tensor& add_(Tensor& self, const Tensor& other, Scalar alpha) {
  detail::check_inplace(self, "add_", {&other});
  detail::check_no_partial_overlap(self, other, "add_");
  check_alpha(detail::result_type({&self, &other}), alpha, "add_");
  // scaled() detaches: the direct path must not see a grad-requiring `other` as a constant
  Tensor keep;
  if (!other.requires_grad() && try_direct_binary(self, BinaryOp::Add, scaled(other, alpha, keep), "add_")) return self;
  return detail::inplace(self, "add_", {&other}, [&](const Tensor& s) { return add(s, other, alpha); });
}

Tensor& sub_(Tensor& self, const Tensor& other, Scalar alpha) {
  detail::check_inplace(self, "sub_", {&other});
  detail::check_no_partial_overlap(self, other, "sub_");
  check_sub_bool(self, other);
  check_alpha(detail::result_type({&self, &other}), alpha, "sub_");
  Tensor keep;
  if (self.dtype() != DType::Bool && !other.requires_grad() &&
      try_direct_binary(self, BinaryOp::Sub, scaled(other, alpha, keep), "sub_"))
    return self;
  return detail::inplace(self, "sub_", {&other}, [&](const Tensor& s) { return sub(s, other, alpha); });
}

Tensor& mul_(Tensor& self, const Tensor& other) {
  detail::check_inplace(self, "mul_", {&other});
  detail::check_no_partial_overlap(self, other, "mul_");
  if (try_direct_binary(self, BinaryOp::Mul, other, "mul_")) return self;
  return detail::inplace(self, "mul_", {&other}, [&](const Tensor& s) { return mul(s, other); });
}

Tensor& div_(Tensor& self, const Tensor& other) {
  detail::check_inplace(self, "div_", {&other});
  detail::check_no_partial_overlap(self, other, "div_");
  if (try_direct_binary(self, BinaryOp::Div, other, "div_")) return self;
  return detail::inplace(self, "div_", {&other}, [&](const Tensor& s) { return div(s, other); });
}

Tensor& pow_(Tensor& self, Scalar exponent) {
  return detail::inplace(self, "pow_", {}, [&](const Tensor& s) { return pow(s, exponent); });
}

Tensor& clamp_(Tensor& self, std::optional<Scalar> min, std::optional<Scalar> max) {
  return detail::inplace(self, "clamp_", {}, [&](const Tensor& s) { return clamp(s, min, max); });
}

void add_inplace_nograd(Tensor& self, const Tensor& other) {
  NoGradGuard ng;
  add_(self, other);
}

namespace {
struct CopyBackwards : Node {
  std::string name() const override { return "CopyBackwards"; }
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    if (needs_input_grad(0)) r[0] = zeros_like_grad(g[0]);
    if (needs_input_grad(1)) r[1] = g[0];
    return r;
  }
};

struct FillBackward : Node {
  const char* node_name;
  explicit FillBackward(const char* n) : node_name(n) {}
  std::string name() const override { return node_name; }
  variable_list apply(variable_list&& g) override { return {zeros_like_grad(g[0])}; }
};
}  // namespace

Tensor& copy_(Tensor& self, const Tensor& src) {
  detail::check_inplace(self, "copy_", {&src});
  detail::check_no_partial_overlap(self, src, "copy_");
  broadcast_shapes(self.shape(), src.shape(), "copy_");
  Shape b = broadcast_shapes(self.shape(), src.shape(), "copy_");
  if (b != self.shape()) {
    throw Error(ErrorKind::Runtime, str("output with shape ", shape_str(self.shape()),
                                        " doesn't match the broadcast shape ", shape_str(b), " (in copy_)"));
  }
  // copying into an integer or bool tensor ends the graph there, as in PyTorch
  bool record = GradMode::is_enabled() && is_floating(self.dtype()) && (self.requires_grad() || src.requires_grad());
  if (src.storage() == self.storage() && !(src.offset() == self.offset() && src.strides() == self.strides())) {
    // Memory shared in a way the overlap check lets through (a strided view, a broadcast
    // source): read everything first.
    Tensor tmp = contiguous_copy(src);
    detail::copy_into(self, tmp);
  } else {
    detail::copy_into(self, src);
  }
  self->bump_version("copy_");
  if (record) {
    auto n = detail::new_node<CopyBackwards>();
    n->add_input(self);
    n->add_input(src);
    detail::rebase_history(self, n, 0);
  }
  return self;
}

namespace {
Tensor& fill_impl(Tensor& self, Scalar value, const char* op, const char* node_name) {
  detail::check_inplace(self, op, {});
  if (self.numel() > 0) {
    LoopBuilder lb(self.shape());
    lb.add(self);
    interrupt::NoInterrupt whole;  // writes into self
    kernels::active().fill(self.dtype(), lb.build(), detail::scalar_value(value));
  }
  self->bump_version(op);
  if (GradMode::is_enabled() && self.requires_grad()) {
    auto n = detail::new_node<FillBackward>(node_name);
    n->add_input(self);
    detail::rebase_history(self, n, 0);
  }
  return self;
}
}  // namespace

Tensor& fill_(Tensor& self, Scalar value) { return fill_impl(self, value, "fill_", "FillBackward2"); }

namespace {
struct FillBackward3 : Node {  // fill_ with a 0-d tensor: the value receives the summed gradient
  std::string name() const override { return "FillBackward3"; }
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    if (needs_input_grad(0)) r[0] = zeros_like_grad(g[0]);
    if (needs_input_grad(1)) r[1] = sum(g[0]);
    return r;
  }
};
}  // namespace

Tensor& fill_(Tensor& self, const Tensor& value) {
  EMBER_CHECK(value.dim() == 0, "fill_ only supports 0-dimension value tensor but got tensor with ", value.dim(),
              " dimensions.");
  detail::check_inplace(self, "fill_", {&value});
  Tensor v = contiguous_copy(value);  // value may alias self
  detail::copy_into(self, v);
  self->bump_version("fill_");
  if (GradMode::is_enabled() && (self.requires_grad() || value.requires_grad())) {
    auto n = detail::new_node<FillBackward3>();
    n->add_input(self);
    n->add_input(value);
    detail::rebase_history(self, n, 0);
  }
  return self;
}
Tensor& zero_(Tensor& self) { return fill_impl(self, Scalar(int64_t{0}), "zero_", "ZeroBackward0"); }

}  // namespace ember
