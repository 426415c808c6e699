// Vector math for the AVX2 elementwise kernels: exp, log, tanh, sigmoid, sin, cos and pow
// to a scalar or a tensor exponent of 8 float32 values at a time, and exp, sigmoid, log,
// tanh, sin and cos of 4 float64 values (exp_pd_full, log_pd_full, tanh_pd_full,
// sincos_pd_full, below).
//
// Each function widens its floats to double and evaluates there, 4 lanes at a time: a
// range reduction with the constants split so that the products are exact, then a
// truncated Taylor series (exp, tanh) or a polynomial fitted to the function (log, sin,
// cos) whose error is below 1e-11 relative, far under a float's half ulp (3e-8). The
// double result is rounded once to float, so each result is the correctly rounded float
// except where the exact value lies within ~1e-11 of a rounding boundary. glibc's expf and logf (the reference kernels'
// std:: calls) are correctly rounded in nearly all cases too, so the two agree bit for bit
// on nearly every input; its sinf and cosf differ from the exact value by one ulp on ~1% of
// inputs, its tanhf by up to two ulps on ~4% (tests/cpp: within one ulp of the exact value,
// within two of the reference). sigmoid rounds exp to float first and then computes
// 1 / (1 + e) in float, as the reference (and torch's AVX2 kernel) do.
//
// Special values follow the C functions: NaN in, NaN out; exp overflows to inf above
// ln(FLT_MAX) and reaches 0 through the denormals; log(0) = -inf, log(x < 0) = NaN,
// log(inf) = inf; sin(-0) = -0; tanh(+-inf) = +-1; sin and cos of |x| > kTrigMax (and of
// inf) are taken from the C library lane by lane.
//
// Every function here is always_inline. Left to itself GCC called log_ps and log_pd out of
// line from the elementwise loops (unrolled 4 times), a call per 8 floats that loaded every
// constant again: log of 1e6 floats took 3.1-3.3 ms so against 1.8 inlined (1 thread, Zen
// 3; torch 1.2-1.8 in the same runs), sigmoid 1.8-2.0 against 1.3.
//
// Internal linkage (see transpose.h): compiled only into units built with -mavx2 -mfma.
#pragma once

#include <immintrin.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace ember::kernels::avx2::vmath {
namespace {

using D = __m256d;

[[gnu::always_inline]] inline D dset(double x) { return _mm256_set1_pd(x); }

// 8 floats <-> two vectors of 4 doubles.
[[gnu::always_inline]] inline D lo_pd(__m256 x) { return _mm256_cvtps_pd(_mm256_castps256_ps128(x)); }
[[gnu::always_inline]] inline D hi_pd(__m256 x) { return _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)); }
[[gnu::always_inline]] inline __m256 to_ps(D lo, D hi) {
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)), _mm256_cvtpd_ps(hi), 1);
}

// An integral double n (|n| < 2^51) as int64: n + 1.5 * 2^52 holds n in its low mantissa
// bits, since the ulp there is 1.
[[gnu::always_inline]] inline __m256i to_int(D n) {
  const D magic = dset(6755399441055744.0);
  return _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(n, magic)), _mm256_castpd_si256(magic));
}
// 2^n for integral n in [-1022, 1023].
[[gnu::always_inline]] inline D pow2(D n) {
  return _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(to_int(n), _mm256_set1_epi64x(1023)), 52));
}

// ln 2 = kLn2Hi + kLn2Lo, kLn2Hi with 32 significant bits (n * kLn2Hi is exact for
// |n| < 2^21), as in fdlibm.
constexpr double kLn2Hi = 6.93147180369123816490e-01;
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kLn2 = 0.69314718055994530942;
constexpr double kLog2e = 1.4426950408889634;
constexpr double kHalfLn2 = 0.34657359027997264;

// Horner's rule for c[0] + c[1] x + ... + c[N-1] x^(N-1).
template <int N>
[[gnu::always_inline]] inline D poly(D x, const double (&c)[N]) {
  D p = dset(c[N - 1]);
  for (int i = N - 2; i >= 0; --i) p = _mm256_fmadd_pd(p, x, dset(c[i]));
  return p;
}

// 1/k!, k = 0..11.
constexpr double kInvFact[12] = {1.0,
                                 1.0,
                                 1.0 / 2,
                                 1.0 / 6,
                                 1.0 / 24,
                                 1.0 / 120,
                                 1.0 / 720,
                                 1.0 / 5040,
                                 1.0 / 40320,
                                 1.0 / 362880,
                                 1.0 / 3628800,
                                 1.0 / 39916800};

// e^x for x in [-1022 ln 2, 1023 ln 2]: x = n ln 2 + r, |r| <= ln 2 / 2, e^r by its
// Taylor series to r^9 (truncation < 7e-12 relative).
[[gnu::always_inline]] inline D exp_pd(D x) {
  const D n = _mm256_round_pd(_mm256_mul_pd(x, dset(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  D r = _mm256_fnmadd_pd(n, dset(kLn2Hi), x);
  r = _mm256_fnmadd_pd(n, dset(kLn2Lo), r);
  constexpr double c[10] = {kInvFact[0], kInvFact[1], kInvFact[2], kInvFact[3], kInvFact[4],
                            kInvFact[5], kInvFact[6], kInvFact[7], kInvFact[8], kInvFact[9]};
  return _mm256_mul_pd(poly(r, c), pow2(n));
}

// e^y - 1 for y in [0, 20], accurate near 0: below ln 2 / 2 its Taylor series to y^10
// (truncation < 2e-13 relative), above e^y - 1 (which loses at most 1.3 bits).
[[gnu::always_inline]] inline D expm1_pos(D y) {
  constexpr double c[10] = {kInvFact[1], kInvFact[2], kInvFact[3], kInvFact[4], kInvFact[5],
                            kInvFact[6], kInvFact[7], kInvFact[8], kInvFact[9], kInvFact[10]};
  const D small = _mm256_mul_pd(y, poly(y, c));
  const D big = _mm256_sub_pd(exp_pd(y), dset(1.0));
  return _mm256_blendv_pd(big, small, _mm256_cmp_pd(y, dset(kHalfLn2), _CMP_LT_OQ));
}

// log x in double for finite x > 0 (a float widened, so never denormal here; pow_ps's
// log |x|): x = 2^e m with m in (sqrt(1/2), sqrt(2)], log m = 2 atanh(s), s = (m - 1) /
// (m + 1), |s| <= 0.1716, by its series to s^13 (truncation < 4e-12 relative).
[[gnu::always_inline]] inline D log_pd(D x) {
  const __m256i bits = _mm256_castpd_si256(x);
  D m = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi64x(0x000FFFFFFFFFFFFFLL)),
                                            _mm256_set1_epi64x(0x3FF0000000000000LL)));  // [1, 2)
  // The biased exponent as a double: its bits or'ed into 2^52's mantissa, minus 2^52.
  const D two52 = dset(4503599627370496.0);
  D e = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(bits, 52), _mm256_castpd_si256(two52))),
                      two52);
  e = _mm256_sub_pd(e, dset(1023.0));
  const D big = _mm256_cmp_pd(m, dset(1.4142135623730951), _CMP_GT_OQ);
  m = _mm256_blendv_pd(m, _mm256_mul_pd(m, dset(0.5)), big);
  e = _mm256_add_pd(e, _mm256_and_pd(big, dset(1.0)));
  const D f = _mm256_sub_pd(m, dset(1.0));
  const D s = _mm256_div_pd(f, _mm256_add_pd(f, dset(2.0)));
  const D z = _mm256_mul_pd(s, s);
  constexpr double c[7] = {1.0, 1.0 / 3, 1.0 / 5, 1.0 / 7, 1.0 / 9, 1.0 / 11, 1.0 / 13};
  const D log1p = _mm256_mul_pd(_mm256_add_pd(s, s), poly(z, c));
  return _mm256_fmadd_pd(e, dset(kLn2Hi), _mm256_fmadd_pd(e, dset(kLn2Lo), log1p));
}

// pi / 2 = kPio2[0] + kPio2[1] + kPio2[2]; the first two have 33 significant bits, so
// j * kPio2[0] and j * kPio2[1] are exact for |j| < 2^20.
constexpr double kPio2[3] = {1.5707963267341256, 6.077100506303966e-11, 2.0222662487959506e-21};
constexpr double kTwoOverPi = 0.6366197723675814;
// Floats of larger magnitude (|j| > 2^17) go to the C library.
constexpr float kTrigMax = 1e5f;

// sin x (Cos = false) or cos x from x = j pi/2 + r, s = sin r and c = cos r: picked and
// signed by the quadrant j mod 4 (cos x = sin(x + pi/2), the quadrant one further).
template <bool Cos>
[[gnu::always_inline]] inline D by_quadrant(D j, D s, D c) {
  __m256i q = to_int(j);
  if (Cos) q = _mm256_add_epi64(q, _mm256_set1_epi64x(1));
  const D odd =
      _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_and_si256(q, _mm256_set1_epi64x(1)), _mm256_set1_epi64x(1)));
  const D v = _mm256_blendv_pd(s, c, odd);
  // Quadrants 2 and 3 negate: bit 1 of q moved to the sign bit.
  const D sign = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_and_si256(q, _mm256_set1_epi64x(2)), 62));
  return _mm256_xor_pd(v, sign);
}

// The lanes of r set in `lanes` replaced by f of the same lane of x, one at a time: the C
// library's answer where the vector form does not apply (huge or non-finite arguments,
// pow's special cases). V is __m256 (T float) or __m256d (T double).
template <typename T, typename V, typename F>
[[gnu::always_inline]] inline V libm_lanes(V r, V x, int lanes, F f) {
  constexpr int N = sizeof(V) / sizeof(T);
  alignas(32) T v[N], out[N];
  std::memcpy(v, &x, sizeof(V));
  std::memcpy(out, &r, sizeof(V));
  for (int i = 0; i < N; ++i)
    if (lanes >> i & 1) out[i] = f(v[i]);
  std::memcpy(&r, out, sizeof(V));
  return r;
}

// sin (Cos = false) or cos of x, |x| <= kTrigMax: x = j pi/2 + r, |r| <= pi/4; sin r = r +
// r^3 S(r^2) and cos r = C(r^2), S of degree 4 and C of degree 5 fitted over [0, (pi/4)^2]
// (kSinFit, kCosFit: Chebyshev fits made with mpmath's chebyfit; relative error below
// 2e-14 and 8e-14, against 3e-14 and 1.4e-15 for the Taylor series to r^13 and r^14 that
// they replace, with three multiply-adds fewer), picked and signed by the quadrant j mod 4.
constexpr double kSinFit[5] = {-0.16666666666663882, 0.008333333331077422, -0.00019841266915235126,
                               2.7555990399866396e-06, -2.4805587182433613e-08};
constexpr double kCosFit[6] = {0.9999999999999444,     -0.4999999999935047,   0.0416666665438132,
                               -0.0013888880388694274, 2.4798927696271302e-05, -2.717335355046961e-07};
template <bool Cos>
[[gnu::always_inline]] inline D sincos_pd(D x) {
  const D j = _mm256_round_pd(_mm256_mul_pd(x, dset(kTwoOverPi)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  D r = _mm256_fnmadd_pd(j, dset(kPio2[0]), x);
  r = _mm256_fnmadd_pd(j, dset(kPio2[1]), r);
  r = _mm256_fnmadd_pd(j, dset(kPio2[2]), r);
  const D z = _mm256_mul_pd(r, r);
  const D s = _mm256_fmadd_pd(_mm256_mul_pd(r, z), poly(z, kSinFit), r);
  const D c = poly(z, kCosFit);
  return by_quadrant<Cos>(j, s, c);
}

[[gnu::always_inline]] inline __m256 isnan_ps(__m256 x) { return _mm256_cmp_ps(x, x, _CMP_UNORD_Q); }
[[gnu::always_inline]] inline D isnan_pd(D x) { return _mm256_cmp_pd(x, x, _CMP_UNORD_Q); }

// ---- float64, 4 lanes (float64 exp, sigmoid, log, tanh, sin and cos)

// exp_pd_full's steps before the scaling: e^xc = 2^n (y + ylo), y the rounded sum and ylo
// its error (tanh_pd_full takes both).
struct ExpParts {
  D n, y, ylo;
};
[[gnu::always_inline]] inline ExpParts exp_parts(D xc) {
  const D n = _mm256_round_pd(_mm256_mul_pd(xc, dset(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const D rh = _mm256_fnmadd_pd(n, dset(kLn2Hi), xc);  // exact
  const D r = _mm256_fnmadd_pd(n, dset(kLn2Lo), rh);
  const D rl = _mm256_fnmadd_pd(n, dset(kLn2Lo), _mm256_sub_pd(rh, r));  // r + rl = rh - n kLn2Lo
  constexpr double c[12] = {1.0 / 2,       1.0 / 6,        1.0 / 24,        1.0 / 120,
                            1.0 / 720,     1.0 / 5040,     1.0 / 40320,     1.0 / 362880,
                            1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800};
  // e^(r + rl) = s + (e1 + rl + r^2 q(r)) with s = 1 + r rounded and e1 its error (exact,
  // |r| < 1): one rounding of full size, at the end.
  const D s1 = _mm256_add_pd(dset(1.0), r);
  const D e1 = _mm256_add_pd(_mm256_sub_pd(dset(1.0), s1), r);
  const D tail = _mm256_fmadd_pd(_mm256_mul_pd(r, r), poly(r, c), _mm256_add_pd(e1, rl));
  const D y = _mm256_add_pd(s1, tail);
  return {n, y, _mm256_add_pd(_mm256_sub_pd(s1, y), tail)};  // |s1| >= |tail|: ylo exact
}

// e^x to double precision. Clamped to [-746, 710] (beyond, e^x rounds to 0 or overflows;
// NaN is put back at the end). x = n ln 2 + r with n = round(x log2 e), |r| <= ln 2 / 2:
// x - n kLn2Hi is exact (n kLn2Hi has at most 43 significant bits and the difference is
// below 0.35); r + rl is x - n ln 2 to ~2^-100. e^(r + rl) = 1 + r + rl + r^2 q(r), q the
// Taylor series' 1/2! .. 1/13! (truncation below 5e-18 relative), with 1 + r split into
// its rounded sum and that sum's error, so that the last add is the only rounding of a
// full ulp (the others fall on terms below 0.07). Then 2^n in two factors
// (each exponent within [-539, 513]), so a result in the denormal range is rounded once.
// Within one ulp of e^x; tests/cpp: equal to glibc's exp on all but a few in 10^3 inputs.
[[gnu::always_inline]] inline D exp_pd_full(D x) {
  const D xc = _mm256_min_pd(_mm256_max_pd(x, dset(-746.0)), dset(710.0));
  const ExpParts p = exp_parts(xc);
  const D h = _mm256_round_pd(_mm256_mul_pd(p.n, dset(0.5)), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const D e = _mm256_mul_pd(_mm256_mul_pd(p.y, pow2(h)), pow2(_mm256_sub_pd(p.n, h)));
  return _mm256_blendv_pd(e, x, isnan_pd(x));
}

// tanh x to double precision, on |x| with the sign put back (-0 stays -0, NaN passes).
// Below 0.3 its Taylor series, a + a^3 P(a^2) to a^25 (truncation below 1e-18 relative).
// From 0.3, 1 - 2 / (E + 1) with E = e^(2a) as a pair of doubles (exp_parts) and every
// step carried as a pair (E + 1, the quotient by a residual, 1 - q), so that the last add
// is the one full rounding; clamped at 20, where tanh is 1 to double precision (from
// 19.06 on).
[[gnu::always_inline]] inline D tanh_pd_full(D x) {
  const D sign = dset(-0.0);
  const D a = _mm256_andnot_pd(sign, x);
  const D ac = _mm256_min_pd(a, dset(20.0));
  const ExpParts p = exp_parts(_mm256_add_pd(ac, ac));
  const D scale = pow2(p.n);  // n in [0, 58]
  const D E = _mm256_mul_pd(p.y, scale), El = _mm256_mul_pd(p.ylo, scale);
  const D one = dset(1.0), two = dset(2.0);
  const D s = _mm256_add_pd(E, one);
  const D se = _mm256_add_pd(_mm256_add_pd(_mm256_sub_pd(E, s), one), El);  // E + El + 1 - s
  const D q = _mm256_div_pd(two, s);
  const D ql = _mm256_div_pd(_mm256_fnmadd_pd(q, se, _mm256_fnmadd_pd(q, s, two)), s);  // 2 / (s + se) - q
  const D th = _mm256_sub_pd(one, q);
  const D big = _mm256_add_pd(th, _mm256_sub_pd(_mm256_sub_pd(_mm256_sub_pd(one, th), q), ql));
  constexpr double c[12] = {-0.3333333333333333,     0.13333333333333333,    -0.05396825396825397,
                            0.021869488536155203,    -0.008863235529902197,  0.003592128036572481,
                            -0.0014558343870513183,  0.000590027440945586,   -0.00023912911424355248,
                            9.691537956929451e-05,   -3.927832388331683e-05, 1.5918905069328964e-05};
  const D z = _mm256_mul_pd(a, a);
  const D small = _mm256_fmadd_pd(_mm256_mul_pd(a, z), poly(z, c), a);
  const D t = _mm256_blendv_pd(big, small, _mm256_cmp_pd(a, dset(0.3), _CMP_LT_OQ));
  return _mm256_blendv_pd(_mm256_or_pd(t, _mm256_and_pd(x, sign)), x, isnan_pd(x));
}

// pi / 2 = kPio2D[0] + kPio2D[1] + kPio2D[2] + kPio2D[3] to ~2^-157: the first three with
// 33 significant bits each (kPio2D[0] and [1] equal kPio2[0] and [1]), so their products
// with an integer |j| < 2^20 are exact.
constexpr double kPio2D[4] = {1.5707963267341256, 6.077100506303966e-11, 2.0222662487111665e-21,
                              8.4784276603689e-32};
// Doubles of larger magnitude (|j| > 636620) go to the C library.
constexpr double kTrigMaxD = 1e6;

// a + b = s + e exactly (TwoSum: any magnitudes).
[[gnu::always_inline]] inline void two_sum(D a, D b, D& s, D& e) {
  s = _mm256_add_pd(a, b);
  const D bb = _mm256_sub_pd(s, a);
  e = _mm256_add_pd(_mm256_sub_pd(a, _mm256_sub_pd(s, bb)), _mm256_sub_pd(b, bb));
}

// sin (Cos = false) or cos of x to double precision. x = j pi/2 + y + yl, j = round(x 2/pi),
// |y| <= pi/4: x - j kPio2D[0] is exact (j kPio2D[0] is, and the two are within a factor of
// two), the next two parts come off with their rounding errors kept (TwoSum), so that y +
// yl is x - j pi/2 to ~2^-100 relative even where x is close to a multiple of pi/2. Then,
// with z = y^2 (and its error zl, exact by FMA), sin(y + yl) = y + (y^3 S(z) + yl (1 -
// z/2)) and cos(y + yl) = w + (((1 - w) - z/2) - zl/2 + (z^2 C(z) - y yl)) with w = 1 -
// z/2: S and C Taylor's series to y^17 and y^16 (truncation below 3e-18 relative), each
// result's last add its one full rounding (fdlibm's arrangement, a fact carried over).
// Picked and signed by the quadrant j mod 4; sin(-0) = -0; |x| > kTrigMaxD, infinities and
// NaN take the C library's, lane by lane. Within one ulp of the exact value.
template <bool Cos>
[[gnu::always_inline]] inline D sincos_pd_full(D x) {
  const D far = _mm256_cmp_pd(_mm256_andnot_pd(dset(-0.0), x), dset(kTrigMaxD), _CMP_NLE_UQ);
  const D xs = _mm256_andnot_pd(far, x);  // far lanes computed at 0, then replaced
  const D j = _mm256_round_pd(_mm256_mul_pd(xs, dset(kTwoOverPi)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const D r1 = _mm256_fnmadd_pd(j, dset(kPio2D[0]), xs);
  D h1, l1, h2, l2;
  two_sum(r1, _mm256_mul_pd(j, dset(-kPio2D[1])), h1, l1);
  two_sum(h1, _mm256_mul_pd(j, dset(-kPio2D[2])), h2, l2);
  const D t = _mm256_fnmadd_pd(j, dset(kPio2D[3]), _mm256_add_pd(l1, l2));
  const D y = _mm256_add_pd(h2, t);
  const D yl = _mm256_add_pd(_mm256_sub_pd(h2, y), t);
  const D z = _mm256_mul_pd(y, y);
  const D zl = _mm256_fmsub_pd(y, y, z);
  const D hz = _mm256_mul_pd(z, dset(0.5));
  constexpr double cs[8] = {-1.0 / 6,           1.0 / 120,          -1.0 / 5040,           1.0 / 362880,
                            -1.0 / 39916800,    1.0 / 6227020800.0, -1.0 / 1307674368000.0, 1.0 / 355687428096000.0};
  constexpr double cc[7] = {1.0 / 24,          -1.0 / 720,           1.0 / 40320,           -1.0 / 3628800,
                            1.0 / 479001600.0, -1.0 / 87178291200.0, 1.0 / 20922789888000.0};
  const D one = dset(1.0);
  const D s = _mm256_add_pd(
      y, _mm256_fmadd_pd(_mm256_mul_pd(z, y), poly(z, cs), _mm256_mul_pd(yl, _mm256_sub_pd(one, hz))));
  const D w = _mm256_sub_pd(one, hz);
  const D e = _mm256_fnmadd_pd(zl, dset(0.5), _mm256_sub_pd(_mm256_sub_pd(one, w), hz));
  const D c = _mm256_add_pd(
      w, _mm256_add_pd(e, _mm256_fmsub_pd(_mm256_mul_pd(z, z), poly(z, cc), _mm256_mul_pd(y, yl))));
  D r = by_quadrant<Cos>(j, s, c);
  if (!Cos) r = _mm256_blendv_pd(r, x, _mm256_cmp_pd(x, _mm256_setzero_pd(), _CMP_EQ_OQ));  // sin(-0) = -0
  if (const int lanes = _mm256_movemask_pd(far))  // huge, infinite or NaN: the C library's, lane by lane
    r = libm_lanes<double>(r, x, lanes, [](double v) { return Cos ? std::cos(v) : std::sin(v); });
  return r;
}

// log x to double precision, in fdlibm's arrangement (a fact carried over): x = 2^k (1 +
// f), 1 + f in [sqrt(1/2), sqrt(2)) (f exact), s = f / (2 + f), log(1 + f) = f - f^2/2 + s
// (f^2/2 + R), R = sum over j >= 1 of 2 z^j / (2j + 1) with z = s^2 <= 0.0295, taken as z
// P(z), P of degree 7 fitted to R / z over [0, 0.0295] (kLogR: a Chebyshev fit made with
// mpmath's chebyfit; s R off by below 2e-19, as far as the series to j = 11 that it
// replaces, with three multiply-adds fewer), and k ln 2 in two parts (kLn2Hi k exact): k
// kLn2Hi + f - f^2/2 summed exactly as pairs of doubles, their errors and the small terms
// added last. Denormals are scaled by 2^54 first. log(0) = -inf, log(x <
// 0) = NaN, log(inf) = inf, NaN passes through. Within one ulp of log x; tests/cpp: equal to
// glibc's log on all but a few in 10^3 inputs.
constexpr double kLogR[8] = {0.6666666666666666,  0.4000000000000088,  0.2857142857080323,
                             0.2222222239180047,  0.18181795630884753, 0.15386240205813478,
                             0.13268759668560612, 0.13086767009948175};
[[gnu::always_inline]] inline D log_pd_full(D x) {
  const D tiny = _mm256_cmp_pd(x, dset(2.2250738585072014e-308), _CMP_LT_OQ);  // denormal (or <= 0)
  const D xs = _mm256_blendv_pd(x, _mm256_mul_pd(x, dset(18014398509481984.0)), tiny);  // 2^54
  const __m256i bits = _mm256_castpd_si256(xs);
  D m = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi64x(0x000FFFFFFFFFFFFFLL)),
                                            _mm256_set1_epi64x(0x3FF0000000000000LL)));  // [1, 2)
  const D two52 = dset(4503599627370496.0);
  D k = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(bits, 52), _mm256_castpd_si256(two52))),
                      two52);  // the biased exponent
  k = _mm256_sub_pd(k, _mm256_blendv_pd(dset(1023.0), dset(1023.0 + 54.0), tiny));
  const D big = _mm256_cmp_pd(m, dset(1.4142135623730951), _CMP_GE_OQ);
  m = _mm256_blendv_pd(m, _mm256_mul_pd(m, dset(0.5)), big);
  k = _mm256_add_pd(k, _mm256_and_pd(big, dset(1.0)));
  const D f = _mm256_sub_pd(m, dset(1.0));
  const D hfsq = _mm256_mul_pd(_mm256_mul_pd(dset(0.5), f), f);
  const D s = _mm256_div_pd(f, _mm256_add_pd(f, dset(2.0)));
  const D z = _mm256_mul_pd(s, s);
  const D R = _mm256_mul_pd(z, poly(z, kLogR));
  const D t = _mm256_fmadd_pd(s, _mm256_add_pd(hfsq, R), _mm256_mul_pd(k, dset(kLn2Lo)));
  // k ln2_hi + f - hfsq + t with the large parts summed exactly (their errors carried into
  // the small tail), so that the last add is the one rounding of full size.
  const D hl = _mm256_fmsub_pd(_mm256_mul_pd(dset(0.5), f), f, hfsq);  // f^2/2 - hfsq, exact
  const D hi = _mm256_sub_pd(f, hfsq);
  const D lo = _mm256_sub_pd(_mm256_sub_pd(f, hi), hfsq);  // exact: |f| >= hfsq
  const D a = _mm256_mul_pd(k, dset(kLn2Hi));              // exact
  const D sum = _mm256_add_pd(a, hi);
  const D bb = _mm256_sub_pd(sum, a);
  const D err = _mm256_add_pd(_mm256_sub_pd(a, _mm256_sub_pd(sum, bb)), _mm256_sub_pd(hi, bb));  // a + hi - sum
  D r = _mm256_add_pd(sum, _mm256_add_pd(_mm256_add_pd(err, _mm256_sub_pd(lo, hl)), t));
  // Special values: x = 0 -> -inf; x < 0 (and -inf) -> NaN; +inf and NaN -> x.
  r = _mm256_blendv_pd(r, dset(-INFINITY), _mm256_cmp_pd(x, _mm256_setzero_pd(), _CMP_EQ_OQ));
  r = _mm256_blendv_pd(r, dset(NAN), _mm256_cmp_pd(x, _mm256_setzero_pd(), _CMP_LT_OQ));
  const D pass = _mm256_or_pd(isnan_pd(x), _mm256_cmp_pd(x, dset(INFINITY), _CMP_EQ_OQ));
  return _mm256_blendv_pd(r, x, pass);
}

// 1 / (1 + e^-x), the reference's formula with exp_pd_full for the C library's exp.
[[gnu::always_inline]] inline D sigmoid_pd(D x) {
  const D one = dset(1.0);
  return _mm256_div_pd(one, _mm256_add_pd(one, exp_pd_full(_mm256_xor_pd(x, dset(-0.0)))));
}

// ---- float32, 8 lanes

[[gnu::always_inline]] inline __m256 exp_ps(__m256 x) {
  // Below -104 the result rounds to 0, above 89 it overflows to inf: clamping keeps pow2's
  // exponent in range. NaN is put back at the end (max and min drop it).
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-104.0f)), _mm256_set1_ps(89.0f));
  const __m256 r = to_ps(exp_pd(lo_pd(xc)), exp_pd(hi_pd(xc)));
  return _mm256_blendv_ps(r, x, isnan_ps(x));
}

// log of 8 floats. The exponent and mantissa are split in float (exact), 8 lanes at once:
// x = 2^e m, m in [1, 2), halved (and e raised) above sqrt 2, f = m - 1 (exact). Then in
// double, 4 lanes at a time: log m = 2 atanh(s) = 2 s + s z P(z), s = f / (f + 2), |s| <=
// 0.1716, z = s^2, P of degree 4 fitted to (2 atanh(s) / s - 2) / z over z in [0, 0.0295]
// (kLogFit: a Chebyshev fit made with mpmath's chebyfit; relative error below 1.1e-13,
// and below 6e-16 near m = 1, against 4e-12 for the series to s^13 that it replaces, with
// a multiply-add fewer), by Estrin's scheme; log x = e ln 2 + log m (one FMA: e ln 2
// needs no split here, its rounding is 1e-16 of a result that cannot cancel below ln 2 /
// 2). `normal` lanes are the finite floats from FLT_MIN up; a denormal is scaled by 2^23
// first (eadj = -23).
constexpr double kLogFit[5] = {0.6666666666737581, 0.3999999879635961, 0.2857175473557182, 0.2219138815535479,
                               0.1936289996033694};
[[gnu::always_inline]] inline D log_m(D f, D e) {
  const D s = _mm256_div_pd(f, _mm256_add_pd(f, dset(2.0)));
  const D z = _mm256_mul_pd(s, s);
  const D z2 = _mm256_mul_pd(z, z);
  const D p01 = _mm256_fmadd_pd(z, dset(kLogFit[1]), dset(kLogFit[0]));
  const D p24 = _mm256_fmadd_pd(z2, dset(kLogFit[4]), _mm256_fmadd_pd(z, dset(kLogFit[3]), dset(kLogFit[2])));
  const D logm = _mm256_fmadd_pd(_mm256_mul_pd(s, z), _mm256_fmadd_pd(p24, z2, p01), _mm256_add_pd(s, s));
  return _mm256_fmadd_pd(e, dset(kLn2), logm);
}
[[gnu::always_inline]] inline __m256 log_normal(__m256 x, __m256i eadj) {
  const __m256i xi = _mm256_castps_si256(x);
  __m256i e = _mm256_add_epi32(_mm256_sub_epi32(_mm256_srli_epi32(xi, 23), _mm256_set1_epi32(127)), eadj);
  __m256 m = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(xi, _mm256_set1_epi32(0x7fffff)), _mm256_set1_epi32(0x3f800000)));
  const __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
  e = _mm256_sub_epi32(e, _mm256_castps_si256(big));  // a true compare is -1
  const __m256 f = _mm256_sub_ps(m, _mm256_set1_ps(1.0f));
  const __m256 ef = _mm256_cvtepi32_ps(e);
  return to_ps(log_m(lo_pd(f), lo_pd(ef)), log_m(hi_pd(f), hi_pd(ef)));
}
// All lanes normal (the usual case) skip the special values' blends; otherwise those
// lanes are fixed afterwards, and the normal lanes get the same bits either way.
[[gnu::always_inline]] inline __m256 log_ps(__m256 x) {
  const __m256 zero = _mm256_setzero_ps(), inf = _mm256_set1_ps(INFINITY), fmin = _mm256_set1_ps(FLT_MIN);
  const __m256 normal = _mm256_and_ps(_mm256_cmp_ps(x, fmin, _CMP_GE_OQ), _mm256_cmp_ps(x, inf, _CMP_LT_OQ));
  if (_mm256_movemask_ps(normal) == 0xff) return log_normal(x, _mm256_setzero_si256());
  const __m256 tiny = _mm256_and_ps(_mm256_cmp_ps(x, zero, _CMP_GT_OQ), _mm256_cmp_ps(x, fmin, _CMP_LT_OQ));
  __m256 xs = _mm256_blendv_ps(_mm256_set1_ps(1.0f), x, normal);
  xs = _mm256_blendv_ps(xs, _mm256_mul_ps(x, _mm256_set1_ps(8388608.0f)), tiny);  // 2^23
  __m256 r = log_normal(xs, _mm256_and_si256(_mm256_castps_si256(tiny), _mm256_set1_epi32(-23)));
  r = _mm256_blendv_ps(r, _mm256_set1_ps(-INFINITY), _mm256_cmp_ps(x, zero, _CMP_EQ_OQ));  // +-0
  r = _mm256_blendv_ps(r, _mm256_set1_ps(NAN), _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
  r = _mm256_blendv_ps(r, inf, _mm256_cmp_ps(x, inf, _CMP_EQ_OQ));
  return _mm256_blendv_ps(r, x, isnan_ps(x));
}

// tanh |x| = (e^{2|x|} - 1) / (e^{2|x|} + 1), through expm1 so that small x keeps its
// relative accuracy; |x| is clamped to 10 (tanh rounds to 1 in float from 9.011 on; at 9
// it is 1 - 2^-24 - 2^-26, the float below 1); the sign of x (and -0) is put back.
[[gnu::always_inline]] inline __m256 tanh_ps(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 ax = _mm256_min_ps(_mm256_andnot_ps(sign, x), _mm256_set1_ps(10.0f));
  auto half = [](D a) {
    const D em1 = expm1_pos(_mm256_add_pd(a, a));
    return _mm256_div_pd(em1, _mm256_add_pd(em1, dset(2.0)));
  };
  const __m256 t = to_ps(half(lo_pd(ax)), half(hi_pd(ax)));
  return _mm256_blendv_ps(_mm256_or_ps(t, _mm256_and_ps(x, sign)), x, isnan_ps(x));
}

// 1 / (1 + e^-x), e^-x rounded to float first (the reference's and torch's order).
[[gnu::always_inline]] inline __m256 sigmoid_ps(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, exp_ps(_mm256_xor_ps(x, _mm256_set1_ps(-0.0f)))));
  return _mm256_blendv_ps(s, x, isnan_ps(x));
}

// x^y for a finite scalar y that is not one of pow's special exponents (elementwise_avx2's
// pow_one): e^(y log |x|) in double, then the sign. t = y log |x| is within ~4e-12 of its
// value relative to |t| (log_pd's truncation; the product's rounding is 1e-16), so for the
// results a float can hold (|t| < 104) the double e^t is within ~4e-10 relative of x^y,
// far under a float's half ulp: rounded once, it is the correctly rounded x^y except
// within ~4e-10 of a rounding boundary (glibc's powf, the reference, is within 0.82 ulp).
// A negative x gives NaN unless y is an integer (y_int), and a negative result for odd y
// (y_odd). Lanes with x = +-0, +-inf or NaN take the C library's pow, lane by lane.
[[gnu::always_inline]] inline __m256 pow_ps(__m256 x, float y, bool y_int, bool y_odd) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 ax = _mm256_andnot_ps(sign, x);
  const __m256 ok = _mm256_and_ps(_mm256_cmp_ps(ax, _mm256_setzero_ps(), _CMP_GT_OQ),
                                  _mm256_cmp_ps(ax, _mm256_set1_ps(INFINITY), _CMP_LT_OQ));
  const __m256 xs = _mm256_blendv_ps(_mm256_set1_ps(1.0f), ax, ok);
  const D yd = dset(y);
  auto half = [yd](D a) {
    // e^t overflows a float above 88.8 and rounds to 0 below -104: the clamp keeps exp_pd's
    // exponent in range.
    const D t = _mm256_min_pd(_mm256_max_pd(_mm256_mul_pd(yd, log_pd(a)), dset(-708.0)), dset(700.0));
    return exp_pd(t);
  };
  __m256 r = to_ps(half(lo_pd(xs)), half(hi_pd(xs)));
  const __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
  if (y_odd) r = _mm256_or_ps(r, _mm256_and_ps(x, sign));
  else if (!y_int) r = _mm256_blendv_ps(r, _mm256_set1_ps(NAN), neg);
  if (const int lanes = _mm256_movemask_ps(_mm256_xor_ps(ok, _mm256_castsi256_ps(_mm256_set1_epi32(-1)))))
    r = libm_lanes<float>(r, x, lanes, [y](float v) { return std::pow(v, y); });
  return r;
}

// x^y lane by lane (a tensor exponent): pow_ps's evaluation for the lanes whose x is finite
// and nonzero and whose y is finite and none of pow's special exponents (2, 3, -2, -1, 0.5,
// -0.5, 1, 0: elementwise_avx2's pow_one takes those as PyTorch does); `rest` gets the
// other lanes' bits, for the caller to compute one by one. Per lane, y is integral when
// rounding leaves it unchanged, and odd when it is also below 2^24 in magnitude (every
// float above is even) with its low integer bit set.
[[gnu::always_inline]] inline __m256 pow_pv(__m256 x, __m256 y, int& rest) {
  const __m256 sign = _mm256_set1_ps(-0.0f), inf = _mm256_set1_ps(INFINITY);
  const __m256 ax = _mm256_andnot_ps(sign, x), ay = _mm256_andnot_ps(sign, y);
  __m256 ok = _mm256_and_ps(_mm256_cmp_ps(ax, _mm256_setzero_ps(), _CMP_GT_OQ), _mm256_cmp_ps(ax, inf, _CMP_LT_OQ));
  ok = _mm256_and_ps(ok, _mm256_cmp_ps(ay, inf, _CMP_LT_OQ));
  for (float e : {2.0f, 3.0f, -2.0f, -1.0f, 0.5f, -0.5f, 1.0f, 0.0f})
    ok = _mm256_andnot_ps(_mm256_cmp_ps(y, _mm256_set1_ps(e), _CMP_EQ_OQ), ok);
  rest = _mm256_movemask_ps(ok) ^ 0xff;
  const __m256 xs = _mm256_blendv_ps(_mm256_set1_ps(1.0f), ax, ok);
  const __m256 ys = _mm256_blendv_ps(_mm256_set1_ps(1.0f), y, ok);
  auto half = [](D a, D b) {
    const D t = _mm256_min_pd(_mm256_max_pd(_mm256_mul_pd(b, log_pd(a)), dset(-708.0)), dset(700.0));
    return exp_pd(t);
  };
  __m256 r = to_ps(half(lo_pd(xs), lo_pd(ys)), half(hi_pd(xs), hi_pd(ys)));
  const __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
  if (_mm256_movemask_ps(_mm256_and_ps(neg, ok))) {
    const __m256 yint = _mm256_cmp_ps(_mm256_round_ps(ys, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), ys, _CMP_EQ_OQ);
    const __m256i low = _mm256_slli_epi32(_mm256_cvttps_epi32(ys), 31);  // the low bit as the sign bit
    const __m256 small = _mm256_cmp_ps(_mm256_andnot_ps(sign, ys), _mm256_set1_ps(16777216.0f), _CMP_LT_OQ);
    const __m256 odd = _mm256_and_ps(_mm256_and_ps(yint, small), _mm256_castsi256_ps(low));  // sign bit: odd
    r = _mm256_or_ps(r, _mm256_and_ps(_mm256_and_ps(odd, neg), sign));
    r = _mm256_blendv_ps(r, _mm256_set1_ps(NAN), _mm256_andnot_ps(yint, neg));
  }
  return r;
}

template <bool Cos>
[[gnu::always_inline]] inline __m256 sincos_ps(__m256 x) {
  const __m256 far = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x), _mm256_set1_ps(kTrigMax), _CMP_NLE_UQ);
  const __m256 xs = _mm256_andnot_ps(far, x);  // far lanes computed at 0, then replaced
  __m256 r = to_ps(sincos_pd<Cos>(lo_pd(xs)), sincos_pd<Cos>(hi_pd(xs)));
  if (!Cos) r = _mm256_blendv_ps(r, x, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_EQ_OQ));  // sin(-0) = -0
  if (const int lanes = _mm256_movemask_ps(far))  // huge, infinite or NaN: the C library's, lane by lane
    r = libm_lanes<float>(r, x, lanes, [](float v) { return Cos ? std::cos(v) : std::sin(v); });
  return r;
}

}  // namespace
}  // namespace ember::kernels::avx2::vmath
