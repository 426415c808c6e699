// Tests of tensors and views: every view shares storage and the version counter with
// its base, records the root as view_base, and sees writes made through the base (and
// the other way round); reshape copies only when no view is possible; detach shares.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>

#include "autograd/grad_mode.h"
#include "test_util.h"

namespace ember {
namespace {

using test::expect_error;
using test::expect_values_eq;
using test::iota;
using test::values;

// The element of `base` (contiguous) that element `flat` of view `v` aliases.
int64_t base_index(const Tensor& base, const Tensor& v, int64_t flat) {
  char* p = test::elem_ptr(v, flat);
  return (p - base.raw_data()) / static_cast<int64_t>(itemsize(base.dtype()));
}

struct ViewCase {
  const char* name;
  Shape base_shape;
  std::function<Tensor(const Tensor&)> make;
  Shape want_shape;
  std::vector<double> want_values;  // base is iota(base_shape)
};

const std::vector<ViewCase>& view_cases() {
  static const std::vector<ViewCase> cases = {
      {"select", {2, 3}, [](const Tensor& b) { return select(b, 0, 1); }, {3}, {3, 4, 5}},
      {"select_neg", {2, 3}, [](const Tensor& b) { return select(b, -1, -1); }, {2}, {2, 5}},
      {"slice", {6}, [](const Tensor& b) { return slice(b, 0, 1, 5, 1); }, {4}, {1, 2, 3, 4}},
      {"slice_step", {2, 5}, [](const Tensor& b) { return slice(b, 1, 0, std::nullopt, 2); }, {2, 3},
       {0, 2, 4, 5, 7, 9}},
      {"slice_neg", {6}, [](const Tensor& b) { return slice(b, 0, -3, std::nullopt, 1); }, {3}, {3, 4, 5}},
      {"transpose", {2, 3}, [](const Tensor& b) { return transpose(b, 0, 1); }, {3, 2}, {0, 3, 1, 4, 2, 5}},
      {"t", {2, 3}, [](const Tensor& b) { return t(b); }, {3, 2}, {0, 3, 1, 4, 2, 5}},
      {"permute", {2, 1, 3}, [](const Tensor& b) { return permute(b, {2, 0, 1}); }, {3, 2, 1}, {0, 3, 1, 4, 2, 5}},
      {"expand", {3, 1}, [](const Tensor& b) { return expand(b, {2, 3, 2}); }, {2, 3, 2},
       {0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2}},
      {"view", {2, 3}, [](const Tensor& b) { return view(b, {3, -1}); }, {3, 2}, {0, 1, 2, 3, 4, 5}},
      {"reshape_viewable", {2, 3}, [](const Tensor& b) { return reshape(b, {6}); }, {6}, {0, 1, 2, 3, 4, 5}},
      {"unsqueeze", {2, 3}, [](const Tensor& b) { return unsqueeze(b, 1); }, {2, 1, 3}, {0, 1, 2, 3, 4, 5}},
      {"unsqueeze_end", {2, 3}, [](const Tensor& b) { return unsqueeze(b, -1); }, {2, 3, 1}, {0, 1, 2, 3, 4, 5}},
      {"squeeze", {2, 1, 3, 1}, [](const Tensor& b) { return squeeze(b); }, {2, 3}, {0, 1, 2, 3, 4, 5}},
      {"squeeze_dim", {2, 1, 3, 1}, [](const Tensor& b) { return squeeze(b, 1); }, {2, 3, 1}, {0, 1, 2, 3, 4, 5}},
      {"squeeze_dims", {1, 2, 1}, [](const Tensor& b) { return squeeze(b, std::vector<int64_t>{0, 2}); }, {2},
       {0, 1}},
      {"alias", {2, 2}, [](const Tensor& b) { return alias(b); }, {2, 2}, {0, 1, 2, 3}},
      {"flatten", {2, 3, 2}, [](const Tensor& b) { return flatten(b, 1, 2); }, {2, 6},
       {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
      {"chain", {4, 6},
       // Columns 1 and 3, transposed to (2, 4); row 1 is column 3 of b.
       [](const Tensor& b) { return select(transpose(slice(b, 1, 1, 5, 2), 0, 1), 0, 1); }, {4}, {3, 9, 15, 21}},
  };
  return cases;
}

class ViewTest : public ::testing::TestWithParam<size_t> {};

TEST_P(ViewTest, SharesStorageAndVersion) {
  const ViewCase& c = view_cases()[GetParam()];
  Tensor base = iota(c.base_shape);
  Tensor v = c.make(base);
  EXPECT_EQ(v.shape(), c.want_shape);
  EXPECT_TRUE(v.storage() == base.storage()) << "a view must share the storage";
  EXPECT_TRUE(v->version_counter() == base->version_counter()) << "a view must share the version counter";
  ASSERT_TRUE(v->is_view());
  EXPECT_TRUE(v->view_base().is_same(base)) << "view_base must be the root, never an intermediate view";
}

TEST_P(ViewTest, ReadsTheBase) {
  const ViewCase& c = view_cases()[GetParam()];
  Tensor base = iota(c.base_shape);
  expect_values_eq(c.make(base), c.want_values);
}

TEST_P(ViewTest, WritesGoBothWays) {
  const ViewCase& c = view_cases()[GetParam()];
  Tensor base = iota(c.base_shape);
  Tensor v = c.make(base);
  // Write through the view (in place, which bumps the shared version).
  uint32_t before = base.version();
  if (std::string(c.name).rfind("expand", 0) == 0) {
    // Writing to an expanded view would write overlapping memory; write through the base.
    fill_(base, Scalar(-1.0));
    for (double x : values(v)) EXPECT_EQ(x, -1.0);
    EXPECT_GT(base.version(), before);
    EXPECT_EQ(v.version(), base.version());
    return;
  }
  fill_(v, Scalar(-1.0));
  EXPECT_GT(base.version(), before);
  EXPECT_EQ(v.version(), base.version());
  std::vector<double> b = values(base);
  std::vector<bool> touched(b.size(), false);
  for (int64_t i = 0; i < v.numel(); ++i) touched[base_index(base, v, i)] = true;
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(b[i], touched[i] ? -1.0 : static_cast<double>(i)) << i;
  // Write through the base; the view sees it.
  Tensor five = test::scalar(5.0);
  add_(base, five);
  for (double x : values(v)) EXPECT_EQ(x, 4.0);
}

std::string view_name(const ::testing::TestParamInfo<size_t>& info) { return view_cases()[info.param].name; }

INSTANTIATE_TEST_SUITE_P(Views, ViewTest, ::testing::Range<size_t>(0, view_cases().size()), view_name);

TEST(Views, ReshapeCopiesWhenNotViewable) {
  Tensor base = iota({2, 3});
  Tensor tr = transpose(base, 0, 1);  // (3, 2), not contiguous
  Tensor r = reshape(tr, {6});
  EXPECT_FALSE(r.storage() == base.storage()) << "a non-viewable reshape must copy";
  expect_values_eq(r, {0, 3, 1, 4, 2, 5});
  fill_(r, Scalar(7.0));
  expect_values_eq(base, {0, 1, 2, 3, 4, 5});
  // view() refuses the same request.
  expect_error([&] { view(tr, {6}); }, ErrorKind::Runtime, "view size is not compatible");
}

TEST(Views, ReshapeOfStridedSliceThatIsViewable) {
  // Rows 0 and 2 of a (4, 3): each row is contiguous, so (2, 3) -> (2, 3, 1) stays a view.
  Tensor base = iota({4, 3});
  Tensor s = slice(base, 0, 0, std::nullopt, 2);
  Tensor r = reshape(s, {2, 3, 1});
  EXPECT_TRUE(r.storage() == base.storage());
  expect_values_eq(r, {0, 1, 2, 6, 7, 8});
  Tensor flat = reshape(s, {6});  // rows are not adjacent: copy
  EXPECT_FALSE(flat.storage() == base.storage());
  expect_values_eq(flat, {0, 1, 2, 6, 7, 8});
}

// Storage index of element `flat` of `v`.
int64_t base_index_of(const Tensor& v, int64_t flat) {
  int64_t off = v.offset();
  for (int64_t d = v.dim() - 1; d >= 0; --d) {
    off += (flat % v.shape()[d]) * v.strides()[d];
    flat /= v.shape()[d];
  }
  return off;
}

// All ways to write n as an ordered product of up to `dims` factors (ones allowed).
void factorizations(int64_t n, int dims, Shape& cur, std::vector<Shape>& out) {
  if (dims == 0) {
    if (n == 1) out.push_back(cur);
    return;
  }
  for (int64_t f = 1; f <= n; ++f) {
    if (n % f) continue;
    cur.push_back(f);
    factorizations(n / f, dims - 1, cur, out);
    cur.pop_back();
  }
}

TEST(Views, ReshapeAgreesWithContiguousCopy) {
  // Random permuted / sliced / unsqueezed layouts, reshaped into every factorisation:
  // the values always match a reshape of a contiguous copy; a view, when view()
  // accepts, aliases the input; a contiguous input always gets a view.
  std::mt19937_64 rng(7);
  int views = 0, copies = 0;
  for (int trial = 0; trial < 60; ++trial) {
    int nd = 1 + static_cast<int>(rng() % 4);
    Shape shape;
    for (int d = 0; d < nd; ++d) shape.push_back(1 + static_cast<int64_t>(rng() % 3));
    Tensor v = iota(shape);
    std::vector<int64_t> perm(nd);
    for (int d = 0; d < nd; ++d) perm[d] = d;
    std::shuffle(perm.begin(), perm.end(), rng);
    v = permute(v, perm);
    if (rng() % 2 && v.size(0) > 1) v = slice(v, 0, 0, std::nullopt, 2);
    if (rng() % 2) v = unsqueeze(v, static_cast<int64_t>(rng() % (v.dim() + 1)));
    std::vector<double> want = values(v);
    std::vector<Shape> targets;
    Shape cur;
    for (int d = 0; d <= 4; ++d) factorizations(v.numel(), d, cur, targets);
    for (const Shape& ts : targets) {
      std::vector<int64_t> tv(ts.begin(), ts.end());
      Tensor r = reshape(v, tv);
      ASSERT_EQ(r.shape(), ts);
      ASSERT_EQ(values(r), want) << shape_str(v.shape()) << " strides " << shape_str(v.strides()) << " -> "
                                 << shape_str(ts);
      bool viewable = true;
      try {
        Tensor w = view(v, tv);
        EXPECT_TRUE(w.storage() == v.storage());
        EXPECT_EQ(values(w), want);
        EXPECT_TRUE(r.storage() == v.storage()) << "reshape copied although view() works";
        ++views;
      } catch (const Error&) {
        viewable = false;
        EXPECT_FALSE(r.storage() == v.storage());
        ++copies;
      }
      if (v.is_contiguous()) {
        EXPECT_TRUE(viewable) << shape_str(v.shape()) << " -> " << shape_str(ts);
      }
      // Brute force: is there any strided layout of `ts` addressing the same elements?
      std::vector<int64_t> addr(v.numel());
      for (int64_t i = 0; i < v.numel(); ++i) addr[i] = base_index_of(v, i);
      Strides cand(ts.size(), 0), dense = contiguous_strides(ts);
      for (size_t d = 0; d < ts.size(); ++d)
        if (ts[d] > 1) cand[d] = addr[dense[d]] - addr[0];
      bool affine = true;
      for (int64_t i = 0; i < v.numel() && affine; ++i) {
        int64_t rem = i, a = addr[0];
        for (size_t d = 0; d < ts.size(); ++d) {
          a += (rem / dense[d]) * cand[d];
          rem %= dense[d];
        }
        affine = a == addr[i];
      }
      EXPECT_EQ(viewable, affine) << shape_str(v.shape()) << " strides " << shape_str(v.strides()) << " -> "
                                  << shape_str(ts);
    }
  }
  EXPECT_GT(views, 0);
  EXPECT_GT(copies, 0);
}

TEST(Views, ViewOfZeroDimTensor) {
  Tensor s = test::scalar(3.0);
  Tensor v1 = view(s, {1});
  EXPECT_EQ(v1.shape(), Shape{1});
  EXPECT_TRUE(v1.storage() == s.storage());
  Tensor v2 = view(s, {1, 1, -1});
  EXPECT_EQ(v2.shape(), (Shape{1, 1, 1}));
  Tensor back = view(v2, {});
  EXPECT_EQ(back.dim(), 0);
  EXPECT_EQ(test::item(back), 3.0);
  Tensor r = reshape(s, {-1});
  EXPECT_TRUE(r.storage() == s.storage());
}

TEST(Views, ViewOfEmptyTensor) {
  Tensor e = zeros({0, 3}, DType::Float32);
  Tensor v = view(e, {3, 0, 1, 2});
  EXPECT_EQ(v.shape(), (Shape{3, 0, 1, 2}));
  EXPECT_TRUE(v.is_contiguous());
  // -1 next to a zero size could be anything: PyTorch refuses it.
  expect_error([&] { view(e, {3, 0, -1, 2}); }, ErrorKind::Runtime, "ambiguous");
  expect_error([&] { view(e, {-1, 0}); }, ErrorKind::Runtime, "ambiguous");
  Tensor s = slice(zeros({0, 6}, DType::Float32), 1, 0, std::nullopt, 2);
  EXPECT_TRUE(s.is_contiguous()) << "a tensor with no elements is contiguous whatever its strides";
}

TEST(Views, ViewErrors) {
  Tensor x = iota({2, 3});
  expect_error([&] { view(x, {4, -1}); }, ErrorKind::Runtime, "shape '[4, -1]' is invalid for input of size 6");
  expect_error([&] { view(x, {-1, -1}); }, ErrorKind::Runtime, "only one dimension can be inferred");
  expect_error([&] { expand(x, {3, 3}); }, ErrorKind::Runtime, "must match the existing size (2)");
  expect_error([&] { permute(x, {0, 0}); }, ErrorKind::Runtime, "duplicate dims");
  expect_error([&] { slice(x, 0, 0, 1, 0); }, ErrorKind::Value, "step must be greater than zero");
  expect_error([&] { select(test::scalar(1.0), 0, 0); }, ErrorKind::Index, "0-dim");
}

TEST(Views, ViewBaseIsAlwaysTheRoot) {
  Tensor base = iota({4, 4});
  Tensor v = base;
  for (int i = 0; i < 10; ++i) v = alias(transpose(v, 0, 1));
  EXPECT_TRUE(v->view_base().is_same(base));
  EXPECT_FALSE(v->view_base()->is_view());
}

TEST(Views, ExpandHasZeroStrides) {
  Tensor b = iota({3, 1});
  Tensor e = expand(b, {2, -1, 4});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides(), (Strides{0, 1, 0}));
  EXPECT_FALSE(e.is_contiguous());
}

TEST(Views, SelectAndSliceOffsets) {
  Tensor b = iota({3, 4});
  Tensor s = select(b, 0, 2);
  EXPECT_EQ(s.offset(), 8);
  Tensor sl = slice(s, 0, 1, 3, 1);
  EXPECT_EQ(sl.offset(), 9);
  expect_values_eq(sl, {9, 10});
  Tensor empty_slice = slice(b, 1, 3, 1, 1);
  EXPECT_EQ(empty_slice.shape(), (Shape{3, 0}));
}

TEST(Views, ContiguousCopiesOnlyWhenNeeded) {
  Tensor b = iota({2, 3});
  EXPECT_TRUE(contiguous(b).is_same(b));
  Tensor tr = transpose(b, 0, 1);
  Tensor c = contiguous(tr);
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_FALSE(c.storage() == b.storage());
  expect_values_eq(c, {0, 3, 1, 4, 2, 5});
}

TEST(Detach, SharesStorageAndVersionWithoutHistory) {
  Tensor x = test::requires_grad(iota({2, 2}));
  Tensor y = mul(x, x);
  ASSERT_TRUE(y.grad_fn() != nullptr);
  Tensor d = detach(y);
  EXPECT_TRUE(d.storage() == y.storage());
  EXPECT_TRUE(d->version_counter() == y->version_counter());
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_TRUE(d.grad_fn() == nullptr);
  // An in-place write through the detached tensor is seen by y and bumps y's version.
  uint32_t v = y.version();
  fill_(d, Scalar(2.0));
  expect_values_eq(y, {2, 2, 2, 2});
  EXPECT_GT(y.version(), v);
}

TEST(Tensor, Basics) {
  Tensor x = iota({2, 3, 4}, DType::Float32);
  EXPECT_EQ(x.dim(), 3);
  EXPECT_EQ(x.numel(), 24);
  EXPECT_EQ(x.size(-1), 4);
  EXPECT_EQ(x.dtype(), DType::Float32);
  EXPECT_TRUE(x.is_contiguous());
  EXPECT_FALSE(x.requires_grad());
  EXPECT_TRUE(x.is_leaf());
  EXPECT_EQ(x->autograd(), nullptr) << "autograd state must be allocated lazily";
  EXPECT_EQ(tensor_desc(x), "[ember.FloatTensor [2, 3, 4]]");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(x.storage()->data()) % 64, 0u);
}

TEST(Tensor, InPlaceBumpsVersion) {
  Tensor x = iota({3});
  EXPECT_EQ(x.version(), 0u);
  add_(x, test::scalar(1.0));
  EXPECT_EQ(x.version(), 1u);
  mul_(x, test::scalar(2.0));
  zero_(x);
  EXPECT_EQ(x.version(), 3u);
  Tensor y = clone(x);
  EXPECT_EQ(y.version(), 0u);
}

TEST(Tensor, InPlaceWithPartiallyOverlappingOperandIsAnError) {
  // PyTorch's rule: an input that is dense and shares only part of the written-to tensor's
  // memory (or all of it, laid out differently) is refused, and nothing is written.
  const char* msg = "some elements of the input tensor and the written-to tensor refer to a single memory location";
  Tensor x = iota({2, 2});
  expect_error([&] { add_(x, t(x)); }, ErrorKind::Runtime, msg);
  expect_values_eq(x, {0, 1, 2, 3});
  Tensor y = iota({5});
  Tensor dst = slice(y, 0, 1, 5, 1), src = slice(y, 0, 0, 4, 1);
  expect_error([&] { copy_(dst, src); }, ErrorKind::Runtime, msg);
  expect_values_eq(y, {0, 1, 2, 3, 4});
  Tensor z = iota({5});
  Tensor zd = slice(z, 0, 0, 4, 1), zs = slice(z, 0, 1, 5, 1);
  expect_error([&] { mul_(zd, zs); }, ErrorKind::Runtime, msg);
  expect_values_eq(z, {0, 1, 2, 3, 4});
  // The same elements with the same strides are fine: x.add_(x), through another view too.
  Tensor w = iota({4});
  Tensor w1 = slice(w, 0, 1, 4, 1), w2 = slice(w, 0, 1, 4, 1);
  add_(w1, w2);
  expect_values_eq(w, {0, 2, 4, 6});
}

TEST(Tensor, InPlaceWithOverlappingBroadcastOperandReadsItFirst) {
  // A broadcast (or strided) input is not compared, as in PyTorch; it is read completely
  // before anything is written.
  Tensor y = iota({6});
  Tensor dst = slice(y, 0, 1, 6, 1);
  copy_(dst, expand(slice(y, 0, 0, 1, 1), {5}));
  expect_values_eq(y, {0, 0, 0, 0, 0, 0});
  Tensor z = iota({6});
  Tensor zd = slice(z, 0, 0, 5, 1);
  add_(zd, expand(slice(z, 0, 5, 6, 1), {5}));
  expect_values_eq(z, {5, 6, 7, 8, 9, 5});
}

TEST(Tensor, InPlaceOnLeafThatRequiresGradIsAnError) {
  Tensor x = test::requires_grad(iota({3}));
  expect_error([&] { add_(x, test::scalar(1.0)); }, ErrorKind::Runtime,
               "a leaf Variable that requires grad is being used in an in-place operation");
  Tensor v = select(x, 0, 1);
  expect_error([&] { fill_(v, Scalar(0.0)); }, ErrorKind::Runtime, "a view of a leaf Variable");
  // Allowed under no_grad, and then visible through the view.
  {
    NoGradGuard ng;
    add_(x, test::scalar(1.0));
  }
  expect_values_eq(x, {1, 2, 3});
}

}  // namespace
}  // namespace ember
