// What a kernel does with one element once its keep bit is known: function objects over the
// per-element math of fastdrop/math/, so that one loop serves every variant, and that loop
// (apply_elements). Internal linkage, as everything compiled per ISA.
#pragma once
#include <stdint.h>

#include "convert_runs.h"
#include "fastdrop/math/alpha_dropout.h"
#include "fastdrop/math/dropout.h"

namespace fastdrop::cpu {
namespace {

// keep ? x * scale : 0 (dropout forward and backward, alpha dropout's backward).
template <class T>
struct DropoutOp {
  typename ComputeType<T>::type scale;
  T operator()(T x, bool keep) const { return dropout_element(x, keep, scale); }
  // The same map on values already widened to the compute type.
  DropoutOp<typename ComputeType<T>::type> widened() const { return {scale}; }
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
  AlphaOp<typename ComputeType<T>::type> widened() const { return {constants}; }
};

template <class T>
AlphaOp<T> alpha_op(const DropoutParams&, const AlphaParams& alpha) {
  return AlphaOp<T>{alpha_of(alpha, typename ComputeType<T>::type{})};
}

// Elements per widened run: a few vectors of float32, in L1 between widening and rounding back.
constexpr int64_t kWideRun = 256;

// y[i] = op(x[i], keep(i)) for i in [0, n). 16-bit floats go through float32 runs (convert_runs.h):
// the op computes in float32 either way and rounds once, so the bits are those of op itself, and
// the conversions run as vector instructions rather than element by element.
template <class T, class Op, class Keep>
void apply_elements(const T* x, T* y, int64_t n, Op op, Keep keep) {
  if constexpr (sizeof(T) == 2) {
    const auto wide_op = op.widened();
    alignas(64) float wide[kWideRun];
    for (int64_t s = 0; s < n; s += kWideRun) {
      const int64_t len = n - s < kWideRun ? n - s : kWideRun;
      widen(x + s, wide, len);
      for (int64_t i = 0; i < len; ++i) wide[i] = wide_op(wide[i], keep(s + i));
      narrow(wide, y + s, len);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = op(x[i], keep(i));
  }
}

}  // namespace
}  // namespace fastdrop::cpu
