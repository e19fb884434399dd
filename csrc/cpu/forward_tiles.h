// The fused forward of the Bernoulli elementwise ops (dropout_kernel.cpp, alpha_dropout_kernel.cpp):
// the 16-bit lanes of a tile of units, their keep decisions, the op on each element
// (element_ops.h) and the masks if asked for. Internal linkage in each ISA's namespace, as philox_stream.h.
#pragma once
#include <stdint.h>

#include "element_ops.h"
#include "fastdrop/math/common.h"
#include "philox_stream.h"

namespace fastdrop::cpu::FASTDROP_ISA {
namespace {

// Units per forward tile: a few Philox steps (one step is 8 * kBlocksPerStep units: 96 with AVX2,
// 384 with AVX-512), so that the loads and stores of the element loop come often enough to overlap with the
// stream arithmetic (with 1024-unit tiles they come in bursts and forward runs a third slower),
// and the lanes of a tile stay in L1 in between.
constexpr int64_t kTile = 384;
static_assert(kTile % (8 * kBlocksPerStep) == 0 && kTile % 8 == 0, "tiles hold whole steps and whole mask bytes");

// The fused forward: lanes of a tile, keep decisions, op on each element, masks if asked for.
template <class T, class Op, bool kBits, bool kBytes>
void forward_tiles(const T* x, T* y, uint64_t first, int64_t n, const DropoutParams& call, Op op,
                   uint8_t* mask_bits, bool* mask_bytes) {
  // A local copy: stores through y cannot alias it, so the element loop vectorises.
  const DropoutParams params = call;
  const RoundKeys keys = round_keys(params.seed);
  alignas(64) uint16_t lanes[kTile + 8 * kBlocksPerStep];
  for (int64_t t = 0; t < n; t += kTile) {
    const int64_t len = n - t < kTile ? n - t : kTile;
    const uint64_t unit = first + static_cast<uint64_t>(t);
    tile_lanes(keys, params.offset, unit, len, lanes);
    const uint16_t* l = lanes + (unit & 7u);
    if (x) apply_elements(x + t, y + t, len, op, [&](int64_t i) { return keeps(l[i], params); });
    if (kBits) store_lane_bits(l, len, params.threshold, mask_bits + t / 8);
    if (kBytes) {
      for (int64_t i = 0; i < len; ++i) mask_bytes[t + i] = keeps(l[i], params);
    }
  }
}

template <class T, class Op>
void forward_with(const void* x, void* y, uint64_t first, int64_t n, const DropoutParams& params, Op op,
                  uint8_t* mask_bits, bool* mask_bytes) {
  const T* xs = static_cast<const T*>(x);
  T* ys = static_cast<T*>(y);
  if (mask_bits && mask_bytes) {
    forward_tiles<T, Op, true, true>(xs, ys, first, n, params, op, mask_bits, mask_bytes);
  } else if (mask_bits) {
    forward_tiles<T, Op, true, false>(xs, ys, first, n, params, op, mask_bits, nullptr);
  } else if (mask_bytes) {
    forward_tiles<T, Op, false, true>(xs, ys, first, n, params, op, nullptr, mask_bytes);
  } else {
    forward_tiles<T, Op, false, false>(xs, ys, first, n, params, op, nullptr, nullptr);
  }
}

}  // namespace
}  // namespace fastdrop::cpu::FASTDROP_ISA
