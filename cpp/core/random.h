// Random numbers that reproduce PyTorch's CPU streams.
//
// The stream contract
// -------------------
// A Generator is a 32-bit Mersenne Twister (MT19937, the standard one: same
// tempering, same init_genrand seeding) plus one cached double-precision normal
// sample. Everything ember draws goes through it, in the same order and with the
// same arithmetic as PyTorch 2.x's CPUGeneratorImpl and its CPU kernels, so that
//
//     ember.manual_seed(s); ember.randn(...)  ==  torch.manual_seed(s); torch.randn(...)
//
// holds element for element and bit for bit, for float32 and float64, for any
// sequence of randn / rand / normal_ / uniform_ calls on the same generator.
//
// * Seeding. The engine is seeded with the low 32 bits of the 64-bit seed;
//   initial_seed() still reports all 64 bits (torch.manual_seed(2**32 + 7) and
//   torch.manual_seed(7) give the same numbers, with different initial_seed()).
//   A negative Python seed maps to seed mod 2**64. Seeding also drops the cached
//   normal sample.
// * random() is one engine draw. random64() is two draws, the FIRST one being the
//   high 32 bits: (uint64(first) << 32) | second.
// * Uniform [from, to): float32 takes 24 bits of one draw, x = (r & 0xFFFFFF) * 2^-24;
//   float64 takes 53 bits of random64(), x = (r64 & (2^53 - 1)) * 2^-53. The value
//   is fma(x, to - from, from) computed in the element type, and a result equal to
//   `to` (possible after rounding) is replaced by `from`. One draw (float32) or two
//   (float64) per element, in element order.
// * Normal, n >= 16 elements, contiguous ("block path"): first fill all n slots
//   with uniforms [0,1) of the element type, then Box-Muller every 16-block in
//   place, pairing element j with element j+8 (u1 = 1 - data[j] feeds the radius,
//   u2 = data[j+8] the angle; data[j] gets the cosine, data[j+8] the sine). When
//   n % 16 != 0, 16 FRESH uniforms are drawn into the last 16 slots (overwriting
//   normals already computed there) and that block is transformed again. So the
//   block path consumes n + (n % 16 ? 16 : 0) uniforms, and randn(n) is NOT a
//   prefix of randn(n + 1).
//     - float64 block path: libm log / cos / sin in double, out = fma(r*cos, std, mean).
//     - float32 block path, AVX2 stream: PyTorch's AVX2 kernel (which AVX-512 CPUs
//       also dispatch to) uses Cephes-style polynomial approximations of log and
//       sin/cos (the avx_mathfun routines), compiled with FMA contraction.
//       random.cpp re-implements those approximations in plain scalar float code
//       with the very same roundings and fused multiply-adds (no intrinsics).
//     - float32 block path, DEFAULT stream: PyTorch's baseline kernel, libm logf,
//       cosf and sinf in float, theta = float(2 pi u2) computed in double, and
//       out = fma(radius * cos, std, mean).
// * Streams. PyTorch's CPU kernels are compiled per instruction set, and three of
//   the paths above give different bits in its baseline ("DEFAULT") build than in
//   its AVX2 build: the float32 block path (above), the uniform multiply-add and
//   the serial normal's final multiply-add (fused in the AVX2 stream as written
//   above; in the DEFAULT stream the product is rounded before the addition).
//   kernels::torch_capability() says which stream this process reproduces: "AVX2"
//   when ember runs its AVX2 kernels, "DEFAULT" when it runs its reference kernels
//   (a CPU without AVX2+FMA, where torch runs its baseline build too, or EMBER_CPU=
//   reference, the counterpart of torch's ATEN_CPU_CAPABILITY=default).
//   randn / rand with mean 0 and std 1 differ between the streams only in the
//   float32 block path (fma(x, 1, 0) == x * 1 + 0).
// * Normal, n < 16 elements (or a non-contiguous tensor of any size: see
//   fill_normal_serial) ("serial path"): per element, a double Box-Muller with a
//   cache. If the generator holds a cached sample, the element is
//   fma(cache, std, mean) and the cache is emptied. Otherwise draw u1 and u2 as
//   float64 uniforms (two random64() each, u1 first), r = sqrt(-2 log1p(-u2)),
//   theta = 2 pi u1, cache r*sin(theta) and return fma(r*cos(theta), std, mean),
//   rounded to the element type. The cache is shared by float32 and float64
//   requests, it survives between calls (randn(1); randn(1) uses one pair), the
//   block path and uniform fills neither use nor clear it, and manual_seed clears it.
// * n == 0 draws nothing.
//
// What the integrator must know
// -----------------------------
// * torch.randn / torch.rand / Tensor.normal_ / Tensor.uniform_ / torch.normal
//   (with float mean and std) all end in these fills. torch.rand is uniform_(0, 1).
// * A non-contiguous output of any size never takes the block path: PyTorch
//   visits its elements one by one in TensorIterator order (dimensions sorted by
//   stride, i.e. memory order for a permuted dense tensor) using the serial path.
//   Use fill_normal_serial into a scratch buffer and scatter in that order.
//   Uniform fills are per element in that same order for any layout.
// * The default PyTorch generator is NOT seeded with 67280421310721 in torch
//   2.x: torch seeds it from /dev/urandom at start-up (torch.initial_seed()
//   differs per process). 67280421310721 is the seed of a freshly constructed
//   torch.Generator(). ember's default generator uses kDefaultSeed so that its
//   unseeded stream is deterministic and equals torch.Generator()'s stream.
// * None of the Generator member functions lock; the fill_* functions lock
//   mutex() for their whole duration. Lock mutex() yourself around direct calls
//   to random(), random64(), manual_seed(), get_state()/set_state() on a
//   generator that other threads may use (ember::manual_seed() below does it
//   for the default generator).
// * random.cpp must be compiled without -ffast-math (it refuses to build with it)
//   and with IEEE single/double arithmetic (FLT_EVAL_METHOD == 0, any x86-64 or
//   ARM64 target is fine). -O3, -march=native, -mfma are fine.
// * Agreement is bitwise for all paths on x86-64 Linux with the same glibc libm
//   that torch uses (float64 block path and serial path call libm log, log1p,
//   sin, cos). On other libms those paths may differ by an ulp where libm rounds
//   differently; the float32 block path and uniforms are libm-free and exact.
// * Only float32 and float64 are provided. (torch's float16/bfloat16 block path
//   runs the float32 Box-Muller in a 16-float scratch buffer per block and rounds.)
// * Checked against torch 2.13.0 natively (AVX2, and ATEN_CPU_CAPABILITY=default
//   against EMBER_CPU=reference) and under `qemu-x86_64 -cpu Nehalem` (a CPU without
//   AVX, where both run their baseline code). torch on ARM was not checked.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace ember {

class Generator {
 public:
  static constexpr uint64_t kDefaultSeed = 67280421310721ULL;
  // Size in bytes of get_state(): the layout of torch.get_rng_state().
  static constexpr size_t kStateSize = 5056;

  explicit Generator(uint64_t seed = kDefaultSeed);

  // Reseeds the engine with the low 32 bits of `seed`, remembers all 64 bits for
  // initial_seed(), and drops the cached normal sample.
  void manual_seed(uint64_t seed);
  uint64_t initial_seed() const;

  uint32_t random();    // one 32-bit engine draw
  uint64_t random64();  // (first draw << 32) | second draw

  std::mutex& mutex();

  // The cached second Box-Muller sample of the serial normal path.
  bool has_cached_normal() const { return has_normal_; }
  double cached_normal() const { return normal_; }
  void set_cached_normal(double v) { normal_ = v; has_normal_ = true; }
  void clear_cached_normal() { has_normal_ = false; normal_ = 0.0; }

  // Byte-for-byte the format of torch.get_rng_state() / torch.set_rng_state()
  // (kStateSize bytes): a state taken from torch can be loaded here and vice
  // versa. set_state returns false (and changes nothing) if the bytes are not a
  // valid state.
  std::vector<uint8_t> get_state() const;
  bool set_state(const uint8_t* bytes, size_t size);

 private:
  static constexpr int kN = 624;
  static constexpr int kM = 397;
  void twist();

  std::array<uint32_t, kN> state_;
  int left_;   // draws remaining before the next twist, plus one
  int next_;   // index of the next state word to temper
  uint64_t seed_;
  double normal_ = 0.0;
  bool has_normal_ = false;
  std::mutex mutex_;
};

// The process-wide generator used when no generator is given.
Generator& default_generator();

// Locks the default generator and reseeds it (what ember.manual_seed does).
void manual_seed(uint64_t seed);

// Fill a contiguous buffer of n elements exactly as torch.randn / normal_ and
// torch.rand / uniform_ fill a contiguous tensor of n elements with generator g.
// Each call locks g.mutex(). Preconditions (checked by the ops, not here):
// std >= 0, from <= to, to - from finite.
void fill_normal(float* data, int64_t n, double mean, double std, Generator& g);
void fill_normal(double* data, int64_t n, double mean, double std, Generator& g);
void fill_uniform(float* data, int64_t n, double from, double to, Generator& g);
void fill_uniform(double* data, int64_t n, double from, double to, Generator& g);

// The per-element ("serial") normal path for n elements in visiting order,
// whatever n is. fill_normal uses it for n < 16; use it directly for
// non-contiguous outputs (see the header comment). Locks g.mutex().
void fill_normal_serial(float* data, int64_t n, double mean, double std, Generator& g);
void fill_normal_serial(double* data, int64_t n, double mean, double std, Generator& g);

}  // namespace ember
