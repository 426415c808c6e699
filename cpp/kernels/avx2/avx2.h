// Entry points of the AVX2+FMA translation units (compiled with -mavx2 -mfma). Only
// dispatch.cpp calls them, and only after checking that the CPU has AVX2 and FMA.
#pragma once

#include "kernels/kernels.h"

namespace ember::kernels::avx2 {

void gemm(DType dt, int64_t m, int64_t n, int64_t k, const char* a, int64_t rsa, int64_t csa, const char* b,
          int64_t rsb, int64_t csb, char* c, int64_t rsc, int64_t csc, const char* d, int64_t rsd, int64_t csd);
void unary(UnaryOp op, DType dt, const Loop& loop);
void binary(BinaryOp op, DType dt, const Loop& loop);
void clamp(DType dt, const Loop& loop, const ScalarValue* lo, const ScalarValue* hi);
void clamp_backward(DType dt, const Loop& loop, const ScalarValue* lo, const ScalarValue* hi);
void threshold_backward(DType dt, const Loop& loop, ScalarValue threshold);
void where(DType dt, const Loop& loop);
void cast_copy(DType dst, DType src, const Loop& loop);
void fill(DType dt, const Loop& loop, ScalarValue value);
void reduce(ReduceOp op, DType dt, const Loop& outer, const Loop& inner);
void arg_reduce(ReduceOp op, DType dt, const Loop& outer, int64_t n, int64_t stride);

}  // namespace ember::kernels::avx2
