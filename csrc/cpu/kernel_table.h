// The tables of CPU kernels that each ISA build of dropout_kernel.cpp and broadcast_kernel.cpp
// provides. Each entry works on
// one chunk of a call: `first` is the unit index of element 0 of the chunk; masks are indexed from
// the chunk's start, which callers keep at a multiple of 8 units so that bit masks fill whole bytes.
#pragma once
#include <stdint.h>

#include "fastdrop/math/alpha_dropout.h"

namespace fastdrop::cpu {

using StreamWordsFn = void (*)(uint64_t seed, uint64_t offset, uint64_t first, int64_t n,
                               uint32_t* words);
using ForwardFn = void (*)(const void* x, void* y, uint64_t first, int64_t n,
                           const DropoutParams& params, uint8_t* mask_bits, bool* mask_bytes);
using BackwardBitsFn = void (*)(const void* dy, void* dx, int64_t n, const DropoutParams& params,
                                const uint8_t* mask_bits);
using MaskBitsFn = void (*)(uint64_t first, int64_t n, const DropoutParams& params, uint8_t* mask_bits);
using AlphaForwardFn = void (*)(const void* x, void* y, uint64_t first, int64_t n,
                                const DropoutParams& params, const AlphaParams& alpha,
                                uint8_t* mask_bits);
// One row of a broadcast apply: element i of the row belongs to unit `unit + i * unit_stride`,
// whose keep bit is read from unit_bits (bit u & 7 of byte u >> 3).
using ApplyRowFn = void (*)(const void* x, void* y, int64_t len, uint64_t unit, int64_t unit_stride,
                            const uint8_t* unit_bits, const DropoutParams& params,
                            const AlphaParams& alpha);

// Index by fastdrop_dtype: float16, bfloat16, float32, float64.
struct KernelTable {
  StreamWordsFn stream_words;
  ForwardFn forward[4];
  BackwardBitsFn backward_bits[4];
  MaskBitsFn mask_bits;
  AlphaForwardFn alpha_forward[4];
};

// The apply rows of each ISA, from broadcast_kernel.cpp (compiled per ISA like dropout_kernel.cpp).
struct ApplyRowTable {
  ApplyRowFn dropout[4];  // keep ? x * scale : 0
  ApplyRowFn alpha[4];    // keep ? x * a + keep_add : drop_value
};

namespace scalar {
const KernelTable& kernels();
const ApplyRowTable& apply_rows();
}
namespace avx2 {
const KernelTable& kernels();
const ApplyRowTable& apply_rows();
}
namespace avx512 {
const KernelTable& kernels();
const ApplyRowTable& apply_rows();
}

}  // namespace fastdrop::cpu
