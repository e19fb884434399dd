// Inputs, comparisons and the ISA/thread-count sweep shared by the ctest programs.
#pragma once
#include <stdint.h>
#include <string.h>

#include <stdio.h>

#include <initializer_list>
#include <vector>

#include "check.h"
#include "fastdrop/math/common.h"
#include "fastdrop/fastdrop.h"

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

// Whether unit u of call (seed, offset) is kept: the randomness contract from philox.h alone.
inline bool reference_keep(uint64_t u, double p, uint64_t seed, uint64_t offset) {
  return fastdrop::keeps(fastdrop::stream_lane(seed, offset, u), fastdrop::make_dropout_params(p, seed, offset));
}

// Runs body(isa_name, threads) on every ISA this CPU has (reporting the skipped ones) with 1, 2
// and 8 threads: every result must be the same on each.
template <class Body>
void for_each_isa_and_thread_count(Body body) {
  for (int isa = FASTDROP_ISA_SCALAR; isa <= FASTDROP_ISA_AVX512; ++isa) {
    const char* name = fastdrop_cpu_isa_name(fastdrop_cpu_isa(isa));
    if (!fastdrop_cpu_isa_supported(fastdrop_cpu_isa(isa))) {
      printf("skipped: %s not supported by this CPU\n", name);
      continue;
    }
    CHECK(fastdrop_cpu_isa_set(fastdrop_cpu_isa(isa)) == FASTDROP_SUCCESS, "set %s", name);
    for (int threads : {1, 2, 8}) {
      fastdrop_set_num_threads(threads);
      body(name, threads);
    }
  }
}
