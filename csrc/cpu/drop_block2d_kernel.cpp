// CPU DropBlock kernel, compiled once per ISA like dropout_kernel.cpp: the first pass of a call,
// the keep bit of each element, one (H, W) plane at a time. A plane's seed rows come from the
// Philox stream of philox_stream.h; the blocks of the dropped seeds are then dilated separably:
// along each seed row by a sliding count of the dropped seeds, eight columns at a time, and down
// the columns by van Herk / Gil-Werman's prefix and suffix ORs, so that the work per element does
// not depend on the block size. The second pass (the scale) is dropout's apply of bits.
#include <string.h>

#include "drop_block2d_kernel.h"
#include "philox_stream.h"
#include "registry.h"

namespace fastdrop::cpu::FASTDROP_ISA {
namespace {

// Seeds per stream tile, as dropout's forward (forward_tiles.h).
constexpr int64_t kTile = 384;
static_assert(kTile % (8 * kBlocksPerStep) == 0, "tiles hold whole steps");

// drop_block_workspace_bytes' parts. Rows are `stride` bytes, width rounded up to 8: the row
// dilation reads and writes 8 columns at a time.
struct Workspace {
  int64_t stride;
  uint8_t* padded_drops;  // block_size zeros, a seed row's drops, then zeros to block_size + stride
  uint8_t* segments;      // two segments of block_size rows dilated along the row: the current
                          // one, and the previous one as suffix ORs
  uint8_t* prefix;        // the OR of the current segment's rows so far
  uint8_t* keep;          // the keep bytes of the current row, zeros past the width
};

Workspace split(void* workspace, const DropBlockParams& params) {
  Workspace parts;
  parts.stride = drop_block_row_stride(params);
  parts.padded_drops = static_cast<uint8_t*>(workspace);
  parts.segments = parts.padded_drops + params.block_size + parts.stride;
  parts.prefix = parts.segments + 2 * params.block_size * parts.stride;
  parts.keep = parts.prefix + parts.stride;
  return parts;
}

// The drops of the seed row whose first unit is `first` (seed_width units), dilated along the
// row: out[w] = 1 iff a dropped seed j of the row has j <= w <= j + block_size - 1.
void dilate_seed_row(const RoundKeys& keys, const DropBlockParams& params, uint64_t first, uint8_t* padded,
                     uint8_t* out) {
  alignas(64) uint16_t lanes[kTile + 8 * kBlocksPerStep];
  uint8_t* drops = padded + params.block_size;
  for (int64_t t = 0; t < params.seed_width; t += kTile) {
    const int64_t len = params.seed_width - t < kTile ? params.seed_width - t : kTile;
    const uint64_t unit = first + static_cast<uint64_t>(t);
    tile_lanes(keys, params.seeds.offset, unit, len, lanes);
    const uint16_t* l = lanes + (unit & 7u);
    for (int64_t i = 0; i < len; ++i) drops[t + i] = !keeps(l[i], params.seeds);
  }
  // Seed w (drops[w]) enters the window of column w and seed w - block_size (padded[w]) leaves
  // it; the zeros around the row stand for seeds past its ends.
  int64_t count = 0;
  for (int64_t w = 0; w < params.width; w += 8) {
    uint64_t entering, leaving;
    memcpy(&entering, drops + w, 8);
    memcpy(&leaving, padded + w, 8);
    const uint64_t dilated = dilate_eight_columns(entering, leaving, &count);
    memcpy(out + w, &dilated, 8);
  }
}

// Appends len keep bytes (0 or 1) as bits at bit position pos of bits. A byte that a call starts
// is written whole, its bits past len 0; the next call ORs its first bits into it.
void append_mask_bits(const uint8_t* keep, int64_t len, uint8_t* bits, int64_t pos) {
  int64_t i = 0;
  for (; i < len && (pos + i) % 8 != 0; ++i) bits[(pos + i) / 8] |= static_cast<uint8_t>(keep[i] << ((pos + i) % 8));
  store_mask_bits(keep + i, len - i, bits + (pos + i) / 8);
}

// a[w] |= b[w].
void or_into(uint8_t* __restrict__ a, const uint8_t* __restrict__ b, int64_t len) {
  for (int64_t w = 0; w < len; ++w) a[w] |= b[w];
}

// keep[w] = !(a[w] | b[w]).
void keep_unless_either(const uint8_t* __restrict__ a, const uint8_t* __restrict__ b, uint8_t* __restrict__ keep,
                        int64_t len) {
  for (int64_t w = 0; w < len; ++w) keep[w] = (a[w] | b[w]) ^ 1u;
}

// The sum of a row of 0/1 bytes, zero-padded to a multiple of 8: each uint64 of them times
// 0x0101010101010101 has their sum in its top byte.
int64_t count_ones(const uint8_t* bytes, int64_t stride) {
  int64_t sum = 0;
  for (int64_t w = 0; w < stride; w += 8) {
    uint64_t v;
    memcpy(&v, bytes + w, 8);
    sum += static_cast<int64_t>((v * 0x0101010101010101ull) >> 56);
  }
  return sum;
}

int64_t keep_bits(uint64_t first_plane, int64_t planes, const DropBlockParams& call, void* workspace,
                  uint8_t* bits) {
  const DropBlockParams params = call;  // local: stores through the workspace cannot alias it
  const int64_t height = params.height, width = params.width, block = params.block_size;
  const Workspace parts = split(workspace, params);
  const int64_t stride = parts.stride;
  // The zeros around the seed row, and the keep bytes past the width.
  memset(parts.padded_drops, 0, static_cast<size_t>(block + stride));
  memset(parts.keep, 0, static_cast<size_t>(stride));
  const RoundKeys keys = round_keys(params.seeds.seed);
  const uint64_t plane_seeds = static_cast<uint64_t>(params.seed_height * params.seed_width);
  int64_t kept = 0;
  int64_t pos = 0;
  for (int64_t plane = 0; plane < planes; ++plane) {
    const uint64_t first = (first_plane + static_cast<uint64_t>(plane)) * plane_seeds;
    // Down the columns, van Herk / Gil-Werman: the seed rows (0 past the last) in segments of
    // `block` rows. The window of row h, seed rows h - block + 1 .. h, is the prefix of h's
    // segment up to h, ORed with the suffix of the previous segment from h - block + 1 unless
    // that row starts a segment or lies before row 0.
    for (int64_t h = 0; h < height; ++h) {
      const int64_t in_segment = h % block;
      uint8_t* current = parts.segments + ((h / block) % 2) * block * stride;
      uint8_t* previous = parts.segments + ((h / block + 1) % 2) * block * stride;
      uint8_t* row = current + in_segment * stride;
      if (h < params.seed_height) {
        dilate_seed_row(keys, params, first + static_cast<uint64_t>(h * params.seed_width), parts.padded_drops, row);
      } else {
        memset(row, 0, static_cast<size_t>(stride));
      }
      if (in_segment == 0) {
        memcpy(parts.prefix, row, static_cast<size_t>(stride));
        // The previous segment is complete: its suffix ORs, in place.
        for (int64_t i = block - 2; i >= 0 && h > 0; --i) {
          or_into(previous + i * stride, previous + (i + 1) * stride, stride);
        }
      } else {
        or_into(parts.prefix, row, stride);
      }
      // Without a suffix, the prefix stands in for it (a | a = a).
      const int64_t oldest = h - block + 1;
      const bool has_suffix = oldest > 0 && oldest % block != 0;
      const uint8_t* suffix = has_suffix ? previous + (oldest % block) * stride : parts.prefix;
      keep_unless_either(parts.prefix, suffix, parts.keep, width);
      kept += count_ones(parts.keep, stride);
      append_mask_bits(parts.keep, width, bits, pos);
      pos += width;
    }
  }
  return kept;
}

}  // namespace

template <>
const drop_block2d_kernels& kernels<drop_block2d_kernels>() {
  static const drop_block2d_kernels table = {keep_bits};
  return table;
}

}  // namespace fastdrop::cpu::FASTDROP_ISA
