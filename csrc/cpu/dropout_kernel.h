// The table of dropout's CPU kernels, which each ISA's build of dropout_kernel.cpp provides. Each
// entry works on one chunk of a call: `first` is the unit index of element 0 of the chunk; masks
// are indexed from the chunk's start, which callers keep at a multiple of 8 units so that bit masks
// fill whole bytes.
#pragma once
#include <stdint.h>

#include "fastdrop/math/common.h"

namespace fastdrop::cpu {

using StreamWordsFn = void (*)(uint64_t seed, uint64_t offset, uint64_t first, int64_t n, uint32_t* words);
using ForwardFn = void (*)(const void* x, void* y, uint64_t first, int64_t n, const DropoutParams& params,
                           uint8_t* mask_bits, bool* mask_bytes);
using BackwardBitsFn = void (*)(const void* dy, void* dx, int64_t n, const DropoutParams& params,
                                const uint8_t* mask_bits);
using MaskBitsFn = void (*)(uint64_t first, int64_t n, const DropoutParams& params, uint8_t* mask_bits);

// Index by fastdrop_dtype: float16, bfloat16, float32, float64.
struct dropout_kernels {
  StreamWordsFn stream_words;
  ForwardFn forward[4];
  BackwardBitsFn backward_bits[4];
  MaskBitsFn mask_bits;
};

}  // namespace fastdrop::cpu
