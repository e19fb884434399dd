// Dropout on a float32 array through fastdrop's C ABI (fastdrop/fastdrop.h): the forward keeping
// one mask bit per element, then the backward from those bits and from the seed alone. Checks the
// results, prints a summary and exits non-zero if a call fails or a check does not hold.
#include <fastdrop/fastdrop.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace {

int g_failures = 0;

// Whether a fastdrop call succeeded; if not, which call failed and why.
bool succeeded(fastdrop_status status, const char* call) {
  if (status == FASTDROP_SUCCESS) return true;
  std::fprintf(stderr, "%s failed: %s\n", call, fastdrop_status_string(status));
  ++g_failures;
  return false;
}

void check(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "check failed: %s\n", what);
  ++g_failures;
}

// The keep bit of element i: bit i & 7 of byte i >> 3.
bool kept(const std::vector<uint8_t>& mask_bits, int64_t i) { return (mask_bits[i >> 3] >> (i & 7)) & 1; }

}  // namespace

int main() {
  const int64_t n = 10000;
  const double p = 0.25;
  const uint64_t seed = 42;
  const uint64_t offset = 0;
  // Kept elements are scaled by 1 / (1 - p), computed in double and held in float32.
  const float scale = static_cast<float>(1.0 / (1.0 - p));

  std::vector<float> x(n), grad(n);
  for (int64_t i = 0; i < n; ++i) {
    x[i] = 1.0f + 0.001f * static_cast<float>(i);
    grad[i] = 0.5f - 0.0003f * static_cast<float>(i);
  }

  std::vector<float> y(n);
  std::vector<uint8_t> mask_bits((n + 7) / 8);
  if (!succeeded(fastdrop_dropout_forward(FASTDROP_FLOAT32, x.data(), y.data(), n, p, seed, offset,
                                          mask_bits.data(), nullptr),
                 "fastdrop_dropout_forward")) {
    return 1;
  }

  // The backward twice: from the stored bits, and from (seed, offset) with nothing stored.
  std::vector<float> dx_from_bits(n), dx_from_seed(n);
  if (!succeeded(fastdrop_dropout_backward_bits(FASTDROP_FLOAT32, grad.data(), dx_from_bits.data(), n, p,
                                                mask_bits.data()),
                 "fastdrop_dropout_backward_bits") ||
      !succeeded(fastdrop_dropout_backward(FASTDROP_FLOAT32, grad.data(), dx_from_seed.data(), n, p, seed,
                                           offset),
                 "fastdrop_dropout_backward")) {
    return 1;
  }

  int64_t kept_count = 0;
  bool forward_is_dropout = true;
  bool backward_is_dropout = true;
  bool backwards_agree = true;
  for (int64_t i = 0; i < n; ++i) {
    const bool keep = kept(mask_bits, i);
    kept_count += keep;
    forward_is_dropout = forward_is_dropout && y[i] == (keep ? x[i] * scale : 0.0f);
    backward_is_dropout = backward_is_dropout && dx_from_bits[i] == (keep ? grad[i] * scale : 0.0f);
    backwards_agree = backwards_agree && dx_from_seed[i] == dx_from_bits[i];
  }
  const double kept_fraction = static_cast<double>(kept_count) / static_cast<double>(n);
  check(std::fabs(kept_fraction - (1.0 - p)) < 0.02, "about 1 - p of the elements are kept");
  check(forward_is_dropout, "forward: y = kept ? x / (1 - p) : 0");
  check(backward_is_dropout, "backward from the bits: the forward's map on the gradient");
  check(backwards_agree, "backward from the seed equals backward from the bits");

  // A call is a pure function of (seed, offset): the same seed gives the same output again, another
  // seed another mask.
  std::vector<float> y_same_seed(n), y_other_seed(n);
  if (!succeeded(fastdrop_dropout_forward(FASTDROP_FLOAT32, x.data(), y_same_seed.data(), n, p, seed, offset,
                                          nullptr, nullptr),
                 "fastdrop_dropout_forward") ||
      !succeeded(fastdrop_dropout_forward(FASTDROP_FLOAT32, x.data(), y_other_seed.data(), n, p, seed + 1,
                                          offset, nullptr, nullptr),
                 "fastdrop_dropout_forward")) {
    return 1;
  }
  check(y_same_seed == y, "the same seed gives the same output");
  check(y_other_seed != y, "another seed gives another output");

  // A bad argument is reported as a status, never fatal.
  const fastdrop_status bad_p = fastdrop_dropout_forward(FASTDROP_FLOAT32, x.data(), y_same_seed.data(), n,
                                                         1.5, seed, offset, nullptr, nullptr);
  check(bad_p == FASTDROP_ERROR_INVALID_VALUE, "p = 1.5 gives FASTDROP_ERROR_INVALID_VALUE");

  std::printf("fastdrop %s, CPU ISA %s, %d threads\n", fastdrop_version(),
              fastdrop_cpu_isa_name(fastdrop_cpu_isa_active()), fastdrop_get_num_threads());
  std::printf("dropout p = %.2f on %lld float32 values: %lld kept (%.3f, expected %.3f)\n", p,
              static_cast<long long>(n), static_cast<long long>(kept_count), kept_fraction, 1.0 - p);
  std::printf("p = 1.5 refused: %s\n", fastdrop_status_string(bad_p));
  if (g_failures) {
    std::fprintf(stderr, "%d check(s) failed\n", g_failures);
    return 1;
  }
  std::printf("forward, backward from the bits and backward from the seed agree: OK\n");
  return 0;
}
