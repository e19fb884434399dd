// CPU alpha dropout kernels, compiled once per ISA like dropout_kernel.cpp: dropout's fused
// forward (forward_tiles.h) with alpha dropout's map of each element. Its backward is dropout's
// forward with the scale a.
#include "alpha_dropout_kernel.h"
#include "element_ops.h"
#include "forward_tiles.h"
#include "registry.h"

namespace fastdrop::cpu::FASTDROP_ISA {
namespace {

template <class T>
void alpha_forward(const void* x, void* y, uint64_t first, int64_t n, const DropoutParams& params,
                   const AlphaParams& alpha, uint8_t* mask_bits) {
  forward_with<T>(x, y, first, n, params, alpha_op<T>(params, alpha), mask_bits, nullptr);
}

}  // namespace

template <>
const alpha_dropout_kernels& kernels<alpha_dropout_kernels>() {
  static const alpha_dropout_kernels table = {
      {alpha_forward<float16_bits>, alpha_forward<bfloat16_bits>, alpha_forward<float>, alpha_forward<double>},
  };
  return table;
}

}  // namespace fastdrop::cpu::FASTDROP_ISA
