// The table of fused bias + activation + dropout kernels that each ISA's build of
// bias_act_dropout_kernel.cpp provides. Entries work on a chunk of n elements of (rows, cols) data
// whose units are [first, first + n): x, dy, y, dx and mask_bits point at the chunk's start (a
// multiple of 8 elements when mask bits are used), bias at the call's cols bias values (nullptr: no
// bias), and the chunk's first element is in column col0.
#pragma once
#include <stdint.h>

#include "fastdrop/math/bias_act_dropout.h"

namespace fastdrop::cpu {

// y = keep ? act(x + b) * s : 0; mask_bits, when not null, receives the keep bits.
using BiasActForwardFn = void (*)(const void* x, const void* bias, void* y, int64_t cols, int64_t col0, uint64_t first,
                                  int64_t n, const DropoutParams& params, uint8_t* mask_bits);
// dx = keep ? act'(x + b) (dy * s) : 0, keep read from mask_bits or, when it is null, regenerated
// from the params' (seed, offset).
using BiasActBackwardFn = void (*)(const void* dy, const void* x, const void* bias, void* dx, int64_t cols,
                                   int64_t col0, uint64_t first, int64_t n, const DropoutParams& params,
                                   const uint8_t* mask_bits);

// Index by fastdrop_activation (relu, gelu, gelu_tanh), then by fastdrop_dtype (float16, bfloat16,
// float32, float64).
struct bias_act_dropout_kernels {
  BiasActForwardFn forward[3][4];
  BiasActBackwardFn backward[3][4];
};

}  // namespace fastdrop::cpu
