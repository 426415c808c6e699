// Matrix products: mm, mv, dot, bmm and matmul (which dispatches to them as PyTorch does).
#include "core/interrupt.h"
#include "ops/op_helpers.h"

namespace ember {

using detail::make_node;
using detail::set_history;

namespace {

void check_matmul_dtypes(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dtype() != b.dtype()) {
    // PyTorch's texts: dot names ScalarTypes, mm names the C types.
    auto c_name = [](DType t) {
      return t == DType::Float32 ? "float" : t == DType::Float64 ? "double" : t == DType::Int64 ? "long int" : "bool";
    };
    if (std::string(op) == "dot")
      throw Error(ErrorKind::Runtime, str("dot : expected both vectors to have same dtype, but found ",
                                          dtype_scalar_type_name(a.dtype()), " and ", dtype_scalar_type_name(b.dtype()),
                                          " (in dot)"));
    throw Error(ErrorKind::Runtime, str("expected m1 and m2 to have the same dtype, but got: ", c_name(a.dtype()),
                                        " != ", c_name(b.dtype()), " (in ", op, ": ", dtype_name(a.dtype()), " and ",
                                        dtype_name(b.dtype()), ")"));
  }
  const char* kernel = std::string(op) == "mm" ? "addmm_impl_cpu_" : op;  // PyTorch's kernel names
  EMBER_CHECK_KIND(a.dtype() != DType::Bool, ErrorKind::NotImplemented, "\"", kernel,
                   "\" not implemented for 'Bool' (in ", op, ")");
}

// c = a @ b + d for 2-D strided views, straight through the kernel (kernels.h's contract
// for the addend d: undefined for none, c itself, or a broadcast bias).
void gemm_raw(const Tensor& c, const Tensor& a, const Tensor& b, const Tensor& d) {
  const bool add = d.defined();
  kernels::active().gemm(a.dtype(), a.shape()[0], b.shape()[1], a.shape()[1], a.raw_data(), a.strides()[0],
                         a.strides()[1], b.raw_data(), b.strides()[0], b.strides()[1], c.raw_data(), c.strides()[0],
                         c.strides()[1], add ? d.raw_data() : nullptr, add ? d.strides()[0] : 0, add ? d.strides()[1] : 0);
}

// c = a @ b for 2-D strided views; c is dense and new or given. With k == 0 the kernel
// writes zeros (through the kernel, not zero_, so c's version stays as torch leaves it).
void gemm_into(const Tensor& c, const Tensor& a, const Tensor& b) {
  if (a.shape()[0] == 0 || b.shape()[1] == 0) return;
  gemm_raw(c, a, b, Tensor());
}

std::string dims_x(const Tensor& t) {
  std::string s;
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "x" : "") + std::to_string(t.shape()[i]);
  return s;
}

struct MmBackward0 : Node {
  SavedVariable self, mat2;
  std::string name() const override { return "MmBackward0"; }
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    if (needs_input_grad(0)) r[0] = mm(g[0], t(mat2.unpack(this)));
    if (needs_input_grad(1)) r[1] = mm(t(self.unpack(this)), g[0]);
    return r;
  }
  SavedSlots saved_variables() override { return {{"self", &self}, {"mat2", &mat2}}; }
};

struct AddmmBackward0 : Node {
  SavedVariable mat1, mat2;
  Scalar beta, alpha;
  std::string name() const override { return "AddmmBackward0"; }
  variable_list apply(variable_list&& g) override {
    // derivatives.yaml: self: maybe_multiply(grad, beta) (the engine sums it to self's
    // shape), mat1: grad @ mat2^T * alpha, mat2: mat1^T @ grad * alpha.
    auto times = [](Tensor x, Scalar s) { return s.f == 1.0 ? x : mul(x, wrapped_scalar(s)); };
    variable_list r(3);
    if (needs_input_grad(0)) r[0] = times(g[0], beta);
    if (needs_input_grad(1)) r[1] = times(mm(g[0], t(mat2.unpack(this))), alpha);
    if (needs_input_grad(2)) r[2] = times(mm(t(mat1.unpack(this)), g[0]), alpha);
    return r;
  }
  SavedSlots saved_variables() override { return {{"mat1", &mat1}, {"mat2", &mat2}}; }
};

struct MvBackward0 : Node {
  SavedVariable self, vec;
  std::string name() const override { return "MvBackward0"; }
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    if (needs_input_grad(0)) r[0] = mm(unsqueeze(g[0], 1), unsqueeze(vec.unpack(this), 0));
    if (needs_input_grad(1)) r[1] = mv(t(self.unpack(this)), g[0]);
    return r;
  }
  SavedSlots saved_variables() override { return {{"self", &self}, {"vec", &vec}}; }
};

struct DotBackward0 : Node {
  SavedVariable self, other;
  std::string name() const override { return "DotBackward0"; }
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    if (needs_input_grad(0)) r[0] = mul(g[0], other.unpack(this));
    if (needs_input_grad(1)) r[1] = mul(g[0], self.unpack(this));
    return r;
  }
  SavedSlots saved_variables() override { return {{"self", &self}, {"other", &other}}; }
};

struct BmmBackward0 : Node {
  SavedVariable self, mat2;
  std::string name() const override { return "BmmBackward0"; }
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    if (needs_input_grad(0)) r[0] = bmm(g[0], transpose(mat2.unpack(this), 1, 2));
    if (needs_input_grad(1)) r[1] = bmm(transpose(self.unpack(this), 1, 2), g[0]);
    return r;
  }
  SavedSlots saved_variables() override { return {{"self", &self}, {"mat2", &mat2}}; }
};

}  // namespace

Tensor mm(const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.dim() == 2, "self must be a matrix (in mm: got a ", a.dim(), "-D tensor of shape ", shape_str(a.shape()), ")");
  EMBER_CHECK(b.dim() == 2, "mat2 must be a matrix (in mm: got a ", b.dim(), "-D tensor of shape ", shape_str(b.shape()), ")");
  if (a.shape()[1] != b.shape()[0]) {
    throw Error(ErrorKind::Runtime, str("mat1 and mat2 shapes cannot be multiplied (", dims_x(a), " and ", dims_x(b),
                                        ") (in mm: the inner sizes ", a.shape()[1], " and ", b.shape()[0],
                                        " must be equal)"));
  }
  check_matmul_dtypes(a, b, "mm");
  Tensor out = empty({a.shape()[0], b.shape()[1]}, a.dtype());
  gemm_into(out, a, b);
  if (auto n = make_node<MmBackward0>({&a, &b})) {
    if (n->needs_input_grad(1)) n->self = SavedVariable(a, false);
    if (n->needs_input_grad(0)) n->mat2 = SavedVariable(b, false);
    set_history(out, n);
  }
  return out;
}

namespace {

// addmm's checks, in PyTorch's order: dtypes, then ranks, then the inner sizes.
void check_addmm(const Tensor& self, const Tensor& m1, const Tensor& m2, const char* op) {
  auto dtypes = [&](const Tensor& x, const char* xn) {
    if (x.dtype() == m2.dtype()) return;
    throw Error(ErrorKind::Runtime, str(xn, " and mat2 must have the same dtype, but got ",
                                        dtype_scalar_type_name(x.dtype()), " and ", dtype_scalar_type_name(m2.dtype()),
                                        " (in ", op, ")"));
  };
  dtypes(self, "self");
  dtypes(m1, "mat1");
  EMBER_CHECK(m1.dim() == 2, "mat1 must be a matrix, got ", m1.dim(), "-D tensor (in ", op, ": shape ",
              shape_str(m1.shape()), ")");
  EMBER_CHECK(m2.dim() == 2, "mat2 must be a matrix, got ", m2.dim(), "-D tensor (in ", op, ": shape ",
              shape_str(m2.shape()), ")");
  if (m1.shape()[1] != m2.shape()[0]) {
    throw Error(ErrorKind::Runtime, str("mat1 and mat2 shapes cannot be multiplied (", dims_x(m1), " and ", dims_x(m2),
                                        ") (in ", op, ": the inner sizes ", m1.shape()[1], " and ", m2.shape()[0],
                                        " must be equal)"));
  }
}

// The scalar as the dtype sees it: integer tensors truncate beta and alpha, as PyTorch does.
Scalar as_dtype_scalar(Scalar s, DType dt) { return is_floating(dt) ? Scalar(s.f) : Scalar(s.i); }

// dst = x op y elementwise (y broadcast), straight through the kernel: no node, no
// version bump (dst is the op's own output, or self inside addmm_'s single bump).
void binary_raw(kernels::BinaryOp op, const Tensor& dst, const Tensor& x, const Tensor& y) {
  if (dst.numel() == 0) return;
  detail::LoopBuilder lb(dst.shape());
  lb.add(dst).add(x).add(y);
  interrupt::NoInterrupt whole;
  kernels::active().binary(op, dst.dtype(), lb.build());
}

// out (n x p) = beta * self + alpha * (m1 @ m2), self already broadcast to n x p (or out
// itself, for addmm_).
void addmm_into(const Tensor& out, const Tensor& self_b, const Tensor& m1, const Tensor& m2, Scalar beta,
                Scalar alpha) {
  const DType dt = out.dtype();
  const bool fl = is_floating(dt);
  const bool bias = fl ? beta.f != 0.0 : beta.i != 0;
  const bool unit_alpha = fl ? alpha.f == 1.0 : alpha.i == 1, unit_beta = fl ? beta.f == 1.0 : beta.i == 1;
  const int64_t n = m1.shape()[0], k = m1.shape()[1], p = m2.shape()[1];
  if (n == 0 || p == 0) return;
  // The common case: the GEMM adds the bias as it stores its first KC step (C = A B + D,
  // D read through its broadcast strides), so the bias costs no pass over the output.
  // self_b is a fresh output's addend or, in addmm_, out itself.
  if (unit_alpha && (unit_beta || !bias)) {
    gemm_raw(out, m1, m2, bias ? self_b : Tensor());
    return;
  }
  // Scaled: beta * self written first and alpha * the product added to it.
  const bool same = self_b.storage() == out.storage() && self_b.offset() == out.offset() && self_b.strides() == out.strides();
  if (bias && !same) detail::copy_into(out, self_b);
  if (bias && !unit_beta) binary_raw(kernels::BinaryOp::Mul, out, out, scalar_tensor(beta, dt));
  if (k == 0) {
    if (!bias) detail::copy_into(out, scalar_tensor(Scalar(int64_t{0}), dt));
    return;
  }
  if (unit_alpha) {
    gemm_raw(out, m1, m2, out);  // C += A B
    return;
  }
  Tensor prod = empty({n, p}, dt);
  gemm_into(prod, m1, m2);
  binary_raw(kernels::BinaryOp::Mul, prod, prod, scalar_tensor(alpha, dt));
  if (bias) binary_raw(kernels::BinaryOp::Add, out, out, prod);
  else detail::copy_into(out, prod);
}

// self seen as n x p (PyTorch's expand rule and text).
Tensor broadcast_bias(const Tensor& self, int64_t n, int64_t p, const char* op) {
  return detail::expand_view(self, {n, p},
                             str(op, ": self of shape ", shape_str(self.shape()), " is added to the ", n, "x", p,
                                 " product"));
}

}  // namespace

Tensor addmm(const Tensor& self, const Tensor& m1, const Tensor& m2, Scalar beta, Scalar alpha) {
  check_addmm(self, m1, m2, "addmm");
  const int64_t n = m1.shape()[0], p = m2.shape()[1];
  Tensor self_b = broadcast_bias(self, n, p, "addmm");
  EMBER_CHECK_KIND(m1.dtype() != DType::Bool, ErrorKind::NotImplemented,
                   "\"addmm_impl_cpu_\" not implemented for 'Bool' (in addmm)");
  const DType dt = m1.dtype();
  beta = as_dtype_scalar(beta, dt);
  alpha = as_dtype_scalar(alpha, dt);
  Tensor out = empty({n, p}, dt);
  addmm_into(out, self_b, m1, m2, beta, alpha);
  if (auto node = make_node<AddmmBackward0>({&self, &m1, &m2})) {
    node->beta = beta;
    node->alpha = alpha;
    if (node->needs_input_grad(2)) node->mat1 = SavedVariable(m1, false);
    if (node->needs_input_grad(1)) node->mat2 = SavedVariable(m2, false);
    set_history(out, node);
  }
  return out;
}

Tensor& addmm_(Tensor& self, const Tensor& m1, const Tensor& m2, Scalar beta, Scalar alpha) {
  detail::check_inplace(self, "addmm_", {&m1, &m2});
  check_addmm(self, m1, m2, "addmm_");
  const int64_t n = m1.shape()[0], p = m2.shape()[1];
  if (self.shape() != Shape{n, p}) {
    throw Error(ErrorKind::Runtime, str("Bad in-place call: input tensor size ", shape_str(self.shape()),
                                        " and output tensor size [", n, ", ", p, "] should match (in addmm_)"));
  }
  EMBER_CHECK_KIND(m1.dtype() != DType::Bool, ErrorKind::NotImplemented,
                   "\"addmm_impl_cpu_\" not implemented for 'Bool' (in addmm_)");
  const bool record = detail::should_record({&m1, &m2}) || (GradMode::is_enabled() && self.requires_grad());
  // Outside a graph, and when neither factor shares self's memory (it would be read while
  // being written), the product is accumulated straight into self.
  if (!record && m1.storage() != self.storage() && m2.storage() != self.storage()) {
    const DType dt = self.dtype();
    interrupt::NoInterrupt whole;  // writes into self
    addmm_into(self, self, m1, m2, as_dtype_scalar(beta, dt), as_dtype_scalar(alpha, dt));
    self->bump_version("addmm_");
    return self;
  }
  return detail::inplace(self, "addmm_", {&m1, &m2}, [&](const Tensor& s) { return addmm(s, m1, m2, beta, alpha); });
}

Tensor mv(const Tensor& a, const Tensor& v) {
  EMBER_CHECK(a.dim() == 2 && v.dim() == 1, "vector + matrix @ vector expected, got ", a.dim(), ", ", v.dim(),
              " (in mv: shapes ", shape_str(a.shape()), " and ", shape_str(v.shape()), ")");
  if (a.shape()[1] != v.shape()[0]) {
    throw Error(ErrorKind::Runtime, str("size mismatch, got input (", a.shape()[0], "), mat (", dims_x(a), "), vec (",
                                        v.shape()[0], ") (in mv)"));
  }
  check_matmul_dtypes(a, v, "mv");
  Tensor out = empty({a.shape()[0]}, a.dtype());
  Tensor vc = make_view(v, v.offset(), {v.shape()[0], 1}, {v.strides()[0], 1});
  Tensor oc = make_view(out, 0, {a.shape()[0], 1}, {1, 1});
  gemm_into(oc, a, vc);
  if (auto n = make_node<MvBackward0>({&a, &v})) {
    if (n->needs_input_grad(1)) n->self = SavedVariable(a, false);
    if (n->needs_input_grad(0)) n->vec = SavedVariable(v, false);
    set_history(out, n);
  }
  return out;
}

Tensor dot(const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.dim() == 1 && b.dim() == 1, "1D tensors expected, but got ", a.dim(), "D and ", b.dim(),
              "D tensors (in dot)");
  if (a.shape()[0] != b.shape()[0]) {
    throw Error(ErrorKind::Runtime, str("inconsistent tensor size, expected tensor [", a.shape()[0], "] and src [",
                                        b.shape()[0], "] to have the same number of elements, but got ", a.shape()[0],
                                        " and ", b.shape()[0], " elements respectively (in dot)"));
  }
  check_matmul_dtypes(a, b, "dot");
  Tensor out = empty({}, a.dtype());
  Tensor ar = make_view(a, a.offset(), {1, a.shape()[0]}, {0, a.strides()[0]});
  Tensor bc = make_view(b, b.offset(), {b.shape()[0], 1}, {b.strides()[0], 1});
  Tensor oc = make_view(out, 0, {1, 1}, {1, 1});
  gemm_into(oc, ar, bc);
  if (auto n = make_node<DotBackward0>({&a, &b})) {
    if (n->needs_input_grad(1)) n->self = SavedVariable(a, false);
    if (n->needs_input_grad(0)) n->other = SavedVariable(b, false);
    set_history(out, n);
  }
  return out;
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.dim() == 3, "batch1 must be a 3D tensor (in bmm: got shape ", shape_str(a.shape()), ")");
  EMBER_CHECK(b.dim() == 3, "batch2 must be a 3D tensor (in bmm: got shape ", shape_str(b.shape()), ")");
  if (a.shape()[0] != b.shape()[0] || a.shape()[2] != b.shape()[1]) {
    throw Error(ErrorKind::Runtime, str("Expected size for first two dimensions of batch2 tensor to be: [",
                                        a.shape()[0], ", ", a.shape()[2], "] but got: [", b.shape()[0], ", ",
                                        b.shape()[1], "]. (in bmm: shapes ", shape_str(a.shape()), " and ",
                                        shape_str(b.shape()), ")"));
  }
  check_matmul_dtypes(a, b, "bmm");
  int64_t batch = a.shape()[0], m = a.shape()[1], n = b.shape()[2];
  Tensor out = empty({batch, m, n}, a.dtype());
  for (int64_t i = 0; i < batch; ++i) {
    Tensor ai = make_view(a, a.offset() + i * a.strides()[0], {m, a.shape()[2]}, {a.strides()[1], a.strides()[2]});
    Tensor bi = make_view(b, b.offset() + i * b.strides()[0], {b.shape()[1], n}, {b.strides()[1], b.strides()[2]});
    Tensor ci = make_view(out, i * m * n, {m, n}, {n, 1});
    gemm_into(ci, ai, bi);
  }
  if (auto node = make_node<BmmBackward0>({&a, &b})) {
    if (node->needs_input_grad(1)) node->self = SavedVariable(a, false);
    if (node->needs_input_grad(0)) node->mat2 = SavedVariable(b, false);
    set_history(out, node);
  }
  return out;
}

namespace {

// PyTorch's should_fold: fold the larger operand's batch into rows (one mm/mv instead of a
// bmm) when the smaller one needs a gradient, or when the fold needs no copy.
bool should_fold(const Tensor& a, const Tensor& b) {
  const bool a_larger = a.dim() >= b.dim();
  const Tensor t1 = a_larger ? a : transpose(b, -2, -1);
  const int64_t d1 = t1.dim(), d2 = a_larger ? b.dim() : a.dim();
  if (!(d1 >= 3 && d2 <= 2)) return false;
  if ((a_larger ? b : a).requires_grad()) return true;
  if (a.dim() == 2) return false;  // the mm result would need a transposing copy
  if (t1.numel() == 0) return true;
  for (int64_t i = 0; i < d1 - 2; ++i)
    if (t1.strides()[i] != t1.strides()[i + 1] * t1.shape()[i + 1]) return false;
  return true;
}

}  // namespace

// Dispatches as PyTorch's _matmul_impl does, so the graph (and its node names) match.
Tensor matmul(const Tensor& a, const Tensor& b) {
  const int64_t da = a.dim(), db = b.dim();
  if (da == 0 || db == 0) {
    throw Error(ErrorKind::Runtime, str("both arguments to matmul need to be at least 1D, but they are ", da, "D and ",
                                        db, "D"));
  }
  if (da == 1 && db == 1) return dot(a, b);
  if (da == 2 && db == 1) return mv(a, b);
  if (da == 1 && db == 2) return unsafe_view(mm(unsqueeze(a, 0), b), {b.shape()[1]}, "SqueezeBackward4");
  if (da == 2 && db == 2) return mm(a, b);
  if (should_fold(a, b)) {
    // (..., n, k) @ (k, m) is one mm; with the larger operand on the right, fold its
    // transpose and transpose the result back.
    const bool transposed = db > da;
    const Tensor t1 = transposed ? transpose(b, -2, -1) : a;
    const Tensor t2 = !transposed ? b : (da == 2 ? t(a) : a);
    std::vector<int64_t> out_shape(t1.shape().begin(), t1.shape().end() - 1);
    int64_t rows = 1;
    for (int64_t s : out_shape) rows *= s;
    Tensor folded = reshape(t1, {rows, t1.shape()[t1.dim() - 1]});
    if (t2.dim() == 1) return unsafe_view(mv(folded, t2), out_shape);
    out_shape.push_back(t2.shape()[1]);
    Tensor out = unsafe_view(mm(folded, t2), out_shape);
    return transposed ? contiguous(transpose(out, -2, -1)) : out;
  }
  // Batched: broadcast the batch dims, flatten them, one bmm.
  const int64_t n = da > 1 ? a.shape()[da - 2] : 1, k = a.shape()[da - 1];
  const int64_t k2 = db > 1 ? b.shape()[db - 2] : b.shape()[0], m = db > 1 ? b.shape()[db - 1] : 1;
  Shape ba(a.shape().begin(), a.shape().begin() + std::max<int64_t>(da - 2, 0));
  Shape bb(b.shape().begin(), b.shape().begin() + std::max<int64_t>(db - 2, 0));
  if (da == 3 && db == 3 && ba[0] != bb[0]) {
    // A batch of one that needs a gradient is squeezed, so the fold above avoids the
    // gradient being a full batch that is summed (as PyTorch does).
    if (ba[0] == 1 && a.requires_grad()) return matmul(squeeze(a, 0), b);
    if (bb[0] == 1 && b.requires_grad()) return matmul(a, squeeze(b, 0));
  }
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  if (k != k2) {
    throw Error(ErrorKind::Runtime, str("Expected size for first two dimensions of batch2 tensor to be: [",
                                        shape_numel(batch), ", ", k, "] but got: [", shape_numel(batch), ", ", k2,
                                        "]. (in matmul: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
                                        ")"));
  }
  const int64_t nb = shape_numel(batch);
  std::vector<int64_t> ea(batch.begin(), batch.end()), eb(batch.begin(), batch.end());
  ea.insert(ea.end(), {n, k});
  Tensor a3 = reshape(expand(a, ea), {nb, n, k});
  Tensor b3;
  if (db == 1) {
    eb.push_back(k2);
    b3 = unsqueeze(reshape(expand(b, eb), {nb, k2}), 2);
  } else {
    eb.insert(eb.end(), {k2, m});
    b3 = reshape(expand(b, eb), {nb, k2, m});
  }
  std::vector<int64_t> out_shape(batch.begin(), batch.end());
  if (da > 1) out_shape.push_back(n);
  if (db > 1) out_shape.push_back(m);
  Tensor r = bmm(a3, b3);
  return unsafe_view(db == 1 ? squeeze(r, -1) : r, out_shape);
}

}  // namespace ember
