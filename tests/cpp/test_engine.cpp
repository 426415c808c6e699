// Tests of the autograd engine: dependency counting and gradient summation, multiple
// roots, retain_grad, accumulation into .grad, keep_graph and the backward-twice
// error, the in-place version check, run_grad (autograd.grad) and higher-order
// gradients, and graphs deep enough that any recursion would overflow the stack.
#include <gtest/gtest.h>
#include <pthread.h>

#include <cmath>
#include <functional>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "test_util.h"

namespace ember {
namespace {

using test::expect_error;
using test::expect_values_eq;
using test::grad;
using test::item;
using test::requires_grad;
using test::scalar;
using test::tensor;
using test::values;

void backward(const Tensor& root, bool keep_graph = false) {
  BackwardOptions opts;
  opts.keep_graph = keep_graph;
  run_backward({root}, {Tensor()}, opts);
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST(Engine, Chain) {
  // y = exp(2x); dy/dx = 2 exp(2x).
  Tensor x = requires_grad(tensor({0.5, -1.0}, {2}));
  Tensor y = sum(exp(mul(x, wrapped_scalar(Scalar(2.0)))));
  backward(y);
  std::vector<double> g = values(grad(x));
  EXPECT_NEAR(g[0], 2 * std::exp(1.0), 1e-12);
  EXPECT_NEAR(g[1], 2 * std::exp(-2.0), 1e-12);
}

TEST(Engine, DiamondSumsGradients) {
  // a = sin(x) feeds two branches; d/dx (exp(a) + a*a) = cos(x) (exp(a) + 2a).
  Tensor x = requires_grad(scalar(0.7));
  Tensor a = sin(x);
  Tensor y = add(exp(a), mul(a, a));
  backward(y);
  double s = std::sin(0.7);
  EXPECT_NEAR(item(grad(x)), std::cos(0.7) * (std::exp(s) + 2 * s), 1e-12);
}

TEST(Engine, DiamondNodeRunsOnce) {
  // A node reached along two paths must run once, with the summed gradient: count
  // the AccumulateGrad calls through a retained intermediate.
  Tensor x = requires_grad(tensor({1, 2, 3}, {3}));
  Tensor a = mul(x, wrapped_scalar(Scalar(2.0)));
  test::retain_grad(a);
  Tensor y = sum(add(add(a, a), a));
  backward(y);
  expect_values_eq(grad(a), {3, 3, 3});
  expect_values_eq(grad(x), {6, 6, 6});
}

TEST(Engine, MultipleRoots) {
  Tensor x = requires_grad(tensor({1, 2}, {2}));
  Tensor y1 = sum(mul(x, x));             // 2x
  Tensor y2 = mul(x, wrapped_scalar(Scalar(3.0)));  // 3, seeded with [1, -1]
  run_backward({y1, y2}, {Tensor(), tensor({1, -1}, {2})}, BackwardOptions{});
  expect_values_eq(grad(x), {2 + 3, 4 - 3});
}

TEST(Engine, MultipleRootsSharingAGraph) {
  Tensor x = requires_grad(scalar(2.0));
  Tensor h = mul(x, x);  // 4
  Tensor y1 = mul(h, x);  // x^3
  Tensor y2 = exp(h);     // e^(x^2)
  run_backward({y1, y2, h}, {Tensor(), Tensor(), Tensor()}, BackwardOptions{});
  EXPECT_NEAR(item(grad(x)), 3 * 4 + 2 * 2 * std::exp(4.0) + 2 * 2, 1e-9);
}

TEST(Engine, RetainGradOnIntermediates) {
  Tensor x = requires_grad(tensor({1, 2}, {2}));
  Tensor a = mul(x, x);
  Tensor b = exp(a);
  test::retain_grad(a);
  test::retain_grad(b);
  Tensor y = sum(b);
  backward(y);
  expect_values_eq(grad(b), {1, 1});
  std::vector<double> ga = values(grad(a));
  EXPECT_NEAR(ga[0], std::exp(1.0), 1e-12);
  EXPECT_NEAR(ga[1], std::exp(4.0), 1e-9);
  // Non-retained intermediates get no .grad.
  Tensor c = mul(x, x);
  Tensor z = sum(c);
  backward(z);
  EXPECT_FALSE(grad(c).defined());
}

TEST(Engine, RetainGradOnMultiUseIntermediateSums) {
  Tensor x = requires_grad(scalar(3.0));
  Tensor a = mul(x, wrapped_scalar(Scalar(2.0)));
  test::retain_grad(a);
  Tensor y = add(mul(a, a), a);  // dy/da = 2a + 1 = 13
  backward(y);
  EXPECT_EQ(item(grad(a)), 13.0);
  EXPECT_EQ(item(grad(x)), 26.0);
}

TEST(Engine, RetainGradFollowsInPlace) {
  Tensor x = requires_grad(tensor({1, 2}, {2}));
  Tensor a = mul(x, x);
  test::retain_grad(a);
  mul_(a, wrapped_scalar(Scalar(3.0)));  // a now 3x^2; .grad belongs to the new value
  backward(sum(a));
  expect_values_eq(grad(a), {1, 1});
  expect_values_eq(grad(x), {6, 12});
}

TEST(Engine, AccumulatesAcrossBackwardCalls) {
  Tensor x = requires_grad(tensor({1, 2}, {2}));
  backward(sum(mul(x, x)));
  expect_values_eq(grad(x), {2, 4});
  Tensor g1 = grad(x);
  backward(sum(mul(x, wrapped_scalar(Scalar(10.0)))));
  expect_values_eq(grad(x), {12, 14});
  // Accumulation happens in place: the same .grad tensor.
  EXPECT_TRUE(grad(x).is_same(g1));
  // Zeroing .grad restarts the sum.
  {
    NoGradGuard ng;
    Tensor g = grad(x);
    zero_(g);
  }
  backward(sum(x));
  expect_values_eq(grad(x), {1, 1});
}

TEST(Engine, GradIsNotAliasedWithCallerTensors) {
  // The root gradient passed in must not become .grad (a later accumulation would
  // write into the caller's tensor).
  Tensor x = requires_grad(tensor({1, 2}, {2}));
  Tensor seed = tensor({1, 1}, {2});
  run_backward({x}, {seed}, BackwardOptions{});
  run_backward({x}, {seed}, BackwardOptions{});
  expect_values_eq(grad(x), {2, 2});
  expect_values_eq(seed, {1, 1});
  // Likewise an expanded (broadcast) gradient is materialised.
  Tensor y = requires_grad(tensor({1, 2, 3}, {3}));
  backward(sum(y));
  EXPECT_TRUE(grad(y).is_contiguous());
  expect_values_eq(grad(y), {1, 1, 1});
}

TEST(Engine, KeepGraphAllowsASecondBackward) {
  Tensor x = requires_grad(scalar(3.0));
  Tensor y = mul(x, x);
  backward(y, /*keep_graph=*/true);
  EXPECT_EQ(item(grad(x)), 6.0);
  backward(y, /*keep_graph=*/true);
  EXPECT_EQ(item(grad(x)), 12.0);
  backward(y);  // frees the saved tensors
  EXPECT_EQ(item(grad(x)), 18.0);
  try {
    backward(y);
    FAIL() << "expected the backward-twice error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_TRUE(starts_with(e.what(), "Trying to backward through the graph a second time")) << e.what();
  }
  EXPECT_EQ(item(grad(x)), 18.0) << "a failed backward must not touch .grad";
}

TEST(Engine, BackwardTwiceThroughSharedSubgraph) {
  // The second backward fails when it reaches a node whose saved tensors were freed,
  // even if it starts from a different root.
  Tensor x = requires_grad(scalar(2.0));
  Tensor h = exp(x);
  Tensor y1 = mul(h, wrapped_scalar(Scalar(2.0)));
  Tensor y2 = mul(h, wrapped_scalar(Scalar(3.0)));
  backward(y1);
  expect_error([&] { backward(y2); }, ErrorKind::Runtime, "Trying to backward through the graph a second time");
}

TEST(Engine, NodesWithoutSavedTensorsRunTwice) {
  // add saves nothing, so a second backward through it is fine (as in PyTorch).
  Tensor x = requires_grad(scalar(1.0));
  Tensor y = add(x, x);
  backward(y);
  backward(y);
  EXPECT_EQ(item(grad(x)), 4.0);
}

TEST(Engine, InPlaceVersionError) {
  Tensor x = requires_grad(tensor({1, 2}, {2}));
  Tensor y = exp(x);  // saves its result
  Tensor z = sum(y);
  add_(y, wrapped_scalar(Scalar(1.0)));
  EXPECT_EQ(y.version(), 1u);
  expect_error([&] { backward(z); }, ErrorKind::Runtime,
               "one of the variables needed for gradient computation has been modified by an inplace operation");
  expect_error([&] { backward(z); }, ErrorKind::Runtime, "is at version 1; expected version 0");
}

TEST(Engine, InPlaceOnASavedInputThroughAView) {
  Tensor x = requires_grad(tensor({1, 2, 3}, {3}));
  Tensor w = tensor({4, 5, 6}, {3});
  Tensor y = sum(mul(x, w));  // saves w
  Tensor wv = select(w, 0, 1);
  fill_(wv, Scalar(0.0));  // bumps w's shared version counter
  expect_error([&] { backward(y); }, ErrorKind::Runtime, "modified by an inplace operation");
  // Under keep_graph the same check fires every time; an unrelated write does not.
  Tensor x2 = requires_grad(tensor({1, 2}, {2}));
  Tensor w2 = tensor({3, 4}, {2});
  Tensor y2 = sum(mul(x2, w2));
  Tensor other = tensor({0, 0}, {2});
  fill_(other, Scalar(1.0));
  backward(y2);
  expect_values_eq(grad(x2), {3, 4});
}

TEST(Engine, InPlaceOnSavedLeafUnderNoGrad) {
  // An optimizer-style update of a leaf between forward and backward is caught.
  Tensor x = requires_grad(tensor({1, 2}, {2}));
  Tensor y = sum(mul(x, x));  // saves x
  {
    NoGradGuard ng;
    sub_(x, tensor({0.5, 0.5}, {2}));
  }
  expect_error([&] { backward(y); }, ErrorKind::Runtime, "modified by an inplace operation");
}

TEST(Engine, InPlaceOnResultAfterUseIsFineWhenNotSaved) {
  // add saves nothing, so changing its input afterwards does not matter.
  Tensor x = requires_grad(tensor({1, 2}, {2}));
  Tensor a = mul(x, wrapped_scalar(Scalar(1.0)));
  Tensor y = sum(add(a, a));
  add_(a, wrapped_scalar(Scalar(1.0)));
  backward(y);
  expect_values_eq(grad(x), {2, 2});
}

TEST(Engine, RunGradDoesNotTouchDotGrad) {
  Tensor x = requires_grad(tensor({1, 2}, {2}));
  Tensor w = requires_grad(tensor({3, 4}, {2}));
  Tensor y = sum(mul(x, w));
  variable_list g = run_grad({y}, {Tensor()}, {x}, BackwardOptions{}, false);
  ASSERT_EQ(g.size(), 1u);
  expect_values_eq(g[0], {3, 4});
  EXPECT_FALSE(grad(x).defined());
  EXPECT_FALSE(grad(w).defined());
}

TEST(Engine, RunGradOfIntermediate) {
  Tensor x = requires_grad(scalar(2.0));
  Tensor a = mul(x, x);
  Tensor y = exp(a);
  variable_list g = run_grad({y}, {Tensor()}, {a, x}, BackwardOptions{}, false);
  EXPECT_NEAR(item(g[0]), std::exp(4.0), 1e-9);
  EXPECT_NEAR(item(g[1]), std::exp(4.0) * 4, 1e-9);
  EXPECT_FALSE(grad(x).defined());
}

TEST(Engine, RunGradOfTheRootItself) {
  Tensor x = requires_grad(tensor({1, 2}, {2}));
  variable_list g = run_grad({x}, {tensor({5, 6}, {2})}, {x}, BackwardOptions{}, false);
  expect_values_eq(g[0], {5, 6});
  EXPECT_FALSE(grad(x).defined());
}

TEST(Engine, RunGradWithRepeatedInputs) {
  // torch.autograd.grad(y, [x, x]) returns the gradient twice.
  Tensor x = requires_grad(scalar(3.0));
  Tensor a = mul(x, x);
  Tensor y = exp(a);
  variable_list g = run_grad({y}, {Tensor()}, {x, a, x}, BackwardOptions{}, false);
  ASSERT_EQ(g.size(), 3u);
  ASSERT_TRUE(g[0].defined());
  ASSERT_TRUE(g[2].defined());
  EXPECT_NEAR(item(g[0]), 6 * std::exp(9.0), 1e-6 * std::exp(9.0));
  EXPECT_NEAR(item(g[1]), std::exp(9.0), 1e-9 * std::exp(9.0));
  EXPECT_EQ(item(g[2]), item(g[0]));
}

TEST(Engine, RepeatedRootSumsSeeds) {
  Tensor x = requires_grad(tensor({1, 2}, {2}));
  Tensor y = mul(x, x);
  run_backward({y, y}, {tensor({1, 1}, {2}), tensor({0.5, 2}, {2})}, BackwardOptions{});
  expect_values_eq(grad(x), {2 * 1.5, 4 * 3.0});
}

TEST(Engine, RunGradAllowUnused) {
  Tensor x = requires_grad(scalar(1.0));
  Tensor unused = requires_grad(scalar(2.0));
  Tensor y = mul(x, x);
  expect_error([&] { run_grad({y}, {Tensor()}, {x, unused}, BackwardOptions{true, false}, false); },
               ErrorKind::Runtime, "appears to not have been used in the graph");
  variable_list g = run_grad({y}, {Tensor()}, {x, unused}, BackwardOptions{}, true);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(item(g[0]), 2.0);
  EXPECT_FALSE(g[1].defined());
}

TEST(Engine, RunGradRejectsInputsWithoutGrad) {
  Tensor x = requires_grad(scalar(1.0));
  Tensor c = scalar(2.0);
  Tensor y = mul(x, c);
  expect_error([&] { run_grad({y}, {Tensor()}, {c}, BackwardOptions{}, true); }, ErrorKind::Runtime,
               "does not require grad");
}

TEST(Engine, CreateGraphHigherOrder) {
  // x^3 at 2: 3x^2 = 12, 6x = 12, 6.
  Tensor x = requires_grad(scalar(2.0));
  Tensor y = pow(x, Scalar(3));
  BackwardOptions create{true, true};
  variable_list g1 = run_grad({y}, {Tensor()}, {x}, create, false);
  EXPECT_EQ(item(g1[0]), 12.0);
  ASSERT_TRUE(g1[0].requires_grad()) << "create_graph must record the backward pass";
  variable_list g2 = run_grad({g1[0]}, {Tensor()}, {x}, create, false);
  EXPECT_EQ(item(g2[0]), 12.0);
  ASSERT_TRUE(g2[0].requires_grad());
  variable_list g3 = run_grad({g2[0]}, {Tensor()}, {x}, create, false);
  EXPECT_EQ(item(g3[0]), 6.0);
  EXPECT_FALSE(grad(x).defined());
}

TEST(Engine, CreateGraphWithRunBackward) {
  // backward(create_graph) leaves a .grad with history; differentiating it gives the
  // second derivative.
  Tensor x = requires_grad(scalar(2.0));
  Tensor y = mul(mul(x, x), x);
  run_backward({y}, {Tensor()}, BackwardOptions{true, true});
  Tensor gx = grad(x);
  EXPECT_EQ(item(gx), 12.0);
  ASSERT_TRUE(gx.requires_grad());
  EXPECT_EQ(gx.grad_fn()->name(), "CopyBackwards");  // as PyTorch: .grad is a copy that keeps the history
  variable_list g2 = run_grad({gx}, {Tensor()}, {x}, BackwardOptions{}, false);
  EXPECT_EQ(item(g2[0]), 12.0);
}

TEST(Engine, CreateGraphMakesNoCycle) {
  // In PyTorch x -> x.grad -> its graph -> (saved x, AccumulateGrad) -> x is a cycle that
  // leaks x. Here nothing in x.grad's graph owns x: dropping x frees it and the graph.
  std::weak_ptr<TensorImpl> weak_x, weak_grad;
  std::weak_ptr<Node> weak_acc;
  {
    Tensor x = requires_grad(tensor({1.0, 2.0, 3.0}, {3}));
    Tensor y = sum(mul(mul(x, x), x));
    run_backward({y}, {Tensor()}, BackwardOptions{true, true});  // create_graph keeps the graph, as in PyTorch
    ASSERT_TRUE(grad(x).requires_grad());
    expect_values_eq(grad(x), {3.0, 12.0, 27.0});
    weak_x = x.impl();
    weak_grad = grad(x).impl();
    weak_acc = x->autograd()->grad_accumulator;
    ASSERT_FALSE(weak_acc.expired());
    // The graph of x.grad still differentiates into x while x is alive.
    variable_list g2 = run_grad({sum(grad(x))}, {Tensor()}, {x}, BackwardOptions{}, false);
    expect_values_eq(g2[0], {6.0, 12.0, 18.0});
  }
  EXPECT_TRUE(weak_x.expired()) << "x is kept alive by its own .grad";
  EXPECT_TRUE(weak_grad.expired());
  EXPECT_TRUE(weak_acc.expired());
}

TEST(Engine, AccumulateGradOwnsAnUnreferencedLeaf) {
  // Without create_graph the node owns its leaf, as in PyTorch: a leaf only the graph
  // refers to still receives its gradient, reachable through next_functions.
  Tensor y;
  {
    Tensor x = requires_grad(tensor({1.0, 2.0}, {2}));
    y = sum(mul(x, wrapped_scalar(Scalar(3.0))));
  }
  std::shared_ptr<Node> acc = y.grad_fn()->next_edges()[0].function->next_edges()[0].function;
  ASSERT_EQ(acc->name(), "AccumulateGrad");
  backward(y);
  Tensor leaf = static_cast<AccumulateGrad&>(*acc).variable();
  ASSERT_TRUE(leaf.defined());
  expect_values_eq(grad(leaf), {3.0, 3.0});
}

TEST(Engine, CreateGraphGradsAreNotShared) {
  // add's backward hands the same gradient tensor to both inputs. With create_graph
  // each leaf must still own its .grad, so a later in-place accumulation into one
  // does not change the other.
  Tensor x = requires_grad(scalar(1.0));
  Tensor w = requires_grad(scalar(2.0));
  run_backward({add(x, w)}, {Tensor()}, BackwardOptions{true, true});
  EXPECT_EQ(item(grad(x)), 1.0);
  EXPECT_EQ(item(grad(w)), 1.0);
  EXPECT_FALSE(grad(x).is_same(grad(w)));
  backward(mul(x, wrapped_scalar(Scalar(5.0))));
  EXPECT_EQ(item(grad(x)), 6.0);
  EXPECT_EQ(item(grad(w)), 1.0) << "accumulating into x.grad changed w.grad";
}

TEST(Engine, CreateGraphThroughSavedOutputs) {
  // exp saves its result; the second derivative of exp must see the result's history.
  Tensor x = requires_grad(scalar(0.3));
  Tensor y = exp(mul(x, wrapped_scalar(Scalar(2.0))));  // d2/dx2 = 4 e^(2x)
  variable_list g1 = run_grad({y}, {Tensor()}, {x}, BackwardOptions{true, true}, false);
  variable_list g2 = run_grad({g1[0]}, {Tensor()}, {x}, BackwardOptions{}, false);
  EXPECT_NEAR(item(g2[0]), 4 * std::exp(0.6), 1e-12);
}

TEST(Engine, RootErrors) {
  Tensor c = tensor({1, 2}, {2});
  expect_error([&] { backward(c); }, ErrorKind::Runtime, "does not require grad and does not have a grad_fn");
  Tensor x = requires_grad(tensor({1, 2}, {2}));
  Tensor y = mul(x, x);
  expect_error([&] { backward(y); }, ErrorKind::Runtime, "grad can be implicitly created only for scalar outputs");
  expect_error([&] { run_backward({y}, {tensor({1, 2, 3}, {3})}, BackwardOptions{}); }, ErrorKind::Runtime,
               "Mismatch in shape");
  {
    NoGradGuard ng;
    Tensor z = mul(x, x);
    expect_error([&] { backward(sum(z)); }, ErrorKind::Runtime, "does not require grad");
  }
}

TEST(Engine, NoGradInsideBackwardLeavesGradWithoutHistory) {
  Tensor x = requires_grad(scalar(2.0));
  backward(mul(x, x));
  EXPECT_FALSE(grad(x).requires_grad());
  EXPECT_TRUE(GradMode::is_enabled()) << "backward must restore grad mode";
}

// ---- deep graphs: run on a thread with a small stack so any recursion shows up.

void run_with_small_stack(const std::function<void()>& fn) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 512 * 1024);
  struct Ctx {
    const std::function<void()>* fn;
    std::string error;
  } ctx{&fn, {}};
  pthread_t th;
  auto body = [](void* p) -> void* {
    auto* c = static_cast<Ctx*>(p);
    try {
      (*c->fn)();
    } catch (const std::exception& e) {
      c->error = e.what();
    }
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&th, &attr, body, &ctx), 0);
  pthread_join(th, nullptr);
  pthread_attr_destroy(&attr);
  EXPECT_EQ(ctx.error, "");
}

constexpr int kDepth = 100000;

TEST(DeepGraph, ChainBackwardAndDestroy) {
  run_with_small_stack([] {
    Tensor x = requires_grad(scalar(1.0));
    Tensor one = scalar(1.0);
    Tensor y = x;
    for (int i = 0; i < kDepth; ++i) y = add(y, one);
    EXPECT_EQ(item(y), 1.0 + kDepth);
    backward(y);
    EXPECT_EQ(item(grad(x)), 1.0);
    y = Tensor();  // drops the whole chain
  });
}

TEST(DeepGraph, ChainDestroyedWithoutBackward) {
  run_with_small_stack([] {
    Tensor x = requires_grad(tensor({0.5, 0.25}, {2}));
    Tensor y = x;
    // sin saves its input, so each node also owns the previous tensor and its history.
    for (int i = 0; i < kDepth; ++i) y = sin(y);
    y = Tensor();
    SUCCEED();
  });
}

TEST(DeepGraph, SavedTensorChainBackward) {
  run_with_small_stack([] {
    // c requires grad, so every MulBackward0 also saves y (with its history).
    Tensor x = requires_grad(scalar(0.5));
    Tensor c = requires_grad(scalar(1.0));
    Tensor y = x;
    for (int i = 0; i < kDepth; ++i) y = mul(y, c);
    BackwardOptions keep;
    keep.keep_graph = true;
    run_backward({y}, {Tensor()}, keep);  // keep_graph: the saved tensors stay
    EXPECT_EQ(item(grad(x)), 1.0);
    EXPECT_EQ(item(grad(c)), 0.5 * kDepth);
    y = Tensor();
  });
}

TEST(DeepGraph, ChainOfViews) {
  run_with_small_stack([] {
    Tensor x = requires_grad(tensor({1, 2, 3, 4}, {2, 2}));
    Tensor y = mul(x, scalar(1.0));
    for (int i = 0; i < kDepth; ++i) y = (i % 2) ? transpose(y, 0, 1) : alias(y);
    EXPECT_TRUE(y->is_view());
    EXPECT_FALSE(y->view_base()->is_view());
    backward(sum(mul(y, tensor({1, 2, 3, 4}, {2, 2}))));
    // kDepth is even: kDepth/2 transposes, an even number, so y has x's layout.
    expect_values_eq(grad(x), {1, 2, 3, 4});
    y = Tensor();
  });
}

TEST(DeepGraph, ChainOfInPlaceOps) {
  run_with_small_stack([] {
    Tensor x = requires_grad(tensor({1, 2}, {2}));
    Tensor y = clone(x);
    Tensor half = scalar(1.0);
    for (int i = 0; i < kDepth; ++i) add_(y, half);
    EXPECT_EQ(y.version(), static_cast<uint32_t>(kDepth));
    expect_values_eq(y, {1.0 + kDepth, 2.0 + kDepth});
    backward(sum(y));
    expect_values_eq(grad(x), {1, 1});
    y = Tensor();
  });
}

TEST(DeepGraph, ChainOfInPlaceOpsDestroyedWithoutBackward) {
  run_with_small_stack([] {
    Tensor x = requires_grad(tensor({1, 2}, {2}));
    Tensor y = clone(x);
    for (int i = 0; i < kDepth; ++i) mul_(y, scalar(1.0));
    y = Tensor();
  });
}

TEST(DeepGraph, CreateGraphOnAChain) {
  run_with_small_stack([] {
    Tensor x = requires_grad(scalar(1.0));
    Tensor y = x;
    for (int i = 0; i < kDepth; ++i) y = mul(y, scalar(1.0));
    y = mul(y, y);
    variable_list g = run_grad({y}, {Tensor()}, {x}, BackwardOptions{true, true}, false);
    EXPECT_EQ(item(g[0]), 2.0);
    variable_list g2 = run_grad({g[0]}, {Tensor()}, {x}, BackwardOptions{}, false);
    EXPECT_EQ(item(g2[0]), 2.0);
    g.clear();
    y = Tensor();
  });
}

}  // namespace
}  // namespace ember
