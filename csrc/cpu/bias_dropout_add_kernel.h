// The table of the fused bias + dropout + residual add's CPU kernels, which each ISA's build of
// bias_dropout_add_kernel.cpp provides.
// Entries work on a chunk of n elements of a call whose units are [first, first + n): x, residual,
// y and mask_bits point at the chunk's start (a multiple of 8 elements when mask_bits is written),
// bias at the call's cols bias values, and the chunk's first element is in column col.
#pragma once
#include <stdint.h>

#include "fastdrop/math/common.h"

namespace fastdrop::cpu {

using BiasDropoutAddFn = void (*)(const void* x, const void* bias, const void* residual, void* y, int64_t cols,
                                  int64_t col, uint64_t first, int64_t n, const DropoutParams& params, uint8_t* mask_bits);

// Index by fastdrop_dtype: float16, bfloat16, float32, float64.
struct bias_dropout_add_kernels {
  BiasDropoutAddFn forward[4];
};

}  // namespace fastdrop::cpu
