// Views and shape ops (each shares storage with its input), plus copies and dtype
// conversion. Views share the version counter, so in-place writes through any of
// them are seen by the autograd checks.
#include <algorithm>

#include "ops/op_helpers.h"

namespace ember {

using detail::make_node;
using detail::set_history;

namespace {

std::vector<int64_t> to_vec(const Shape& s) { return std::vector<int64_t>(s.begin(), s.end()); }

// A node whose backward is a fixed function of the gradient only.
template <typename F>
struct LambdaBackward : Node {
  const char* node_name;
  F fn;
  LambdaBackward(const char* n, F f) : node_name(n), fn(std::move(f)) {}
  std::string name() const override { return node_name; }
  variable_list apply(variable_list&& g) override { return {fn(g[0])}; }
};

// Records a view/shape node named `name` whose backward is `fn(grad)`.
template <typename F>
void record(const Tensor& out, const Tensor& in, const char* name, F fn) {
  if (!detail::should_record({&in})) return;
  auto n = detail::new_node<LambdaBackward<F>>(name, std::move(fn));
  n->add_input(in);
  set_history(out, n);
}

// Infers one -1 and checks the element count.
Shape infer_size(const std::vector<int64_t>& shape, int64_t numel, const char* op) {
  Shape out(shape.begin(), shape.end());
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer >= 0) throw Error(ErrorKind::Runtime, str("only one dimension can be inferred (in ", op, ")"));
      infer = static_cast<int64_t>(i);
    } else {
      EMBER_CHECK(out[i] >= 0, "invalid shape dimension ", out[i], " (in ", op, ")");
      known *= out[i];
    }
  }
  auto invalid = [&]() {
    return Error(ErrorKind::Runtime, str("shape '", shape_str(out), "' is invalid for input of size ", numel,
                                         " (in ", op, ")"));
  };
  if (infer >= 0) {
    if (known == 0) {
      if (numel != 0) throw invalid();  // PyTorch: "shape '[0, -1]' is invalid for input of size 6"
      throw Error(ErrorKind::Runtime, str("cannot reshape tensor of ", numel,
                                          " elements into shape ", shape_str(out), " because the unspecified dimension "
                                          "size -1 can be any value and is ambiguous (in ", op, ")"));
    }
    if (numel % known != 0) throw invalid();
    out[infer] = numel / known;
  } else if (known != numel) {
    throw invalid();
  }
  return out;
}

// Strides that let (old_shape, old_strides) be viewed as new_shape, or false.
// Groups old dims into runs that are contiguous with each other; each run must map
// onto whole new dims.
bool view_strides(const Shape& old_shape, const Strides& old_strides, const Shape& new_shape, Strides& out) {
  out.assign(new_shape.size(), 0);
  if (shape_numel(old_shape) == 0) {
    out = contiguous_strides(new_shape);
    return true;
  }
  if (old_shape.empty()) {  // one element: any shape of ones views it
    out.assign(new_shape.size(), 1);
    return true;
  }
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.empty() ? 1 : old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = static_cast<int64_t>(old_shape.size()) - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= old_shape[tensor_d];
    if (tensor_d == 0 || (old_shape[tensor_d - 1] != 1 &&
                          old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (tensor_d > 0) {
        chunk_base_stride = old_strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

}  // namespace

// ---------------------------------------------------------------- copies

Tensor contiguous_copy(const Tensor& t) { return cast_copy(t, t.dtype()); }

Tensor cast_copy(const Tensor& t, DType dtype) {
  Tensor out = empty(t.shape(), dtype);
  detail::copy_into(out, t);
  return out;
}

Tensor clone(const Tensor& a) {
  Tensor out = contiguous_copy(a);
  record(out, a, "CloneBackward0", [](const Tensor& g) { return g; });
  return out;
}

Tensor contiguous(const Tensor& a) { return a.is_contiguous() ? a : clone(a); }

Tensor to_dtype(const Tensor& a, DType dtype) {
  if (a.dtype() == dtype) return a;
  Tensor out = cast_copy(a, dtype);
  if (is_floating(dtype)) {
    DType in = a.dtype();
    record(out, a, "ToCopyBackward0", [in](const Tensor& g) { return to_dtype(g, in); });
  }
  return out;
}

Tensor detach(const Tensor& a) {
  return make_tensor(a.storage(), a.offset(), a.shape(), a.strides(), a.dtype(), a->version_counter());
}

void detach_(const Tensor& a) {
  if (a->is_view()) {
    throw Error(ErrorKind::Runtime,
                "Can't detach views in-place. Use detach() instead. If you are using DistributedDataParallel (DDP) "
                "for training, and gradient_as_bucket_view is set as True, gradients are views of DDP buckets, and "
                "hence detach_() cannot be called on these gradients. To fix this error, please refer to the "
                "Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution.");
  }
  AutogradMeta* m = a->autograd();
  if (!m) return;
  release_node(std::move(m->grad_fn));
  m->grad_fn = nullptr;
  m->output_nr = 0;
  m->requires_grad = false;
}

// ---------------------------------------------------------------- views

Tensor view(const Tensor& a, const std::vector<int64_t>& shape) {
  Shape ns = infer_size(shape, a.numel(), "view");
  Strides st;
  if (!view_strides(a.shape(), a.strides(), ns, st)) {
    throw Error(ErrorKind::Runtime,
                str("view size is not compatible with input tensor's size and stride (at least one dimension spans "
                    "across two contiguous subspaces). Use .reshape(...) instead. (in view: ",
                    shape_str(a.shape()), " with strides ", shape_str(a.strides()), " to ", shape_str(ns), ")"));
  }
  Tensor out = make_view(a, a.offset(), ns, st);
  Shape in_shape = a.shape();
  record(out, a, "ViewBackward0", [in_shape](const Tensor& g) { return reshape(g, to_vec(in_shape)); });
  return out;
}

Tensor reshape(const Tensor& a, const std::vector<int64_t>& shape) {
  Shape ns = infer_size(shape, a.numel(), "reshape");
  Strides st;
  if (a.is_contiguous()) return view(a, to_vec(ns));
  if (view_strides(a.shape(), a.strides(), ns, st)) {  // PyTorch's _reshape_alias
    Tensor out = make_view(a, a.offset(), ns, st);
    Shape in_shape = a.shape();
    record(out, a, "ReshapeAliasBackward0", [in_shape](const Tensor& g) { return reshape(g, to_vec(in_shape)); });
    return out;
  }
  return unsafe_view(clone(a), to_vec(ns));
}

Tensor unsafe_view(const Tensor& a, const std::vector<int64_t>& shape, const char* node_name) {
  Shape ns = infer_size(shape, a.numel(), "_unsafe_view");
  Strides st;
  EMBER_CHECK(view_strides(a.shape(), a.strides(), ns, st), "_unsafe_view: ", shape_str(a.shape()), " with strides ",
              shape_str(a.strides()), " cannot be viewed as ", shape_str(ns));
  // Not a view for autograd: `a` is a temporary nobody else sees, so in-place ops on the
  // result need no view bookkeeping (PyTorch's _unsafe_view).
  Tensor out = make_tensor(a.storage(), a.offset(), ns, st, a.dtype(), a->version_counter());
  Shape in_shape = a.shape();
  record(out, a, node_name, [in_shape](const Tensor& g) { return reshape(g, to_vec(in_shape)); });
  return out;
}

Tensor flatten(const Tensor& a, int64_t start_dim, int64_t end_dim) {
  if (a.dim() == 0) return reshape(a, {1});
  int64_t s = wrap_dim(start_dim, a.dim(), "flatten"), e = wrap_dim(end_dim, a.dim(), "flatten");
  EMBER_CHECK(s <= e, "flatten() has invalid args: start_dim cannot come after end_dim");
  if (s == e) return a;
  std::vector<int64_t> ns(a.shape().begin(), a.shape().begin() + s);
  int64_t p = 1;
  for (int64_t d = s; d <= e; ++d) p *= a.shape()[d];
  ns.push_back(p);
  ns.insert(ns.end(), a.shape().begin() + e + 1, a.shape().end());
  return reshape(a, ns);
}

Tensor transpose(const Tensor& a, int64_t d0, int64_t d1) {
  int64_t x = wrap_dim(d0, a.dim(), "transpose"), y = wrap_dim(d1, a.dim(), "transpose");
  Shape s = a.shape();
  Strides st = a.strides();
  if (a.dim() > 0) {
    std::swap(s[x], s[y]);
    std::swap(st[x], st[y]);
  }
  Tensor out = make_view(a, a.offset(), s, st);
  record(out, a, "TransposeBackward0", [x, y](const Tensor& g) { return transpose(g, x, y); });
  return out;
}

Tensor t(const Tensor& a) {
  if (a.dim() > 2) {
    throw Error(ErrorKind::Runtime, str("t() expects a tensor with <= 2 dimensions, but self is ", a.dim(), "D"));
  }
  Shape s = a.shape();
  Strides st = a.strides();
  std::reverse(s.begin(), s.end());
  std::reverse(st.begin(), st.end());
  Tensor out = make_view(a, a.offset(), s, st);
  record(out, a, "TBackward0", [](const Tensor& g) { return t(g); });
  return out;
}

Tensor permute(const Tensor& a, const std::vector<int64_t>& dims) {
  if (static_cast<int64_t>(dims.size()) != a.dim()) {
    throw Error(ErrorKind::Runtime, str("permute(sparse_coo): number of dimensions in the tensor input does not match "
                                        "the length of the desired ordering of dimensions i.e. input.dim() = ",
                                        a.dim(), " is not equal to len(dims) = ", dims.size()));
  }
  Shape s(dims.size());
  Strides st(dims.size());
  std::vector<int64_t> inverse(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], a.dim(), "permute");
    EMBER_CHECK(!seen[d], "permute(): duplicate dims are not allowed.");
    seen[d] = true;
    s[i] = a.shape()[d];
    st[i] = a.strides()[d];
    inverse[d] = static_cast<int64_t>(i);
  }
  Tensor out = make_view(a, a.offset(), s, st);
  record(out, a, "PermuteBackward0", [inverse](const Tensor& g) { return permute(g, inverse); });
  return out;
}

Tensor unsqueeze(const Tensor& a, int64_t dim) {
  int64_t d = wrap_dim(dim, a.dim() + 1, "unsqueeze");
  Shape s = a.shape();
  Strides st = a.strides();
  int64_t stride = d < a.dim() ? a.shape()[d] * a.strides()[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  Tensor out = make_view(a, a.offset(), s, st);
  record(out, a, "UnsqueezeBackward0", [d](const Tensor& g) { return squeeze(g, d); });
  return out;
}

namespace {
Tensor squeeze_dims(const Tensor& a, const std::vector<bool>& drop, const char* node_name) {
  Shape s;
  Strides st;
  for (int64_t d = 0; d < a.dim(); ++d) {
    if (drop[d] && a.shape()[d] == 1) continue;
    s.push_back(a.shape()[d]);
    st.push_back(a.strides()[d]);
  }
  Tensor out = make_view(a, a.offset(), s, st);
  Shape in_shape = a.shape();
  record(out, a, node_name, [in_shape](const Tensor& g) { return reshape(g, to_vec(in_shape)); });
  return out;
}
}  // namespace

Tensor squeeze(const Tensor& a) { return squeeze_dims(a, std::vector<bool>(a.dim(), true), "SqueezeBackward0"); }

Tensor squeeze(const Tensor& a, int64_t dim) {
  int64_t d = wrap_dim(dim, a.dim(), "squeeze");
  std::vector<bool> drop(a.dim(), false);
  if (a.dim() > 0) drop[d] = true;
  return squeeze_dims(a, drop, "SqueezeBackward1");
}

Tensor squeeze(const Tensor& a, const std::vector<int64_t>& dims) {
  std::vector<bool> drop(a.dim(), false);
  for (int64_t dim : dims) {
    int64_t d = wrap_dim(dim, a.dim(), "squeeze");
    if (a.dim() > 0) drop[d] = true;
  }
  return squeeze_dims(a, drop, "SqueezeBackward2");
}

Tensor detail::expand_view(const Tensor& a, const std::vector<int64_t>& shape, const std::string& where) {
  if (static_cast<int64_t>(shape.size()) < a.dim()) {
    // PyTorch's text names expand itself; other callers say where it happened.
    throw Error(ErrorKind::Runtime, str("expand(", tensor_desc(a), ", size=", shape_str(Shape(shape.begin(), shape.end())),
                                        "): the number of sizes provided (", shape.size(),
                                        ") must be greater or equal to the number of dimensions in the tensor (",
                                        a.dim(), ")", where == "expand" ? "" : " (in " + where + ")"));
  }
  size_t n = shape.size(), off = n - static_cast<size_t>(a.dim());
  Shape s(n);
  Strides st(n, 0);
  for (size_t i = 0; i < n; ++i) {
    int64_t target = shape[i];
    if (i < off) {
      EMBER_CHECK(target >= 0, "The expanded size of the tensor (", target,
                  ") isn't allowed in a leading, non-existing dimension ", i, " (in ", where, ")");
      s[i] = target;
      continue;
    }
    int64_t cur = a.shape()[i - off];
    if (target == -1) target = cur;
    if (cur == target) {
      s[i] = cur;
      st[i] = a.strides()[i - off];
    } else if (cur == 1) {
      EMBER_CHECK(target >= 0, "invalid expanded size ", target, " (in ", where, ")");
      s[i] = target;
    } else {
      throw Error(ErrorKind::Runtime, str("The expanded size of the tensor (", target,
                                          ") must match the existing size (", cur, ") at non-singleton dimension ", i,
                                          ".  Target sizes: ", shape_str(Shape(shape.begin(), shape.end())),
                                          ".  Tensor sizes: ", shape_str(a.shape()), " (in ", where, ")"));
    }
  }
  return make_view(a, a.offset(), s, st);
}

Tensor expand(const Tensor& a, const std::vector<int64_t>& shape) {
  Tensor out = detail::expand_view(a, shape, "expand");
  Shape in_shape = a.shape();
  record(out, a, "ExpandBackward0", [in_shape](const Tensor& g) { return sum_to(g, in_shape); });
  return out;
}

Tensor select(const Tensor& a, int64_t dim, int64_t index) {
  if (a.dim() == 0) throw Error(ErrorKind::Index, "select() cannot be applied to a 0-dim tensor.");
  int64_t d = wrap_dim(dim, a.dim(), "select");
  int64_t size = a.shape()[d];
  if (index < -size || index >= size) {
    throw Error(ErrorKind::Index, str("index ", index, " is out of bounds for dimension ", d, " with size ", size));
  }
  int64_t i = index < 0 ? index + size : index;
  Shape s = a.shape();
  Strides st = a.strides();
  int64_t offset = a.offset() + i * st[d];
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  Tensor out = make_view(a, offset, s, st);
  Shape in_shape = a.shape();
  record(out, a, "SelectBackward0", [in_shape, d, i](const Tensor& g) { return select_backward(g, in_shape, d, i); });
  return out;
}

Tensor slice(const Tensor& a, int64_t dim, std::optional<int64_t> start, std::optional<int64_t> end, int64_t step) {
  if (a.dim() == 0) throw Error(ErrorKind::Index, "slice() cannot be applied to a 0-dim tensor.");
  EMBER_CHECK_VALUE(step > 0, "step must be greater than zero (in slice)");
  int64_t d = wrap_dim(dim, a.dim(), "slice");
  int64_t size = a.shape()[d];
  int64_t b = start.value_or(0), e = end.value_or(size);
  if (b < 0) b += size;
  if (e < 0) e += size;
  b = std::clamp<int64_t>(b, 0, size);
  e = std::clamp<int64_t>(e, b, size);
  int64_t len = (e - b + step - 1) / step;
  Shape s = a.shape();
  Strides st = a.strides();
  int64_t offset = a.offset() + b * st[d];
  s[d] = len;
  st[d] *= step;
  Tensor out = make_view(a, offset, s, st);
  Shape in_shape = a.shape();
  record(out, a, "SliceBackward0",
         [in_shape, d, b, e, step](const Tensor& g) { return slice_backward(g, in_shape, d, b, e, step); });
  return out;
}

Tensor alias(const Tensor& a) {
  Tensor out = make_view(a, a.offset(), a.shape(), a.strides());
  record(out, a, "AliasBackward0", [](const Tensor& g) { return g; });
  return out;
}

// ---------------------------------------------------------------- view backward helpers

Tensor select_backward(const Tensor& grad, const Shape& input_shape, int64_t dim, int64_t index) {
  Tensor out = zeros(input_shape, grad.dtype());
  {
    NoGradGuard ng;
    Tensor dst = select(out, dim, index);
    detail::copy_into(dst, grad);
  }
  record(out, grad, "SelectBackwardBackward0", [dim, index](const Tensor& gg) { return select(gg, dim, index); });
  return out;
}

Tensor slice_backward(const Tensor& grad, const Shape& input_shape, int64_t dim, int64_t start, int64_t end,
                      int64_t step) {
  Tensor out = zeros(input_shape, grad.dtype());
  {
    NoGradGuard ng;
    Tensor dst = slice(out, dim, start, end, step);
    detail::copy_into(dst, grad);
  }
  record(out, grad, "SliceBackwardBackward0",
         [dim, start, end, step](const Tensor& gg) { return slice(gg, dim, start, end, step); });
  return out;
}

}  // namespace ember
