// A grow-only, 64-byte aligned scratch buffer, for one thread and one role (the GEMM's
// packed panels, the elementwise kernels' staging rows), so a kernel neither allocates
// nor page-faults after the first large call. Its functions are defined out of line, in a
// unit compiled for the baseline ISA: the AVX2 and AVX-512 units that use it then define
// no inline (weak) code of theirs for it, which the linker could keep for baseline callers
// (scripts/check_no_avx2.sh).
#pragma once

#include <cstddef>

namespace ember::kernels {

struct Scratch {
  void* p = nullptr;
  size_t cap = 0;  // bytes
  ~Scratch();
  // At least `bytes` bytes, 64-byte aligned: the buffer as it is when it holds that many,
  // else a new one (the old contents are lost). Throws std::bad_alloc, leaving it empty.
  void* bytes(size_t bytes);
};

}  // namespace ember::kernels
