// The per-element math that every op shares, on the CPU of every ISA and on CUDA, so that it is
// defined once (docs/design.md, Randomness): 16-bit storage types and their conversions, compute
// types, and the Bernoulli draw of a unit (DropoutParams, contract v2). Conversions are done in
// integer and float arithmetic rather than with CUDA intrinsics so that every backend rounds the
// same way; the CPU kernels convert runs of float16 with F16C where the CPU has it, whose bits
// these match, NaNs included (csrc/cpu/convert_runs.h). Each op's own math is in math/<op>.h.
#pragma once
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
  // NaNs come out quiet, as F16C's vcvtph2ps makes them, so that both paths give the same bits.
  const uint32_t quiet = (h & 0x3ffu) != 0 ? 0x400000u : 0u;
  o = exp == shifted_exp ? inf_nan | quiet : o;
  o = exp == 0 ? float_as_u32(sub) : o;
  return u32_as_float(o | ((static_cast<uint32_t>(h) & 0x8000u) << 16));
}

// binary32 -> binary16, round to nearest even; overflow gives inf, NaN a quiet NaN with the top
// bits of its payload (as F16C's vcvtps2ph, so that both paths give the same bits).
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
  o = u >= f16max ? (u > 0x7f800000u ? 0x7e00u | ((u >> 13) & 0x3ffu) : 0x7c00u) : o;
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
  uint32_t threshold;  // a unit whose 16-bit lane is below it is dropped: floor(p * 2^16), 2^16 when p == 1
  float scale_f32;     // 1 / (1 - p) rounded to float, 0 when p == 1
  double scale_f64;    // 1 / (1 - p), 0 when p == 1
};

// p must already be checked to lie in [0, 1].
FASTDROP_HOST_DEVICE DropoutParams make_dropout_params(double p, uint64_t seed, uint64_t offset) {
  DropoutParams params;
  params.seed = seed;
  params.offset = offset;
  params.threshold = p >= 1.0 ? 65536u : static_cast<uint32_t>(p * 65536.0);
  params.scale_f64 = p >= 1.0 ? 0.0 : 1.0 / (1.0 - p);
  params.scale_f32 = static_cast<float>(params.scale_f64);
  return params;
}

// Contract v2: a Bernoulli unit is kept iff its 16-bit lane (stream_lane) is at least the threshold.
FASTDROP_HOST_DEVICE bool keeps(uint32_t lane, const DropoutParams& params) { return lane >= params.threshold; }

// The scale in a compute type (the argument only selects it).
FASTDROP_HOST_DEVICE float scale_of(const DropoutParams& params, float) { return params.scale_f32; }
FASTDROP_HOST_DEVICE double scale_of(const DropoutParams& params, double) {
  return params.scale_f64;
}

// 2^e for an integer e in [-126, 127].
FASTDROP_HOST_DEVICE float exp2i(int32_t e) { return u32_as_float(static_cast<uint32_t>(e + 127) << 23); }

}  // namespace fastdrop
