// Gradient checks: every differentiable op's backward against central finite
// differences in float64, driven by one table of cases.
//
// For a case with output `out = f(inputs)` and fixed random weights `w` of out's shape,
// the scalar L = sum(out * w) is differentiated by the engine (run_backward) and by
// (L(x + eps) - L(x - eps)) / 2eps for every element of every input (computed under
// NoGradGuard). Each case runs with contiguous inputs, with non-contiguous inputs
// (transposed and strided views of larger buffers), and with only the first input
// requiring grad (so the needs-input-grad masks are exercised). A second check
// differentiates the gradient itself (create_graph) against finite differences of the
// first-order gradient, since every backward is written in differentiable ops.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "test_util.h"

namespace ember {
namespace {

using test::values;

enum class Domain {
  Any,           // uniform in (-2, 2)
  Positive,      // uniform in (0.5, 2)
  AwayFromZero,  // +-(0.5, 2): keeps away from kinks and poles at 0
};

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradCase {
  std::string name;
  std::vector<Shape> shapes;
  OpFn fn;
  Domain domain = Domain::Any;
  bool strided_ok = true;  // false for ops that require a viewable input (view)
};

Tensor ws(double v) { return wrapped_scalar(Scalar(v)); }

// A fixed boolean mask, for where().
Tensor mask(const Shape& shape) {
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = (i * 7 + 3) % 3 != 0;
  return test::tensor(v, shape, DType::Bool);
}

const std::vector<GradCase>& grad_cases() {
  using V = const std::vector<Tensor>&;
  static const std::vector<GradCase> cases = {
      // ---- add / sub / rsub
      {"add", {{3, 4}, {3, 4}}, [](V x) { return add(x[0], x[1]); }},
      {"add_bcast", {{3, 1, 4}, {2, 4}}, [](V x) { return add(x[0], x[1]); }},
      {"add_bcast_0d", {{2, 3}, {}}, [](V x) { return add(x[0], x[1]); }},
      {"add_alpha", {{2, 3}, {3}}, [](V x) { return add(x[0], x[1], Scalar(2.5)); }},
      {"add_wrapped", {{2, 3}}, [](V x) { return add(x[0], ws(1.5)); }},
      {"sub", {{3, 4}, {3, 4}}, [](V x) { return sub(x[0], x[1]); }},
      {"sub_bcast", {{4, 1}, {1, 5}}, [](V x) { return sub(x[0], x[1]); }},
      {"sub_alpha", {{3}, {2, 3}}, [](V x) { return sub(x[0], x[1], Scalar(-0.5)); }},
      {"rsub", {{2, 3}}, [](V x) { return rsub(x[0], Scalar(2.0)); }},
      // ---- mul / div
      {"mul", {{3, 4}, {3, 4}}, [](V x) { return mul(x[0], x[1]); }},
      {"mul_bcast", {{4}, {3, 4}}, [](V x) { return mul(x[0], x[1]); }},
      {"mul_bcast_both", {{3, 1}, {1, 4}}, [](V x) { return mul(x[0], x[1]); }},
      {"mul_self", {{2, 3}}, [](V x) { return mul(x[0], x[0]); }},
      {"mul_wrapped", {{2, 3}}, [](V x) { return mul(ws(-3.0), x[0]); }},
      {"div", {{3, 4}, {3, 4}}, [](V x) { return div(x[0], x[1]); }, Domain::AwayFromZero},
      {"div_bcast", {{2, 3}, {2, 1}}, [](V x) { return div(x[0], x[1]); }, Domain::AwayFromZero},
      {"div_bcast_num", {{3}, {2, 3}}, [](V x) { return div(x[0], x[1]); }, Domain::AwayFromZero},
      {"div_wrapped", {{2, 3}}, [](V x) { return div(x[0], ws(3.0)); }},
      // ---- pow
      {"pow_2", {{2, 3}}, [](V x) { return pow(x[0], Scalar(2.0)); }},
      {"pow_int3", {{2, 3}}, [](V x) { return pow(x[0], Scalar(3)); }},
      {"pow_half", {{2, 3}}, [](V x) { return pow(x[0], Scalar(0.5)); }, Domain::Positive},
      {"pow_neg", {{2, 3}}, [](V x) { return pow(x[0], Scalar(-1.5)); }, Domain::Positive},
      {"pow_zero", {{2, 3}}, [](V x) { return pow(x[0], Scalar(0.0)); }},
      {"pow_tensor", {{3, 4}, {3, 4}}, [](V x) { return pow(x[0], x[1]); }, Domain::Positive},
      {"pow_tensor_bcast", {{3, 4}, {4}}, [](V x) { return pow(x[0], x[1]); }, Domain::Positive},
      {"pow_scalar_base", {{2, 3}}, [](V x) { return pow(Scalar(2.5), x[0]); }},
      // ---- maximum / minimum
      {"maximum", {{3, 4}, {3, 4}}, [](V x) { return maximum(x[0], x[1]); }},
      {"maximum_bcast", {{3, 1}, {1, 4}}, [](V x) { return maximum(x[0], x[1]); }},
      {"minimum", {{3, 4}, {3, 4}}, [](V x) { return minimum(x[0], x[1]); }},
      {"minimum_bcast", {{4}, {2, 4}}, [](V x) { return minimum(x[0], x[1]); }},
      // ---- unary math
      {"neg", {{2, 3}}, [](V x) { return neg(x[0]); }},
      {"exp", {{2, 3}}, [](V x) { return exp(x[0]); }},
      {"log", {{2, 3}}, [](V x) { return log(x[0]); }, Domain::Positive},
      {"sqrt", {{2, 3}}, [](V x) { return sqrt(x[0]); }, Domain::Positive},
      {"tanh", {{2, 3}}, [](V x) { return tanh(x[0]); }},
      {"sigmoid", {{2, 3}}, [](V x) { return sigmoid(x[0]); }},
      {"relu", {{2, 3}}, [](V x) { return relu(x[0]); }, Domain::AwayFromZero},
      {"abs", {{2, 3}}, [](V x) { return abs(x[0]); }, Domain::AwayFromZero},
      {"sin", {{2, 3}}, [](V x) { return sin(x[0]); }},
      {"cos", {{2, 3}}, [](V x) { return cos(x[0]); }},
      {"sign", {{2, 3}}, [](V x) { return sign(x[0]); }, Domain::AwayFromZero},
      {"reciprocal", {{2, 3}}, [](V x) { return reciprocal(x[0]); }, Domain::AwayFromZero},
      // ---- clamp / where
      {"clamp_both", {{3, 4}}, [](V x) { return clamp(x[0], Scalar(-0.5), Scalar(0.7)); }},
      {"clamp_min", {{3, 4}}, [](V x) { return clamp(x[0], Scalar(-0.3), std::nullopt); }},
      {"clamp_max", {{3, 4}}, [](V x) { return clamp(x[0], std::nullopt, Scalar(0.2)); }},
      {"clamp_tensor", {{3, 4}, {3, 4}, {3, 4}}, [](V x) { return clamp(x[0], x[1], x[2]); }},
      {"clamp_tensor_bcast", {{3, 4}, {4}, {3, 1}}, [](V x) { return clamp(x[0], x[1], x[2]); }},
      {"clamp_tensor_min", {{3, 4}, {4}}, [](V x) { return clamp(x[0], x[1], Tensor()); }},
      {"clamp_tensor_max", {{3, 4}, {3, 4}}, [](V x) { return clamp(x[0], Tensor(), x[1]); }},
      {"where", {{3, 4}, {3, 4}}, [](V x) { return where(mask({3, 4}), x[0], x[1]); }},
      {"where_bcast", {{3, 4}, {4}}, [](V x) { return where(mask({3, 1}), x[0], x[1]); }},
      {"where_scalar", {{3, 4}}, [](V x) { return where(mask({4}), ws(0.5), x[0]); }},
      // ---- copies
      {"clone", {{2, 3}}, [](V x) { return clone(x[0]); }},
      {"contiguous", {{2, 3}}, [](V x) { return contiguous(x[0]); }},
      // ---- reductions
      {"sum", {{3, 4}}, [](V x) { return sum(x[0]); }},
      {"sum_0d", {{}}, [](V x) { return sum(x[0]); }},
      {"sum_dim", {{3, 4}}, [](V x) { return sum(x[0], {0}, false); }},
      {"sum_dims_keepdim", {{2, 3, 4}}, [](V x) { return sum(x[0], {0, 2}, true); }},
      {"sum_neg_dim", {{2, 3, 4}}, [](V x) { return sum(x[0], {-1}, false); }},
      {"mean", {{3, 4}}, [](V x) { return mean(x[0]); }},
      {"mean_dim", {{2, 3, 4}}, [](V x) { return mean(x[0], {1}, false); }},
      {"mean_dims_keepdim", {{2, 3, 4}}, [](V x) { return mean(x[0], {-1, 0}, true); }},
      {"max", {{3, 4}}, [](V x) { return max(x[0]); }},
      {"min", {{3, 4}}, [](V x) { return min(x[0]); }},
      {"max_dim", {{3, 4}}, [](V x) { return max(x[0], 1, false).first; }},
      {"max_dim_keepdim", {{3, 4}}, [](V x) { return max(x[0], 0, true).first; }},
      {"min_dim", {{2, 3, 4}}, [](V x) { return min(x[0], -2, false).first; }},
      {"max_dim_0d", {{}}, [](V x) { return max(x[0], 0, false).first; }},
      {"min_dim_0d_keepdim", {{}}, [](V x) { return min(x[0], -1, true).first; }},
      {"sum_to", {{2, 3, 4}}, [](V x) { return sum_to(x[0], {3, 1}); }},
      // ---- linear algebra
      {"mm", {{3, 4}, {4, 5}}, [](V x) { return mm(x[0], x[1]); }},
      {"mm_self", {{3, 3}}, [](V x) { return mm(x[0], x[0]); }},
      {"addmm", {{5}, {3, 4}, {4, 5}}, [](V x) { return addmm(x[0], x[1], x[2]); }},
      {"addmm_scaled", {{3, 1}, {3, 4}, {4, 2}}, [](V x) { return addmm(x[0], x[1], x[2], Scalar(0.5), Scalar(-2.0)); }},
      {"addmm_self_as_factor", {{3, 3}}, [](V x) { return addmm(x[0], x[0], x[0], Scalar(2.0)); }},
      {"mv", {{3, 4}, {4}}, [](V x) { return mv(x[0], x[1]); }},
      {"dot", {{5}, {5}}, [](V x) { return dot(x[0], x[1]); }},
      {"bmm", {{2, 3, 4}, {2, 4, 5}}, [](V x) { return bmm(x[0], x[1]); }},
      {"matmul_1_1", {{4}, {4}}, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul_2_1", {{3, 4}, {4}}, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul_1_2", {{4}, {4, 3}}, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul_2_2", {{2, 4}, {4, 3}}, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul_3_2", {{2, 3, 4}, {4, 5}}, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul_3_1", {{2, 3, 4}, {4}}, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul_1_3", {{4}, {2, 4, 3}}, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul_3_3", {{2, 3, 4}, {2, 4, 2}}, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul_bcast", {{2, 1, 3, 4}, {3, 4, 2}}, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul_2_3", {{3, 4}, {2, 4, 5}}, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul_4_1", {{2, 2, 3, 4}, {4}}, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul_1_4", {{3}, {2, 1, 3, 2}}, [](V x) { return matmul(x[0], x[1]); }},
      // ---- views and shape ops
      {"view", {{2, 3, 4}}, [](V x) { return view(x[0], {4, -1}); }, Domain::Any, false},
      {"reshape", {{2, 3, 4}}, [](V x) { return reshape(x[0], {6, 4}); }},
      {"reshape_flat", {{3, 4}}, [](V x) { return reshape(x[0], {-1}); }},
      {"flatten", {{2, 3, 4}}, [](V x) { return flatten(x[0], 0, 1); }},
      {"t", {{3, 4}}, [](V x) { return t(x[0]); }},
      {"transpose", {{2, 3, 4}}, [](V x) { return transpose(x[0], 0, 2); }},
      {"permute", {{2, 3, 4}}, [](V x) { return permute(x[0], {1, 2, 0}); }},
      {"unsqueeze", {{3, 4}}, [](V x) { return unsqueeze(x[0], 1); }},
      {"squeeze", {{3, 1, 4}}, [](V x) { return squeeze(x[0]); }},
      {"squeeze_dim", {{3, 1, 4, 1}}, [](V x) { return squeeze(x[0], -1); }},
      {"squeeze_dims", {{1, 3, 1}}, [](V x) { return squeeze(x[0], std::vector<int64_t>{0, 2}); }},
      {"expand", {{3, 1}}, [](V x) { return expand(x[0], {2, 3, 4}); }},
      {"expand_new_dims", {{4}}, [](V x) { return expand(x[0], {3, -1}); }},
      {"select", {{3, 4}}, [](V x) { return select(x[0], 1, 2); }},
      {"select_neg", {{2, 3, 4}}, [](V x) { return select(x[0], -3, -1); }},
      {"slice", {{5, 4}}, [](V x) { return slice(x[0], 0, 1, std::nullopt, 2); }},
      {"slice_step3", {{3, 7}}, [](V x) { return slice(x[0], 1, -6, 7, 3); }},
      {"alias", {{2, 3}}, [](V x) { return alias(x[0]); }},
      {"unsafe_view", {{2, 3, 2}}, [](V x) { return unsafe_view(clone(x[0]), {3, -1}); }},
      {"view_chain", {{4, 6}}, [](V x) { return select(transpose(slice(x[0], 1, 1, 5, 2), 0, 1), 0, 1); }},
      {"select_backward", {{3}}, [](V x) { return select_backward(x[0], {3, 4}, 1, 2); }},
      {"slice_backward", {{2, 4}}, [](V x) { return slice_backward(x[0], {5, 4}, 0, 1, 5, 2); }},
      // ---- in-place ops recorded in the graph (on a non-leaf copy)
      {"add_", {{3, 4}, {4}},
       [](V x) {
         Tensor y = clone(x[0]);
         add_(y, x[1], Scalar(2.0));
         return y;
       }},
      {"sub_", {{3, 4}, {3, 4}},
       [](V x) {
         Tensor y = clone(x[0]);
         sub_(y, x[1]);
         return y;
       }},
      {"mul_twice", {{3, 4}, {3, 1}},
       [](V x) {
         Tensor y = clone(x[0]);
         mul_(y, x[1]);
         mul_(y, x[1]);
         return y;
       }},
      {"div_", {{3, 4}, {4}},
       [](V x) {
         Tensor y = clone(x[0]);
         div_(y, x[1]);
         return y;
       },
       Domain::AwayFromZero},
      {"pow_", {{2, 3}},
       [](V x) {
         Tensor y = mul(x[0], ws(2.0));
         pow_(y, Scalar(3.0));
         return y;
       }},
      {"clamp_", {{3, 4}},
       [](V x) {
         Tensor y = clone(x[0]);
         clamp_(y, Scalar(-0.5), Scalar(0.5));
         return y;
       }},
      {"copy_", {{3, 4}, {4}},
       [](V x) {
         Tensor y = mul(x[0], x[0]);
         copy_(y, x[1]);
         return mul(y, x[0]);
       }},
      {"fill_", {{3, 4}, {3, 4}},
       [](V x) {
         Tensor y = mul(x[0], x[1]);
         fill_(y, Scalar(2.0));
         return add(y, x[0]);
       }},
      {"zero_", {{3, 4}, {3, 4}},
       [](V x) {
         Tensor y = mul(x[0], x[1]);
         zero_(y);
         return add(y, mul(x[0], x[1]));
       }},
      // ---- composites
      {"softmax", {{3, 4}},
       [](V x) {
         Tensor e = exp(x[0]);
         return div(e, sum(e, {1}, true));
       }},
      {"mse", {{3, 4}, {3, 4}}, [](V x) { return mean(pow(sub(x[0], x[1]), Scalar(2))); }},
      {"mlp", {{2, 3}, {3, 4}, {4}},
       [](V x) { return sum(tanh(add(matmul(x[0], x[1]), x[2])), {1}, false); }},
  };
  return cases;
}

enum class Mode { Contiguous, Strided, FirstOnly };

struct Param {
  size_t index;
  Mode mode;
};

std::vector<Param> grad_params() {
  std::vector<Param> out;
  for (size_t i = 0; i < grad_cases().size(); ++i) {
    out.push_back({i, Mode::Contiguous});
    if (grad_cases()[i].strided_ok) out.push_back({i, Mode::Strided});
    if (grad_cases()[i].shapes.size() > 1) out.push_back({i, Mode::FirstOnly});
  }
  return out;
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const char* suffix[] = {"contiguous", "strided", "first_only"};
  return grad_cases()[info.param.index].name + "_" + suffix[static_cast<int>(info.param.mode)];
}

std::vector<double> random_values(std::mt19937_64& rng, int64_t n, Domain d) {
  std::uniform_real_distribution<double> any(-2.0, 2.0), mag(0.5, 2.0);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) {
    switch (d) {
      case Domain::Any: x = any(rng); break;
      case Domain::Positive: x = mag(rng); break;
      case Domain::AwayFromZero: x = (rng() & 1 ? 1.0 : -1.0) * mag(rng); break;
    }
  }
  return v;
}

// A float64 tensor holding `vals`: contiguous, or a non-contiguous view of a larger
// buffer (dims >= 2: strided along the last dim, then transposed; 1 dim: every other
// element). The result is a leaf either way.
Tensor with_layout(const std::vector<double>& vals, const Shape& shape, bool strided) {
  if (!strided || shape.empty()) return test::tensor(vals, shape);
  Tensor v;
  size_t n = shape.size();
  if (n >= 2) {
    Shape bs = shape;
    std::swap(bs[n - 1], bs[n - 2]);
    bs[n - 1] *= 2;
    Tensor buf = full(bs, Scalar(1e9), DType::Float64);
    v = transpose(slice(buf, -1, 0, std::nullopt, 2), -1, -2);
  } else {
    Tensor buf = full({shape[0] * 2 + 1}, Scalar(1e9), DType::Float64);
    v = slice(buf, 0, 1, std::nullopt, 2);
  }
  EXPECT_EQ(v.shape(), shape);
  for (int64_t i = 0; i < v.numel(); ++i) test::store_double(test::elem_ptr(v, i), DType::Float64, vals[i]);
  return v;
}

struct CaseInputs {
  std::vector<Tensor> inputs;
  std::vector<bool> differentiable;
  Tensor weights;  // of the output's shape
};

CaseInputs make_setup(const GradCase& c, Mode mode) {
  std::mt19937_64 rng(std::hash<std::string>{}(c.name) ^ 0x5eed);
  CaseInputs s;
  for (size_t i = 0; i < c.shapes.size(); ++i) {
    std::vector<double> vals = random_values(rng, shape_numel(c.shapes[i]), c.domain);
    Tensor t = with_layout(vals, c.shapes[i], mode == Mode::Strided);
    bool diff = mode != Mode::FirstOnly || i == 0;
    if (diff) test::requires_grad(t);
    s.inputs.push_back(t);
    s.differentiable.push_back(diff);
  }
  Tensor out;
  {
    NoGradGuard ng;
    out = c.fn(s.inputs);
  }
  s.weights = test::uniform(rng, out.shape(), -1.0, 1.0);
  return s;
}

double dot_values(const Tensor& a, const Tensor& b) {
  std::vector<double> x = values(a), y = values(b);
  EXPECT_EQ(x.size(), y.size());
  double acc = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) acc += x[i] * y[i];
  return acc;
}

// Central differences of `f` with respect to every element of input i.
template <typename F>
std::vector<double> finite_difference(const Tensor& input, F f) {
  constexpr double eps = 1e-6;
  std::vector<double> out(static_cast<size_t>(input.numel()));
  for (int64_t k = 0; k < input.numel(); ++k) {
    double* p = reinterpret_cast<double*>(test::elem_ptr(input, k));
    const double x = *p;
    *p = x + eps;
    double fp = f();
    *p = x - eps;
    double fm = f();
    *p = x;
    out[k] = (fp - fm) / (2 * eps);
  }
  return out;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-6 + 1e-5 * std::abs(want[i])) << what << " element " << i;
}

class OpGrad : public ::testing::TestWithParam<Param> {};

TEST_P(OpGrad, MatchesFiniteDifferences) {
  const GradCase& c = grad_cases()[GetParam().index];
  CaseInputs s = make_setup(c, GetParam().mode);

  Tensor out = c.fn(s.inputs);
  ASSERT_TRUE(out.requires_grad()) << "the output of " << c.name << " records no history";
  EXPECT_EQ(out.dtype(), DType::Float64);
  Tensor loss = sum(mul(out, s.weights));
  run_backward({loss}, {Tensor()}, BackwardOptions{});

  auto objective = [&] {
    NoGradGuard ng;
    return dot_values(c.fn(s.inputs), s.weights);
  };
  for (size_t i = 0; i < s.inputs.size(); ++i) {
    const Tensor& x = s.inputs[i];
    Tensor g = test::grad(x);
    if (!s.differentiable[i]) {
      EXPECT_FALSE(g.defined()) << "input " << i << " does not require grad but got one";
      continue;
    }
    std::vector<double> fd = finite_difference(x, objective);
    bool all_zero = true;
    for (double d : fd) all_zero &= std::abs(d) < 1e-9;
    if (!g.defined()) {
      EXPECT_TRUE(all_zero) << c.name << ": input " << i << " got no gradient but its finite difference is not zero";
      continue;
    }
    EXPECT_EQ(g.shape(), x.shape()) << "input " << i;
    EXPECT_EQ(g.dtype(), DType::Float64) << "input " << i;
    expect_close(values(g), fd, c.name + " d/d input " + std::to_string(i));
  }
}

TEST_P(OpGrad, SecondOrderMatchesFiniteDifferences) {
  const GradCase& c = grad_cases()[GetParam().index];
  CaseInputs s = make_setup(c, GetParam().mode);
  variable_list diff_inputs;
  for (size_t i = 0; i < s.inputs.size(); ++i)
    if (s.differentiable[i]) diff_inputs.push_back(s.inputs[i]);

  // Random directions v_i for the first-order gradients: h(x) = sum_i <dL/dx_i, v_i>.
  std::mt19937_64 rng(42);
  std::vector<Tensor> dirs;
  for (const Tensor& x : diff_inputs) dirs.push_back(test::uniform(rng, x.shape(), -1.0, 1.0));

  auto first_order = [&](bool create_graph) {
    Tensor loss = sum(mul(c.fn(s.inputs), s.weights));
    BackwardOptions opts;
    opts.create_graph = create_graph;
    opts.keep_graph = create_graph;
    return run_grad({loss}, {Tensor()}, diff_inputs, opts, /*allow_unused=*/true);
  };
  auto h = [&] {
    variable_list g = first_order(false);
    double acc = 0;
    for (size_t i = 0; i < g.size(); ++i)
      if (g[i].defined()) acc += dot_values(g[i], dirs[i]);
    return acc;
  };

  variable_list g = first_order(true);
  Tensor h_graph;
  for (size_t i = 0; i < g.size(); ++i) {
    if (!g[i].defined() || !g[i].requires_grad()) continue;
    Tensor term = sum(mul(g[i], dirs[i]));
    h_graph = h_graph.defined() ? add(h_graph, term) : term;
  }
  variable_list hg(diff_inputs.size());
  if (h_graph.defined()) hg = run_grad({h_graph}, {Tensor()}, diff_inputs, BackwardOptions{}, true);

  for (size_t i = 0; i < diff_inputs.size(); ++i) {
    std::vector<double> fd = finite_difference(diff_inputs[i], h);
    std::vector<double> got = hg[i].defined() ? values(hg[i]) : std::vector<double>(fd.size(), 0.0);
    expect_close(got, fd, c.name + " second order, input " + std::to_string(i));
  }
}

INSTANTIATE_TEST_SUITE_P(Table, OpGrad, ::testing::ValuesIn(grad_params()), param_name);

// ---- checks that do not fit the float64 table

TEST(OpGradExtra, ToDtypeCastsTheGradientBack) {
  Tensor x = test::requires_grad(test::tensor({1, 2, 3}, {3}, DType::Float32));
  Tensor y = to_dtype(x, DType::Float64);
  ASSERT_EQ(y.grad_fn()->name(), "ToCopyBackward0");
  Tensor w = test::tensor({0.5, -1, 2}, {3});
  run_backward({sum(mul(y, w))}, {Tensor()}, BackwardOptions{});
  Tensor g = test::grad(x);
  ASSERT_TRUE(g.defined());
  EXPECT_EQ(g.dtype(), DType::Float32);
  test::expect_values_eq(g, {0.5, -1, 2});
}

TEST(OpGradExtra, MixedDtypeGradientsMatchInputDtype) {
  // float32 * float64 promotes to float64; each input's gradient keeps its own dtype.
  Tensor a = test::requires_grad(test::tensor({1, 2}, {2}, DType::Float32));
  Tensor b = test::requires_grad(test::tensor({3, 4}, {2}, DType::Float64));
  Tensor y = mul(a, b);
  EXPECT_EQ(y.dtype(), DType::Float64);
  run_backward({sum(y)}, {Tensor()}, BackwardOptions{});
  EXPECT_EQ(test::grad(a).dtype(), DType::Float32);
  EXPECT_EQ(test::grad(b).dtype(), DType::Float64);
  test::expect_values_eq(test::grad(a), {3, 4});
  test::expect_values_eq(test::grad(b), {1, 2});
}

TEST(OpGradExtra, TiesShareTheGradient) {
  // max() over all elements splits the gradient evenly among tied maxima.
  Tensor x = test::requires_grad(test::tensor({1, 3, 3, 2}, {4}));
  run_backward({max(x)}, {Tensor()}, BackwardOptions{});
  test::expect_values_eq(test::grad(x), {0, 0.5, 0.5, 0});
  // maximum() gives each side half at a tie.
  Tensor a = test::requires_grad(test::tensor({1, 2}, {2}));
  Tensor b = test::requires_grad(test::tensor({1, 3}, {2}));
  run_backward({sum(maximum(a, b))}, {Tensor()}, BackwardOptions{});
  test::expect_values_eq(test::grad(a), {0.5, 0});
  test::expect_values_eq(test::grad(b), {0.5, 1});
  // max(dim) sends it to the first index of the extreme.
  Tensor m = test::requires_grad(test::tensor({5, 5, 1, 2, 7, 7}, {2, 3}));
  run_backward({sum(max(m, 1, false).first)}, {Tensor()}, BackwardOptions{});
  test::expect_values_eq(test::grad(m), {1, 0, 0, 0, 1, 0});
}

TEST(OpGradExtra, NodeNamesAndNextFunctions) {
  Tensor a = test::requires_grad(test::tensor({1, 2}, {2}));
  Tensor b = test::tensor({3, 4}, {2});
  Tensor y = mul(a, b);
  ASSERT_TRUE(y.grad_fn());
  EXPECT_EQ(y.grad_fn()->name(), "MulBackward0");
  const auto& edges = y.grad_fn()->next_edges();
  ASSERT_EQ(edges.size(), 2u);
  EXPECT_TRUE(edges[0].valid());
  EXPECT_EQ(edges[0].function->name(), "AccumulateGrad");
  EXPECT_FALSE(edges[1].valid()) << "an input that needs no grad has an invalid edge (None, 0)";
  // The AccumulateGrad node is cached on the leaf.
  Tensor z = add(a, b);
  EXPECT_EQ(z.grad_fn()->next_edges()[0].function.get(), edges[0].function.get());
}

TEST(OpGradExtra, NoGradRecordsNothing) {
  Tensor a = test::requires_grad(test::tensor({1, 2}, {2}));
  NoGradGuard ng;
  Tensor y = exp(mul(a, a));
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(y.grad_fn() == nullptr);
  Tensor v = transpose(unsqueeze(a, 0), 0, 1);
  EXPECT_TRUE(v.grad_fn() == nullptr);
}

}  // namespace
}  // namespace ember
