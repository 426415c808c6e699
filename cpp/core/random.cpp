// Random numbers that reproduce PyTorch's CPU streams. The contract is described
// at the top of random.h; this file is its implementation.
//
// Floating point in this file is deliberate to the last bit: every fused
// multiply-add is written as std::fma, a product that torch's baseline build
// rounds before adding goes through rounded() (core/torch_fma.h), and every other
// product either feeds something that is not an addition (so a compiler cannot
// contract it) or is exact (so contracting it changes nothing). The file therefore gives the same
// bits with -ffp-contract=off, on or fast, with or without -mfma/-march=native.
// It does not survive -ffast-math, hence the check below.
#include "core/random.h"

#include "core/torch_fma.h"
#include "kernels/kernels.h"

#include <cfloat>
#include <cmath>
#include <cstring>

#if defined(__FAST_MATH__)
#error "core/random.cpp must be compiled without -ffast-math (it reproduces PyTorch's random streams bit for bit)"
#endif
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0
#error "core/random.cpp needs IEEE float/double evaluation (FLT_EVAL_METHOD == 0), e.g. SSE2 instead of x87"
#endif

// On x86-64 the float32 Box-Muller kernel is compiled twice from the same
// scalar source: once for the baseline target (std::fma then calls libm's fmaf)
// and once for AVX2+FMA (std::fma becomes one instruction and the lane loops
// vectorize), chosen at run time. Both give the same bits; the second is only
// faster. No intrinsics are used.
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(__FMA__)
#define EMBER_RANDOM_FMA_CLONE 1
#else
#define EMBER_RANDOM_FMA_CLONE 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define EMBER_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define EMBER_ALWAYS_INLINE inline
#endif

namespace ember {

// ---------------------------------------------------------------------------
// Generator: MT19937 (Matsumoto & Nishimura), init_genrand seeding.
// ---------------------------------------------------------------------------

Generator::Generator(uint64_t seed) { manual_seed(seed); }

void Generator::manual_seed(uint64_t seed) {
  seed_ = seed;
  state_[0] = static_cast<uint32_t>(seed & 0xffffffffULL);
  for (int i = 1; i < kN; ++i) {
    const uint32_t prev = state_[i - 1];
    state_[i] = 1812433253u * (prev ^ (prev >> 30)) + static_cast<uint32_t>(i);
  }
  // The first draw regenerates the whole state block before tempering word 0.
  left_ = 1;
  next_ = 0;
  clear_cached_normal();
}

uint64_t Generator::initial_seed() const { return seed_; }

void Generator::twist() {
  constexpr uint32_t kMatrixA = 0x9908b0dfu;
  constexpr uint32_t kUpper = 0x80000000u;
  constexpr uint32_t kLower = 0x7fffffffu;
  for (int i = 0; i < kN; ++i) {
    const uint32_t y = (state_[i] & kUpper) | (state_[(i + 1) % kN] & kLower);
    state_[i] = state_[(i + kM) % kN] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
  }
  left_ = kN;
  next_ = 0;
}

uint32_t Generator::random() {
  if (--left_ == 0) twist();
  uint32_t y = state_[next_++];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= (y >> 18);
  return y;
}

uint64_t Generator::random64() {
  const uint64_t hi = random();
  const uint64_t lo = random();
  return (hi << 32) | lo;
}

std::mutex& Generator::mutex() { return mutex_; }

// torch.get_rng_state() layout (x86-64 / ARM64 struct layout, little endian):
//   0   uint64 initial seed          8  int32 left     12 int32 seeded (1)
//   16  uint64 next index            24 uint64 state[624] (each word zero-extended)
//   5016 double unused (0)           5024 double cached normal sample
//   5032 double unused (0)           5040 int32 cached sample valid (0/1)
//   5048 float cached float sample, 5052 bool valid: PyTorch's CPU kernels never
//        set it, so it is written as 0 and ignored on load; the rest is padding (0).
namespace {
constexpr size_t kOffSeed = 0, kOffLeft = 8, kOffSeeded = 12, kOffNext = 16,
                 kOffState = 24, kOffNormalY = 5024, kOffNormalValid = 5040;

template <typename T>
void put(std::vector<uint8_t>& b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof(T));
}
template <typename T>
T get(const uint8_t* b, size_t off) {
  T v;
  std::memcpy(&v, b + off, sizeof(T));
  return v;
}
}  // namespace

std::vector<uint8_t> Generator::get_state() const {
  std::vector<uint8_t> b(kStateSize, 0);
  put<uint64_t>(b, kOffSeed, seed_);
  put<int32_t>(b, kOffLeft, left_);
  put<int32_t>(b, kOffSeeded, 1);
  put<uint64_t>(b, kOffNext, static_cast<uint64_t>(next_));
  for (int i = 0; i < kN; ++i) put<uint64_t>(b, kOffState + 8 * i, state_[i]);
  put<double>(b, kOffNormalY, has_normal_ ? normal_ : 0.0);
  put<int32_t>(b, kOffNormalValid, has_normal_ ? 1 : 0);
  return b;
}

bool Generator::set_state(const uint8_t* b, size_t size) {
  if (b == nullptr || size != kStateSize) return false;
  const int32_t left = get<int32_t>(b, kOffLeft);
  const int32_t seeded = get<int32_t>(b, kOffSeeded);
  const uint64_t next = get<uint64_t>(b, kOffNext);
  // Same validity rule as PyTorch: seeded, 0 < left <= 624, next <= 624.
  if ((seeded & 0xff) == 0 || left <= 0 || left > kN || next > static_cast<uint64_t>(kN))
    return false;
  seed_ = get<uint64_t>(b, kOffSeed);
  left_ = left;
  next_ = static_cast<int>(next);
  for (int i = 0; i < kN; ++i)
    state_[i] = static_cast<uint32_t>(get<uint64_t>(b, kOffState + 8 * i));
  if (get<int32_t>(b, kOffNormalValid) != 0) {
    set_cached_normal(get<double>(b, kOffNormalY));
  } else {
    clear_cached_normal();
  }
  return true;
}

Generator& default_generator() {
  static Generator gen(Generator::kDefaultSeed);
  return gen;
}

void manual_seed(uint64_t seed) {
  Generator& g = default_generator();
  std::lock_guard<std::mutex> lock(g.mutex());
  g.manual_seed(seed);
}

// ---------------------------------------------------------------------------
// Uniform samples.
// ---------------------------------------------------------------------------
namespace {

constexpr double kTwoPi = 2.0 * 3.14159265358979323846;  // 2*pi in double

// [0, 1) float from 24 bits of one draw (exact: an integer < 2^24 times 2^-24).
inline float uniform01_float(Generator& g) {
  return static_cast<float>(g.random() & 0xffffffu) * 0x1p-24f;
}
// [0, 1) double from 53 bits of random64() (exact).
inline double uniform01_double(Generator& g) {
  return static_cast<double>(g.random64() & ((uint64_t{1} << 53) - 1)) * 0x1p-53;
}

inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// ---------------------------------------------------------------------------
// float32 Box-Muller on one (j, j+8) pair, reproducing PyTorch's AVX2 kernel
// lane by lane: Cephes single-precision log and sincos (the avx_mathfun
// routines), with exactly the multiply-adds that PyTorch's compiled code fuses.
// ---------------------------------------------------------------------------

// Cephes logf coefficients and constants, as float32.
constexpr float kSqrtHalf = 0x1.6a09e6p-1f;
constexpr float kLogP0 = 0x1.204376p-4f;
constexpr float kLogP1 = -0x1.d7a370p-4f;
constexpr float kLogP2 = 0x1.de4a34p-4f;
constexpr float kLogP3 = -0x1.fcba9ep-4f;
constexpr float kLogP4 = 0x1.23d37ep-3f;
constexpr float kLogP5 = -0x1.555ca0p-3f;
constexpr float kLogP6 = 0x1.999d58p-3f;
constexpr float kLogP7 = -0x1.fffff8p-3f;
constexpr float kLogP8 = 0x1.555554p-2f;
constexpr float kLogQ1 = -0x1.bd0106p-13f;  // -2.12194440e-4
constexpr float kLogQ2 = 0x1.63p-1f;        // 0.693359375
// Cephes sinf/cosf: 4/pi, pi/4 split in three, polynomial coefficients.
constexpr float kFourOverPi = 0x1.45f306p+0f;
constexpr float kMinusDP1 = -0x1.92p-1f;
constexpr float kMinusDP2 = -0x1.fb4p-13f;
constexpr float kMinusDP3 = -0x1.4442d2p-25f;
constexpr float kCosP0 = 0x1.99eb9cp-16f;
constexpr float kCosP1 = -0x1.6c0c34p-10f;
constexpr float kCosP2 = 0x1.55554ap-5f;
constexpr float kSinP0 = -0x1.9943f2p-13f;
constexpr float kSinP1 = 0x1.11073cp-7f;
constexpr float kSinP2 = -0x1.555546p-3f;
constexpr float kTwoPiF = 0x1.921fb6p+2f;  // float(2*pi)

// Natural log for v in [2^-24, 1] (the only inputs Box-Muller produces).
// Selections are written as bit masks, like the vector code, so that the
// compiler can vectorize the lane loops without branches.
EMBER_ALWAYS_INLINE float cephes_logf(float v) {
  // Clamp to the smallest normal (as the vector code does; for v > 0 the
  // integer order of the bit patterns is the float order), then split into
  // exponent and mantissa in [0.5, 1).
  const uint32_t vb = float_to_bits(v);
  const uint32_t xb = vb > 0x00800000u ? vb : 0x00800000u;
  const int32_t expo = static_cast<int32_t>(xb >> 23) - 127;
  float m = bits_to_float((xb & ~0x7f800000u) | 0x3f000000u);
  float e = static_cast<float>(expo) + 1.0f;
  // if (m < sqrt(1/2)) { e -= 1; m = m + m - 1; } else { m = m - 1; }
  const uint32_t small = 0u - static_cast<uint32_t>(m < kSqrtHalf);
  const float tmp = bits_to_float(float_to_bits(m) & small);
  m = m + -1.0f;
  e = e - bits_to_float(float_to_bits(1.0f) & small);
  m = m + tmp;
  const float z = m * m;
  float y = std::fma(kLogP0, m, kLogP1);
  y = std::fma(y, m, kLogP2);
  y = std::fma(y, m, kLogP3);
  y = std::fma(y, m, kLogP4);
  y = std::fma(y, m, kLogP5);
  y = std::fma(y, m, kLogP6);
  y = std::fma(y, m, kLogP7);
  y = std::fma(y, m, kLogP8);
  y = y * m;
  y = std::fma(y, z, e * kLogQ1);  // e*q1 is rounded on its own
  y = y - z * 0.5f;                // z*0.5 is exact
  m = m + y;
  return m + e * kLogQ2;           // e*q2 is exact (|e| < 2^8, q2 has 9 bits)
}

// sin and cos of theta in [0, 2*pi), Cephes sincosf with PyTorch's fusions.
EMBER_ALWAYS_INLINE void cephes_sincosf(float theta, float* s_out, float* c_out) {
  const uint32_t tb = float_to_bits(theta);
  uint32_t sign_sin = tb & 0x80000000u;
  const float ax = bits_to_float(tb & 0x7fffffffu);
  // Octant: j = (trunc(|x| * 4/pi) + 1) & ~1.
  int32_t j = static_cast<int32_t>(ax * kFourOverPi);
  j = (j + 1) & ~1;
  const float yj = static_cast<float>(j);
  const uint32_t swap_sign_sin = static_cast<uint32_t>(j & 4) << 29;
  const bool sine_poly_is_sin = (j & 2) == 0;
  // Extended-precision reduction x = |x| - j*pi/4.
  float x = std::fma(yj, kMinusDP1, ax);
  x = std::fma(yj, kMinusDP2, x);
  x = std::fma(yj, kMinusDP3, x);
  const uint32_t sign_cos = static_cast<uint32_t>(~(j - 2) & 4) << 29;
  sign_sin ^= swap_sign_sin;
  const float z = x * x;
  // cos polynomial on [-pi/4, pi/4]
  float c = std::fma(kCosP0, z, kCosP1);
  c = std::fma(c, z, kCosP2);
  c = z * c;
  c = std::fma(z, c, -(z * 0.5f));  // z*0.5 is exact
  c = c + 1.0f;
  // sin polynomial on [-pi/4, pi/4]
  float s = std::fma(kSinP0, z, kSinP1);
  s = std::fma(s, z, kSinP2);
  s = z * s;
  s = std::fma(x, s, x);
  // Select the polynomials the way the vector code does (masks, then
  // subtract-and-add), which matters only for the sign of a zero.
  const uint32_t poly_mask = 0u - static_cast<uint32_t>(sine_poly_is_sin);
  const float ysin2 = bits_to_float(float_to_bits(s) & poly_mask);
  const float ysin1 = bits_to_float(float_to_bits(c) & ~poly_mask);
  const float s_rest = s - ysin2;
  const float c_rest = c - ysin1;
  const float sin_v = ysin2 + ysin1;
  const float cos_v = s_rest + c_rest;
  *s_out = bits_to_float(float_to_bits(sin_v) ^ sign_sin);
  *c_out = bits_to_float(float_to_bits(cos_v) ^ sign_cos);
}

// In place: data[0..16) holds uniforms [0,1); becomes 16 normals. Lane j
// pairs data[j] (radius) with data[j+8] (angle). The stages are separate lane
// loops so that the branch-free ones vectorize; the square root (which may
// carry an errno check) gets its own loop.
EMBER_ALWAYS_INLINE void normal_fill_16_float_body(float* data, float mean, float std) {
  float radius[8], sin_t[8], cos_t[8];
  for (int j = 0; j < 8; ++j) radius[j] = -2.0f * cephes_logf(1.0f - data[j]);  // u1 in (0, 1]
  for (int j = 0; j < 8; ++j) radius[j] = std::sqrt(radius[j]);
  for (int j = 0; j < 8; ++j) cephes_sincosf(kTwoPiF * data[j + 8], &sin_t[j], &cos_t[j]);
  for (int j = 0; j < 8; ++j) {
    data[j] = std::fma(radius[j] * cos_t[j], std, mean);
    data[j + 8] = std::fma(radius[j] * sin_t[j], std, mean);
  }
}

// The same Box-Muller as PyTorch's baseline (non-AVX2) kernel: libm logf / cosf / sinf,
// the angle computed in double and rounded to float, and a fused multiply-add for the
// scale and shift (unfused, 19 of 64 samples of normal_(0.3, 7.5) differ from torch's).
void normal_fill_blocks_float_libm(float* data, int64_t nblocks, float mean, float std) {
  for (int64_t b = 0; b < nblocks; ++b, data += 16) {
    for (int j = 0; j < 8; ++j) {
      const float u1 = 1.0f - data[j];  // [0, 1) -> (0, 1] for the log
      const float u2 = data[j + 8];
      const float radius = std::sqrt(-2.0f * std::log(u1));
      const float theta = static_cast<float>(kTwoPi * static_cast<double>(u2));
      data[j] = std::fma(radius * std::cos(theta), std, mean);
      data[j + 8] = std::fma(radius * std::sin(theta), std, mean);
    }
  }
}

void normal_fill_blocks_float_generic(float* data, int64_t nblocks, float mean, float std) {
  for (int64_t b = 0; b < nblocks; ++b) normal_fill_16_float_body(data + 16 * b, mean, std);
}

#if EMBER_RANDOM_FMA_CLONE
__attribute__((target("avx2,fma"))) void normal_fill_blocks_float_fma(float* data, int64_t nblocks,
                                                                      float mean, float std) {
  for (int64_t b = 0; b < nblocks; ++b) normal_fill_16_float_body(data + 16 * b, mean, std);
}
bool cpu_has_avx2_fma() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2");
  }();
  return has;
}
#endif

// Box-Muller over `nblocks` consecutive 16-blocks.
void normal_fill_blocks_float(float* data, int64_t nblocks, float mean, float std) {
  if (!kernels::torch_fused_build()) {
    normal_fill_blocks_float_libm(data, nblocks, mean, std);
    return;
  }
#if EMBER_RANDOM_FMA_CLONE
  if (cpu_has_avx2_fma()) {
    normal_fill_blocks_float_fma(data, nblocks, mean, std);
    return;
  }
#endif
  normal_fill_blocks_float_generic(data, nblocks, mean, std);
}

// float64 Box-Muller on a 16-block (PyTorch's scalar kernel, libm in double).
void normal_fill_16_double(double* data, double mean, double std) {
  for (int j = 0; j < 8; ++j) {
    const double u1 = 1.0 - data[j];
    const double u2 = data[j + 8];
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double theta = kTwoPi * u2;
    data[j] = std::fma(radius * std::cos(theta), std, mean);
    data[j + 8] = std::fma(radius * std::sin(theta), std, mean);
  }
}

// One sample of the serial path (caller holds the lock).
inline double serial_normal(Generator& g, double mean, double std) {
  if (g.has_cached_normal()) {
    const double cached = g.cached_normal();
    g.clear_cached_normal();
    return torch_mul_add(kernels::torch_fused_build(), cached, std, mean);
  }
  const double u1 = uniform01_double(g);
  const double u2 = uniform01_double(g);
  const double r = std::sqrt(-2.0 * std::log1p(-u2));
  const double theta = kTwoPi * u1;
  g.set_cached_normal(r * std::sin(theta));
  return torch_mul_add(kernels::torch_fused_build(), r * std::cos(theta), std, mean);
}

template <typename T>
void serial_fill_locked(T* data, int64_t n, double mean, double std, Generator& g) {
  for (int64_t i = 0; i < n; ++i) data[i] = static_cast<T>(serial_normal(g, mean, std));
}

}  // namespace

// ---------------------------------------------------------------------------
// Public fills.
// ---------------------------------------------------------------------------

void fill_normal_serial(float* data, int64_t n, double mean, double std, Generator& g) {
  std::lock_guard<std::mutex> lock(g.mutex());
  serial_fill_locked(data, n, mean, std, g);
}

void fill_normal_serial(double* data, int64_t n, double mean, double std, Generator& g) {
  std::lock_guard<std::mutex> lock(g.mutex());
  serial_fill_locked(data, n, mean, std, g);
}

void fill_normal(float* data, int64_t n, double mean, double std, Generator& g) {
  std::lock_guard<std::mutex> lock(g.mutex());
  if (n < 16) {
    serial_fill_locked(data, n, mean, std, g);
    return;
  }
  const float meanf = static_cast<float>(mean);
  const float stdf = static_cast<float>(std);
  for (int64_t i = 0; i < n; ++i) data[i] = uniform01_float(g);
  normal_fill_blocks_float(data, n / 16, meanf, stdf);
  if (n % 16 != 0) {
    float* tail = data + n - 16;
    for (int i = 0; i < 16; ++i) tail[i] = uniform01_float(g);
    normal_fill_blocks_float(tail, 1, meanf, stdf);
  }
}

void fill_normal(double* data, int64_t n, double mean, double std, Generator& g) {
  std::lock_guard<std::mutex> lock(g.mutex());
  if (n < 16) {
    serial_fill_locked(data, n, mean, std, g);
    return;
  }
  for (int64_t i = 0; i < n; ++i) data[i] = uniform01_double(g);
  for (int64_t i = 0; i + 16 <= n; i += 16) normal_fill_16_double(data + i, mean, std);
  if (n % 16 != 0) {
    double* tail = data + n - 16;
    for (int i = 0; i < 16; ++i) tail[i] = uniform01_double(g);
    normal_fill_16_double(tail, mean, std);
  }
}

void fill_uniform(float* data, int64_t n, double from, double to, Generator& g) {
  std::lock_guard<std::mutex> lock(g.mutex());
  const float f = static_cast<float>(from);
  const float t = static_cast<float>(to);
  const float range = t - f;
  if (f == 0.0f && t == 1.0f && !std::signbit(f)) {
    // fma(x, 1, +0) == x for x in [0, 1): skip the multiply-add.
    for (int64_t i = 0; i < n; ++i) data[i] = uniform01_float(g);
    return;
  }
  const bool fused = kernels::torch_fused_build();
  for (int64_t i = 0; i < n; ++i) {
    const float v = torch_mul_add(fused, uniform01_float(g), range, f);
    data[i] = (v == t) ? f : v;
  }
}

void fill_uniform(double* data, int64_t n, double from, double to, Generator& g) {
  std::lock_guard<std::mutex> lock(g.mutex());
  if (from == 0.0 && to == 1.0 && !std::signbit(from)) {
    for (int64_t i = 0; i < n; ++i) data[i] = uniform01_double(g);
    return;
  }
  const double range = to - from;
  const bool fused = kernels::torch_fused_build();
  for (int64_t i = 0; i < n; ++i) {
    const double v = torch_mul_add(fused, uniform01_double(g), range, from);
    data[i] = (v == to) ? from : v;
  }
}

}  // namespace ember
