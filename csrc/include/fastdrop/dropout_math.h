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

}  // namespace fastdrop
