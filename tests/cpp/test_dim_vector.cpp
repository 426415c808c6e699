// DimVector (core/dim_vector.h): the inline-or-heap list behind Shape and Strides, checked
// against std::vector on the operations the code uses, on both sides of the inline size.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/dim_vector.h"

namespace ember {
namespace {

void expect_same(const DimVector& d, const std::vector<int64_t>& v) {
  ASSERT_EQ(d.size(), v.size());
  EXPECT_EQ(d.empty(), v.empty());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(d[i], v[i]) << "at " << i;
  EXPECT_EQ(d.vec(), v);
}

TEST(DimVector, ConstructionForms) {
  expect_same(DimVector(), {});
  expect_same(DimVector(3), {0, 0, 0});
  expect_same(DimVector(2, 7), {7, 7});
  expect_same(DimVector({1, 2, 3}), {1, 2, 3});
  std::vector<int64_t> big{1, 2, 3, 4, 5, 6, 7, 8, 9};
  expect_same(DimVector(big), big);
  expect_same(DimVector(big.begin() + 2, big.end()), {3, 4, 5, 6, 7, 8, 9});
}

TEST(DimVector, StaysInlineUpToKInline) {
  DimVector d;
  for (size_t i = 0; i < DimVector::kInline; ++i) d.push_back(static_cast<int64_t>(i));
  EXPECT_EQ(d.capacity(), DimVector::kInline);
  d.push_back(99);
  EXPECT_GT(d.capacity(), DimVector::kInline);
  expect_same(d, {0, 1, 2, 3, 4, 5, 99});
}

TEST(DimVector, CopyAndMoveOnBothSides) {
  for (size_t n : {size_t{0}, size_t{3}, DimVector::kInline, DimVector::kInline + 5}) {
    std::vector<int64_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<int64_t>(i * 3 + 1);
    DimVector a(v);
    DimVector b(a);  // copy
    expect_same(b, v);
    DimVector c(std::move(a));  // move leaves the source empty and usable
    expect_same(c, v);
    expect_same(a, {});
    a.push_back(5);
    expect_same(a, {5});
    DimVector d;
    d = c;
    expect_same(d, v);
    DimVector e{9, 9};
    e = std::move(d);
    expect_same(e, v);
    const DimVector& alias = e;
    e = alias;  // self-assignment keeps the contents
    expect_same(e, v);
  }
}

TEST(DimVector, InsertEraseResizeMatchStdVector) {
  std::mt19937 rng(7);
  DimVector d;
  std::vector<int64_t> v;
  for (int step = 0; step < 4000; ++step) {
    int64_t x = static_cast<int64_t>(rng() % 100);
    size_t pos = v.empty() ? 0 : rng() % (v.size() + 1);
    switch (rng() % 7) {
      case 0:
        d.push_back(x), v.push_back(x);
        break;
      case 1:
        d.insert(d.begin() + pos, x), v.insert(v.begin() + static_cast<long>(pos), x);
        break;
      case 2:
        if (pos < v.size()) d.erase(d.begin() + pos), v.erase(v.begin() + static_cast<long>(pos));
        break;
      case 3: {
        size_t n = rng() % 12;
        d.resize(n, x), v.resize(n, x);
        break;
      }
      case 4:
        if (!v.empty()) d.pop_back(), v.pop_back();
        break;
      case 5: {  // insert a range taken from itself (aliasing)
        size_t len = v.empty() ? 0 : rng() % (v.size() - pos + 1);
        std::vector<int64_t> part(v.begin() + static_cast<long>(pos), v.begin() + static_cast<long>(pos + len));
        d.insert(d.begin(), d.begin() + pos, d.begin() + pos + len);
        v.insert(v.begin(), part.begin(), part.end());
        if (v.size() > 20) d.resize(5), v.resize(5);
        break;
      }
      case 6:
        if (pos < v.size()) {
          size_t last = pos + rng() % (v.size() - pos + 1);
          d.erase(d.begin() + pos, d.begin() + last);
          v.erase(v.begin() + static_cast<long>(pos), v.begin() + static_cast<long>(last));
        }
        break;
    }
    ASSERT_NO_FATAL_FAILURE(expect_same(d, v)) << "step " << step;
  }
}

TEST(DimVector, AssignAndCompare) {
  DimVector d{1, 2, 3, 4, 5, 6, 7, 8};
  d.assign(2, 4);
  expect_same(d, {4, 4});
  d.assign(d.begin() + 1, d.end());  // a sub-range of itself
  expect_same(d, {4});
  EXPECT_TRUE(DimVector({1, 2}) == DimVector({1, 2}));
  EXPECT_TRUE(DimVector({1, 2}) != DimVector({1, 2, 3}));
  EXPECT_TRUE(DimVector({1, 2}) < DimVector({1, 3}));
  DimVector r{1, 2, 3};
  EXPECT_EQ(std::vector<int64_t>(r.rbegin(), r.rend()), (std::vector<int64_t>{3, 2, 1}));
  EXPECT_EQ(r.front(), 1);
  EXPECT_EQ(r.back(), 3);
}

}  // namespace
}  // namespace ember
