// The math of DropBlock2d: its parameters, the dilation of dropped seeds and the scale.
#pragma once
#include "fastdrop/math/common.h"

namespace fastdrop {

// DropBlock (Ghiasi et al., "DropBlock: A regularization method for convolutional networks",
// 2018) with torchvision's drop_block2d semantics, on (N, C, H, W) data and a block size bs. The
// seeds of blocks live on the grid of block positions that fit in a map, (N, C, H - bs + 1,
// W - bs + 1): a seed is dropped with probability gamma, by dropout's Bernoulli draw with one unit
// per grid position in row-major order. The seed at (i, j) drops rows i .. i + bs - 1 and columns
// j .. j + bs - 1 of its map (torchvision pads the seed grid by bs / 2 and max-pools it with a
// bs x bs window). Kept elements are scaled by numel / (eps + kept), kept counted over the whole
// tensor, and the element map is dropout's: dropout_element with that scale.
struct DropBlockParams {
  DropoutParams seeds;  // the draw of the seed grid, with probability gamma (its scale is unused)
  int64_t height;
  int64_t width;
  int64_t block_size;
  int64_t seed_height;  // height - block_size + 1
  int64_t seed_width;   // width - block_size + 1
};

// torchvision's gamma in its order of operations, p H W / (bs^2 (H - bs + 1)(W - bs + 1)), for
// 1 <= bs <= H, W. The two factors of the denominator are exact doubles, so their product rounds
// once, as Python rounds the exact integer. gamma <= p, since bs (H - bs + 1) >= H.
FASTDROP_HOST_DEVICE double drop_block_gamma(double p, int64_t height, int64_t width, int64_t block_size) {
  const int64_t seeds = (height - block_size + 1) * (width - block_size + 1);
  const double denominator = static_cast<double>(block_size * block_size) * static_cast<double>(seeds);
  return p * static_cast<double>(height) * static_cast<double>(width) / denominator;
}

// p must already be checked to lie in [0, 1], and the block to be odd and to fit in the map.
FASTDROP_HOST_DEVICE DropBlockParams make_drop_block_params(double p, int64_t height, int64_t width,
                                                            int64_t block_size, uint64_t seed, uint64_t offset) {
  DropBlockParams params;
  params.seeds = make_dropout_params(drop_block_gamma(p, height, width, block_size), seed, offset);
  params.height = height;
  params.width = width;
  params.block_size = block_size;
  params.seed_height = height - block_size + 1;
  params.seed_width = width - block_size + 1;
  return params;
}

// Eight columns of a seed row's dilation along the row at once, in the bytes of a uint64 (byte b
// is column w + b, as memcpy loads it on a little-endian machine). The window of column w holds
// seeds w - block_size + 1 .. w; `entering` and `leaving` hold, as 0/1 bytes, whether the seed
// entering and the seed leaving the window at each column is dropped, and *count is the number of
// dropped seeds in the window of column w - 1 (updated to that of column w + 7). Returns a 1 byte
// for each column whose window holds a dropped seed. Multiplying 0/1 bytes by 0x0101010101010101
// gives their running sums (at most 8, no carries): the count at column w + b is
// count + entered_b - left_b, which is not 0 iff min(count, 9) + entered_b != left_b, a bytewise
// comparison whose bytes stay below 32, so adding 0x7f to a byte sets its top bit iff it is not 0.
FASTDROP_HOST_DEVICE uint64_t dilate_eight_columns(uint64_t entering, uint64_t leaving, int64_t* count) {
  const uint64_t ones = 0x0101010101010101ull;
  const uint64_t entered = entering * ones, left = leaving * ones;
  const uint64_t capped = static_cast<uint64_t>(*count < 9 ? *count : 9);
  const uint64_t differ = (capped * ones + entered) ^ left;
  *count += static_cast<int64_t>(entered >> 56) - static_cast<int64_t>(left >> 56);
  return ((differ + 0x7f7f7f7f7f7f7f7full) >> 7) & ones;
}

// numel / (eps + kept) in double, or 0 when nothing is kept: every output is 0 then, and with
// eps = 0 the quotient would be infinite.
FASTDROP_HOST_DEVICE double drop_block_scale(int64_t numel, int64_t kept, double eps) {
  return kept == 0 ? 0.0 : static_cast<double>(numel) / (eps + static_cast<double>(kept));
}

}  // namespace fastdrop
