// CPU kernel of the fused bias + dropout + residual add, y = r + dropout(x + b), for (rows, cols)
// data with a bias of cols: one pass that draws the mask, adds, scales and writes its bits.
// Compiled once per ISA like dropout_kernel.cpp.
#include <string.h>

#include "fused_table.h"
#include "philox_stream.h"

namespace fastdrop::cpu::FASTDROP_ISA {
namespace {

// Units per tile, as the dropout forward's (see dropout_kernel.cpp).
constexpr int64_t kTile = 96;
static_assert(kTile % (4 * kBlocksPerStep) == 0 && kTile % 8 == 0, "tiles hold whole steps and mask bytes");

// A chunk of n elements, units [first, first + n), starting in column col0; a zero bias is used
// when bias is null.
template <class T>
void bias_dropout_add(const void* x_ptr, const void* bias_ptr, const void* residual_ptr, void* y_ptr, int64_t cols,
                      int64_t col0, uint64_t first, int64_t n, const DropoutParams& call, uint8_t* mask_bits) {
  using C = typename ComputeType<T>::type;
  const DropoutParams params = call;  // local: stores through y cannot alias it
  const C scale = scale_of(params, C{});
  const T* x = static_cast<const T*>(x_ptr);
  const T* bias = static_cast<const T*>(bias_ptr);
  const T* residual = static_cast<const T*>(residual_ptr);
  T* y = static_cast<T*>(y_ptr);
  const T zero = from_compute(C(0), T{});
  const RoundKeys keys = round_keys(params.seed);
  alignas(64) uint32_t words[kTile + 4 * kBlocksPerStep];
  alignas(64) uint8_t keep[kTile];
  for (int64_t t = 0; t < n; t += kTile) {
    const int64_t len = n - t < kTile ? n - t : kTile;
    const uint64_t unit = first + static_cast<uint64_t>(t);
    tile_words(keys, params.offset, unit, len, words);
    const uint32_t* w = words + (unit & 3u);
    for (int64_t i = 0; i < len; ++i) keep[i] = keeps(w[i], params);
    // Segments of the tile that stay within one row, so the bias is read contiguously.
    for (int64_t i = 0; i < len;) {
      const int64_t col = (col0 + t + i) % cols;
      const int64_t seg = cols - col < len - i ? cols - col : len - i;
      const int64_t at = t + i;
      if (bias) {
        for (int64_t j = 0; j < seg; ++j) {
          y[at + j] = bias_dropout_add_element(x[at + j], bias[col + j], residual[at + j], keep[i + j] != 0, scale);
        }
      } else {
        for (int64_t j = 0; j < seg; ++j) {
          y[at + j] = bias_dropout_add_element(x[at + j], zero, residual[at + j], keep[i + j] != 0, scale);
        }
      }
      i += seg;
    }
    if (mask_bits) store_mask_bits(keep, len, mask_bits + t / 8);
  }
}

}  // namespace

const FusedTable& fused_kernels() {
  static const FusedTable table = {
      {bias_dropout_add<float16_bits>, bias_dropout_add<bfloat16_bits>, bias_dropout_add<float>,
       bias_dropout_add<double>},
  };
  return table;
}

}  // namespace fastdrop::cpu::FASTDROP_ISA
