// CPU dropout kernels. This one source is compiled once per ISA (CMake passes FASTDROP_ISA and
// FASTDROP_LANES with the matching -m flags): the Philox stream runs FASTDROP_LANES blocks at a time
// in GCC/Clang vector types, and the per-element loops, written once over dropout_math.h, are
// vectorised by the compiler for that ISA.
#include <string.h>

#if FASTDROP_LANES > 1
#include <immintrin.h>
#endif

#include "element_ops.h"
#include "kernel_table.h"

#ifndef FASTDROP_ISA
#error "FASTDROP_ISA (scalar, avx2 or avx512) must be defined"
#endif
#ifndef FASTDROP_LANES
#error "FASTDROP_LANES (1, 8 or 16) must be defined"
#endif

namespace fastdrop::cpu::FASTDROP_ISA {
namespace {

constexpr int kLanes = FASTDROP_LANES;
// Units per forward tile: a few Philox steps, so that the loads and stores of the element loop
// come often enough to overlap with the stream arithmetic (with 1024-unit tiles they come in
// bursts and forward runs a third slower), and the words of a tile stay in L1 in between.
constexpr int64_t kTile = 96;
// Units per backward tile: no stream to overlap with, so larger tiles only save loop overhead.
constexpr int64_t kBitsTile = 1024;

#if FASTDROP_LANES > 1
// One Philox block per 64-bit lane: vpmuludq reads only the low 32 bits of each lane, so a word
// can sit in the low half with anything above it, and the high half of a product needs one shift.
constexpr int kBlocksPerVec = kLanes / 2;
typedef uint64_t u64v __attribute__((vector_size(4 * kLanes)));
typedef int64_t i64v __attribute__((vector_size(4 * kLanes)));
typedef uint32_t u32v __attribute__((vector_size(4 * kLanes)));
typedef int32_t i32v __attribute__((vector_size(4 * kLanes)));

// Unsigned 32x32 -> 64-bit products of the low halves of the 64-bit lanes (the compiler does not
// find this instruction for the equivalent vector expression).
inline u64v mul_lo32(u64v a, u64v b) {
#if FASTDROP_LANES == 8
  return reinterpret_cast<u64v>(_mm256_mul_epu32(reinterpret_cast<__m256i>(a), reinterpret_cast<__m256i>(b)));
#else
  return reinterpret_cast<u64v>(_mm512_mul_epu32(reinterpret_cast<__m512i>(a), reinterpret_cast<__m512i>(b)));
#endif
}

// kLaneBlock: the block of a vector that each lane holds, ordered so that interleaving 64-bit
// lanes within 128-bit halves (kUnpackLo/kUnpackHi, no cross-lane permute) puts the blocks in
// order. kLowHalves pairs the low halves of the 64-bit lanes of two vectors.
#if FASTDROP_LANES == 8
constexpr u64v kLaneBlock = {0, 2, 1, 3};
constexpr i64v kUnpackLo = {0, 4, 2, 6};
constexpr i32v kLowHalves = {0, 8, 2, 10, 4, 12, 6, 14};
#else
constexpr u64v kLaneBlock = {0, 4, 1, 5, 2, 6, 3, 7};
constexpr i64v kUnpackLo = {0, 8, 2, 10, 4, 12, 6, 14};
constexpr i32v kLowHalves = {0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30};
#endif
constexpr i64v kUnpackHi = kUnpackLo + 1;

// Independent Philox chains in flight: one chain's 10 rounds are a long dependency chain, and
// three interleaved keep the vector units busy; four would spill AVX2's 16 registers.
constexpr int kChains = 3;
constexpr int kBlocksPerStep = kBlocksPerVec * kChains;

// The round keys of a call, broadcast once rather than in every step.
struct RoundKeys {
  u64v k0[kPhiloxRounds], k1[kPhiloxRounds];
};

inline RoundKeys round_keys(uint64_t seed) {
  RoundKeys keys;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < kPhiloxRounds; ++r) {
    keys.k0[r] = u64v{} + k0;
    keys.k1[r] = u64v{} + k1;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  return keys;
}

// Words of kBlocksPerStep consecutive blocks starting at block b0, stored in unit order.
inline void stream_blocks(const RoundKeys& keys, uint64_t offset, uint64_t b0, uint32_t* words) {
  u64v c0[kChains], c1[kChains], c2[kChains], c3[kChains];
  for (int c = 0; c < kChains; ++c) {
    c0[c] = u64v{} + (b0 + static_cast<uint64_t>(c * kBlocksPerVec)) + kLaneBlock;
    c1[c] = c0[c] >> 32;
    c2[c] = u64v{} + offset;
    c3[c] = c2[c] >> 32;
  }
  const u64v m0 = u64v{} + kPhiloxM0, m1 = u64v{} + kPhiloxM1;
  // Unrolled so that the state moves between variables by renaming rather than register copies.
#pragma GCC unroll 10
  for (int r = 0; r < kPhiloxRounds; ++r) {
    for (int c = 0; c < kChains; ++c) {
      const u64v p0 = mul_lo32(c0[c], m0);
      const u64v p1 = mul_lo32(c2[c], m1);
      c0[c] = (p1 >> 32) ^ c1[c] ^ keys.k0[r];
      c1[c] = p1;
      c2[c] = (p0 >> 32) ^ c3[c] ^ keys.k1[r];
      c3[c] = p0;
    }
  }
  for (int c = 0; c < kChains; ++c) {
    const u64v w01 = reinterpret_cast<u64v>(__builtin_shuffle(reinterpret_cast<u32v>(c0[c]), reinterpret_cast<u32v>(c1[c]), kLowHalves));
    const u64v w23 = reinterpret_cast<u64v>(__builtin_shuffle(reinterpret_cast<u32v>(c2[c]), reinterpret_cast<u32v>(c3[c]), kLowHalves));
    const u64v rows[2] = {__builtin_shuffle(w01, w23, kUnpackLo), __builtin_shuffle(w01, w23, kUnpackHi)};
    memcpy(words + 4 * kBlocksPerVec * c, rows, sizeof rows);
  }
}
#else
constexpr int kBlocksPerStep = 1;

struct RoundKeys {
  uint64_t seed;
};

inline RoundKeys round_keys(uint64_t seed) { return RoundKeys{seed}; }

inline void stream_blocks(const RoundKeys& keys, uint64_t offset, uint64_t b0, uint32_t* words) {
  const PhiloxBlock block = stream_block(keys.seed, offset, b0);
  memcpy(words, block.v, sizeof block.v);
}
#endif

static_assert(kTile % (4 * kBlocksPerStep) == 0 && kTile % 8 == 0 && kBitsTile % 8 == 0,
              "tiles hold whole steps and whole mask bytes");

// Words of the tile of units [first, first + n), n <= kTile; words[0] belongs to unit first & ~3.
inline void tile_words(const RoundKeys& keys, uint64_t offset, uint64_t first, int64_t n, uint32_t* words) {
  const int64_t span = static_cast<int64_t>(first & 3u) + n;
  for (int64_t k = 0; k < span; k += 4 * kBlocksPerStep) {
    stream_blocks(keys, offset, (first >> 2) + static_cast<uint64_t>(k / 4), words + k);
  }
}

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

// Bit i of the result is keep[i] != 0, for keep bytes that are 0 or 1.
inline uint8_t pack8(const uint8_t* keep) {
  uint64_t v;
  memcpy(&v, keep, 8);
  return static_cast<uint8_t>((v * 0x0102040810204080ull) >> 56);
}

// keep[i] = bit i of byte, as 0 or 1.
inline void unpack8(uint8_t byte, uint8_t* keep) {
  uint64_t v = (byte * 0x0101010101010101ull) & 0x8040201008040201ull;
  v = ((v + 0x7f7f7f7f7f7f7f7full) >> 7) & 0x0101010101010101ull;
  memcpy(keep, &v, 8);
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
    if (kBits) {
      const int64_t whole = len / 8;
      for (int64_t j = 0; j < whole; ++j) mask_bits[t / 8 + j] = pack8(keep + 8 * j);
      if (len % 8) {
        uint8_t last = 0;
        for (int64_t i = 8 * whole; i < len; ++i) last |= static_cast<uint8_t>(keep[i] << (i % 8));
        mask_bits[t / 8 + whole] = last;
      }
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
