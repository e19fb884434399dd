// CPU dropout kernels. This one source is compiled once per ISA (CMake passes FASTDROP_ISA and
// FASTDROP_LANES with the matching -m flags): the Philox stream runs FASTDROP_LANES blocks at a time
// in GCC/Clang vector types, and the per-element loops, written once over fastdrop/math/dropout.h, are
// vectorised by the compiler for that ISA.
#include <string.h>

#include "dropout_kernel.h"
#include "element_ops.h"
#include "forward_tiles.h"
#include "philox_stream.h"
#include "registry.h"

namespace fastdrop::cpu::FASTDROP_ISA {
namespace {

// Units per backward tile: no stream to overlap with, so larger tiles only save loop overhead.
constexpr int64_t kBitsTile = 1024;

static_assert(kBitsTile % 8 == 0, "tiles hold whole mask bytes");

// Words of continuous draws [first, first + n) into words[0, n) (fastdrop_stream_words).
void stream_words(uint64_t seed, uint64_t offset, uint64_t first, int64_t n, uint32_t* words) {
  const RoundKeys keys = round_keys(seed);
  alignas(64) uint32_t tile[4 * kBlocksPerStep];
  const uint64_t skew = first & 3u;
  int64_t done = 0;
  uint64_t b = first >> 2;
  while (done < n) {
    stream_blocks(keys, offset, b, tile);
    const int64_t start = done == 0 ? static_cast<int64_t>(skew) : 0;
    int64_t take = 4 * kBlocksPerStep - start;
    if (take > n - done) take = n - done;
    memcpy(words + done, tile + start, static_cast<size_t>(take) * sizeof(uint32_t));
    done += take;
    b += kBlocksPerStep;
  }
}

template <class T>
void forward(const void* x, void* y, uint64_t first, int64_t n, const DropoutParams& params,
             uint8_t* mask_bits, bool* mask_bytes) {
  forward_with<T>(x, y, first, n, params, dropout_op<T>(params, AlphaParams{}), mask_bits, mask_bytes);
}

// Keep bits alone: the tile loop with no data.
void mask_bits(uint64_t first, int64_t n, const DropoutParams& params, uint8_t* bits) {
  forward_tiles<float, DropoutOp<float>, true, false>(nullptr, nullptr, first, n, params, DropoutOp<float>{0.0f},
                                                      bits, nullptr);
}

template <class T>
void backward_bits(const void* dy, void* dx, int64_t n, const DropoutParams& params,
                   const uint8_t* mask_bits) {
  const T* g = static_cast<const T*>(dy);
  T* out = static_cast<T*>(dx);
  const DropoutOp<T> op = dropout_op<T>(params, AlphaParams{});
  alignas(64) uint8_t keep[kBitsTile];
  for (int64_t t = 0; t < n; t += kBitsTile) {
    const int64_t len = n - t < kBitsTile ? n - t : kBitsTile;
    for (int64_t j = 0; j < (len + 7) / 8; ++j) unpack8(mask_bits[t / 8 + j], keep + 8 * j);
    apply_elements(g + t, out + t, len, op, [&](int64_t i) { return keep[i] != 0; });
  }
}

}  // namespace

template <>
const dropout_kernels& kernels<dropout_kernels>() {
  static const dropout_kernels table = {
      stream_words,
      {forward<float16_bits>, forward<bfloat16_bits>, forward<float>, forward<double>},
      {backward_bits<float16_bits>, backward_bits<bfloat16_bits>, backward_bits<float>,
       backward_bits<double>},
      mask_bits,
  };
  return table;
}

}  // namespace fastdrop::cpu::FASTDROP_ISA
