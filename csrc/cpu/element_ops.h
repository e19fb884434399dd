// What a kernel does with one element once its keep bit is known: function objects over the
// per-element math of fastdrop/math/, so that one loop serves every variant. Internal linkage,
// as everything compiled per ISA.
#pragma once
#include "fastdrop/math/alpha_dropout.h"
#include "fastdrop/math/dropout.h"

namespace fastdrop::cpu {
namespace {

// keep ? x * scale : 0 (dropout forward and backward, alpha dropout's backward).
template <class T>
struct DropoutOp {
  typename ComputeType<T>::type scale;
  T operator()(T x, bool keep) const { return dropout_element(x, keep, scale); }
};

template <class T>
DropoutOp<T> dropout_op(const DropoutParams& params, const AlphaParams&) {
  return DropoutOp<T>{scale_of(params, typename ComputeType<T>::type{})};
}

// keep ? x * a + keep_add : drop_value (alpha dropout's forward).
template <class T>
struct AlphaOp {
  AlphaConstants<typename ComputeType<T>::type> constants;
  T operator()(T x, bool keep) const { return alpha_dropout_element(x, keep, constants); }
};

template <class T>
AlphaOp<T> alpha_op(const DropoutParams&, const AlphaParams& alpha) {
  return AlphaOp<T>{alpha_of(alpha, typename ComputeType<T>::type{})};
}

}  // namespace
}  // namespace fastdrop::cpu
