// Gaussian dropout: the C ABI against the per-element math of fastdrop/math/gaussian_dropout.h on every ISA present,
// several thread counts, every dtype and odd sizes (bit for bit); the status codes of bad calls;
// and the ln, sin and cos approximations against libm (long double) over a dense sweep of words.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <initializer_list>
#include <vector>

#include "check.h"
#include "test_inputs.h"
#include "fastdrop/math/gaussian_dropout.h"
#include "fastdrop/fastdrop.h"

using namespace fastdrop;

namespace {

// The per-element definition: unit i's noise from the words of units i & ~1 and i | 1.
template <class T>
T reference_element(T x, uint64_t i, const GaussianParams& params) {
  using C = typename ComputeType<T>::type;
  const uint32_t even = stream_word(params.seed, params.offset, i & ~uint64_t{1});
  const uint32_t odd = stream_word(params.seed, params.offset, i | 1u);
  return gaussian_element(x, gaussian_noise(even, odd, (i & 1u) != 0, sigma_of(params, C{})));
}

template <class T>
void check_dtype(fastdrop_dtype dtype, const char* isa, int threads) {
  const int64_t sizes[] = {0, 1, 2, 3, 7, 97, 1025, 8193, 32768 + 7001};
  const double ps[] = {0.0, 0.1, 0.5, 0.9, 1.0 - 1.0 / 1048576};
  const uint64_t seeds[] = {0, 0x0123456789abcdefull};
  for (int64_t n : sizes) {
    const std::vector<T> x = make_input<T>(n);
    for (double p : ps) {
      for (uint64_t seed : seeds) {
        const uint64_t offset = seed ^ 7;
        const GaussianParams params = make_gaussian_params(p, seed, offset);
        std::vector<T> y(n), dx(n);
        CHECK(fastdrop_gaussian_dropout_forward(dtype, x.data(), y.data(), n, p, seed, offset) == FASTDROP_SUCCESS,
              "forward status");
        CHECK(fastdrop_gaussian_dropout_backward(dtype, x.data(), dx.data(), n, p, seed, offset) ==
                  FASTDROP_SUCCESS, "backward status");
        for (int64_t i = 0; i < n; ++i) {
          const T want = reference_element(x[i], static_cast<uint64_t>(i), params);
          CHECK(same_bits(y[i], want), "%s threads=%d dtype=%d n=%lld p=%g i=%lld forward", isa, threads, dtype,
                (long long)n, p, (long long)i);
          CHECK(same_bits(dx[i], want), "%s backward %lld", isa, (long long)i);
          if (p == 0.0) CHECK(same_bits(y[i], x[i]), "p = 0 gives y = x");
        }
      }
    }
  }
  // In place: y == x.
  std::vector<T> inplace = make_input<T>(1000), want(1000);
  CHECK(fastdrop_gaussian_dropout_forward(dtype, inplace.data(), want.data(), 1000, 0.3, 5, 6) == FASTDROP_SUCCESS,
        "status");
  CHECK(fastdrop_gaussian_dropout_forward(dtype, inplace.data(), inplace.data(), 1000, 0.3, 5, 6) ==
            FASTDROP_SUCCESS, "status");
  CHECK(memcmp(inplace.data(), want.data(), 1000 * sizeof(T)) == 0, "%s in place", isa);
}

void check_errors() {
  float x[4] = {1, 2, 3, 4}, y[4] = {0, 0, 0, 0};
  for (double p : {-0.1, 1.0, 1.5, static_cast<double>(NAN)}) {
    CHECK(fastdrop_gaussian_dropout_forward(FASTDROP_FLOAT32, x, y, 4, p, 0, 0) == FASTDROP_ERROR_INVALID_VALUE,
          "p = %g", p);
    CHECK(fastdrop_gaussian_dropout_backward(FASTDROP_FLOAT32, x, y, 4, p, 0, 0) == FASTDROP_ERROR_INVALID_VALUE,
          "backward p = %g", p);
  }
  CHECK(fastdrop_gaussian_dropout_forward(FASTDROP_FLOAT32, x, y, -1, 0.5, 0, 0) == FASTDROP_ERROR_INVALID_VALUE,
        "n < 0");
  CHECK(fastdrop_gaussian_dropout_forward(static_cast<fastdrop_dtype>(9), x, y, 4, 0.5, 0, 0) ==
            FASTDROP_ERROR_UNSUPPORTED_DTYPE, "dtype");
  CHECK(fastdrop_gaussian_dropout_forward(FASTDROP_FLOAT32, nullptr, y, 4, 0.5, 0, 0) == FASTDROP_ERROR_NULL_POINTER,
        "null x");
  CHECK(fastdrop_gaussian_dropout_backward(FASTDROP_FLOAT32, x, nullptr, 4, 0.5, 0, 0) ==
            FASTDROP_ERROR_NULL_POINTER, "null dx");
  CHECK(fastdrop_gaussian_dropout_forward(FASTDROP_FLOAT32, nullptr, nullptr, 0, 0.5, 0, 0) == FASTDROP_SUCCESS,
        "empty call with null pointers");
  CHECK(y[0] == 0 && y[1] == 0 && y[2] == 0 && y[3] == 0, "failed calls leave the output untouched");
}

// Error of `got` against `want` in units of the last place of want in the type of got.
double ulps(float got, long double want) {
  const float w = fabsf(static_cast<float>(want));
  return static_cast<double>(fabsl(got - want) / (nextafterf(w, INFINITY) - w));
}
double ulps(double got, long double want) {
  const double w = fabs(static_cast<double>(want));
  return static_cast<double>(fabsl(got - want) / (nextafter(w, INFINITY) - w));
}

// Words swept: every word near 0, near 2^32 (u1 close to 0 and to 1) and near each quarter turn
// (sin or cos close to 0), and every 1021st word in between.
std::vector<uint32_t> sweep_words() {
  std::vector<uint32_t> words;
  for (uint64_t w = 0; w < (uint64_t{1} << 32); w += 1021) words.push_back(static_cast<uint32_t>(w));
  for (uint32_t w = 0; w < (1u << 16); ++w) {
    for (uint32_t quarter = 0; quarter < 4; ++quarter) words.push_back((quarter << 30) + w);
    for (uint32_t quarter = 1; quarter <= 4; ++quarter) words.push_back((quarter << 30) - 1u - w);
  }
  return words;
}

template <class C>
void check_math(double log_bound, double trig_bound) {
  double log_err = 0, cos_err = 0, sin_err = 0;
  for (uint32_t w : sweep_words()) {
    const long double u1 = (static_cast<long double>(w) + 1) / 4294967296.0L;
    const long double ln = logl(u1);
    const C got_ln = log_unit(w, C{});
    if (ln == 0) {
      CHECK(got_ln == 0, "ln(1) = 0");
    } else {
      log_err = fmax(log_err, ulps(got_ln, ln));
    }
    // The reference reduces the turn exactly too: long double pi alone would cost thousands of
    // ulps near the zeros of sin and cos.
    int32_t d;
    const uint32_t q = quarter_turns(w, &d);
    const long double a = 6.283185307179586476925286766559005768L * (static_cast<long double>(d) / 4294967296.0L);
    long double cos_want, sin_want;
    rotate_quarters(q, cosl(a), sinl(a), &cos_want, &sin_want);
    C cos_t, sin_t;
    sincos_turn(w, &cos_t, &sin_t);
    if (cos_want != 0) cos_err = fmax(cos_err, ulps(cos_t, cos_want));
    if (sin_want != 0) sin_err = fmax(sin_err, ulps(sin_t, sin_want));
    if (cos_want == 0) CHECK(cos_t == 0, "cos of a quarter turn is 0");
    if (sin_want == 0) CHECK(sin_t == 0, "sin of a half turn is 0");
  }
  const char* type = sizeof(C) == 4 ? "float32" : "float64";
  printf("%s max error: ln %.2f ulp, cos %.2f ulp, sin %.2f ulp\n", type, log_err, cos_err, sin_err);
  CHECK(log_err <= log_bound, "%s ln error %.2f ulp", type, log_err);
  CHECK(cos_err <= trig_bound && sin_err <= trig_bound, "%s cos/sin error %.2f/%.2f ulp", type, cos_err, sin_err);
}

}  // namespace

int main() {
  check_errors();
  check_math<float>(2.0, 3.0);
  check_math<double>(1.0, 2.0);
  for_each_isa_and_thread_count([](const char* name, int threads) {
    check_dtype<float16_bits>(FASTDROP_FLOAT16, name, threads);
    check_dtype<bfloat16_bits>(FASTDROP_BFLOAT16, name, threads);
    check_dtype<float>(FASTDROP_FLOAT32, name, threads);
    check_dtype<double>(FASTDROP_FLOAT64, name, threads);
  });
  return finish("gaussian_dropout");
}
