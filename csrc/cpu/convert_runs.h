// Runs of 16-bit floats widened to float32 and rounded back, with the vector instructions of the
// ISA where it has them: F16C (and AVX-512F) for float16, whose results are the bits of the
// software conversions of fastdrop/math/common.h (tests/cpp/test_conversions.cpp holds them
// equal), which the scalar build and the tails use; bfloat16's integer conversions vectorise as
// they are. Internal linkage in each ISA's build, as philox_stream.h.
#pragma once
#include <stdint.h>

#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "fastdrop/math/common.h"

namespace fastdrop::cpu {
namespace {

#if defined(__F16C__)
// Round to nearest even, no exception flags: the software rounding of float_to_half_rne.
constexpr int kHalfRounding = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
#endif

inline void widen(const float16_bits* src, float* dst, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
  }
#endif
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  }
#endif
  for (; i < n; ++i) dst[i] = half_to_float(src[i].bits);
}

inline void narrow(const float* src, float16_bits* dst, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm512_cvtps_ph(_mm512_loadu_ps(src + i), kHalfRounding));
  }
#endif
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), kHalfRounding));
  }
#endif
  for (; i < n; ++i) dst[i].bits = float_to_half_rne(src[i]);
}

inline void widen(const bfloat16_bits* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bfloat16_to_float(src[i].bits);
}

inline void narrow(const float* src, bfloat16_bits* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i].bits = float_to_bfloat16_rne(src[i]);
}

}  // namespace
}  // namespace fastdrop::cpu
