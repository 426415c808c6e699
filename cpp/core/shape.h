// Shapes, strides and broadcasting.
//
// A shape is a list of non-negative sizes; strides are in elements (not bytes) and may
// be zero (a broadcast or expanded dimension) but never negative. Everything here is
// pure arithmetic on these lists, shared by the tensor layer and the ops.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dim_vector.h"

namespace ember {

using Shape = DimVector;
using Strides = DimVector;

// Product of sizes; throws if it overflows int64.
int64_t shape_numel(const Shape& shape);

// Row-major strides for a dense tensor of this shape.
Strides contiguous_strides(const Shape& shape);

// True when (shape, strides) describe a dense row-major layout (size-1 dims ignored).
bool is_contiguous_layout(const Shape& shape, const Strides& strides);

// "[2, 3]" as PyTorch's torch.Size prints in messages.
std::string shape_str(const Shape& shape);

// Wraps a possibly negative dim into [0, ndim); IndexError naming the op otherwise.
// For ndim == 0 PyTorch accepts dims -1 and 0.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

// NumPy/PyTorch broadcasting of two shapes; RuntimeError with PyTorch's wording.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Strides that read a tensor of (shape, strides) as if it had the broadcast shape `to`.
Strides broadcast_strides(const Shape& shape, const Strides& strides, const Shape& to);

// Merges adjacent dims that are contiguous with each other in every operand, so the
// kernels see as few (and as long) loops as possible. Updates shape and each stride list.
void coalesce_dims(Shape& shape, std::vector<Strides*> strides);

}  // namespace ember
