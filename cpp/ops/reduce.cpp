// Reductions: sum, mean, max/min (whole tensor and along a dim), argmax/argmin, sum_to.
#include <algorithm>
#include <limits>

#include "ops/op_helpers.h"

namespace ember {

using detail::make_node;
using detail::set_history;

namespace {

// Sorted, de-duplicated, wrapped dims; empty input means every dim.
std::vector<int64_t> reduce_dims(const Tensor& a, const std::vector<int64_t>& dims, const char* op) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < a.dim(); ++d) out.push_back(d);
    return out;
  }
  std::vector<bool> seen(std::max<int64_t>(a.dim(), 1), false);
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, a.dim(), op);
    if (seen[w]) throw Error(ErrorKind::Runtime, str("dim ", w, " appears multiple times in the list of dims (in ", op, ")"));
    seen[w] = true;
    if (a.dim() > 0) out.push_back(w);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Shape reduced_shape(const Tensor& a, const std::vector<int64_t>& rdims, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < a.dim(); ++d) {
    bool r = std::binary_search(rdims.begin(), rdims.end(), d);
    if (!r) out.push_back(a.shape()[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// Runs the reduce kernel of `a` (already in dtype dt) over rdims into a new tensor.
Tensor reduce_kernel(kernels::ReduceOp op, const Tensor& a, const std::vector<int64_t>& rdims, bool keepdim, DType dt) {
  Shape out_shape = reduced_shape(a, rdims, keepdim);
  Tensor out = empty(out_shape, dt);
  if (out.numel() == 0) return out;
  Shape outer_shape, inner_shape;
  Strides out_strides, in_outer, in_inner;
  Strides ostr = contiguous_strides(reduced_shape(a, rdims, false));
  size_t k = 0;
  for (int64_t d = 0; d < a.dim(); ++d) {
    if (std::binary_search(rdims.begin(), rdims.end(), d)) {
      inner_shape.push_back(a.shape()[d]);
      in_inner.push_back(a.strides()[d]);
    } else {
      outer_shape.push_back(a.shape()[d]);
      in_outer.push_back(a.strides()[d]);
      out_strides.push_back(ostr[k++]);
    }
  }
  kernels::Loop outer, inner;
  outer.ndim = static_cast<int>(outer_shape.size());
  outer.shape = outer_shape.data();
  outer.ptr[0] = out.raw_data();
  outer.strides[0] = out_strides.data();
  outer.ptr[1] = a.raw_data();
  outer.strides[1] = in_outer.data();
  inner.ndim = static_cast<int>(inner_shape.size());
  inner.shape = inner_shape.data();
  inner.strides[1] = in_inner.data();
  kernels::active().reduce(op, dt, outer, inner);
  return out;
}

DType sum_dtype(const Tensor& a, std::optional<DType> dtype) {
  if (dtype) return *dtype;
  return is_floating(a.dtype()) ? a.dtype() : DType::Int64;
}

// Gradient of a reduction over rdims: unsqueeze the removed dims, expand to the input.
Tensor expand_reduced_grad(const Tensor& g, const Shape& input_shape, const std::vector<int64_t>& rdims, bool keepdim) {
  Tensor r = g;
  if (!keepdim)
    for (int64_t d : rdims) r = unsqueeze(r, d);
  return expand(r, std::vector<int64_t>(input_shape.begin(), input_shape.end()));
}

struct SumBackward : Node {
  Shape input_shape;
  std::vector<int64_t> rdims;
  bool keepdim = false;
  bool full = true;
  std::string name() const override { return full ? "SumBackward0" : "SumBackward1"; }
  variable_list apply(variable_list&& g) override { return {expand_reduced_grad(g[0], input_shape, rdims, keepdim)}; }
};

struct MeanBackward : Node {
  Shape input_shape;
  std::vector<int64_t> rdims;
  bool keepdim = false;
  bool full = true;
  int64_t count = 1;
  std::string name() const override { return full ? "MeanBackward0" : "MeanBackward1"; }
  variable_list apply(variable_list&& g) override {
    Tensor e = expand_reduced_grad(g[0], input_shape, rdims, keepdim);
    return {div(e, wrapped_scalar(Scalar(static_cast<double>(count))))};
  }
};

Tensor sum_impl(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim, std::optional<DType> dtype, bool full) {
  std::vector<int64_t> rdims = reduce_dims(a, dims, "sum");
  DType dt = sum_dtype(a, dtype);
  if (!is_floating(dt) && detail::should_record({&a})) {
    throw Error(ErrorKind::Runtime, str("Autograd not support dtype: ", dtype_name(dt), " (in sum of ", tensor_desc(a),
                                        " that requires grad)"));
  }
  Tensor ac = a.dtype() == dt ? a : cast_copy(a, dt);
  Tensor out = reduce_kernel(kernels::ReduceOp::Sum, ac, rdims, keepdim, dt);
  if (auto n = make_node<SumBackward>({&a})) {
    n->input_shape = a.shape();
    n->rdims = rdims;
    n->keepdim = keepdim;
    n->full = full;
    set_history(out, n);
  }
  return out;
}

Tensor mean_impl(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim, std::optional<DType> dtype, bool full) {
  DType dt = dtype ? *dtype : a.dtype();
  if (!is_floating(dt)) {
    throw Error(ErrorKind::Runtime, str("mean(): could not infer output dtype. Input dtype must be either a floating "
                                        "point or complex dtype. Got: ", dtype_name(dt), " (in mean of ",
                                        tensor_desc(a), ")"));
  }
  std::vector<int64_t> rdims = reduce_dims(a, dims, "mean");
  int64_t count = 1;
  for (int64_t d : rdims) count *= a.shape()[d];
  Tensor ac = a.dtype() == dt ? a : cast_copy(a, dt);
  Tensor out = reduce_kernel(kernels::ReduceOp::Sum, ac, rdims, keepdim, dt);
  {
    NoGradGuard ng;
    // count == 0 gives nan, as in PyTorch.
    Tensor c = wrapped_scalar(Scalar(static_cast<double>(count)));
    out = div(out, c);
  }
  if (auto n = make_node<MeanBackward>({&a})) {
    n->input_shape = a.shape();
    n->rdims = rdims;
    n->keepdim = keepdim;
    n->full = full;
    n->count = count;
    set_history(out, n);
  }
  return out;
}

// max()/min() over everything: the gradient is shared evenly by all tied maxima.
template <bool IsMax>
struct ExtremeAllBackward : Node {
  SavedVariable self, result;
  std::string name() const override { return IsMax ? "MaxBackward1" : "MinBackward1"; }
  variable_list apply(variable_list&& g) override {
    Tensor s = self.unpack(this), r = result.unpack(this);
    // a nan result is shared by the nans (PyTorch's evenly_distribute_backward); x != x is isnan
    Tensor mask = logical_or(eq(s, r), logical_and(ne(s, s), ne(r, r)));
    Tensor count = sum(mask);
    Tensor share = div(g[0], count);
    return {where(mask, share, zeros(s.shape(), g[0].dtype()))};
  }
  SavedSlots saved_variables() override { return {{"self", &self}, {"result", &result}}; }
};

template <bool IsMax>
Tensor extreme_all(const Tensor& a) {
  const char* op = IsMax ? "max" : "min";
  if (a.numel() == 0) {
    throw Error(ErrorKind::Runtime, str(op, "(): Expected reduction dim to be specified for input.numel() == 0. "
                                            "Specify the reduction dim with the 'dim' argument."));
  }
  std::vector<int64_t> rdims = reduce_dims(a, {}, op);
  Tensor out = reduce_kernel(IsMax ? kernels::ReduceOp::Max : kernels::ReduceOp::Min, a, rdims, false, a.dtype());
  if (auto n = make_node<ExtremeAllBackward<IsMax>>({&a})) {
    n->self = SavedVariable(a, false);
    n->result = SavedVariable(out, true);
    set_history(out, n);
  }
  return out;
}

// max(dim)/min(dim): the gradient goes to the selected index.
template <bool IsMax>
struct ExtremeDimBackward : Node {
  SavedVariable indices;
  Shape input_shape;
  int64_t dim = 0;
  bool keepdim = false;
  std::string name() const override { return IsMax ? "MaxBackward0" : "MinBackward0"; }
  variable_list apply(variable_list&& g) override {
    Tensor idx = indices.unpack(this), gr = g[0];
    if (input_shape.empty()) return {gr};  // 0-d input: its only element was selected
    if (!keepdim) {
      idx = unsqueeze(idx, dim);
      gr = unsqueeze(gr, dim);
    }
    // one_hot[..., j, ...] = (j == idx): compare an arange along `dim` with the indices.
    Shape ar_shape(input_shape.size(), 1);
    ar_shape[dim] = input_shape[dim];
    Tensor ar = view(arange(Scalar(int64_t{0}), Scalar(input_shape[dim]), Scalar(int64_t{1}), DType::Int64),
                     std::vector<int64_t>(ar_shape.begin(), ar_shape.end()));
    Tensor one_hot = eq(ar, idx);
    Tensor ge = expand(gr, std::vector<int64_t>(input_shape.begin(), input_shape.end()));
    return {where(one_hot, ge, zeros(input_shape, g[0].dtype()))};
  }
  SavedSlots saved_variables() override { return {{"indices", &indices}}; }
};

template <bool IsMax>
std::pair<Tensor, Tensor> extreme_dim(const Tensor& a, int64_t dim, bool keepdim) {
  const char* op = IsMax ? "max" : "min";
  int64_t d = wrap_dim(dim, a.dim(), op);
  int64_t n = a.dim() == 0 ? 1 : a.shape()[d];
  if (n == 0) {
    throw Error(ErrorKind::Index, str(op, "(): Expected reduction dim ", d, " to have non-zero size. (input ",
                                      tensor_desc(a), ")"));
  }
  Shape out_shape = a.dim() == 0 ? Shape{} : reduced_shape(a, {d}, keepdim);
  Tensor values = empty(out_shape, a.dtype());
  Tensor indices = empty(out_shape, DType::Int64);
  if (values.numel() > 0) {
    Shape outer_shape;
    Strides in_outer;
    for (int64_t k = 0; k < a.dim(); ++k)
      if (k != d) {
        outer_shape.push_back(a.shape()[k]);
        in_outer.push_back(a.strides()[k]);
      }
    Strides ostr = contiguous_strides(outer_shape);
    kernels::Loop outer;
    outer.ndim = static_cast<int>(outer_shape.size());
    outer.shape = outer_shape.data();
    outer.ptr[0] = values.raw_data();
    outer.strides[0] = ostr.data();
    outer.ptr[1] = indices.raw_data();
    outer.strides[1] = ostr.data();
    outer.ptr[2] = a.raw_data();
    outer.strides[2] = in_outer.data();
    kernels::active().arg_reduce(IsMax ? kernels::ReduceOp::Max : kernels::ReduceOp::Min, a.dtype(), outer, n,
                                 a.dim() == 0 ? 0 : a.strides()[d]);
  }
  if (auto node = make_node<ExtremeDimBackward<IsMax>>({&a})) {
    node->indices = SavedVariable(indices, false);
    node->input_shape = a.shape();
    node->dim = a.dim() == 0 ? 0 : d;
    node->keepdim = keepdim || a.dim() == 0;
    if (a.dim() == 0) node->input_shape = Shape{};
    set_history(values, node);
  }
  return {values, indices};
}

}  // namespace

Tensor sum(const Tensor& a, std::optional<DType> dtype) { return sum_impl(a, {}, false, dtype, true); }
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim, std::optional<DType> dtype) {
  return sum_impl(a, dims, keepdim, dtype, false);
}
Tensor mean(const Tensor& a, std::optional<DType> dtype) { return mean_impl(a, {}, false, dtype, true); }
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim, std::optional<DType> dtype) {
  return mean_impl(a, dims, keepdim, dtype, false);
}
Tensor max(const Tensor& a) { return extreme_all<true>(a); }
Tensor min(const Tensor& a) { return extreme_all<false>(a); }
std::pair<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim) { return extreme_dim<true>(a, dim, keepdim); }
std::pair<Tensor, Tensor> min(const Tensor& a, int64_t dim, bool keepdim) { return extreme_dim<false>(a, dim, keepdim); }

// PyTorch's argmax/argmin checks, so the errors name argmax/argmin rather than max/min.
static void check_arg_extreme(const Tensor& a, std::optional<int64_t> dim, const char* op) {
  EMBER_CHECK(a.dtype() != DType::Bool, op, "(): does not support bool input");
  if (!dim) {
    if (a.numel() == 0)
      throw Error(ErrorKind::Index, str(op, "(): Expected reduction dim to be specified for input.numel() == 0."));
    return;
  }
  int64_t d = wrap_dim(*dim, a.dim(), op);
  if (a.dim() > 0 && a.shape()[d] == 0)
    throw Error(ErrorKind::Index, str(op, "(): Expected reduction dim ", d, " to have non-zero size. (input ",
                                      tensor_desc(a), ")"));
}

Tensor argmax(const Tensor& a, std::optional<int64_t> dim, bool keepdim) {
  check_arg_extreme(a, dim, "argmax");
  NoGradGuard ng;
  if (!dim) return keepdim ? reshape(max(reshape(a, {-1}), 0, false).second, std::vector<int64_t>(a.dim(), 1))
                           : max(reshape(a, {-1}), 0, false).second;
  return max(a, *dim, keepdim).second;
}

Tensor argmin(const Tensor& a, std::optional<int64_t> dim, bool keepdim) {
  check_arg_extreme(a, dim, "argmin");
  NoGradGuard ng;
  if (!dim) return keepdim ? reshape(min(reshape(a, {-1}), 0, false).second, std::vector<int64_t>(a.dim(), 1))
                           : min(reshape(a, {-1}), 0, false).second;
  return min(a, *dim, keepdim).second;
}

Tensor sum_to(const Tensor& a, const Shape& shape) {
  if (a.shape() == shape) return a;
  int64_t lead = a.dim() - static_cast<int64_t>(shape.size());
  EMBER_CHECK(lead >= 0, "sum_to: cannot reduce a tensor of shape ", shape_str(a.shape()), " to ", shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < lead; ++d) dims.push_back(d);
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] == 1 && a.shape()[lead + i] != 1) dims.push_back(lead + static_cast<int64_t>(i));
  Tensor r = dims.empty() ? a : sum(a, dims, true);
  return r.shape() == shape ? r : view(r, std::vector<int64_t>(shape.begin(), shape.end()));
}

}  // namespace ember
