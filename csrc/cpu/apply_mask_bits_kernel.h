// The table of CPU kernels that apply stored keep bits of units to rows of data, which each ISA's
// build of apply_mask_bits_kernel.cpp provides.
#pragma once
#include <stdint.h>

#include "fastdrop/math/alpha_dropout.h"

namespace fastdrop::cpu {

// One row of an apply: element i of the row belongs to unit `unit + i * unit_stride`, whose keep
// bit is read from unit_bits (bit u & 7 of byte u >> 3).
using ApplyRowFn = void (*)(const void* x, void* y, int64_t len, uint64_t unit, int64_t unit_stride,
                            const uint8_t* unit_bits, const DropoutParams& params, const AlphaParams& alpha);

// Index by fastdrop_dtype: float16, bfloat16, float32, float64.
struct apply_mask_bits_kernels {
  ApplyRowFn dropout[4];  // keep ? x * scale : 0
  ApplyRowFn alpha[4];    // keep ? x * a + keep_add : drop_value
};

}  // namespace fastdrop::cpu
