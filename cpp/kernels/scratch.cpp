#include "kernels/scratch.h"

#include <cstdlib>
#include <new>

namespace ember::kernels {

Scratch::~Scratch() { std::free(p); }

void* Scratch::bytes(size_t n) {
  const size_t rounded = (n + 63) / 64 * 64;
  if (rounded > cap) {
    std::free(p);
    p = std::aligned_alloc(64, rounded);
    if (!p) {
      cap = 0;
      throw std::bad_alloc();
    }
    cap = rounded;
  }
  return p;
}

}  // namespace ember::kernels
