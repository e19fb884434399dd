// The per-element math of alpha dropout and feature alpha dropout.
#pragma once
#include <math.h>

#include "fastdrop/math/common.h"

namespace fastdrop {

// Alpha dropout (Klambauer et al., "Self-Normalizing Neural Networks") with PyTorch's constants:
// kept units become a * x + a * alpha * p, dropped ones a * alpha * (p - 1), with
// a = 1 / sqrt((alpha^2 p + 1)(1 - p)); its gradient is keep ? a * dy : 0. The constants are
// rounded to the compute type first and the dropped value is their difference in that type, as
// PyTorch's alpha_dropout computes them.
constexpr double kAlphaDropoutAlpha = 1.7580993408473766;

template <class C>
struct AlphaConstants {
  C a;
  C keep_add;
  C drop_value;
};

struct AlphaParams {
  AlphaConstants<float> f32;
  AlphaConstants<double> f64;
};

template <class C>
FASTDROP_HOST_DEVICE AlphaConstants<C> make_alpha_constants(double p) {
  if (p >= 1.0) return AlphaConstants<C>{C(0), C(0), C(0)};  // everything dropped to 0, no inf
  const double alpha = kAlphaDropoutAlpha;
  const double a = 1.0 / sqrt((alpha * alpha * p + 1.0) * (1.0 - p));
  const C alpha_a = static_cast<C>(alpha * a);
  const C keep_add = static_cast<C>(alpha * a * p);
  return AlphaConstants<C>{static_cast<C>(a), keep_add, keep_add - alpha_a};
}

FASTDROP_HOST_DEVICE AlphaParams make_alpha_params(double p) {
  return AlphaParams{make_alpha_constants<float>(p), make_alpha_constants<double>(p)};
}

FASTDROP_HOST_DEVICE const AlphaConstants<float>& alpha_of(const AlphaParams& params, float) {
  return params.f32;
}
FASTDROP_HOST_DEVICE const AlphaConstants<double>& alpha_of(const AlphaParams& params, double) {
  return params.f64;
}

template <class T>
FASTDROP_HOST_DEVICE T alpha_dropout_element(T x, bool keep,
                                             const AlphaConstants<typename ComputeType<T>::type>& k) {
  return from_compute(keep ? to_compute(x) * k.a + k.keep_add : k.drop_value, T{});
}

}  // namespace fastdrop
