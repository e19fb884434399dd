// CPU dropout kernels. This one source is compiled once per ISA (CMake passes FASTDROP_ISA and
// FASTDROP_LANES with the matching -m flags): the Philox stream runs FASTDROP_LANES blocks at a time
// in GCC/Clang vector types, and the per-element loops, written once over dropout_math.h, are
// vectorised by the compiler for that ISA.
#include <string.h>

#include "element_ops.h"
#include "kernel_table.h"
#include "philox_stream.h"

namespace fastdrop::cpu::FASTDROP_ISA {
namespace {

// Units per forward tile: a few Philox steps, so that the loads and stores of the element loop
// come often enough to overlap with the stream arithmetic (with 1024-unit tiles they come in
// bursts and forward runs a third slower), and the words of a tile stay in L1 in between.
constexpr int64_t kTile = 96;
// Units per backward tile: no stream to overlap with, so larger tiles only save loop overhead.
constexpr int64_t kBitsTile = 1024;

static_assert(kTile % (4 * kBlocksPerStep) == 0 && kTile % 8 == 0 && kBitsTile % 8 == 0,
              "tiles hold whole steps and whole mask bytes");

// Words of units [first, first + n) into words[0, n).
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

// The fused forward: words of a tile, keep decisions, op on each element, masks if asked for.
template <class T, class Op, bool kBits, bool kBytes>
void forward_tiles(const T* x, T* y, uint64_t first, int64_t n, const DropoutParams& call, Op op,
                   uint8_t* mask_bits, bool* mask_bytes) {
  // A local copy: stores through y cannot alias it, so the element loop vectorises.
  const DropoutParams params = call;
  const RoundKeys keys = round_keys(params.seed);
  alignas(64) uint32_t words[kTile + 4 * kBlocksPerStep];
  alignas(64) uint8_t keep[kTile];
  for (int64_t t = 0; t < n; t += kTile) {
    const int64_t len = n - t < kTile ? n - t : kTile;
    const uint64_t unit = first + static_cast<uint64_t>(t);
    tile_words(keys, params.offset, unit, len, words);
    const uint32_t* w = words + (unit & 3u);
    if (x) {
      for (int64_t i = 0; i < len; ++i) y[t + i] = op(x[t + i], keeps(w[i], params));
    }
    if (!kBits && !kBytes) continue;
    for (int64_t i = 0; i < len; ++i) keep[i] = keeps(w[i], params);
    if (kBytes) memcpy(mask_bytes + t, keep, static_cast<size_t>(len));
    if (kBits) store_mask_bits(keep, len, mask_bits + t / 8);
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

template <class T>
void forward(const void* x, void* y, uint64_t first, int64_t n, const DropoutParams& params,
             uint8_t* mask_bits, bool* mask_bytes) {
  forward_with<T>(x, y, first, n, params, dropout_op<T>(params, AlphaParams{}), mask_bits, mask_bytes);
}

template <class T>
void alpha_forward(const void* x, void* y, uint64_t first, int64_t n, const DropoutParams& params,
                   const AlphaParams& alpha, uint8_t* mask_bits) {
  forward_with<T>(x, y, first, n, params, alpha_op<T>(params, alpha), mask_bits, nullptr);
}

// Keep bits alone: the tile loop with no data.
void mask_bits(uint64_t first, int64_t n, const DropoutParams& params, uint8_t* bits) {
  forward_tiles<float, DropoutOp<float>, true, false>(nullptr, nullptr, first, n, params, DropoutOp<float>{0.0f},
                                                      bits, nullptr);
}

template <class T>
void backward_bits(const void* dy, void* dx, int64_t n, const DropoutParams& params,
                   const uint8_t* mask_bits) {
  using C = typename ComputeType<T>::type;
  const T* g = static_cast<const T*>(dy);
  T* out = static_cast<T*>(dx);
  const C scale = scale_of(params, C{});
  alignas(64) uint8_t keep[kBitsTile];
  for (int64_t t = 0; t < n; t += kBitsTile) {
    const int64_t len = n - t < kBitsTile ? n - t : kBitsTile;
    for (int64_t j = 0; j < (len + 7) / 8; ++j) unpack8(mask_bits[t / 8 + j], keep + 8 * j);
    for (int64_t i = 0; i < len; ++i) out[t + i] = dropout_element(g[t + i], keep[i] != 0, scale);
  }
}

}  // namespace

const KernelTable& kernels() {
  static const KernelTable table = {
      stream_words,
      {forward<float16_bits>, forward<bfloat16_bits>, forward<float>, forward<double>},
      {backward_bits<float16_bits>, backward_bits<bfloat16_bits>, backward_bits<float>,
       backward_bits<double>},
      mask_bits,
      {alpha_forward<float16_bits>, alpha_forward<bfloat16_bits>, alpha_forward<float>,
       alpha_forward<double>},
  };
  return table;
}

}  // namespace fastdrop::cpu::FASTDROP_ISA
