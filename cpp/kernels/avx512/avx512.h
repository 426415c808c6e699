// Entry points of the AVX-512 translation units (compiled with -mavx512f -mavx512vl
// -mavx512dq -mavx512bw -mfma). Only dispatch.cpp calls them, and only after checking
// that the CPU (and the OS, for the zmm state) has all of these.
#pragma once

#include "kernels/kernels.h"

namespace ember::kernels::avx512 {

void gemm(DType dt, int64_t m, int64_t n, int64_t k, const char* a, int64_t rsa, int64_t csa, const char* b,
          int64_t rsb, int64_t csb, char* c, int64_t rsc, int64_t csc, const char* d, int64_t rsd, int64_t csd);

}  // namespace ember::kernels::avx512
