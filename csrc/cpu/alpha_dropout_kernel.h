// The table of alpha dropout's CPU kernels, which each ISA's build of alpha_dropout_kernel.cpp
// provides. An entry works on one chunk of a call, as dropout's forward (dropout_kernel.h).
#pragma once
#include <stdint.h>

#include "fastdrop/math/alpha_dropout.h"

namespace fastdrop::cpu {

using AlphaForwardFn = void (*)(const void* x, void* y, uint64_t first, int64_t n, const DropoutParams& params,
                                const AlphaParams& alpha, uint8_t* mask_bits);

// Index by fastdrop_dtype: float16, bfloat16, float32, float64.
struct alpha_dropout_kernels {
  AlphaForwardFn forward[4];
};

}  // namespace fastdrop::cpu
