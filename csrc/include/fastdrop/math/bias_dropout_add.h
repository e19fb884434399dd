// The per-element math of the fused bias + dropout + residual add.
#pragma once
#include "fastdrop/math/common.h"

namespace fastdrop {

// Fused bias + dropout + residual: y = r + (keep ? (x + b) * s : 0), in the compute type and
// rounded once.
template <class T>
FASTDROP_HOST_DEVICE T bias_dropout_add_element(T x, T b, T r, bool keep, typename ComputeType<T>::type scale) {
  using C = typename ComputeType<T>::type;
  const C dropped = keep ? (to_compute(x) + to_compute(b)) * scale : C(0);
  return from_compute(to_compute(r) + dropped, T{});
}

}  // namespace fastdrop
