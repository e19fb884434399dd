// CPU dropout kernels. This one source is compiled once per ISA (CMake passes FASTDROP_ISA and
// FASTDROP_LANES with the matching -m flags): the Philox stream runs FASTDROP_LANES blocks at a time
// in GCC/Clang vector types, and the per-element loops, written once over dropout_math.h, are
// vectorised by the compiler for that ISA.
#include <string.h>

#if FASTDROP_LANES > 1
#include <immintrin.h>
#endif

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
// Units per tile: the words of a tile stay in L1 between the stream and the element loop.
constexpr int64_t kTile = 1024;

#if FASTDROP_LANES > 1
typedef uint32_t u32v __attribute__((vector_size(4 * kLanes)));
typedef uint64_t u64v __attribute__((vector_size(4 * kLanes)));
typedef int32_t i32v __attribute__((vector_size(4 * kLanes)));
typedef int64_t i64v __attribute__((vector_size(4 * kLanes)));

// Unsigned 32x32 -> 64-bit products of the even 32-bit lanes (the compiler does not find this
// instruction for the equivalent vector expression).
inline u64v mul_even_lanes(u64v a, u64v b) {
#if FASTDROP_LANES == 8
  return reinterpret_cast<u64v>(_mm256_mul_epu32(reinterpret_cast<__m256i>(a), reinterpret_cast<__m256i>(b)));
#else
  return reinterpret_cast<u64v>(_mm512_mul_epu32(reinterpret_cast<__m512i>(a), reinterpret_cast<__m512i>(b)));
#endif
}

// Shuffle masks. kLowHalves/kHighHalves gather the low/high 32 bits of the 64-bit products of two
// vectors into alternate lanes; kZip32/kZip64 interleave 32-bit and then 64-bit lanes of two
// vectors (Lo for the first halves, Hi for the second).
#if FASTDROP_LANES == 8
constexpr i32v kLowHalves = {0, 8, 2, 10, 4, 12, 6, 14};
constexpr i32v kZip32Lo = {0, 8, 1, 9, 2, 10, 3, 11};
constexpr i64v kZip64Lo = {0, 4, 1, 5};
#else
constexpr i32v kLowHalves = {0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30};
constexpr i32v kZip32Lo = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
constexpr i64v kZip64Lo = {0, 8, 1, 9, 2, 10, 3, 11};
#endif
constexpr i32v kHighHalves = kLowHalves + 1;
constexpr i32v kZip32Hi = kZip32Lo + kLanes / 2;
constexpr i64v kZip64Hi = kZip64Lo + kLanes / 4;

// 32x32 -> 64-bit products of every lane with m, split into low and high halves.
inline void mulhilo(u32v a, u64v m, u32v& lo, u32v& hi) {
  const u64v a64 = reinterpret_cast<u64v>(a);
  const u32v even = reinterpret_cast<u32v>(mul_even_lanes(a64, m));
  const u32v odd = reinterpret_cast<u32v>(mul_even_lanes(a64 >> 32, m));
  lo = __builtin_shuffle(even, odd, kLowHalves);
  hi = __builtin_shuffle(even, odd, kHighHalves);
}

// Independent Philox chains in flight: one chain's 10 rounds are a long dependency chain, and
// interleaving several keeps the multipliers busy.
// Two for AVX2, whose 16 registers four chains would spill; four for AVX-512's 32.
constexpr int kChains = kLanes == 8 ? 2 : 4;
constexpr int kBlocksPerStep = kLanes * kChains;

// Words of kBlocksPerStep consecutive blocks starting at block b0, stored in unit order.
inline void stream_blocks(uint64_t seed, uint64_t offset, uint64_t b0, uint32_t* words) {
  u32v c0[kChains], c1[kChains], c2[kChains], c3[kChains];
  for (int c = 0; c < kChains; ++c) {
    for (int i = 0; i < kLanes; ++i) {
      const uint64_t b = b0 + static_cast<uint64_t>(c * kLanes + i);
      c0[c][i] = static_cast<uint32_t>(b);
      c1[c][i] = static_cast<uint32_t>(b >> 32);
    }
    c2[c] = u32v{} + static_cast<uint32_t>(offset);
    c3[c] = u32v{} + static_cast<uint32_t>(offset >> 32);
  }
  const u64v m0 = u64v{} + kPhiloxM0, m1 = u64v{} + kPhiloxM1;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < kPhiloxRounds; ++r) {
    for (int c = 0; c < kChains; ++c) {
      u32v lo0, hi0, lo1, hi1;
      mulhilo(c0[c], m0, lo0, hi0);
      mulhilo(c2[c], m1, lo1, hi1);
      c0[c] = hi1 ^ c1[c] ^ k0;
      c1[c] = lo1;
      c2[c] = hi0 ^ c3[c] ^ k1;
      c3[c] = lo0;
    }
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  // Lane i of chain c holds block b0 + c * kLanes + i; transpose so that unit 4i + j of the
  // chain lands at words[4 * (c * kLanes + i) + j].
  for (int c = 0; c < kChains; ++c) {
    const u64v a_lo = reinterpret_cast<u64v>(__builtin_shuffle(c0[c], c1[c], kZip32Lo));
    const u64v a_hi = reinterpret_cast<u64v>(__builtin_shuffle(c0[c], c1[c], kZip32Hi));
    const u64v b_lo = reinterpret_cast<u64v>(__builtin_shuffle(c2[c], c3[c], kZip32Lo));
    const u64v b_hi = reinterpret_cast<u64v>(__builtin_shuffle(c2[c], c3[c], kZip32Hi));
    const u64v rows[4] = {__builtin_shuffle(a_lo, b_lo, kZip64Lo), __builtin_shuffle(a_lo, b_lo, kZip64Hi),
                          __builtin_shuffle(a_hi, b_hi, kZip64Lo), __builtin_shuffle(a_hi, b_hi, kZip64Hi)};
    memcpy(words + 4 * kLanes * c, rows, sizeof rows);
  }
}
#else
constexpr int kBlocksPerStep = 1;

inline void stream_blocks(uint64_t seed, uint64_t offset, uint64_t b0, uint32_t* words) {
  const PhiloxBlock block = stream_block(seed, offset, b0);
  memcpy(words, block.v, sizeof block.v);
}
#endif

static_assert(kTile % (4 * kBlocksPerStep) == 0 && kTile % 8 == 0, "a tile holds whole steps and bytes");

// Words of units [first, first + n) into words[0, n).
void stream_words(uint64_t seed, uint64_t offset, uint64_t first, int64_t n, uint32_t* words) {
  alignas(64) uint32_t tile[4 * kBlocksPerStep];
  const uint64_t skew = first & 3u;
  int64_t done = 0;
  uint64_t b = first >> 2;
  while (done < n) {
    stream_blocks(seed, offset, b, tile);
    const int64_t start = done == 0 ? static_cast<int64_t>(skew) : 0;
    int64_t take = 4 * kBlocksPerStep - start;
    if (take > n - done) take = n - done;
    memcpy(words + done, tile + start, static_cast<size_t>(take) * sizeof(uint32_t));
    done += take;
    b += kBlocksPerStep;
  }
}

// Words of the tile of units [first, first + n), n <= kTile; words[0] belongs to unit first & ~3.
inline void tile_words(const DropoutParams& params, uint64_t first, int64_t n, uint32_t* words) {
  const int64_t span = static_cast<int64_t>(first & 3u) + n;
  for (int64_t k = 0; k < span; k += 4 * kBlocksPerStep) {
    stream_blocks(params.seed, params.offset, (first >> 2) + static_cast<uint64_t>(k / 4), words + k);
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

template <class T, bool kBits, bool kBytes>
void forward_tiles(const T* x, T* y, uint64_t first, int64_t n, const DropoutParams& call,
                   uint8_t* mask_bits, bool* mask_bytes) {
  // A local copy: stores through y cannot alias it, so the element loop vectorises.
  const DropoutParams params = call;
  using C = typename ComputeType<T>::type;
  const C scale = scale_of(params, C{});
  alignas(64) uint32_t words[kTile + 4 * kBlocksPerStep];
  alignas(64) uint8_t keep[kTile];
  for (int64_t t = 0; t < n; t += kTile) {
    const int64_t len = n - t < kTile ? n - t : kTile;
    const uint64_t unit = first + static_cast<uint64_t>(t);
    tile_words(params, unit, len, words);
    const uint32_t* w = words + (unit & 3u);
    for (int64_t i = 0; i < len; ++i) y[t + i] = dropout_element(x[t + i], keeps(w[i], params), scale);
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

template <class T>
void forward(const void* x, void* y, uint64_t first, int64_t n, const DropoutParams& params,
             uint8_t* mask_bits, bool* mask_bytes) {
  const T* xs = static_cast<const T*>(x);
  T* ys = static_cast<T*>(y);
  if (mask_bits && mask_bytes) {
    forward_tiles<T, true, true>(xs, ys, first, n, params, mask_bits, mask_bytes);
  } else if (mask_bits) {
    forward_tiles<T, true, false>(xs, ys, first, n, params, mask_bits, nullptr);
  } else if (mask_bytes) {
    forward_tiles<T, false, true>(xs, ys, first, n, params, nullptr, mask_bytes);
  } else {
    forward_tiles<T, false, false>(xs, ys, first, n, params, nullptr, nullptr);
  }
}

template <class T>
void backward_bits(const void* dy, void* dx, int64_t n, const DropoutParams& params,
                   const uint8_t* mask_bits) {
  using C = typename ComputeType<T>::type;
  const T* g = static_cast<const T*>(dy);
  T* out = static_cast<T*>(dx);
  const C scale = scale_of(params, C{});
  alignas(64) uint8_t keep[kTile];
  for (int64_t t = 0; t < n; t += kTile) {
    const int64_t len = n - t < kTile ? n - t : kTile;
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
  };
  return table;
}

}  // namespace fastdrop::cpu::FASTDROP_ISA
