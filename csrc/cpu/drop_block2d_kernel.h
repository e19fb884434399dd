// The table of DropBlock kernels that each ISA's build of drop_block2d_kernel.cpp provides. An entry
// does the first pass of a call over a run of whole (H, W) planes: the keep bit of each element.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "fastdrop/math/drop_block2d.h"

namespace fastdrop::cpu {

// Keep bits of the elements of planes [first_plane, first_plane + planes), bit i of the run at
// bit i & 7 of bits[i >> 3] (the run starts at a multiple of 8 elements of the call); returns how
// many are kept. workspace: drop_block_workspace_bytes(params) bytes, for this call alone.
using DropBlockKeepBitsFn = int64_t (*)(uint64_t first_plane, int64_t planes, const DropBlockParams& params,
                                        void* workspace, uint8_t* bits);

// The bytes of a workspace row: the width rounded up to 8 (rows are dilated 8 columns at a time).
inline int64_t drop_block_row_stride(const DropBlockParams& params) { return (params.width + 7) / 8 * 8; }

// In this order, rows of drop_block_row_stride bytes: a seed row's drops with zeros around them
// (block_size + a row), two segments of block_size rows, the prefix OR of a segment (a row) and a
// row's keep bytes (a row).
inline size_t drop_block_workspace_bytes(const DropBlockParams& params) {
  const size_t stride = static_cast<size_t>(drop_block_row_stride(params));
  const size_t block = static_cast<size_t>(params.block_size);
  return (block + stride) + 2 * block * stride + stride + stride;
}

struct drop_block2d_kernels {
  DropBlockKeepBitsFn keep_bits;
};

}  // namespace fastdrop::cpu
