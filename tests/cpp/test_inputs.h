// Inputs and comparisons shared by the ctest programs.
#pragma once
#include <stdint.h>
#include <string.h>

#include <vector>

#include "fastdrop/dropout_math.h"

// Deterministic inputs with a spread of magnitudes and signs, NaN-free, in any storage type.
template <class T>
std::vector<T> make_input(int64_t n) {
  std::vector<T> x(static_cast<size_t>(n));
  uint32_t state = 12345;
  for (int64_t i = 0; i < n; ++i) {
    state = state * 1664525u + 1013904223u;
    const float v = (static_cast<float>(state >> 8) / 16777216.0f - 0.5f) * 8.0f;
    x[i] = fastdrop::from_compute(static_cast<typename fastdrop::ComputeType<T>::type>(v), T{});
  }
  return x;
}

template <class T>
bool same_bits(const T& a, const T& b) {
  return memcmp(&a, &b, sizeof(T)) == 0;
}
