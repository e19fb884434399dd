// CPU Gaussian dropout kernels, compiled once per ISA like dropout_kernel.cpp: the Philox stream
// of philox_stream.h, then the Box–Muller noise of each pair of units and the scaling, in loops
// over fastdrop/math/gaussian_dropout.h that the compiler vectorises for that ISA.
#include "gaussian_dropout_kernel.h"
#include "philox_stream.h"
#include "registry.h"

namespace fastdrop::cpu::FASTDROP_ISA {
namespace {

// Units per tile: a few Philox steps, so that the stream, the noise and the loads and stores
// overlap, and the words and noise of a tile stay in L1 in between.
constexpr int64_t kTile = 192;
static_assert(kTile % (4 * kBlocksPerStep) == 0 && kTile % 2 == 0, "tiles hold whole steps and pairs");

template <class T>
void apply(const void* x, void* y, uint64_t first, int64_t n, const GaussianParams& call) {
  using C = typename ComputeType<T>::type;
  // Local copies: stores through y cannot alias them, so the loops vectorise.
  const GaussianParams params = call;
  const C sigma = sigma_of(params, C{});
  const T* xs = static_cast<const T*>(x);
  T* ys = static_cast<T*>(y);
  const RoundKeys keys = round_keys(params.seed);
  alignas(64) uint32_t words[kTile + 4 * kBlocksPerStep];
  alignas(64) C noise[kTile];
  for (int64_t t = 0; t < n; t += kTile) {
    const int64_t len = n - t < kTile ? n - t : kTile;
    const uint64_t unit = first + static_cast<uint64_t>(t);
    tile_words(keys, params.offset, unit, len, words);
    // words[0] belongs to unit & ~3; unit is even, so the tile is whole pairs (the last one's odd
    // unit may lie past n: its word is there, its noise is not used).
    const uint32_t* w = words + (unit & 3u);
    for (int64_t j = 0; j < (len + 1) / 2; ++j) {
      gaussian_pair(w[2 * j], w[2 * j + 1], sigma, &noise[2 * j], &noise[2 * j + 1]);
    }
    for (int64_t i = 0; i < len; ++i) ys[t + i] = gaussian_element(xs[t + i], noise[i]);
  }
}

}  // namespace

template <>
const gaussian_dropout_kernels& kernels<gaussian_dropout_kernels>() {
  static const gaussian_dropout_kernels table = {
      {apply<float16_bits>, apply<bfloat16_bits>, apply<float>, apply<double>},
  };
  return table;
}

}  // namespace fastdrop::cpu::FASTDROP_ISA
