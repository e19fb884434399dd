// CPU dropout kernels. This one source is compiled once per ISA (CMake passes FASTDROP_ISA and
// FASTDROP_LANES with the matching -m flags): the Philox stream runs FASTDROP_LANES blocks at a time
// in GCC/Clang vector types, and the per-element loops, written once over dropout_math.h, are
// vectorised by the compiler for that ISA.
#include <string.h>

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
static_assert(kTile % (4 * kLanes) == 0 && kTile % 8 == 0, "tile must hold whole vectors and bytes");

#if FASTDROP_LANES > 1
typedef uint32_t u32v __attribute__((vector_size(4 * kLanes)));
typedef uint64_t u64v __attribute__((vector_size(4 * kLanes)));

// 32x32 -> 64-bit products of every lane with m, split into low and high halves.
inline void mulhilo(u32v a, uint32_t m, u32v& lo, u32v& hi) {
  const u64v a64 = reinterpret_cast<u64v>(a);
  const u64v even = (a64 & 0xffffffffu) * m;
  const u64v odd = (a64 >> 32) * m;
  lo = reinterpret_cast<u32v>((even & 0xffffffffu) | (odd << 32));
  hi = reinterpret_cast<u32v>((even >> 32) | (odd & 0xffffffff00000000u));
}

// Words of kLanes consecutive blocks starting at block b0, stored in unit order.
inline void stream_blocks(uint64_t seed, uint64_t offset, uint64_t b0, uint32_t* words) {
  u32v c0, c1, c2, c3;
  for (int i = 0; i < kLanes; ++i) {
    const uint64_t b = b0 + static_cast<uint64_t>(i);
    c0[i] = static_cast<uint32_t>(b);
    c1[i] = static_cast<uint32_t>(b >> 32);
  }
  c2 = u32v{} + static_cast<uint32_t>(offset);
  c3 = u32v{} + static_cast<uint32_t>(offset >> 32);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < kPhiloxRounds; ++r) {
    u32v lo0, hi0, lo1, hi1;
    mulhilo(c0, kPhiloxM0, lo0, hi0);
    mulhilo(c2, kPhiloxM1, lo1, hi1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  // Lane i holds block b0 + i; transpose so that unit 4i + j lands at words[4i + j].
  for (int i = 0; i < kLanes; ++i) {
    words[4 * i + 0] = c0[i];
    words[4 * i + 1] = c1[i];
    words[4 * i + 2] = c2[i];
    words[4 * i + 3] = c3[i];
  }
}
#else
inline void stream_blocks(uint64_t seed, uint64_t offset, uint64_t b0, uint32_t* words) {
  const PhiloxBlock block = stream_block(seed, offset, b0);
  memcpy(words, block.v, sizeof block.v);
}
#endif

// Words of units [first, first + n) into words[0, n).
void stream_words(uint64_t seed, uint64_t offset, uint64_t first, int64_t n, uint32_t* words) {
  alignas(64) uint32_t tile[4 * kLanes];
  const uint64_t skew = first & 3u;
  int64_t done = 0;
  uint64_t b = first >> 2;
  while (done < n) {
    stream_blocks(seed, offset, b, tile);
    const int64_t start = done == 0 ? static_cast<int64_t>(skew) : 0;
    int64_t take = 4 * kLanes - start;
    if (take > n - done) take = n - done;
    memcpy(words + done, tile + start, static_cast<size_t>(take) * sizeof(uint32_t));
    done += take;
    b += kLanes;
  }
}

// Words of the tile of units [first, first + n), n <= kTile; words[0] belongs to unit first & ~3.
inline void tile_words(const DropoutParams& params, uint64_t first, int64_t n, uint32_t* words) {
  const int64_t span = static_cast<int64_t>(first & 3u) + n;
  for (int64_t k = 0; k < span; k += 4 * kLanes) {
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
void forward_tiles(const T* x, T* y, uint64_t first, int64_t n, const DropoutParams& params,
                   uint8_t* mask_bits, bool* mask_bytes) {
  using C = typename ComputeType<T>::type;
  const C scale = scale_of(params, C{});
  alignas(64) uint32_t words[kTile + 4 * kLanes];
  alignas(64) uint8_t keep[kTile];
  for (int64_t t = 0; t < n; t += kTile) {
    const int64_t len = n - t < kTile ? n - t : kTile;
    const uint64_t unit = first + static_cast<uint64_t>(t);
    tile_words(params, unit, len, words);
    const uint32_t* w = words + (unit & 3u);
    for (int64_t i = 0; i < len; ++i) {
      const bool k = keeps(w[i], params);
      keep[i] = k;
      y[t + i] = dropout_element(x[t + i], k, scale);
    }
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
