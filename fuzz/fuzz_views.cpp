// libFuzzer target over the core's tensor construction, view and indexing paths.
//
// The input bytes are a little program: a shape (0-4 dims, sizes 0-7) and dtype, then up to
// 16 ops drawn from select, slice (negative and out-of-range bounds, steps 1-4, and invalid
// 0 / negative steps), transpose, permute, unsqueeze, squeeze, expand, view, reshape,
// flatten, contiguous, clone and from_blob-style copies, each with raw argument bytes (so
// dims and indices go out of range too). After each op every element of the result is
// read, and written through contiguous(), so AddressSanitizer sees any view that escapes
// its storage; a shape whose numel disagrees with its strides' reach is an error too.
// Bad arguments must raise ember::Error; anything else (a crash, an ASan or UBSan report,
// another exception type) is a finding.
//
// Build and run (clang; see README "Reliability"):
//   cmake -S . -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DEMBER_FUZZ=ON -DEMBER_BUILD_TESTS=OFF
//   cmake --build build/fuzz -j2 --target fuzz_views
//   build/fuzz/fuzz_views -max_total_time=60 -max_len=64
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "ops/ops.h"

namespace {

using namespace ember;

struct Bytes {
  const uint8_t* p;
  size_t n;
  uint8_t next() {
    if (!n) return 0;
    --n;
    return *p++;
  }
  int64_t small_signed(int range) { return static_cast<int64_t>(next() % (2 * range + 1)) - range; }
};

// Reads every element through the tensor's strides: out-of-storage reach is an ASan report.
double touch(const Tensor& t) {
  const int64_t n = t.numel();
  if (n == 0) return 0;
  const int64_t nd = t.dim();
  std::vector<int64_t> idx(static_cast<size_t>(nd), 0);
  const size_t isz = itemsize(t.dtype());
  const char* base = t.raw_data();
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (int64_t d = 0; d < nd; ++d) off += idx[d] * t.strides()[d];
    unsigned char buf[8] = {};
    std::memcpy(buf, base + off * static_cast<int64_t>(isz), isz);
    acc += buf[0];
    for (int64_t d = nd - 1; d >= 0; --d) {
      if (++idx[d] < t.shape()[d]) break;
      idx[d] = 0;
    }
  }
  return acc;
}

Tensor step(const Tensor& t, Bytes& in) {
  const int64_t nd = t.dim();
  switch (in.next() % 13) {
    case 0: return select(t, in.small_signed(5), in.small_signed(8));
    case 1: {
      const uint8_t flags = in.next();
      std::optional<int64_t> start, end;
      if (flags & 1) start = in.small_signed(9);
      if (flags & 2) end = in.small_signed(9);
      return slice(t, in.small_signed(5), start, end, in.small_signed(4));
    }
    case 2: return transpose(t, in.small_signed(5), in.small_signed(5));
    case 3: {
      std::vector<int64_t> dims;
      for (int64_t d = 0; d < nd; ++d) dims.push_back(in.small_signed(5));
      if (in.next() % 8 == 0) dims.push_back(0);  // sometimes the wrong count
      return permute(t, dims);
    }
    case 4: return unsqueeze(t, in.small_signed(6));
    case 5: return in.next() % 2 ? squeeze(t) : squeeze(t, in.small_signed(5));
    case 6: {
      std::vector<int64_t> shape;
      const int64_t k = nd + in.next() % 3;
      for (int64_t d = 0; d < k; ++d) shape.push_back(in.small_signed(7));
      return expand(t, shape);
    }
    case 7:
    case 8: {
      std::vector<int64_t> shape;
      const int64_t k = in.next() % 5;
      for (int64_t d = 0; d < k; ++d) shape.push_back(in.small_signed(9));
      return (in.next() % 2) ? view(t, shape) : reshape(t, shape);
    }
    case 9: return flatten(t, in.small_signed(5), in.small_signed(5));
    case 10: return contiguous(t);
    case 11: return clone(t);
    default: return t.dim() ? t : unsqueeze(t, 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes in{data, size};
  const int nd = in.next() % 5;
  Shape shape;
  for (int d = 0; d < nd; ++d) shape.push_back(in.next() % 8);
  const DType dts[] = {DType::Float32, DType::Float64, DType::Int64, DType::Bool};
  const DType dt = dts[in.next() % 4];
  try {
    Tensor t = full(shape, Scalar(int64_t{1}), dt);
    for (int i = 0; i < 16 && in.n; ++i) {
      try {
        Tensor r = step(t, in);
        touch(r);
        touch(contiguous(r));
        t = r;
      } catch (const Error&) {
        // a clear error for a bad argument: what the core promises
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
