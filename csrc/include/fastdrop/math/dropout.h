// Dropout's per-element map, which every op that scales kept units by one factor applies (alpha
// dropout's backward, DropBlock's second pass, the apply of stored bits).
#pragma once
#include "fastdrop/math/common.h"

namespace fastdrop {

// y = keep ? x * s : 0, computed in the compute type and rounded once to the storage type.
// Forward applies it to x, backward to the gradient.
template <class T>
FASTDROP_HOST_DEVICE T dropout_element(T x, bool keep, typename ComputeType<T>::type scale) {
  using C = typename ComputeType<T>::type;
  return from_compute(keep ? to_compute(x) * scale : C(0), T{});
}

}  // namespace fastdrop
