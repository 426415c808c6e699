// Error messages that say where (autograd/source_site.h), with a stand-in recorder: each
// capture returns the current "line" of a fake program, and names come from a table.
#include <gtest/gtest.h>

#include <map>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/source_site.h"
#include "test_util.h"

namespace ember {
namespace {

using test::expect_error;
using test::requires_grad;
using test::tensor;

int g_line = 0;
std::map<const TensorImpl*, std::string> g_names;

SourceSite fake_capture() { return SourceSite{1, g_line}; }
std::string fake_describe(SourceSite s) { return str("prog.py:", s.offset); }
std::string fake_name_of(const Tensor& t) {
  for (auto& [impl, name] : g_names)
    if (impl->version_counter() == t->version_counter()) return name;
  return "";
}

class SourceSiteTest : public ::testing::Test {
 protected:
  void SetUp() override { set_site_recorder(SiteRecorder{&fake_capture, &fake_describe, &fake_name_of}); }
  void TearDown() override {
    set_site_recorder(SiteRecorder{});
    g_names.clear();
  }
};

void backward(const Tensor& root) { run_backward({root}, {Tensor()}, BackwardOptions{}); }

TEST_F(SourceSiteTest, NodesRecordWhereTheyWereCreated) {
  Tensor x = requires_grad(tensor({1.0, 2.0}, {2}));
  g_line = 7;
  Tensor y = exp(x);
  EXPECT_EQ(describe_site(y.grad_fn()->site()), "prog.py:7");
  {
    SiteScope scope(SourceSite{1, 40});  // as the bindings do around work without the GIL
    g_line = 8;
    Tensor z = sin(x);
    EXPECT_EQ(describe_site(z.grad_fn()->site()), "prog.py:40");
  }
  Tensor w = cos(x);
  EXPECT_EQ(describe_site(w.grad_fn()->site()), "prog.py:8");
}

TEST_F(SourceSiteTest, InplaceErrorNamesSaverAndWriter) {
  Tensor x = requires_grad(tensor({1.0, 2.0}, {2}));
  g_line = 3;
  Tensor h = exp(x);  // saves its result
  g_names[h.get()] = "h";
  g_line = 4;
  {
    NoGradGuard ng;
    mul_(h, wrapped_scalar(Scalar(2.0)));
    g_line = 5;
    add_(h, wrapped_scalar(Scalar(1.0)));
  }
  expect_error([&] { backward(sum(h)); }, ErrorKind::Runtime,
               "is at version 2; expected version 0 instead. `h` (float64 [2]) was saved by ExpBackward0 at "
               "prog.py:3 and modified in place by add_ at prog.py:5 (version 0 -> 2).");
}

TEST_F(SourceSiteTest, WritesBeforeSavingAreNotTheOnesNamed) {
  Tensor x = requires_grad(tensor({1.0, 2.0}, {2}));
  Tensor a = mul(x, wrapped_scalar(Scalar(1.0)));
  g_line = 10;
  {
    NoGradGuard ng;
    add_(a, wrapped_scalar(Scalar(1.0)));  // a is not saved yet: nothing to record
  }
  g_line = 11;
  Tensor b = sin(a);
  g_line = 12;
  {
    NoGradGuard ng;
    copy_(a, tensor({0.0, 0.0}, {2}));
  }
  expect_error([&] { backward(sum(b)); }, ErrorKind::Runtime,
               "The tensor (float64 [2]) was saved by SinBackward0 at prog.py:11 and modified in place by copy_ at "
               "prog.py:12 (version 1 -> 2).");
}

TEST_F(SourceSiteTest, SecondBackwardOnTheSameGraph) {
  Tensor x = requires_grad(tensor({1.0, 2.0}, {2}));
  g_line = 20;
  Tensor out = sum(mul(x, x));
  g_names[out.get()] = "out";
  g_line = 21;
  backward(out);
  g_line = 22;
  expect_error([&] { backward(out); }, ErrorKind::Runtime,
               "Here backward() was run again on `out` (SumBackward0, created at prog.py:20), whose graph an "
               "earlier backward() at prog.py:21 had freed: MulBackward0, created at prog.py:20, needs its saved "
               "tensors. Pass retain_graph=True");
}

TEST_F(SourceSiteTest, NewGraphReachingIntoAFreedOne) {
  Tensor w = requires_grad(tensor({1.0, 2.0}, {2}));
  g_line = 30;
  Tensor h = mul(w, w);  // carried over
  g_line = 31;
  backward(sum(h));
  g_line = 32;
  Tensor loss = sum(mul(h, w));
  g_names[loss.get()] = "loss";
  expect_error([&] { backward(loss); }, ErrorKind::Runtime,
               "Here backward() on `loss` (SumBackward0, created at prog.py:32) reached MulBackward0 (created at "
               "prog.py:30), whose saved tensors an earlier backward() at prog.py:31 freed");
  // A fresh graph on the same carried-over h fails the same way (the failed backward
  // above has freed only the new graph's own nodes).
  Tensor again = sum(mul(h, w));
  expect_error([&] { backward(again); }, ErrorKind::Runtime, "detach() it where it is carried over (h = h.detach())");
}

TEST(SourceSite, WithoutARecorderMessagesHaveNoSites) {
  Tensor x = requires_grad(tensor({1.0, 2.0}, {2}));
  Tensor h = exp(x);
  {
    NoGradGuard ng;
    add_(h, wrapped_scalar(Scalar(1.0)));
  }
  expect_error([&] { backward(sum(h)); }, ErrorKind::Runtime,
               "The tensor (float64 [2]) was saved by ExpBackward0 and modified in place by add_ (version 0 -> 1).");
}

}  // namespace
}  // namespace ember
