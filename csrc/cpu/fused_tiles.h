// The tile loop of the fused kernels over (rows, cols) data with a bias of cols values
// (bias_dropout_add_kernel.cpp, bias_act_dropout_kernel.cpp): the keep decisions of a tile of
// units, drawn from the stream or read from mask bits, then its elements row segment by row
// segment, so that the bias is read contiguously. Internal linkage in each ISA's namespace, as
// philox_stream.h.
#pragma once
#include <stdint.h>

#include "fastdrop/math/common.h"
#include "philox_stream.h"

namespace fastdrop::cpu::FASTDROP_ISA {
namespace {

// Units per tile, as the dropout forward's (see forward_tiles.h).
constexpr int64_t kFusedTile = 384;
static_assert(kFusedTile % (8 * kBlocksPerStep) == 0 && kFusedTile % 8 == 0, "tiles hold whole steps and mask bytes");

// For a chunk of n elements of a call, whose units are [first, first + n) and whose element 0 is
// in column col0, calls body(at, col, seg, keep) for each segment of seg elements from element
// `at` of the chunk that stays in one row, col being the column of element `at` and keep[0, seg)
// the segment's keep decisions (0 or 1). They come from the stream of params, or from bits_in (the
// chunk's mask bits) when it is not null; bits_out, when not null, receives them (the chunk then
// starts at a multiple of 8 elements).
template <class Body>
void for_each_fused_segment(const DropoutParams& params, int64_t cols, int64_t col0, uint64_t first, int64_t n,
                            const uint8_t* bits_in, uint8_t* bits_out, Body body) {
  const RoundKeys keys = round_keys(params.seed);
  alignas(64) uint16_t lanes[kFusedTile + 8 * kBlocksPerStep];
  alignas(64) uint8_t keep[kFusedTile];
  for (int64_t t = 0; t < n; t += kFusedTile) {
    const int64_t len = n - t < kFusedTile ? n - t : kFusedTile;
    const uint64_t unit = first + static_cast<uint64_t>(t);
    if (bits_in) {
      for (int64_t j = 0; j < (len + 7) / 8; ++j) unpack8(bits_in[t / 8 + j], keep + 8 * j);
    } else {
      tile_lanes(keys, params.offset, unit, len, lanes);
      const uint16_t* l = lanes + (unit & 7u);
      for (int64_t i = 0; i < len; ++i) keep[i] = keeps(l[i], params);
    }
    for (int64_t i = 0; i < len;) {
      const int64_t col = (col0 + t + i) % cols;
      const int64_t seg = cols - col < len - i ? cols - col : len - i;
      body(t + i, col, seg, keep + i);
      i += seg;
    }
    if (bits_out) store_mask_bits(keep, len, bits_out + t / 8);
  }
}

}  // namespace
}  // namespace fastdrop::cpu::FASTDROP_ISA
