// Matrix products: mm, mv, dot, bmm and matmul (which dispatches to them as PyTorch does).
#include "ops/op_helpers.h"

namespace ember {

using detail::make_node;
using detail::set_history;

namespace {

void check_matmul_dtypes(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dtype() != b.dtype()) {
    throw Error(ErrorKind::Runtime, str("expected m1 and m2 to have the same dtype, but got: ", dtype_name(a.dtype()),
                                        " != ", dtype_name(b.dtype()), " (in ", op, ")"));
  }
  EMBER_CHECK(a.dtype() != DType::Bool, "\"addmm_impl_cpu_\" not implemented for 'Bool' (in ", op, ")");
}

// c = a @ b for 2-D strided views; c is dense and new or given.
void gemm_into(const Tensor& c, const Tensor& a, const Tensor& b) {
  int64_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
  if (m == 0 || n == 0) return;
  if (k == 0) {
    Tensor cc = c;
    NoGradGuard ng;
    zero_(cc);
    return;
  }
  kernels::active().gemm(a.dtype(), m, n, k, a.raw_data(), a.strides()[0], a.strides()[1], b.raw_data(),
                         b.strides()[0], b.strides()[1], c.raw_data(), c.strides()[0], c.strides()[1], false);
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
  void release_variables() override {
    self.reset();
    mat2.reset();
  }
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
  void release_variables() override {
    self.reset();
    vec.reset();
  }
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
  void release_variables() override {
    self.reset();
    other.reset();
  }
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
  void release_variables() override {
    self.reset();
    mat2.reset();
  }
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
  if (a.shape()[0] == 0) {
    NoGradGuard ng;
    zero_(out);
  }
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

Tensor matmul(const Tensor& a, const Tensor& b) {
  const int64_t da = a.dim(), db = b.dim();
  if (da == 0 || db == 0) {
    throw Error(ErrorKind::Runtime, str("both arguments to matmul need to be at least 1D, but they are ", da, "D and ",
                                        db, "D"));
  }
  if (da == 1 && db == 1) return dot(a, b);
  if (da == 2 && db == 1) return mv(a, b);
  if (da == 1 && db == 2) return squeeze(mm(unsqueeze(a, 0), b), 0);
  if (da == 2 && db == 2) return mm(a, b);
  if (da >= 3 && (db == 1 || db == 2)) {
    // Fold the batch into the rows: (..., n, k) @ (k, m) is one mm.
    Tensor b2 = db == 1 ? unsqueeze(b, 1) : b;
    Shape out_shape(a.shape().begin(), a.shape().end() - 1);
    if (db == 2) out_shape.push_back(b.shape()[1]);
    Tensor folded = reshape(a, {-1, a.shape()[da - 1]});
    Tensor r = mm(folded, b2);
    return view(r, std::vector<int64_t>(out_shape.begin(), out_shape.end()));
  }
  // Batched: broadcast the batch dims, then bmm.
  Tensor a2 = da == 1 ? unsqueeze(a, 0) : a;
  Tensor b2 = db == 1 ? unsqueeze(b, 1) : b;
  Shape ba(a2.shape().begin(), a2.shape().end() - 2), bb(b2.shape().begin(), b2.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  int64_t n = a2.shape()[a2.dim() - 2], k = a2.shape()[a2.dim() - 1];
  int64_t k2 = b2.shape()[b2.dim() - 2], m = b2.shape()[b2.dim() - 1];
  if (k != k2) {
    throw Error(ErrorKind::Runtime, str("Expected size for first two dimensions of batch2 tensor to be: [", 
                                        shape_numel(batch), ", ", k, "] but got: [", shape_numel(batch), ", ", k2,
                                        "]. (in matmul: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
                                        ")"));
  }
  int64_t nb = shape_numel(batch);
  std::vector<int64_t> ea(batch.begin(), batch.end()), eb(batch.begin(), batch.end());
  ea.push_back(n);
  ea.push_back(k);
  eb.push_back(k);
  eb.push_back(m);
  Tensor a3 = reshape(expand(a2, ea), {nb, n, k});
  Tensor b3 = reshape(expand(b2, eb), {nb, k, m});
  Tensor r = bmm(a3, b3);
  std::vector<int64_t> out_shape(batch.begin(), batch.end());
  if (da > 1) out_shape.push_back(n);
  if (db > 1) out_shape.push_back(m);
  return view(r, out_shape);
}

}  // namespace ember
