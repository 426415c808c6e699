#include <cstdlib>
#include <cstring>

#include "kernels/kernels.h"

namespace ember::kernels {

// Until the SIMD tables land, every CPU uses the reference table; EMBER_CPU is read
// here so the switch exists from the start.
const KernelTable& active() {
  static const KernelTable* table = [] {
    const char* env = std::getenv("EMBER_CPU");
    (void)env;
    return &reference();
  }();
  return *table;
}

}  // namespace ember::kernels
