// The per-element math of the fused bias + activation + dropout: the activations, their
// gradients and the float32 exp and normal distribution they are built on.
#pragma once
#include <math.h>

#include "fastdrop/math/common.h"

namespace fastdrop {

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
// near v = -0.75); tests/cpp/test_bias_act_dropout.cpp samples them. In float64 Phi is libm's erfc and
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
