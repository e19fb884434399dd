// CPU kernels that apply stored keep bits of units to rows of data: the second half of broadcast
// dropout (spatial, locked, stochastic depth, noise_shape), where many elements share one unit,
// and of every backward from bits. Compiled once per ISA like dropout_kernel.cpp; the element
// loops are written once over element_ops.h and vectorised by the compiler.
#include <string.h>

#include "apply_mask_bits_kernel.h"
#include "element_ops.h"
#include "registry.h"

#ifndef FASTDROP_ISA
#error "FASTDROP_ISA (scalar, avx2 or avx512) must be defined"
#endif

namespace fastdrop::cpu::FASTDROP_ISA {
namespace {

// Elements per tile: their keep bytes stay in L1 between gathering and applying.
constexpr int64_t kRowTile = 1024;

inline bool unit_bit(const uint8_t* bits, uint64_t u) { return (bits[u >> 3] >> (u & 7)) & 1u; }

template <class T, class Op>
void apply_row(const T* x, T* y, int64_t len, uint64_t unit, int64_t unit_stride, const uint8_t* bits,
               Op op) {
  if (unit_stride == 0) {
    // The whole row shares one unit: a constant keep, a plain vector loop.
    const bool keep = unit_bit(bits, unit);
    for (int64_t i = 0; i < len; ++i) y[i] = op(x[i], keep);
    return;
  }
  alignas(64) uint8_t keep[kRowTile];
  for (int64_t t = 0; t < len; t += kRowTile) {
    const int64_t n = len - t < kRowTile ? len - t : kRowTile;
    const uint64_t first = unit + static_cast<uint64_t>(t * unit_stride);
    for (int64_t i = 0; i < n; ++i) keep[i] = unit_bit(bits, first + static_cast<uint64_t>(i * unit_stride));
    for (int64_t i = 0; i < n; ++i) y[t + i] = op(x[t + i], keep[i] != 0);
  }
}

template <class T>
void apply_row_dropout(const void* x, void* y, int64_t len, uint64_t unit, int64_t unit_stride,
                       const uint8_t* bits, const DropoutParams& params, const AlphaParams& alpha) {
  apply_row(static_cast<const T*>(x), static_cast<T*>(y), len, unit, unit_stride, bits,
            dropout_op<T>(params, alpha));
}

template <class T>
void apply_row_alpha(const void* x, void* y, int64_t len, uint64_t unit, int64_t unit_stride,
                     const uint8_t* bits, const DropoutParams& params, const AlphaParams& alpha) {
  apply_row(static_cast<const T*>(x), static_cast<T*>(y), len, unit, unit_stride, bits,
            alpha_op<T>(params, alpha));
}

}  // namespace

template <>
const apply_mask_bits_kernels& kernels<apply_mask_bits_kernels>() {
  static const apply_mask_bits_kernels table = {
      {apply_row_dropout<float16_bits>, apply_row_dropout<bfloat16_bits>, apply_row_dropout<float>,
       apply_row_dropout<double>},
      {apply_row_alpha<float16_bits>, apply_row_alpha<bfloat16_bits>, apply_row_alpha<float>,
       apply_row_alpha<double>},
  };
  return table;
}

}  // namespace fastdrop::cpu::FASTDROP_ISA
