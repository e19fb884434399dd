// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), exactly as
// Random123 defines it, and the fastdrop stream built on it (docs/design.md, Randomness). Host and device.
#pragma once
#include <stdint.h>

// Internal linkage on the host: the CPU kernels compile these functions once per ISA, and a shared
// out-of-line copy could carry instructions of an ISA that the CPU running it lacks.
#if defined(__CUDACC__)
#define FASTDROP_HOST_DEVICE static __host__ __device__ __forceinline__
#else
#define FASTDROP_HOST_DEVICE static inline
#endif

namespace fastdrop {

constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;
constexpr int kPhiloxRounds = 10;

struct PhiloxBlock {
  uint32_t v[4];
};

FASTDROP_HOST_DEVICE void philox_round(uint32_t& c0, uint32_t& c1, uint32_t& c2, uint32_t& c3,
                                       uint32_t k0, uint32_t k1) {
  const uint64_t p0 = static_cast<uint64_t>(kPhiloxM0) * c0;
  const uint64_t p1 = static_cast<uint64_t>(kPhiloxM1) * c2;
  const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
  const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
  c0 = hi1 ^ c1 ^ k0;
  c1 = lo1;
  c2 = hi0 ^ c3 ^ k1;
  c3 = lo0;
}

FASTDROP_HOST_DEVICE PhiloxBlock philox4x32_10(PhiloxBlock ctr, uint32_t k0, uint32_t k1) {
  uint32_t c0 = ctr.v[0], c1 = ctr.v[1], c2 = ctr.v[2], c3 = ctr.v[3];
  for (int r = 0; r < kPhiloxRounds; ++r) {
    philox_round(c0, c1, c2, c3, k0, k1);
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  return PhiloxBlock{{c0, c1, c2, c3}};
}

// Block b of call (seed, offset): counter (b lo, b hi, offset lo, offset hi), key (seed lo, seed hi).
FASTDROP_HOST_DEVICE PhiloxBlock stream_block(uint64_t seed, uint64_t offset, uint64_t b) {
  const PhiloxBlock ctr{{static_cast<uint32_t>(b), static_cast<uint32_t>(b >> 32),
                         static_cast<uint32_t>(offset), static_cast<uint32_t>(offset >> 32)}};
  return philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// The 32-bit word of continuous draw u (Gaussian dropout): word (u & 3) of block (u >> 2).
FASTDROP_HOST_DEVICE uint32_t stream_word(uint64_t seed, uint64_t offset, uint64_t u) {
  return stream_block(seed, offset, u >> 2).v[u & 3];
}

// The 16 bits that decide Bernoulli unit u (contract v2): lane (u & 7) of block (u >> 3), lane 2k
// being the low half of word k and lane 2k + 1 its high half.
FASTDROP_HOST_DEVICE uint32_t stream_lane(uint64_t seed, uint64_t offset, uint64_t u) {
  const uint32_t word = stream_block(seed, offset, u >> 3).v[(u & 7) >> 1];
  return (u & 1) ? word >> 16 : word & 0xffffu;
}

}  // namespace fastdrop
