// The software float16/bfloat16 conversions of fastdrop/math/common.h against the F16C instructions
// that the CPU kernels use where the CPU has them, bit for bit, NaNs included (exhaustive for
// half -> float, a dense sweep for float -> half) and against the definition of
// round-to-nearest-even for bfloat16.
#include <immintrin.h>
#include <initializer_list>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "fastdrop/math/common.h"

using namespace fastdrop;

namespace {

bool is_nan_bits(uint32_t u) { return (u & 0x7fffffffu) > 0x7f800000u; }

void check_bfloat16() {
  for (uint64_t u = 0; u <= 0xffffffffull; u += 0x3fd) {
    const uint32_t bits = static_cast<uint32_t>(u);
    const uint16_t got = float_to_bfloat16_rne(u32_as_float(bits));
    if (is_nan_bits(bits)) {
      CHECK(is_nan_bits(uint32_t(got) << 16) && (got >> 15) == (bits >> 31), "NaN %08x -> %04x", bits, got);
      continue;
    }
    // Round to nearest even by definition: compare the discarded half with one half of an ulp.
    const uint32_t low = bits & 0xffffu;
    uint32_t want = bits >> 16;
    if (low > 0x8000u || (low == 0x8000u && (want & 1u))) ++want;
    CHECK(got == want, "bf16 of %08x: %04x, want %04x", bits, got, want);
    CHECK(float_as_u32(bfloat16_to_float(got)) == uint32_t(got) << 16, "bf16 widen %04x", got);
  }
}

void check_float16() {
  if (!__builtin_cpu_supports("f16c")) {
    printf("skipped: F16C not available to compare float16 conversions against\n");
    return;
  }
  for (uint32_t h = 0; h <= 0xffffu; ++h) {
    const float want = _cvtsh_ss(static_cast<unsigned short>(h));
    const float got = half_to_float(static_cast<uint16_t>(h));
    // NaNs too: both quiet a signalling NaN and keep its payload, so the CPU's F16C path and
    // the software one give the same bits.
    CHECK(float_as_u32(got) == float_as_u32(want), "half %04x -> %08x, want %08x", h, float_as_u32(got),
          float_as_u32(want));
  }
  for (uint64_t u = 0; u <= 0xffffffffull; u += 0x101) {
    const float f = u32_as_float(static_cast<uint32_t>(u));
    const uint16_t got = float_to_half_rne(f);
    const uint16_t want = static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
    CHECK(got == want, "float %08x -> half %04x, want %04x", uint32_t(u), got, want);
  }
  // Every float whose exponent sits at a rounding boundary: below the smallest subnormal, at the
  // subnormal/normal switch and at overflow.
  for (uint32_t exponent : {102u, 103u, 112u, 113u, 142u, 143u}) {
    for (uint32_t mant = 0; mant < (1u << 23); ++mant) {
      const float f = u32_as_float(exponent << 23 | mant);
      const uint16_t want = static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
      CHECK(float_to_half_rne(f) == want, "float %08x at a boundary", exponent << 23 | mant);
      CHECK(float_to_half_rne(-f) == (want | 0x8000u), "-float %08x at a boundary", exponent << 23 | mant);
    }
  }
}

}  // namespace

int main() {
  check_bfloat16();
  check_float16();
  return finish("conversions");
}
