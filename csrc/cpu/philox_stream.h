// The Philox stream of the CPU kernels, vectorised: FASTDROP_LANES / 2 blocks per vector, several
// independent chains per step (docs/design.md, Randomness). Included by each kernel source compiled per
// ISA; everything here has internal linkage in that ISA's namespace.
#pragma once
#include <stdint.h>
#include <string.h>

#if FASTDROP_LANES > 1
#include <immintrin.h>
#endif

#include "fastdrop/philox.h"

#ifndef FASTDROP_ISA
#error "FASTDROP_ISA (scalar, avx2 or avx512) must be defined"
#endif
#ifndef FASTDROP_LANES
#error "FASTDROP_LANES (1, 8 or 16) must be defined"
#endif

namespace fastdrop::cpu::FASTDROP_ISA {
namespace {

constexpr int kLanes = FASTDROP_LANES;

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
#if FASTDROP_LANES == 8
constexpr i32v kSwapHalves = {1, 0, 3, 2, 5, 4, 7, 6};
#else
constexpr i32v kSwapHalves = {1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14};
#endif

// The high half of each 64-bit lane moved into its low half (the high half is left with the low
// one: only low halves are read). A shuffle rather than a shift: on recent Intel cores both the
// 512-bit multiply and shift issue only on port 0, the shuffle on port 5.
inline u64v high_to_low(u64v p) {
  return reinterpret_cast<u64v>(__builtin_shuffle(reinterpret_cast<u32v>(p), kSwapHalves));
}

// Independent Philox chains in flight: one chain's 10 rounds are a long dependency chain (a
// multiply's latency each round), so several are interleaved to keep the multipliers busy: three
// with AVX2, whose 16 registers four would spill, six in AVX-512's 32.
#if FASTDROP_LANES == 8
constexpr int kChains = 3;
#else
constexpr int kChains = 6;
#endif
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

// Words of kBlocksPerStep consecutive blocks starting at block b0, stored in order (their bytes:
// tile_lanes reads them as 16-bit lanes).
inline void stream_blocks(const RoundKeys& keys, uint64_t offset, uint64_t b0, void* words) {
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
      c0[c] = high_to_low(p1) ^ c1[c] ^ keys.k0[r];
      c1[c] = p1;
      c2[c] = high_to_low(p0) ^ c3[c] ^ keys.k1[r];
      c3[c] = p0;
    }
  }
  for (int c = 0; c < kChains; ++c) {
    const u64v w01 = reinterpret_cast<u64v>(__builtin_shuffle(reinterpret_cast<u32v>(c0[c]), reinterpret_cast<u32v>(c1[c]), kLowHalves));
    const u64v w23 = reinterpret_cast<u64v>(__builtin_shuffle(reinterpret_cast<u32v>(c2[c]), reinterpret_cast<u32v>(c3[c]), kLowHalves));
    const u64v rows[2] = {__builtin_shuffle(w01, w23, kUnpackLo), __builtin_shuffle(w01, w23, kUnpackHi)};
    memcpy(static_cast<uint32_t*>(words) + 4 * kBlocksPerVec * c, rows, sizeof rows);
  }
}
#else
constexpr int kBlocksPerStep = 1;

struct RoundKeys {
  uint64_t seed;
};

inline RoundKeys round_keys(uint64_t seed) { return RoundKeys{seed}; }

inline void stream_blocks(const RoundKeys& keys, uint64_t offset, uint64_t b0, void* words) {
  const PhiloxBlock block = stream_block(keys.seed, offset, b0);
  memcpy(words, block.v, sizeof block.v);
}
#endif

// Words of continuous draws [first, first + n) for a tile buffer of n + 4 * kBlocksPerStep words;
// words[0] belongs to draw first & ~3.
inline void tile_words(const RoundKeys& keys, uint64_t offset, uint64_t first, int64_t n, uint32_t* words) {
  const int64_t span = static_cast<int64_t>(first & 3u) + n;
  for (int64_t k = 0; k < span; k += 4 * kBlocksPerStep) {
    stream_blocks(keys, offset, (first >> 2) + static_cast<uint64_t>(k / 4), words + k);
  }
}

// 16-bit lanes of Bernoulli units [first, first + n) (contract v2) for a tile buffer of
// n + 8 * kBlocksPerStep lanes; lanes[0] belongs to unit first & ~7. Lane 2k of a block is the
// low half of its word k: on this little-endian machine its words' bytes are its lanes in order.
inline void tile_lanes(const RoundKeys& keys, uint64_t offset, uint64_t first, int64_t n, uint16_t* lanes) {
  const int64_t span = static_cast<int64_t>(first & 7u) + n;
  for (int64_t k = 0; k < span; k += 8 * kBlocksPerStep) {
    stream_blocks(keys, offset, (first >> 3) + static_cast<uint64_t>(k / 8), lanes + k);
  }
}

// Bit i of the result is keep[i] != 0, for keep bytes that are 0 or 1.
inline uint8_t pack8(const uint8_t* keep) {
  uint64_t v;
  memcpy(&v, keep, 8);
  return static_cast<uint8_t>((v * 0x0102040810204080ull) >> 56);
}

// The keep bytes (0 or 1) of a tile of len units into mask bits starting at bits[0]; the tile
// starts at a multiple of 8 units, and bits past len in the last byte are 0.
inline void store_mask_bits(const uint8_t* keep, int64_t len, uint8_t* bits) {
  const int64_t whole = len / 8;
  for (int64_t j = 0; j < whole; ++j) bits[j] = pack8(keep + 8 * j);
  if (len % 8) {
    uint8_t last = 0;
    for (int64_t i = 8 * whole; i < len; ++i) last |= static_cast<uint8_t>(keep[i] << (i % 8));
    bits[whole] = last;
  }
}

// The mask bits of len units from their 16-bit lanes: bit i & 7 of bits[i >> 3] is lanes[i] >=
// threshold (contract v2), bits past len 0. One vector compare per 32 lanes (AVX-512BW) or 16
// (AVX2); a threshold of 2^16 (p = 1) fits no lane, so it takes the loop at the end.
inline void store_lane_bits(const uint16_t* lanes, int64_t len, uint32_t threshold, uint8_t* bits) {
  int64_t i = 0;
#if FASTDROP_LANES == 16
  if (threshold <= 0xffffu) {
    const __m512i t = _mm512_set1_epi16(static_cast<short>(threshold));
    for (; i + 32 <= len; i += 32) {
      const __mmask32 keep = _mm512_cmpge_epu16_mask(_mm512_loadu_si512(lanes + i), t);
      memcpy(bits + i / 8, &keep, sizeof keep);
    }
  }
#elif FASTDROP_LANES == 8
  if (threshold <= 0xffffu) {
    const __m256i t = _mm256_set1_epi16(static_cast<short>(threshold));
    for (; i + 16 <= len; i += 16) {
      const __m256i l = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lanes + i));
      // All ones where lane >= threshold (AVX2 has no unsigned 16-bit compare), packed to bytes.
      const __m256i keep = _mm256_cmpeq_epi16(_mm256_max_epu16(l, t), l);
      const __m128i keep8 = _mm_packs_epi16(_mm256_castsi256_si128(keep), _mm256_extracti128_si256(keep, 1));
      const uint16_t packed = static_cast<uint16_t>(_mm_movemask_epi8(keep8));
      memcpy(bits + i / 8, &packed, sizeof packed);
    }
  }
#endif
  for (; i < len; i += 8) {
    uint8_t byte = 0;
    for (int64_t k = i; k < len && k < i + 8; ++k) byte |= static_cast<uint8_t>((lanes[k] >= threshold) << (k - i));
    bits[i / 8] = byte;
  }
}

// keep[i] = bit i of byte, as 0 or 1.
inline void unpack8(uint8_t byte, uint8_t* keep) {
  uint64_t v = (byte * 0x0101010101010101ull) & 0x8040201008040201ull;
  v = ((v + 0x7f7f7f7f7f7f7f7full) >> 7) & 0x0101010101010101ull;
  memcpy(keep, &v, 8);
}

}  // namespace
}  // namespace fastdrop::cpu::FASTDROP_ISA
