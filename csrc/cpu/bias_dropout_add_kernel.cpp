// CPU kernel of the fused bias + dropout + residual add, y = r + dropout(x + b), for (rows, cols)
// data with a bias of cols: one pass that draws the mask, adds, scales and writes its bits.
// Compiled once per ISA like dropout_kernel.cpp.
#include "bias_dropout_add_kernel.h"
#include "fastdrop/math/bias_dropout_add.h"
#include "fused_tiles.h"
#include "registry.h"

namespace fastdrop::cpu::FASTDROP_ISA {
namespace {

// A chunk of n elements, units [first, first + n), starting in column col0; a zero bias is used
// when bias is null.
template <class T>
void bias_dropout_add(const void* x_ptr, const void* bias_ptr, const void* residual_ptr, void* y_ptr, int64_t cols,
                      int64_t col0, uint64_t first, int64_t n, const DropoutParams& call, uint8_t* mask_bits) {
  using C = typename ComputeType<T>::type;
  const DropoutParams params = call;  // local: stores through y cannot alias it
  const C scale = scale_of(params, C{});
  const T* x = static_cast<const T*>(x_ptr);
  const T* bias = static_cast<const T*>(bias_ptr);
  const T* residual = static_cast<const T*>(residual_ptr);
  T* y = static_cast<T*>(y_ptr);
  const T zero = from_compute(C(0), T{});
  const auto segment = [&](int64_t at, int64_t col, int64_t seg, const uint8_t* keep) {
    if (bias) {
      for (int64_t j = 0; j < seg; ++j) {
        y[at + j] = bias_dropout_add_element(x[at + j], bias[col + j], residual[at + j], keep[j] != 0, scale);
      }
    } else {
      for (int64_t j = 0; j < seg; ++j) {
        y[at + j] = bias_dropout_add_element(x[at + j], zero, residual[at + j], keep[j] != 0, scale);
      }
    }
  };
  for_each_fused_segment(params, cols, col0, first, n, nullptr, mask_bits, segment);
}

}  // namespace

template <>
const bias_dropout_add_kernels& kernels<bias_dropout_add_kernels>() {
  static const bias_dropout_add_kernels table = {
      {bias_dropout_add<float16_bits>, bias_dropout_add<bfloat16_bits>, bias_dropout_add<float>,
       bias_dropout_add<double>},
  };
  return table;
}

}  // namespace fastdrop::cpu::FASTDROP_ISA
