#include "core/shape.h"

#include "core/error.h"

namespace ember {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  bool overflow = false;
  for (int64_t s : shape) {
    EMBER_CHECK(s >= 0, "Trying to create tensor with negative dimension ", s, ": ", shape_str(shape));
    overflow |= __builtin_mul_overflow(n, s, &n);
  }
  if (overflow) {
    // A zero size anywhere makes the product zero after all.
    for (int64_t t : shape)
      if (t == 0) return 0;
    throw Error(ErrorKind::Runtime, str("numel overflows int64 for shape ", shape_str(shape)));
  }
  return n;
}

Strides contiguous_strides(const Shape& shape) {
  Strides st(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = acc;
    acc *= shape[i] > 0 ? shape[i] : 1;
  }
  return st;
}

bool is_contiguous_layout(const Shape& shape, const Strides& strides) {
  // No elements: trivially dense, whatever the strides (PyTorch's compute_contiguous).
  for (int64_t s : shape)
    if (s == 0) return true;
  int64_t expected = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 1) continue;
    if (strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t n = ndim > 0 ? ndim : 1;
  EMBER_CHECK_INDEX(dim >= -n && dim < n, "Dimension out of range (expected to be in range of [", -n, ", ",
                    n - 1, "], but got ", dim, ") in ", op);
  return dim < 0 ? dim + n : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da == db || db == 1) {
      out[i] = da;
    } else if (da == 1) {
      out[i] = db;
    } else {
      throw Error(ErrorKind::Runtime,
                  str("The size of tensor a (", da, ") must match the size of tensor b (", db,
                      ") at non-singleton dimension ", i, " (in ", op, ": shapes ", shape_str(a), " and ",
                      shape_str(b), " do not broadcast)"));
    }
  }
  return out;
}

Strides broadcast_strides(const Shape& shape, const Strides& strides, const Shape& to) {
  Strides out(to.size(), 0);
  size_t off = to.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) out[off + i] = shape[i] == 1 ? 0 : strides[i];
  return out;
}

void coalesce_dims(Shape& shape, std::vector<Strides*> strides) {
  if (shape.size() <= 1) return;
  // Drop size-1 dims first: their strides never matter.
  size_t w = 0;
  for (size_t r = 0; r < shape.size(); ++r) {
    if (shape[r] == 1) continue;
    shape[w] = shape[r];
    for (Strides* s : strides) (*s)[w] = (*s)[r];
    ++w;
  }
  if (w == 0) {  // all ones: keep a single dim
    shape.assign(1, 1);
    for (Strides* s : strides) s->assign(1, 0);
    return;
  }
  shape.resize(w);
  for (Strides* s : strides) s->resize(w);
  // Merge dim i into i+1 when stride[i] == stride[i+1] * shape[i+1] for every operand.
  size_t out = 0;
  for (size_t i = 1; i < shape.size(); ++i) {
    bool mergeable = true;
    for (Strides* s : strides) mergeable &= ((*s)[out] == (*s)[i] * shape[i]);
    if (mergeable) {
      shape[out] *= shape[i];
      for (Strides* s : strides) (*s)[out] = (*s)[i];
    } else {
      ++out;
      shape[out] = shape[i];
      for (Strides* s : strides) (*s)[out] = (*s)[i];
    }
  }
  shape.resize(out + 1);
  for (Strides* s : strides) s->resize(out + 1);
}

}  // namespace ember
