// The per-element math of Gaussian dropout: Box–Muller noise from the words of a pair of units.
#pragma once
#include <math.h>

#include "fastdrop/math/common.h"

namespace fastdrop {

// Gaussian dropout (Srivastava et al., 2014; Keras's GaussianDropout): y = x * n with
// n = 1 + sigma * z, sigma = sqrt(p / (1 - p)) and z standard normal. z comes from Box–Muller on
// the words of a pair of units (u & ~1, u | 1): u1 = (w_even + 1) 2^-32 in (0, 1],
// u2 = w_odd 2^-32, r = sqrt(-2 ln u1), z = r cos(2 pi u2) for the even unit and r sin(2 pi u2)
// for the odd one. ln, sin and cos are the polynomials below rather than libm's: plain arithmetic
// that compilers vectorise without -ffast-math and that gives the same bits on every ISA.
struct GaussianParams {
  uint64_t seed;
  uint64_t offset;
  float sigma_f32;
  double sigma_f64;
};

// p must already be checked to lie in [0, 1).
FASTDROP_HOST_DEVICE GaussianParams make_gaussian_params(double p, uint64_t seed, uint64_t offset) {
  const double sigma = sqrt(p / (1.0 - p));
  return GaussianParams{seed, offset, static_cast<float>(sigma), sigma};
}

FASTDROP_HOST_DEVICE float sigma_of(const GaussianParams& params, float) { return params.sigma_f32; }
FASTDROP_HOST_DEVICE double sigma_of(const GaussianParams& params, double) { return params.sigma_f64; }

// For a word w, v = w + 1 in [1, 2^32] = 2^k (1 + f) with 1 + f close to [sqrt(1/2), sqrt(2)):
// returns k, and v as the exact sum hi + lo of two floats (hi has 24 bits, lo is at most 256),
// since v itself does not fit in a float. k comes from the bits of the rounded sum, shifted so
// that the exponent steps at sqrt(2) rather than at 2 (as musl's logf does).
FASTDROP_HOST_DEVICE int32_t split_word_plus_one(uint32_t w, float* hi, float* lo) {
  *hi = static_cast<float>(static_cast<int32_t>(w >> 8)) * 256.0f;
  *lo = static_cast<float>(static_cast<int32_t>((w & 0xffu) + 1u));
  return static_cast<int32_t>((float_as_u32(*hi + *lo) + (0x3f800000u - 0x3f3504f3u)) >> 23) - 127;
}

// ln(u1) for u1 = (w + 1) 2^-32, in float32: ln(u1) = (k - 32) ln 2 + ln(1 + f) with Cephes'
// logf polynomial for ln(1 + f) on [sqrt(1/2) - 1, sqrt(2) - 1].
FASTDROP_HOST_DEVICE float log_unit(uint32_t w, float) {
  float hi, lo;
  const int32_t k = split_word_plus_one(w, &hi, &lo);
  // hi - 2^k is exact (both are multiples of 256 below 2^32, or hi is 0), so f is rounded once:
  // it keeps its relative accuracy even when u1 is within a few ulps of 1.
  const float f = ((hi - exp2i(k)) + lo) * exp2i(-k);
  const float e = static_cast<float>(k - 32);
  const float z = f * f;
  // Estrin's scheme rather than Horner's: the pairs of terms and their sums are independent, which
  // shortens the dependency chain that limits the kernels' speed.
  const float z2 = z * z;
  const float q0 = 3.3333331174e-1f - 2.4999993993e-1f * f;
  const float q1 = 2.0000714765e-1f - 1.6668057665e-1f * f;
  const float q2 = 1.4249322787e-1f - 1.2420140846e-1f * f;
  const float q3 = 1.1676998740e-1f - 1.1514610310e-1f * f;
  const float poly = (q0 + q1 * z) + (q2 + q3 * z) * z2 + 7.0376836292e-2f * (z2 * z2);
  // ln 2 in two parts: e * 0.693359375 is exact for the integers e here.
  const float y = poly * (f * z) + (e * -2.12194440e-4f - 0.5f * z);
  return (f + y) + e * 0.693359375f;
}

// The same in float64: v is exact in a double, so f = v / 2^k - 1 is exact, and ln(1 + f) is
// fdlibm's log kernel (musl's log; error below 1 ulp).
FASTDROP_HOST_DEVICE double log_unit(uint32_t w, double) {
  const double lg1 = 6.666666666666735130e-01, lg2 = 3.999999999940941908e-01, lg3 = 2.857142874366239149e-01,
               lg4 = 2.222219843214978396e-01, lg5 = 1.818357216161805012e-01, lg6 = 1.531383769920937332e-01,
               lg7 = 1.479819860511658591e-01;
  const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  float hi, lo;
  const int32_t k = split_word_plus_one(w, &hi, &lo);
  const double f = (static_cast<double>(w) + 1.0) * static_cast<double>(exp2i(-k)) - 1.0;
  const double dk = static_cast<double>(k - 32);
  const double s = f / (2.0 + f);
  const double z = s * s;
  const double w2 = z * z;
  const double t1 = w2 * (lg2 + w2 * (lg4 + w2 * lg6));
  const double t2 = z * (lg1 + w2 * (lg3 + w2 * (lg5 + w2 * lg7)));
  const double hfsq = 0.5 * f * f;
  return s * (hfsq + (t2 + t1)) + dk * ln2_lo - hfsq + f + dk * ln2_hi;
}

// The turn 2 pi w 2^-32 of a word w is q quarter turns plus an angle a in [-pi/4, pi/4], split
// exactly in integers (q = the nearest quarter, d = the rest in units of 2^-32 turns): no
// floating-point range reduction and no loss of accuracy near the zeros of sin and cos.
FASTDROP_HOST_DEVICE uint32_t quarter_turns(uint32_t w, int32_t* d) {
  const uint32_t q = (w + 0x20000000u) >> 30;
  *d = static_cast<int32_t>(w - (q << 30));
  return q;
}

// (cos, sin) of the turn from (cos a, sin a) and its quarter turns q.
template <class C>
FASTDROP_HOST_DEVICE void rotate_quarters(uint32_t q, C cos_a, C sin_a, C* cos_t, C* sin_t) {
  const C c = (q & 1u) ? -sin_a : cos_a;
  const C s = (q & 1u) ? cos_a : sin_a;
  *cos_t = (q & 2u) ? -c : c;
  *sin_t = (q & 2u) ? -s : s;
}

// cos and sin of 2 pi w 2^-32 in float32: Cephes' sinf and cosf polynomials on [-pi/4, pi/4].
FASTDROP_HOST_DEVICE void sincos_turn(uint32_t w, float* cos_t, float* sin_t) {
  int32_t d;
  const uint32_t q = quarter_turns(w, &d);
  const float a = static_cast<float>(d) * 1.46291807926715968e-9f;  // 2 pi / 2^32
  const float z = a * a;
  const float sin_a = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * a + a;
  const float cos_a = ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) * z * z -
                      0.5f * z + 1.0f;
  rotate_quarters(q, cos_a, sin_a, cos_t, sin_t);
}

// The same in float64: fdlibm's __kernel_sin and __kernel_cos (musl's __sin, __cos) with no tail.
FASTDROP_HOST_DEVICE void sincos_turn(uint32_t w, double* cos_t, double* sin_t) {
  const double s1 = -1.66666666666666324348e-01, s2 = 8.33333333332248946124e-03, s3 = -1.98412698298579493134e-04,
               s4 = 2.75573137070700676789e-06, s5 = -2.50507602534068634195e-08, s6 = 1.58969099521155010221e-10;
  const double c1 = 4.16666666666666019037e-02, c2 = -1.38888888888741095749e-03, c3 = 2.48015872894767294178e-05,
               c4 = -2.75573143513906633035e-07, c5 = 2.08757232129817482790e-09, c6 = -1.13596475577881948265e-11;
  int32_t d;
  const uint32_t q = quarter_turns(w, &d);
  const double a = static_cast<double>(d) * 1.4629180792671596e-09;  // 2 pi / 2^32
  const double z = a * a;
  const double z2 = z * z;
  const double rs = s2 + z * (s3 + z * s4) + z * z2 * (s5 + z * s6);
  const double sin_a = a + z * a * (s1 + z * rs);
  const double rc = z * (c1 + z * (c2 + z * c3)) + z2 * z2 * (c4 + z * (c5 + z * c6));
  const double hz = 0.5 * z;
  const double one_minus_hz = 1.0 - hz;
  const double cos_a = one_minus_hz + (((1.0 - one_minus_hz) - hz) + z * rc);
  rotate_quarters(q, cos_a, sin_a, cos_t, sin_t);
}

// The noises n of both units of a pair, from its words, in the compute type C.
template <class C>
FASTDROP_HOST_DEVICE void gaussian_pair(uint32_t word_even, uint32_t word_odd, C sigma, C* n_even, C* n_odd) {
  const C r = sqrt(C(-2) * log_unit(word_even, C{}));
  C cos_t, sin_t;
  sincos_turn(word_odd, &cos_t, &sin_t);
  *n_even = C(1) + sigma * (r * cos_t);
  *n_odd = C(1) + sigma * (r * sin_t);
}

// The noise of one unit of the pair (odd: the unit is u | 1).
template <class C>
FASTDROP_HOST_DEVICE C gaussian_noise(uint32_t word_even, uint32_t word_odd, bool odd, C sigma) {
  C n_even, n_odd;
  gaussian_pair(word_even, word_odd, sigma, &n_even, &n_odd);
  return odd ? n_odd : n_even;
}

// y = x * n in the compute type, rounded once to the storage type; backward applies it to the gradient.
template <class T>
FASTDROP_HOST_DEVICE T gaussian_element(T x, typename ComputeType<T>::type noise) {
  return from_compute(to_compute(x) * noise, T{});
}

}  // namespace fastdrop
