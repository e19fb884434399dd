// CPU kernels of the fused bias + activation + dropout, y = dropout(act(x + b)), and of its
// backward, for (rows, cols) data with a bias of cols: one pass each that draws the mask (or reads
// its bits), adds the bias and applies the activation or its derivative (fastdrop/math/bias_act_dropout.h).
// Compiled once per ISA like dropout_kernel.cpp.
#include "bias_act_dropout_kernel.h"
#include "fused_tiles.h"
#include "registry.h"

namespace fastdrop::cpu::FASTDROP_ISA {
namespace {

// The forward (dy null) or the backward over a chunk of n elements, units [first, first + n),
// starting in column col0; kBias: a bias is given (else 0 is added). The backward reads its keeps
// from bits_in, or regenerates them when it is null.
template <class T, class Act, bool kBias>
void run_segments(const T* dy, const T* x, const T* bias, T* out, int64_t cols, int64_t col0, uint64_t first,
                  int64_t n, const DropoutParams& call, const uint8_t* bits_in, uint8_t* bits_out) {
  using C = typename ComputeType<T>::type;
  const DropoutParams params = call;  // local: stores through out cannot alias it
  const C scale = scale_of(params, C{});
  const T zero = from_compute(C(0), T{});
  const auto segment = [&](int64_t at, int64_t col, int64_t seg, const uint8_t* keep) {
    if (dy) {
      for (int64_t j = 0; j < seg; ++j) {
        out[at + j] = bias_act_dropout_grad_element(Act{}, dy[at + j], x[at + j], kBias ? bias[col + j] : zero,
                                                    keep[j] != 0, scale);
      }
    } else {
      for (int64_t j = 0; j < seg; ++j) {
        out[at + j] = bias_act_dropout_element(Act{}, x[at + j], kBias ? bias[col + j] : zero, keep[j] != 0, scale);
      }
    }
  };
  for_each_fused_segment(params, cols, col0, first, n, bits_in, bits_out, segment);
}

template <class T, class Act>
void run(const void* dy, const void* x, const void* bias, void* out, int64_t cols, int64_t col0, uint64_t first,
         int64_t n, const DropoutParams& params, const uint8_t* bits_in, uint8_t* bits_out) {
  const T* g = static_cast<const T*>(dy);
  const T* xs = static_cast<const T*>(x);
  const T* b = static_cast<const T*>(bias);
  T* o = static_cast<T*>(out);
  if (b) {
    run_segments<T, Act, true>(g, xs, b, o, cols, col0, first, n, params, bits_in, bits_out);
  } else {
    run_segments<T, Act, false>(g, xs, b, o, cols, col0, first, n, params, bits_in, bits_out);
  }
}

template <class T, class Act>
void forward(const void* x, const void* bias, void* y, int64_t cols, int64_t col0, uint64_t first, int64_t n,
             const DropoutParams& params, uint8_t* mask_bits) {
  run<T, Act>(nullptr, x, bias, y, cols, col0, first, n, params, nullptr, mask_bits);
}

template <class T, class Act>
void backward(const void* dy, const void* x, const void* bias, void* dx, int64_t cols, int64_t col0, uint64_t first,
              int64_t n, const DropoutParams& params, const uint8_t* mask_bits) {
  run<T, Act>(dy, x, bias, dx, cols, col0, first, n, params, mask_bits, nullptr);
}

}  // namespace

template <>
const bias_act_dropout_kernels& kernels<bias_act_dropout_kernels>() {
  static const bias_act_dropout_kernels table = {
      {{forward<float16_bits, Relu>, forward<bfloat16_bits, Relu>, forward<float, Relu>, forward<double, Relu>},
       {forward<float16_bits, Gelu>, forward<bfloat16_bits, Gelu>, forward<float, Gelu>, forward<double, Gelu>},
       {forward<float16_bits, GeluTanh>, forward<bfloat16_bits, GeluTanh>, forward<float, GeluTanh>,
        forward<double, GeluTanh>}},
      {{backward<float16_bits, Relu>, backward<bfloat16_bits, Relu>, backward<float, Relu>, backward<double, Relu>},
       {backward<float16_bits, Gelu>, backward<bfloat16_bits, Gelu>, backward<float, Gelu>, backward<double, Gelu>},
       {backward<float16_bits, GeluTanh>, backward<bfloat16_bits, GeluTanh>, backward<float, GeluTanh>,
        backward<double, GeluTanh>}},
  };
  return table;
}

}  // namespace fastdrop::cpu::FASTDROP_ISA
