// The table of Gaussian dropout kernels that each ISA's build of gaussian_dropout_kernel.cpp provides. An
// entry does one chunk of a call: element 0 of x and y is unit `first`, which is even, so that a
// chunk never splits the pair of units whose words make a Box–Muller draw.
#pragma once
#include <stdint.h>

#include "fastdrop/math/gaussian_dropout.h"

namespace fastdrop::cpu {

// y = x * n for units [first, first + n); backward applies the same map to the gradient.
using GaussianFn = void (*)(const void* x, void* y, uint64_t first, int64_t n, const GaussianParams& params);

// Index by fastdrop_dtype: float16, bfloat16, float32, float64.
struct gaussian_dropout_kernels {
  GaussianFn apply[4];
};

}  // namespace fastdrop::cpu
