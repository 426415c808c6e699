// Tests of core/shape: broadcasting, strides, contiguity, dim coalescing and dim wrapping.
#include <gtest/gtest.h>

#include "core/shape.h"
#include "test_util.h"

namespace ember {
namespace {

using test::expect_error;

TEST(BroadcastShapes, Compatible) {
  struct Case {
    Shape a, b, want;
  };
  const std::vector<Case> cases = {
      {{}, {}, {}},
      {{}, {2, 3}, {2, 3}},
      {{2, 3}, {}, {2, 3}},
      {{3}, {2, 3}, {2, 3}},
      {{3, 1, 4}, {2, 4}, {3, 2, 4}},
      {{2, 1}, {1, 5}, {2, 5}},
      {{1}, {7}, {7}},
      {{7}, {1}, {7}},
      {{0}, {1}, {0}},
      {{1}, {0}, {0}},
      {{0, 3}, {3}, {0, 3}},
      {{5, 1, 1}, {1, 4, 1}, {5, 4, 1}},
      {{1, 1, 1, 1}, {2}, {1, 1, 1, 2}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(broadcast_shapes(c.a, c.b, "test"), c.want) << shape_str(c.a) << " vs " << shape_str(c.b);
    EXPECT_EQ(broadcast_shapes(c.b, c.a, "test"), c.want) << shape_str(c.b) << " vs " << shape_str(c.a);
  }
}

TEST(BroadcastShapes, MismatchIsRuntimeError) {
  expect_error([] { broadcast_shapes({2, 3}, {3, 2}, "add"); }, ErrorKind::Runtime,
               "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0");
  expect_error([] { broadcast_shapes({4}, {2, 3}, "mul"); }, ErrorKind::Runtime,
               "The size of tensor a (4) must match the size of tensor b (3) at non-singleton dimension 1");
  expect_error([] { broadcast_shapes({0}, {3}, "where"); }, ErrorKind::Runtime, "(in where");
  expect_error([] { broadcast_shapes({2, 1, 3}, {4, 2}, "sub"); }, ErrorKind::Runtime, "[2, 1, 3]");
}

TEST(BroadcastStrides, ZeroForNewAndSizeOneDims) {
  EXPECT_EQ(broadcast_strides({3, 1}, {1, 1}, {2, 3, 4}), (Strides{0, 1, 0}));
  EXPECT_EQ(broadcast_strides({}, {}, {2, 2}), (Strides{0, 0}));
  EXPECT_EQ(broadcast_strides({2, 3}, {3, 1}, {2, 3}), (Strides{3, 1}));
}

TEST(ContiguousStrides, RowMajor) {
  EXPECT_EQ(contiguous_strides({}), Strides{});
  EXPECT_EQ(contiguous_strides({5}), Strides{1});
  EXPECT_EQ(contiguous_strides({2, 3, 4}), (Strides{12, 4, 1}));
  EXPECT_EQ(contiguous_strides({2, 1, 3}), (Strides{3, 3, 1}));
  // A zero size counts as one, as in PyTorch.
  EXPECT_EQ(contiguous_strides({2, 0, 3}), (Strides{3, 3, 1}));
}

TEST(ShapeNumel, ProductAndErrors) {
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(shape_numel({2, 3, 4}), 24);
  EXPECT_EQ(shape_numel({2, 0, 4}), 0);
  EXPECT_EQ(shape_numel({INT64_MAX, INT64_MAX, 0}), 0);
  expect_error([] { shape_numel({2, -1}); }, ErrorKind::Runtime, "negative dimension");
  expect_error([] { shape_numel({INT64_MAX, 2}); }, ErrorKind::Runtime, "overflows");
}

TEST(IsContiguousLayout, Cases) {
  EXPECT_TRUE(is_contiguous_layout({}, {}));
  EXPECT_TRUE(is_contiguous_layout({2, 3}, {3, 1}));
  EXPECT_FALSE(is_contiguous_layout({2, 3}, {1, 2}));  // a transpose
  EXPECT_FALSE(is_contiguous_layout({2, 3}, {6, 2}));  // a strided slice
  EXPECT_FALSE(is_contiguous_layout({2, 3}, {0, 1}));  // an expand
  // Size-1 dims may have any stride.
  EXPECT_TRUE(is_contiguous_layout({2, 1, 3}, {3, 100, 1}));
  EXPECT_TRUE(is_contiguous_layout({1, 1}, {7, 9}));
  EXPECT_TRUE(is_contiguous_layout({1, 4}, {0, 1}));
  // A tensor with no elements is trivially contiguous, whatever its strides.
  EXPECT_TRUE(is_contiguous_layout({0, 3}, {3, 1}));
  EXPECT_TRUE(is_contiguous_layout({0, 3}, {6, 2}));
  EXPECT_TRUE(is_contiguous_layout({3, 0}, {1, 5}));
}

TEST(CoalesceDims, MergesContiguousRuns) {
  Shape shape{2, 3, 4};
  Strides a{12, 4, 1};
  coalesce_dims(shape, {&a});
  EXPECT_EQ(shape, Shape{24});
  EXPECT_EQ(a, Strides{1});
}

TEST(CoalesceDims, KeepsTransposedDims) {
  Shape shape{3, 4};
  Strides out{4, 1}, in{1, 3};
  coalesce_dims(shape, {&out, &in});
  EXPECT_EQ(shape, (Shape{3, 4}));
  EXPECT_EQ(out, (Strides{4, 1}));
  EXPECT_EQ(in, (Strides{1, 3}));
}

TEST(CoalesceDims, MergesOnlyWhereEveryOperandAgrees) {
  // Operand b broadcasts along dim 0 only: dims 1 and 2 merge, dim 0 stays.
  Shape shape{2, 3, 4};
  Strides a{12, 4, 1}, b{0, 4, 1};
  coalesce_dims(shape, {&a, &b});
  EXPECT_EQ(shape, (Shape{2, 12}));
  EXPECT_EQ(a, (Strides{12, 1}));
  EXPECT_EQ(b, (Strides{0, 1}));

  // A scalar operand (all strides zero) never blocks a merge.
  Shape s2{2, 3};
  Strides c{3, 1}, z{0, 0};
  coalesce_dims(s2, {&c, &z});
  EXPECT_EQ(s2, Shape{6});
  EXPECT_EQ(c, Strides{1});
  EXPECT_EQ(z, Strides{0});
}

TEST(CoalesceDims, DropsSizeOneDims) {
  Shape shape{1, 5, 1, 2, 1};
  Strides a{99, 2, 77, 1, 55};
  coalesce_dims(shape, {&a});
  EXPECT_EQ(shape, Shape{10});
  EXPECT_EQ(a, Strides{1});

  Shape ones{1, 1, 1};
  Strides b{5, 6, 7};
  coalesce_dims(ones, {&b});
  EXPECT_EQ(ones, Shape{1});
  EXPECT_EQ(b.size(), 1u);
}

TEST(CoalesceDims, SlicedRowsStaySeparate) {
  // Rows of 4 taken every 8 elements: the row gap blocks the merge.
  Shape shape{3, 4};
  Strides a{8, 1};
  coalesce_dims(shape, {&a});
  EXPECT_EQ(shape, (Shape{3, 4}));
  EXPECT_EQ(a, (Strides{8, 1}));
}

TEST(CoalesceDims, ZeroAndOneDimUntouched) {
  Shape s0{};
  Strides a0{};
  coalesce_dims(s0, {&a0});
  EXPECT_TRUE(s0.empty());
  Shape s1{7};
  Strides a1{3};
  coalesce_dims(s1, {&a1});
  EXPECT_EQ(s1, Shape{7});
  EXPECT_EQ(a1, Strides{3});
}

TEST(WrapDim, WrapsNegativeDims) {
  EXPECT_EQ(wrap_dim(0, 3, "t"), 0);
  EXPECT_EQ(wrap_dim(2, 3, "t"), 2);
  EXPECT_EQ(wrap_dim(-1, 3, "t"), 2);
  EXPECT_EQ(wrap_dim(-3, 3, "t"), 0);
  // A 0-dim tensor accepts 0 and -1, as in PyTorch.
  EXPECT_EQ(wrap_dim(0, 0, "t"), 0);
  EXPECT_EQ(wrap_dim(-1, 0, "t"), 0);
}

TEST(WrapDim, OutOfRangeIsIndexError) {
  expect_error([] { wrap_dim(3, 3, "sum"); }, ErrorKind::Index,
               "Dimension out of range (expected to be in range of [-3, 2], but got 3)");
  expect_error([] { wrap_dim(-4, 3, "sum"); }, ErrorKind::Index, "but got -4");
  expect_error([] { wrap_dim(1, 0, "squeeze"); }, ErrorKind::Index, "[-1, 0]");
  expect_error([] { wrap_dim(-2, 0, "squeeze"); }, ErrorKind::Index, "squeeze");
}

TEST(WrapDim, OpsReportIndexErrors) {
  Tensor x = test::iota({2, 3});
  expect_error([&] { sum(x, {2}, false); }, ErrorKind::Index, "Dimension out of range");
  expect_error([&] { transpose(x, 0, -3); }, ErrorKind::Index, "Dimension out of range");
  expect_error([&] { unsqueeze(x, 3); }, ErrorKind::Index, "Dimension out of range");
  expect_error([&] { select(x, 0, 2); }, ErrorKind::Index, "index 2 is out of bounds for dimension 0 with size 2");
  expect_error([&] { x.size(2); }, ErrorKind::Index, "Dimension out of range");
}

TEST(ShapeStr, LikeTorchSize) {
  EXPECT_EQ(shape_str({}), "[]");
  EXPECT_EQ(shape_str({2, 3}), "[2, 3]");
}

}  // namespace
}  // namespace ember
