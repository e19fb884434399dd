// Dropout through the C ABI against a per-element reference built from philox.h and
// fastdrop/math/dropout.h, on every ISA present, several thread counts, every dtype, odd sizes and
// masks (with the output and alone); and the status codes of bad calls.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <initializer_list>
#include <vector>

#include "check.h"
#include "test_inputs.h"
#include "fastdrop/math/dropout.h"
#include "fastdrop/fastdrop.h"

using namespace fastdrop;

namespace {

template <class T>
void check_dtype(fastdrop_dtype dtype, const char* isa, int threads) {
  const int64_t sizes[] = {0, 1, 3, 7, 8, 9, 1023, 1025, 32773, 65536 * 2 + 13};
  const double ps[] = {0.0, 1.0 / 131072, 0.1, 0.5, 0.9, 1.0 - 1.0 / 65536, 1.0 - 1.0 / 1048576, 1.0};
  const uint64_t seeds[] = {0, 0x0123456789abcdefull};
  for (int64_t n : sizes) {
    const std::vector<T> x = make_input<T>(n);
    for (double p : ps) {
      for (uint64_t seed : seeds) {
        const uint64_t offset = seed ^ 7;
        const DropoutParams params = make_dropout_params(p, seed, offset);
        const auto scale = scale_of(params, typename ComputeType<T>::type{});
        std::vector<T> y(n), dx_bits(n), dx_seed(n);
        std::vector<uint8_t> bits((n + 7) / 8, 0xAA);
        bool* bytes = new bool[n + 1];
        CHECK(fastdrop_dropout_forward(dtype, x.data(), y.data(), n, p, seed, offset, bits.data(),
                                       bytes) == FASTDROP_SUCCESS, "forward status");
        CHECK(fastdrop_dropout_backward_bits(dtype, x.data(), dx_bits.data(), n, p, bits.data()) ==
                  FASTDROP_SUCCESS, "backward_bits status");
        CHECK(fastdrop_dropout_backward(dtype, x.data(), dx_seed.data(), n, p, seed, offset) ==
                  FASTDROP_SUCCESS, "backward status");
        for (int64_t i = 0; i < n; ++i) {
          const bool keep = keeps(stream_lane(seed, offset, static_cast<uint64_t>(i)), params);
          const T want = dropout_element(x[i], keep, scale);
          CHECK(same_bits(y[i], want), "%s threads=%d dtype=%d n=%lld p=%g i=%lld forward", isa,
                threads, dtype, (long long)n, p, (long long)i);
          CHECK(bytes[i] == keep, "%s mask byte %lld", isa, (long long)i);
          CHECK(((bits[i >> 3] >> (i & 7)) & 1) == keep, "%s mask bit %lld", isa, (long long)i);
          CHECK(same_bits(dx_bits[i], want), "%s backward from bits %lld", isa, (long long)i);
          CHECK(same_bits(dx_seed[i], want), "%s backward from seed %lld", isa, (long long)i);
          if (p == 1.0) CHECK(!keep, "p = 1 keeps nothing");
          if (p == 0.0) CHECK(keep && same_bits(y[i], x[i]), "p = 0 keeps x");
          if (p < 1.0 / 65536) CHECK(keep, "p below 2^-16 drops nothing");
        }
        if (n % 8) CHECK((bits[n / 8] >> (n % 8)) == 0, "bits past the end of the mask are zero");
        delete[] bytes;
      }
    }
  }
  // In place: y == x.
  std::vector<T> inplace = make_input<T>(1000), want(1000);
  CHECK(fastdrop_dropout_forward(dtype, inplace.data(), want.data(), 1000, 0.3, 5, 6, nullptr,
                                 nullptr) == FASTDROP_SUCCESS, "status");
  CHECK(fastdrop_dropout_forward(dtype, inplace.data(), inplace.data(), 1000, 0.3, 5, 6, nullptr,
                                 nullptr) == FASTDROP_SUCCESS, "status");
  CHECK(memcmp(inplace.data(), want.data(), 1000 * sizeof(T)) == 0, "%s in place", isa);
}

// Every bit pattern of a 16-bit type (NaNs, infinities and subnormals included) through the
// forward and the backward from bits: the vector conversions of the ISA (F16C) give the bits of the
// software ones.
template <class T>
void check_every_pattern(fastdrop_dtype dtype, const char* isa) {
  const int64_t n = 65536;
  std::vector<T> x(n), y(n), dx(n);
  for (int64_t i = 0; i < n; ++i) memcpy(&x[i], &i, sizeof(T));
  std::vector<uint8_t> bits(n / 8);
  for (double p : {0.0, 0.5}) {
    const DropoutParams params = make_dropout_params(p, 11, 12);
    const auto scale = scale_of(params, typename ComputeType<T>::type{});
    CHECK(fastdrop_dropout_forward(dtype, x.data(), y.data(), n, p, 11, 12, bits.data(), nullptr) ==
              FASTDROP_SUCCESS, "status");
    CHECK(fastdrop_dropout_backward_bits(dtype, x.data(), dx.data(), n, p, bits.data()) == FASTDROP_SUCCESS,
          "status");
    for (int64_t i = 0; i < n; ++i) {
      const T want = dropout_element(x[i], reference_keep(i, p, 11, 12), scale);
      CHECK(same_bits(y[i], want), "%s dtype=%d p=%g pattern %04llx forward", isa, dtype, p, (long long)i);
      CHECK(same_bits(dx[i], want), "%s dtype=%d p=%g pattern %04llx backward", isa, dtype, p, (long long)i);
    }
  }
}

void check_errors() {
  float x[4] = {1, 2, 3, 4}, y[4] = {0, 0, 0, 0};
  CHECK(fastdrop_dropout_forward(FASTDROP_FLOAT32, x, y, 4, -0.1, 0, 0, nullptr, nullptr) ==
            FASTDROP_ERROR_INVALID_VALUE, "p < 0");
  CHECK(fastdrop_dropout_forward(FASTDROP_FLOAT32, x, y, 4, 1.5, 0, 0, nullptr, nullptr) ==
            FASTDROP_ERROR_INVALID_VALUE, "p > 1");
  CHECK(fastdrop_dropout_forward(FASTDROP_FLOAT32, x, y, 4, NAN, 0, 0, nullptr, nullptr) ==
            FASTDROP_ERROR_INVALID_VALUE, "p NaN");
  CHECK(fastdrop_dropout_forward(FASTDROP_FLOAT32, x, y, -1, 0.5, 0, 0, nullptr, nullptr) ==
            FASTDROP_ERROR_INVALID_VALUE, "n < 0");
  CHECK(fastdrop_dropout_forward(static_cast<fastdrop_dtype>(9), x, y, 4, 0.5, 0, 0, nullptr,
                                 nullptr) == FASTDROP_ERROR_UNSUPPORTED_DTYPE, "dtype");
  CHECK(fastdrop_dropout_forward(FASTDROP_FLOAT32, nullptr, y, 4, 0.5, 0, 0, nullptr, nullptr) ==
            FASTDROP_ERROR_NULL_POINTER, "null x");
  CHECK(fastdrop_dropout_forward(FASTDROP_FLOAT32, nullptr, nullptr, 0, 0.5, 0, 0, nullptr,
                                 nullptr) == FASTDROP_SUCCESS, "empty call with null pointers");
  CHECK(fastdrop_dropout_backward_bits(FASTDROP_FLOAT32, x, y, 4, 0.5, nullptr) ==
            FASTDROP_ERROR_NULL_POINTER, "null mask");
  CHECK(y[0] == 0 && y[1] == 0 && y[2] == 0 && y[3] == 0, "failed calls leave the output untouched");
  CHECK(fastdrop_cpu_isa_set(static_cast<fastdrop_cpu_isa>(7)) == FASTDROP_ERROR_INVALID_VALUE, "isa");
  CHECK(fastdrop_set_num_threads(-1) == FASTDROP_ERROR_INVALID_VALUE, "threads");
  CHECK(fastdrop_stream_words(0, 0, 0, -1, nullptr) == FASTDROP_ERROR_INVALID_VALUE, "words n");
  CHECK(strlen(fastdrop_status_string(FASTDROP_ERROR_CUDA)) > 0, "status string");
  int devices = -1;
  const fastdrop_status cuda = fastdrop_cuda_device_count(&devices);
  CHECK(fastdrop_cuda_built() ? cuda != FASTDROP_ERROR_CUDA_UNAVAILABLE
                              : cuda == FASTDROP_ERROR_CUDA_UNAVAILABLE && devices == 0,
        "cuda device count without CUDA");
}

void check_mask_bits(const char* isa) {
  for (int64_t n : {0, 1, 9, 1000, 70001}) {
    for (double p : {0.0, 0.3, 1.0}) {
      std::vector<uint8_t> bits((n + 7) / 8, 0xFF);
      CHECK(fastdrop_dropout_mask_bits(n, p, 3, 4, bits.data()) == FASTDROP_SUCCESS, "status");
      for (int64_t u = 0; u < n; ++u) {
        CHECK(((bits[u >> 3] >> (u & 7)) & 1) == reference_keep(u, p, 3, 4), "%s mask bit %lld p=%g", isa,
              (long long)u, p);
      }
      if (n % 8) CHECK((bits[n / 8] >> (n % 8)) == 0, "bits past n are zero");
    }
  }
}

void check_mask_bits_errors() {
  uint8_t bits[1] = {0xFF};
  CHECK(fastdrop_dropout_mask_bits(-1, 0.5, 0, 0, bits) == FASTDROP_ERROR_INVALID_VALUE, "n < 0");
  CHECK(fastdrop_dropout_mask_bits(4, 2.0, 0, 0, bits) == FASTDROP_ERROR_INVALID_VALUE, "p > 1");
  CHECK(fastdrop_dropout_mask_bits(4, 0.5, 0, 0, nullptr) == FASTDROP_ERROR_NULL_POINTER, "null bits");
  CHECK(bits[0] == 0xFF, "failed calls write nothing");
}

}  // namespace

int main() {
  check_errors();
  check_mask_bits_errors();
  for_each_isa_and_thread_count([](const char* name, int threads) {
    check_dtype<float16_bits>(FASTDROP_FLOAT16, name, threads);
    check_dtype<bfloat16_bits>(FASTDROP_BFLOAT16, name, threads);
    check_dtype<float>(FASTDROP_FLOAT32, name, threads);
    check_dtype<double>(FASTDROP_FLOAT64, name, threads);
    check_mask_bits(name);
    check_every_pattern<float16_bits>(FASTDROP_FLOAT16, name);
    check_every_pattern<bfloat16_bits>(FASTDROP_BFLOAT16, name);
  });
  return finish("dropout");
}
