// Element types and PyTorch's type promotion.
//
// ember has four dtypes: float32 (the default floating type), float64, int64 and bool.
// Only the floating types can require gradients. Promotion follows PyTorch's
// result_type: operands are split into three priority groups (tensors with dim > 0,
// zero-dim tensors, Python scalars); a lower group only changes the result when it is
// of a higher category (bool < integer < floating), so `float32_tensor * 2.0` stays
// float32 and `int64_tensor * 2.5` becomes float32.
#pragma once

#include <cstdint>
#include <string>

namespace ember {

enum class DType : uint8_t { Bool = 0, Int64 = 1, Float32 = 2, Float64 = 3 };

constexpr int kNumDTypes = 4;

inline size_t itemsize(DType t) {
  switch (t) {
    case DType::Bool: return 1;
    case DType::Int64: return 8;
    case DType::Float32: return 4;
    case DType::Float64: return 8;
  }
  return 0;
}

inline bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Bool: return "bool";
    case DType::Int64: return "int64";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
  }
  return "?";
}

// PyTorch's ScalarType name, used in casting errors ("result type Float can't be cast ...").
inline const char* dtype_scalar_type_name(DType t) {
  switch (t) {
    case DType::Bool: return "Bool";
    case DType::Int64: return "Long";
    case DType::Float32: return "Float";
    case DType::Float64: return "Double";
  }
  return "?";
}

// PyTorch's legacy type string, used in autograd error messages ("torch.FloatTensor").
inline const char* dtype_tensor_type(DType t) {
  switch (t) {
    case DType::Bool: return "BoolTensor";
    case DType::Int64: return "LongTensor";
    case DType::Float32: return "FloatTensor";
    case DType::Float64: return "DoubleTensor";
  }
  return "?";
}

// Categories: 0 bool, 1 integer, 2 floating.
inline int dtype_category(DType t) { return t == DType::Bool ? 0 : (t == DType::Int64 ? 1 : 2); }

// The four dtypes are totally ordered, so promotion of two is their maximum.
inline DType promote(DType a, DType b) { return static_cast<uint8_t>(a) > static_cast<uint8_t>(b) ? a : b; }

// Tracks the three priority groups of PyTorch's result_type.
struct ResultTypeState {
  int dim_result = -1, zero_result = -1, wrapped_result = -1;  // -1: no operand yet

  static void update(int& slot, DType t) {
    slot = slot < 0 ? static_cast<int>(t) : static_cast<int>(promote(static_cast<DType>(slot), t));
  }
  void add_tensor(DType t, int64_t dim) { update(dim > 0 ? dim_result : zero_result, t); }
  // A Python scalar: bool, int (int64) or float (the default float dtype).
  // A wrapped float may be stored as float64 (to keep the value exact) but promotes as
  // the default dtype, as PyTorch's result_type does: int64_tensor + 1.5 is float32.
  void add_scalar(DType t) { update(wrapped_result, is_floating(t) ? DType::Float32 : t); }

  static int combine(int higher, int lower) {
    if (higher < 0) return lower;
    if (lower < 0) return higher;
    DType h = static_cast<DType>(higher), l = static_cast<DType>(lower);
    if (is_floating(h)) return higher;
    if (h == DType::Bool || is_floating(l)) return static_cast<int>(promote(h, l));
    return higher;
  }
  DType result() const {
    int r = combine(dim_result, combine(zero_result, wrapped_result));
    return r < 0 ? DType::Float32 : static_cast<DType>(r);
  }
};

}  // namespace ember
