// The per-element math of dropout, shared by the CPU kernels of every ISA and the CUDA kernels so
// that it is defined once (DESIGN.md, Randomness). Conversions are done in integer and float
// arithmetic rather than with F16C or CUDA intrinsics so that every backend rounds the same way.
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fastdrop/philox.h"

namespace fastdrop {

// Storage types of 16-bit floats: the raw bits, so that host code needs no half type.
struct float16_bits {
  uint16_t bits;
};
struct bfloat16_bits {
  uint16_t bits;
};

FASTDROP_HOST_DEVICE uint32_t float_as_u32(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}
FASTDROP_HOST_DEVICE float u32_as_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

// IEEE binary16 -> binary32, exact (F. Giesen's branch-free form; selects vectorise).
FASTDROP_HOST_DEVICE float half_to_float(uint16_t h) {
  const uint32_t shifted_exp = 0x7c00u << 13;
  uint32_t o = (static_cast<uint32_t>(h) & 0x7fffu) << 13;
  const uint32_t exp = shifted_exp & o;
  o += (127u - 15u) << 23;
  const uint32_t inf_nan = o + ((128u - 16u) << 23);
  const float sub = u32_as_float(o + (1u << 23)) - u32_as_float(113u << 23);
  o = exp == shifted_exp ? inf_nan : o;
  o = exp == 0 ? float_as_u32(sub) : o;
  return u32_as_float(o | ((static_cast<uint32_t>(h) & 0x8000u) << 16));
}

// binary32 -> binary16, round to nearest even; overflow gives inf, NaN gives a quiet NaN.
FASTDROP_HOST_DEVICE uint16_t float_to_half_rne(float f) {
  uint32_t u = float_as_u32(f);
  const uint32_t sign = u & 0x80000000u;
  u ^= sign;
  const uint32_t f16max = (127u + 16u) << 23;
  const uint32_t denorm_magic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
  // Subnormal results: the float addition rounds to nearest even at the half's last place.
  const uint32_t sub = float_as_u32(u32_as_float(u) + u32_as_float(denorm_magic)) - denorm_magic;
  const uint32_t mant_odd = (u >> 13) & 1u;
  const uint32_t normal = (u + (static_cast<uint32_t>(15 - 127) << 23) + 0xfffu + mant_odd) >> 13;
  uint32_t o = u < (113u << 23) ? sub : normal;
  o = u >= f16max ? (u > 0x7f800000u ? 0x7e00u : 0x7c00u) : o;
  return static_cast<uint16_t>(o | (sign >> 16));
}

FASTDROP_HOST_DEVICE float bfloat16_to_float(uint16_t b) {
  return u32_as_float(static_cast<uint32_t>(b) << 16);
}

// binary32 -> bfloat16, round to nearest even; NaN stays a quiet NaN of the same sign.
FASTDROP_HOST_DEVICE uint16_t float_to_bfloat16_rne(float f) {
  const uint32_t u = float_as_u32(f);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (u >> 16) | 0x40u;
  return static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

// Each storage type is computed on in its compute type: 16-bit floats and float32 in float32,
// float64 in float64. to_compute widens a stored value; from_compute rounds back (the second
// argument only selects the storage type).
template <class T>
struct ComputeType {
  using type = float;
};
template <>
struct ComputeType<double> {
  using type = double;
};

FASTDROP_HOST_DEVICE float to_compute(float x) { return x; }
FASTDROP_HOST_DEVICE double to_compute(double x) { return x; }
FASTDROP_HOST_DEVICE float to_compute(float16_bits x) { return half_to_float(x.bits); }
FASTDROP_HOST_DEVICE float to_compute(bfloat16_bits x) { return bfloat16_to_float(x.bits); }
FASTDROP_HOST_DEVICE float from_compute(float v, float) { return v; }
FASTDROP_HOST_DEVICE double from_compute(double v, double) { return v; }
FASTDROP_HOST_DEVICE float16_bits from_compute(float v, float16_bits) {
  return float16_bits{float_to_half_rne(v)};
}
FASTDROP_HOST_DEVICE bfloat16_bits from_compute(float v, bfloat16_bits) {
  return bfloat16_bits{float_to_bfloat16_rne(v)};
}

// Everything a dropout call needs to decide and scale a unit, derived once from (p, seed, offset).
struct DropoutParams {
  uint64_t seed;
  uint64_t offset;
  uint32_t threshold;  // floor(p * 2^32) for p < 1
  uint32_t drop_all;   // p == 1: the threshold does not fit in 32 bits
  float scale_f32;     // 1 / (1 - p) rounded to float, 0 when p == 1
  double scale_f64;    // 1 / (1 - p), 0 when p == 1
};

// p must already be checked to lie in [0, 1].
FASTDROP_HOST_DEVICE DropoutParams make_dropout_params(double p, uint64_t seed, uint64_t offset) {
  DropoutParams params;
  params.seed = seed;
  params.offset = offset;
  params.drop_all = p >= 1.0 ? 1u : 0u;
  params.threshold = p >= 1.0 ? 0u : static_cast<uint32_t>(p * 4294967296.0);
  params.scale_f64 = p >= 1.0 ? 0.0 : 1.0 / (1.0 - p);
  params.scale_f32 = static_cast<float>(params.scale_f64);
  return params;
}

FASTDROP_HOST_DEVICE bool keeps(uint32_t word, const DropoutParams& params) {
  return (word >= params.threshold) & (params.drop_all == 0);
}

// The scale in a compute type (the argument only selects it).
FASTDROP_HOST_DEVICE float scale_of(const DropoutParams& params, float) { return params.scale_f32; }
FASTDROP_HOST_DEVICE double scale_of(const DropoutParams& params, double) {
  return params.scale_f64;
}

// y = keep ? x * s : 0, computed in the compute type and rounded once to the storage type.
// Forward applies it to x, backward to the gradient.
template <class T>
FASTDROP_HOST_DEVICE T dropout_element(T x, bool keep, typename ComputeType<T>::type scale) {
  using C = typename ComputeType<T>::type;
  return from_compute(keep ? to_compute(x) * scale : C(0), T{});
}

// Fused bias + dropout + residual: y = r + (keep ? (x + b) * s : 0), in the compute type and
// rounded once.
template <class T>
FASTDROP_HOST_DEVICE T bias_dropout_add_element(T x, T b, T r, bool keep, typename ComputeType<T>::type scale) {
  using C = typename ComputeType<T>::type;
  const C dropped = keep ? (to_compute(x) + to_compute(b)) * scale : C(0);
  return from_compute(to_compute(r) + dropped, T{});
}

// Alpha dropout (Klambauer et al., "Self-Normalizing Neural Networks") with PyTorch's constants:
// kept units become a * x + a * alpha * p, dropped ones a * alpha * (p - 1), with
// a = 1 / sqrt((alpha^2 p + 1)(1 - p)); its gradient is keep ? a * dy : 0. The constants are
// rounded to the compute type first and the dropped value is their difference in that type, as
// PyTorch's alpha_dropout computes them.
constexpr double kAlphaDropoutAlpha = 1.7580993408473766;

template <class C>
struct AlphaConstants {
  C a;
  C keep_add;
  C drop_value;
};

struct AlphaParams {
  AlphaConstants<float> f32;
  AlphaConstants<double> f64;
};

template <class C>
FASTDROP_HOST_DEVICE AlphaConstants<C> make_alpha_constants(double p) {
  if (p >= 1.0) return AlphaConstants<C>{C(0), C(0), C(0)};  // everything dropped to 0, no inf
  const double alpha = kAlphaDropoutAlpha;
  const double a = 1.0 / sqrt((alpha * alpha * p + 1.0) * (1.0 - p));
  const C alpha_a = static_cast<C>(alpha * a);
  const C keep_add = static_cast<C>(alpha * a * p);
  return AlphaConstants<C>{static_cast<C>(a), keep_add, keep_add - alpha_a};
}

FASTDROP_HOST_DEVICE AlphaParams make_alpha_params(double p) {
  return AlphaParams{make_alpha_constants<float>(p), make_alpha_constants<double>(p)};
}

FASTDROP_HOST_DEVICE const AlphaConstants<float>& alpha_of(const AlphaParams& params, float) {
  return params.f32;
}
FASTDROP_HOST_DEVICE const AlphaConstants<double>& alpha_of(const AlphaParams& params, double) {
  return params.f64;
}

template <class T>
FASTDROP_HOST_DEVICE T alpha_dropout_element(T x, bool keep,
                                             const AlphaConstants<typename ComputeType<T>::type>& k) {
  return from_compute(keep ? to_compute(x) * k.a + k.keep_add : k.drop_value, T{});
}

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

// 2^e for an integer e in [-126, 127].
FASTDROP_HOST_DEVICE float exp2i(int32_t e) { return u32_as_float(static_cast<uint32_t>(e + 127) << 23); }

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

// DropBlock (Ghiasi et al., "DropBlock: A regularization method for convolutional networks",
// 2018) with torchvision's drop_block2d semantics, on (N, C, H, W) data and a block size bs. The
// seeds of blocks live on the grid of block positions that fit in a map, (N, C, H - bs + 1,
// W - bs + 1): a seed is dropped with probability gamma, by dropout's Bernoulli draw with one unit
// per grid position in row-major order. The seed at (i, j) drops rows i .. i + bs - 1 and columns
// j .. j + bs - 1 of its map (torchvision pads the seed grid by bs / 2 and max-pools it with a
// bs x bs window). Kept elements are scaled by numel / (eps + kept), kept counted over the whole
// tensor, and the element map is dropout's: dropout_element with that scale.
struct DropBlockParams {
  DropoutParams seeds;  // the draw of the seed grid, with probability gamma (its scale is unused)
  int64_t height;
  int64_t width;
  int64_t block_size;
  int64_t seed_height;  // height - block_size + 1
  int64_t seed_width;   // width - block_size + 1
};

// torchvision's gamma in its order of operations, p H W / (bs^2 (H - bs + 1)(W - bs + 1)), for
// 1 <= bs <= H, W. The two factors of the denominator are exact doubles, so their product rounds
// once, as Python rounds the exact integer. gamma <= p, since bs (H - bs + 1) >= H.
FASTDROP_HOST_DEVICE double drop_block_gamma(double p, int64_t height, int64_t width, int64_t block_size) {
  const int64_t seeds = (height - block_size + 1) * (width - block_size + 1);
  const double denominator = static_cast<double>(block_size * block_size) * static_cast<double>(seeds);
  return p * static_cast<double>(height) * static_cast<double>(width) / denominator;
}

// p must already be checked to lie in [0, 1], and the block to be odd and to fit in the map.
FASTDROP_HOST_DEVICE DropBlockParams make_drop_block_params(double p, int64_t height, int64_t width,
                                                            int64_t block_size, uint64_t seed, uint64_t offset) {
  DropBlockParams params;
  params.seeds = make_dropout_params(drop_block_gamma(p, height, width, block_size), seed, offset);
  params.height = height;
  params.width = width;
  params.block_size = block_size;
  params.seed_height = height - block_size + 1;
  params.seed_width = width - block_size + 1;
  return params;
}

// Eight columns of a seed row's dilation along the row at once, in the bytes of a uint64 (byte b
// is column w + b, as memcpy loads it on a little-endian machine). The window of column w holds
// seeds w - block_size + 1 .. w; `entering` and `leaving` hold, as 0/1 bytes, whether the seed
// entering and the seed leaving the window at each column is dropped, and *count is the number of
// dropped seeds in the window of column w - 1 (updated to that of column w + 7). Returns a 1 byte
// for each column whose window holds a dropped seed. Multiplying 0/1 bytes by 0x0101010101010101
// gives their running sums (at most 8, no carries): the count at column w + b is
// count + entered_b - left_b, which is not 0 iff min(count, 9) + entered_b != left_b, a bytewise
// comparison whose bytes stay below 32, so adding 0x7f to a byte sets its top bit iff it is not 0.
FASTDROP_HOST_DEVICE uint64_t dilate_eight_columns(uint64_t entering, uint64_t leaving, int64_t* count) {
  const uint64_t ones = 0x0101010101010101ull;
  const uint64_t entered = entering * ones, left = leaving * ones;
  const uint64_t capped = static_cast<uint64_t>(*count < 9 ? *count : 9);
  const uint64_t differ = (capped * ones + entered) ^ left;
  *count += static_cast<int64_t>(entered >> 56) - static_cast<int64_t>(left >> 56);
  return ((differ + 0x7f7f7f7f7f7f7f7full) >> 7) & ones;
}

// numel / (eps + kept) in double, or 0 when nothing is kept: every output is 0 then, and with
// eps = 0 the quotient would be infinite.
FASTDROP_HOST_DEVICE double drop_block_scale(int64_t numel, int64_t kept, double eps) {
  return kept == 0 ? 0.0 : static_cast<double>(numel) / (eps + static_cast<double>(kept));
}

// Fused bias + activation + dropout: y = keep ? act(x + b) * s : 0 for act in relu, gelu (exact,
// v Phi(v)) and gelu's tanh form, and dx = keep ? act'(x + b) (dy * s) : 0 with x + b recomputed
// from the saved x. In float32 the functions are plain arithmetic of our own (no libm: the loops
// vectorise, and every ISA and the Numba mirror get the same bits); in float64 they call libm's
// exp and erfc, which the Numba mirror calls too.

// exp(hi + lo) in float32, for -170 <= hi <= 170 and |lo| up to 0.15: Cephes' expf polynomial
// after a Cody-Waite reduction that is exact for hi, so that an argument carried as an exact sum
// hi + lo keeps its accuracy whatever its size. Below -104 it gives 0, above 88.72 inf (2^n is
// applied in two steps, each a normal float); NaN stays NaN. Error: at most 1.5 ulp (tests/cpp).
// No clamps inside: GCC copies the whole polynomial into each arm of a clamp's select.
FASTDROP_HOST_DEVICE float exp_sum(float hi, float lo) {
  // Adding 1.5 * 2^23 rounds hi log2(e) to the nearest integer n and leaves n in the low bits.
  const float shift = 12582912.0f;
  const float shifted = hi * 1.44269504088896341f + shift;
  const float n = shifted - shift;
  // hi - n ln 2 with ln 2 in two parts: n * 0.693359375 is exact and so is its difference with hi.
  const float g = ((hi - n * 0.693359375f) + lo) - n * -2.12194440e-4f;
  const float z = g * g;
  // Estrin's scheme: half the dependency chain of Horner's, which bounds the kernels' speed.
  const float poly = (5.0000001201e-1f + 1.6666665459e-1f * g) + (4.1665795894e-2f + 8.3334519073e-3f * g) * z +
                     (1.3981999507e-3f + 1.9875691500e-4f * g) * (z * z);
  const float p = (poly * z + g) + 1.0f;
  const int32_t n_int = static_cast<int32_t>(float_as_u32(shifted) - float_as_u32(shift));
  const int32_t n_half = n_int >> 1;  // floor(n / 2): an arithmetic shift, as in Python
  return p * exp2i(n_half) * exp2i(n_int - n_half);
}

// exp(-a^2 / 2) for 0 <= a <= 14.5 in float32. a = hi + lo with hi of 12 significant bits, so
// that hi^2 is exact and only the small part lo (a + hi) is rounded: rounding a^2 itself would
// cost up to a^2 / 2 ulps (50 at a = 10).
FASTDROP_HOST_DEVICE float exp_half_square(float a) {
  const float hi = u32_as_float(float_as_u32(a) & 0xfffff000u);
  const float lo = a - hi;
  return exp_sum(-0.5f * (hi * hi), -0.5f * (lo * (a + hi)));
}

// Phi(-a) exp(a^2 / 2) for 0 <= a <= 14.5, Phi being the standard normal distribution: a rational
// minimax fit of relative error 6e-9 (4e-8 with its coefficients in float32), 4.2 ulp as evaluated
// in float32 (by Estrin's scheme: fewer roundings in a row than Horner's 5.3 ulp). Past 14.5,
// exp(-a^2 / 2) is below the smallest float.
FASTDROP_HOST_DEVICE float scaled_normal_tail(float a) {
  const float a2 = a * a;
  const float a4 = a2 * a2;
  const float p = (0.5f + 4.3759736e-1f * a) + (1.8269175e-1f + 4.0442307e-2f * a) * a2 + 4.08566e-3f * a4;
  const float q =
      (1.0f + 1.6730796f * a) + (1.2003039f + 4.6802917e-1f * a) * a2 + (1.013804e-1f + 1.0241108e-2f * a) * a4;
  return p / q;
}

constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1 / sqrt(2 pi)
constexpr double kSqrtHalf = 0.70710678118654752440;    // 1 / sqrt(2)

// |v| clamped to 14.5, where the normal tail leaves float32; NaN gives 14.5 (v carries it on).
FASTDROP_HOST_DEVICE float tail_argument(float v) {
  const float a = v < 0.0f ? -v : v;
  return a < 14.5f ? a : 14.5f;
}

// exp(x) for x <= 0 (-inf gives 0).
FASTDROP_HOST_DEVICE float exp_nonpositive(float x) { return exp_sum(x < -170.0f ? -170.0f : x, 0.0f); }
FASTDROP_HOST_DEVICE double exp_nonpositive(double x) { return exp(x); }

// The activations, act(v), and their gradients, act'(v) g for an incoming gradient g, selected by tag.
struct Relu {};
struct Gelu {};
struct GeluTanh {};

// relu as np.maximum(v, 0): NaN stays NaN and -0 gives +0; its gradient is PyTorch's
// threshold_backward (0 where v <= 0, g elsewhere).
template <class C>
FASTDROP_HOST_DEVICE C activate(Relu, C v) {
  return v <= C(0) ? C(0) : v;
}
template <class C>
FASTDROP_HOST_DEVICE C activate_grad(Relu, C v, C g) {
  return v <= C(0) ? C(0) : g;
}

// Gelu v Phi(v) and its gradient Phi(v) + v phi(v), Phi and phi being the standard normal
// distribution and density. In float32 Phi comes from its tail, Phi(-a) = exp(-a^2 / 2) times
// scaled_normal_tail(a) for a = |v|, and Phi(v) = 1 - Phi(-v) for v >= 0, so that Phi(v) keeps
// its relative accuracy for v << 0, which 0.5 (1 + erf(v / sqrt 2)) loses to cancellation. Over
// every float32 |v| < 20, gelu is within 7 ulp (6.6 measured) of its exact value for v > -13
// (below, Phi(v) is subnormal), and so is its gradient in ulps of its terms (6.3; it crosses 0
// near v = -0.75); tests/cpp/test_bias_act.cpp samples them. In float64 Phi is libm's erfc and
// phi its exp.
FASTDROP_HOST_DEVICE float normal_pdf(float v) {
  return exp_half_square(tail_argument(v)) * static_cast<float>(kInvSqrt2Pi);
}
FASTDROP_HOST_DEVICE float normal_cdf(float v) {
  const float a = tail_argument(v);
  const float tail = exp_half_square(a) * scaled_normal_tail(a);
  return v < 0.0f ? tail : 1.0f - tail;
}
FASTDROP_HOST_DEVICE double normal_pdf(double v) { return exp(-0.5 * (v * v)) * kInvSqrt2Pi; }
FASTDROP_HOST_DEVICE double normal_cdf(double v) { return 0.5 * erfc(v * -kSqrtHalf); }

template <class C>
FASTDROP_HOST_DEVICE C activate(Gelu, C v) {
  return v * normal_cdf(v);
}
template <class C>
FASTDROP_HOST_DEVICE C activate_grad(Gelu, C v, C g) {
  return g * (normal_cdf(v) + v * normal_pdf(v));
}

// Gelu's tanh form, 0.5 v (1 + tanh(u)) with u = sqrt(2 / pi) (v + 0.044715 v^3) computed as
// PyTorch's approximate='tanh' computes it. 1 + tanh(u) = 2 sigmoid(2u) is taken from
// e = exp(-2 |u|) <= 1, which neither overflows nor cancels for u << 0 (u has v's sign). In
// float32, over every |v| < 20 where e is a normal float (v > -9.9), gelu is within 4 ulp (3.5
// measured) and its gradient within 7.5 ulp of its terms (7.1) of their exact values at the
// rounded u. For u < 0 the error of u itself (its roundings and the float32 constants, up to 3.5
// ulp) comes on top, 2 |u| times larger in the result: 4 + 7 |u| ulp of the exact function, as in
// PyTorch's float32 gelu, which computes u the same way.
constexpr double kGeluTanhBeta = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluTanhKappa = 0.044715;

// sigmoid(2u), and in *spread sigmoid(2u) (1 - sigmoid(2u)).
template <class C>
FASTDROP_HOST_DEVICE C gelu_tanh_sigmoid(C v, C* spread) {
  const C u = C(kGeluTanhBeta) * (v + C(kGeluTanhKappa) * (v * v * v));
  const C e = exp_nonpositive(C(-2) * (u < C(0) ? -u : u));
  const C r = C(1) / (C(1) + e);
  *spread = (e * r) * r;
  return v < C(0) ? e * r : r;
}

template <class C>
FASTDROP_HOST_DEVICE C activate(GeluTanh, C v) {
  C spread;
  return v * gelu_tanh_sigmoid(v, &spread);
}
// d/dv v sigmoid(2u) = sigmoid + 2 v sigmoid (1 - sigmoid) u'(v), u' = sqrt(2 / pi) (1 + 3 0.044715 v^2).
template <class C>
FASTDROP_HOST_DEVICE C activate_grad(GeluTanh, C v, C g) {
  C spread;
  const C s = gelu_tanh_sigmoid(v, &spread);
  return g * (s + (v + v) * spread * (C(kGeluTanhBeta) * (C(1) + C(3 * kGeluTanhKappa) * (v * v))));
}

// y = keep ? act(x + b) * s : 0 in the compute type, rounded once to the storage type.
template <class T, class Act>
FASTDROP_HOST_DEVICE T bias_act_dropout_element(Act act, T x, T b, bool keep, typename ComputeType<T>::type scale) {
  using C = typename ComputeType<T>::type;
  return from_compute(keep ? activate(act, to_compute(x) + to_compute(b)) * scale : C(0), T{});
}

// dx = keep ? act'(x + b) (dy * s) : 0 in the compute type, rounded once to the storage type.
template <class T, class Act>
FASTDROP_HOST_DEVICE T bias_act_dropout_grad_element(Act act, T dy, T x, T b, bool keep,
                                                     typename ComputeType<T>::type scale) {
  using C = typename ComputeType<T>::type;
  return from_compute(keep ? activate_grad(act, to_compute(x) + to_compute(b), to_compute(dy) * scale) : C(0), T{});
}

}  // namespace fastdrop
