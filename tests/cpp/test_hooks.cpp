// The hook interface of the core (autograd/hooks.h) and anomaly mode, without Python:
// call order across the four kinds, replacement values, removal, and the NaN/inf check.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/anomaly_mode.h"
#include "autograd/engine.h"
#include "autograd/hooks.h"
#include "test_util.h"

namespace ember {
namespace {

using test::expect_error;
using test::expect_values_eq;
using test::grad;
using test::requires_grad;
using test::tensor;

struct Log {
  std::vector<std::string> calls;
};

struct FnTensorHook : TensorHook {
  std::function<Tensor(const Tensor&)> f;
  explicit FnTensorHook(std::function<Tensor(const Tensor&)> fn) : f(std::move(fn)) {}
  Tensor operator()(const Tensor& g) override { return f(g); }
};
struct FnPreHook : PreHook {
  std::function<std::optional<variable_list>(const variable_list&)> f;
  explicit FnPreHook(decltype(f) fn) : f(std::move(fn)) {}
  std::optional<variable_list> operator()(const variable_list& go) override { return f(go); }
};
struct FnPostHook : PostHook {
  std::function<std::optional<variable_list>(const variable_list&, const variable_list&)> f;
  explicit FnPostHook(decltype(f) fn) : f(std::move(fn)) {}
  std::optional<variable_list> operator()(const variable_list& gi, const variable_list& go) override {
    return f(gi, go);
  }
};
struct FnPostAcc : PostAccumulateGradHook {
  std::function<void(const Tensor&)> f;
  explicit FnPostAcc(decltype(f) fn) : f(std::move(fn)) {}
  void operator()(const Tensor& t) override { f(t); }
};

LeafHooks& leaf_hooks(const Tensor& t) {
  AutogradMeta& m = t->ensure_autograd();
  if (!m.hooks) m.hooks = std::make_unique<LeafHooks>();
  return *m.hooks;
}

void backward(const Tensor& root) { run_backward({root}, {Tensor()}, BackwardOptions{}); }

TEST(Hooks, OrderAndReplacement) {
  Log log;
  Tensor x = requires_grad(tensor({1.0, 2.0}, {2}));
  Tensor y = mul(x, x);  // dy/dx = 2x
  Node& n = *y.grad_fn();
  n.ensure_hooks().tensor_pre.add(std::make_shared<FnTensorHook>([&](const Tensor& g) {
    log.calls.push_back("tensor");
    return mul(g, wrapped_scalar(Scalar(10.0)));
  }), y.output_nr());
  n.ensure_hooks().pre.add(std::make_shared<FnPreHook>([&](const variable_list&) {
    log.calls.push_back("pre");
    return std::nullopt;
  }));
  n.ensure_hooks().post.add(std::make_shared<FnPostHook>([&](const variable_list& gi, const variable_list& go) {
    log.calls.push_back("post");
    EXPECT_EQ(gi.size(), 2u);
    expect_values_eq(go[0], {10.0, 10.0});
    return std::nullopt;
  }));
  leaf_hooks(x).tensor_pre.add(std::make_shared<FnTensorHook>([&](const Tensor& g) {
    log.calls.push_back("leaf");
    expect_values_eq(g, {20.0, 40.0});  // 10 * x from each use of x, summed, then hooked once
    return Tensor();
  }));
  leaf_hooks(x).post_accumulate.add(std::make_shared<FnPostAcc>([&](const Tensor& t) {
    log.calls.push_back("post_accumulate");
    expect_values_eq(grad(t), {20.0, 40.0});
  }));
  backward(sum(y));
  EXPECT_EQ(log.calls, (std::vector<std::string>{"tensor", "pre", "post", "leaf", "post_accumulate"}));
}

TEST(Hooks, RemoveById) {
  Tensor x = requires_grad(tensor({1.0}, {1}));
  uint64_t id = leaf_hooks(x).tensor_pre.add(
      std::make_shared<FnTensorHook>([](const Tensor& g) { return mul(g, wrapped_scalar(Scalar(0.0))); }));
  EXPECT_TRUE(leaf_hooks(x).tensor_pre.remove(id));
  EXPECT_FALSE(leaf_hooks(x).tensor_pre.remove(id));
  backward(sum(mul(x, wrapped_scalar(Scalar(3.0)))));
  expect_values_eq(grad(x), {3.0});
}

TEST(Hooks, HookMayRemoveItselfWhileRunning) {
  Tensor x = requires_grad(tensor({1.0}, {1}));
  int calls = 0;
  uint64_t id = 0;
  id = leaf_hooks(x).tensor_pre.add(std::make_shared<FnTensorHook>([&](const Tensor&) {
    ++calls;
    leaf_hooks(x).tensor_pre.remove(id);
    return Tensor();
  }));
  backward(sum(x));
  backward(sum(x));
  EXPECT_EQ(calls, 1);
}

TEST(Hooks, ExceptionLeavesGradUntouched) {
  Tensor x = requires_grad(tensor({1.0}, {1}));
  Tensor y = mul(x, wrapped_scalar(Scalar(2.0)));
  y.grad_fn()->ensure_hooks().pre.add(std::make_shared<FnPreHook>(
      [](const variable_list&) -> std::optional<variable_list> { throw Error(ErrorKind::Value, "stop"); }));
  expect_error([&] { backward(sum(y)); }, ErrorKind::Value, "stop");
  EXPECT_FALSE(grad(x).defined());
}

TEST(Anomaly, NaNNamesTheNode) {
  AnomalyMode::set_enabled(true);
  Tensor x = requires_grad(tensor({-1.0, 4.0}, {2}));
  expect_error([&] { backward(sum(sqrt(x))); }, ErrorKind::Runtime,
               "Function 'SqrtBackward0' returned nan values in its 0th output.");
  Tensor z = requires_grad(tensor({0.0}, {1}));
  expect_error([&] { backward(sum(sqrt(z))); }, ErrorKind::Runtime,
               "Function 'SqrtBackward0' returned inf values in its 0th output.");
  AnomalyMode::set_enabled(false);
  Tensor w = requires_grad(tensor({-1.0}, {1}));
  backward(sum(sqrt(w)));
  EXPECT_TRUE(std::isnan(test::values(grad(w))[0]));
}

}  // namespace
}  // namespace ember
