// Launch configuration of the CUDA dropout kernels and how units map to their threads. Plain C++
// with no CUDA headers, so that the host-only unit test (tests/cpp/test_launch_config.cpp) checks
// exactly what the launchers and kernels use.
#pragma once
#include <stdint.h>

#include "fastdrop/math/dropout.h"
#include "fastdrop/philox.h"

namespace fastdrop::cuda {

// A thread handles a group of 8 consecutive units per iteration: one Philox block (one 16-bit
// lane per unit, contract v2), and exactly one byte of the bit mask, so that no two threads write
// the same byte.
constexpr int kUnitsPerGroup = 8;
constexpr int kThreadsPerBlock = 256;
// Blocks per SM for the grid-stride loop: enough resident warps to hide memory latency on every
// architecture built for, few enough that a thread loops over several groups on large inputs.
constexpr int kBlocksPerSm = 8;

struct LaunchConfig {
  int64_t groups;   // ceil(n / kUnitsPerGroup): work items of the grid-stride loop
  uint32_t blocks;  // 0 when there is nothing to do (no launch)
  uint32_t threads;
};

// Depends only on n and the device's SM count, never on p or the data, so results cannot depend
// on it. sm_count < 1 is treated as 1.
inline LaunchConfig launch_config(int64_t n, int sm_count) {
  LaunchConfig config;
  config.groups = n > 0 ? (n - 1) / kUnitsPerGroup + 1 : 0;
  config.threads = kThreadsPerBlock;
  const int64_t needed = (config.groups + kThreadsPerBlock - 1) / kThreadsPerBlock;
  const int64_t cap = static_cast<int64_t>(sm_count < 1 ? 1 : sm_count) * kBlocksPerSm;
  const int64_t blocks = needed < cap ? needed : cap;
  // gridDim.x is at most 2^31 - 1.
  config.blocks = static_cast<uint32_t>(blocks < 0x7fffffff ? blocks : 0x7fffffff);
  return config;
}

// Units of group g that lie inside [0, n): 8 except in the last group of a ragged tail.
FASTDROP_HOST_DEVICE int units_in_group(uint64_t g, uint64_t n) {
  const uint64_t first = g * kUnitsPerGroup;
  return n - first < kUnitsPerGroup ? static_cast<int>(n - first) : kUnitsPerGroup;
}

// The keep bits of group g: bit j for unit 8g + j, zero past n; byte g of the bit mask. Units
// 8g .. 8g + 7 take the lanes of Philox block g, lane 2k the low half of word k.
FASTDROP_HOST_DEVICE uint32_t group_keep_bits(const DropoutParams& params, uint64_t g, uint64_t n) {
  const PhiloxBlock block = stream_block(params.seed, params.offset, g);
  uint32_t keep = 0;
  for (int k = 0; k < 4; ++k) {
    keep |= static_cast<uint32_t>(keeps(block.v[k] & 0xffffu, params)) << (2 * k);
    keep |= static_cast<uint32_t>(keeps(block.v[k] >> 16, params)) << (2 * k + 1);
  }
  return keep & ((1u << units_in_group(g, n)) - 1u);
}

// out[j] = dropout_element(in[j], bit j of keep) for the first `valid` units of a group. The bound
// is tested inside the loop, which the compiler unrolls, so that indices into register arrays stay
// compile-time constants.
template <class T>
FASTDROP_HOST_DEVICE void apply_group_elementwise(const T* in, T* out, uint32_t keep, int valid,
                                                  typename ComputeType<T>::type scale) {
  for (int j = 0; j < kUnitsPerGroup; ++j) {
    if (j < valid) out[j] = dropout_element(in[j], (keep >> j) & 1u, scale);
  }
}

// Whether whole groups of an array at this address can move as 128-bit words: a group of any
// element type is a multiple of 16 bytes long, so an aligned array keeps every group aligned.
inline bool vector_aligned(const void* ptr) {
  return reinterpret_cast<uintptr_t>(ptr) % 16 == 0;
}

}  // namespace fastdrop::cuda
