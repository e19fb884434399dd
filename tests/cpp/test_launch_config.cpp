// The CUDA kernels' launch configuration and per-group work, on the CPU: the grid-stride loop
// visits every group (8 units, one mask byte) exactly once for any n and SM count, without
// overflow; and the kernels' group functions, replayed group by group, give the CPU ABI's outputs
// and masks bit for bit.
#include <stdint.h>
#include <string.h>

#include <vector>

#include "check.h"
#include "fastdrop/fastdrop.h"
#include "launch_config.h"

using namespace fastdrop;
using namespace fastdrop::cuda;

namespace {

// Replays the kernels' loop (g = thread; g < groups; g += blocks * threads) and counts the visits
// of each group and the units they cover.
void check_coverage(int64_t n, int sm_count) {
  const LaunchConfig config = launch_config(n, sm_count);
  std::vector<int> visits(static_cast<size_t>(config.groups), 0);
  const uint64_t stride = static_cast<uint64_t>(config.blocks) * config.threads;
  int64_t units = 0;
  for (uint64_t thread = 0; thread < stride; ++thread) {
    for (uint64_t g = thread; g < static_cast<uint64_t>(config.groups); g += stride) {
      ++visits[g];
      const int valid = units_in_group(g, static_cast<uint64_t>(n));
      CHECK(valid == kUnitsPerGroup || g + 1 == static_cast<uint64_t>(config.groups),
            "n=%lld: only the last group may be partial", (long long)n);
      CHECK(valid >= 1 && valid <= kUnitsPerGroup, "n=%lld g=%llu: %d units", (long long)n,
            (unsigned long long)g, valid);
      units += valid;
    }
  }
  for (int64_t g = 0; g < config.groups; ++g) {
    CHECK(visits[g] == 1, "n=%lld sms=%d: group %lld visited %d times", (long long)n, sm_count,
          (long long)g, visits[g]);
  }
  CHECK(units == n, "n=%lld sms=%d: %lld units covered", (long long)n, sm_count, (long long)units);
}

void check_shape(int64_t n, int sm_count) {
  const LaunchConfig config = launch_config(n, sm_count);
  const int64_t groups = n == 0 ? 0 : (n - 1) / 8 + 1;
  CHECK(config.groups == groups, "n=%lld: %lld groups", (long long)n, (long long)config.groups);
  CHECK(config.threads == static_cast<uint32_t>(kThreadsPerBlock) && config.threads % 32 == 0,
        "whole warps");
  CHECK((config.blocks == 0) == (n == 0), "n=%lld: %u blocks", (long long)n, config.blocks);
  const int64_t cap = static_cast<int64_t>(sm_count < 1 ? 1 : sm_count) * kBlocksPerSm;
  CHECK(config.blocks <= cap && config.blocks <= 0x7fffffffu,
        "n=%lld sms=%d: %u blocks over the cap", (long long)n, sm_count, config.blocks);
  // No block without work, and as many blocks as the work fills up to the cap.
  const int64_t needed = (groups + kThreadsPerBlock - 1) / kThreadsPerBlock;
  CHECK(config.blocks == (needed < cap ? needed : cap), "n=%lld sms=%d: %u blocks", (long long)n,
        sm_count, config.blocks);
}

// Inputs with a spread of magnitudes and signs, NaN-free.
template <class T>
std::vector<T> make_input(int64_t n) {
  std::vector<T> x(static_cast<size_t>(n));
  uint32_t state = 12345;
  for (T& v : x) {
    state = state * 1664525u + 1013904223u;
    const float f = (static_cast<float>(state >> 8) / 16777216.0f - 0.5f) * 8.0f;
    v = from_compute(static_cast<typename ComputeType<T>::type>(f), T{});
  }
  return x;
}

// What forward_kernel and backward_bits_kernel do with each group, against the CPU ABI.
template <class T>
void check_group_work(fastdrop_dtype dtype) {
  const int64_t sizes[] = {0, 1, 7, 8, 9, 17, 1000, 4099};
  const double ps[] = {0.0, 0.3, 0.9, 1.0};
  for (int64_t n : sizes) {
    const std::vector<T> x = make_input<T>(n);
    for (double p : ps) {
      const uint64_t seed = 0x0123456789abcdefull + static_cast<uint64_t>(n);
      const uint64_t offset = 99;
      std::vector<T> want(n), want_dx(n), got(n), got_dx(n);
      std::vector<uint8_t> want_bits((n + 7) / 8), got_bits((n + 7) / 8);
      CHECK(fastdrop_dropout_forward(dtype, x.data(), want.data(), n, p, seed, offset,
                                     want_bits.data(), nullptr) == FASTDROP_SUCCESS, "forward");
      CHECK(fastdrop_dropout_backward_bits(dtype, x.data(), want_dx.data(), n, p,
                                           want_bits.data()) == FASTDROP_SUCCESS, "backward");
      const DropoutParams params = make_dropout_params(p, seed, offset);
      const auto scale = scale_of(params, typename ComputeType<T>::type{});
      const LaunchConfig config = launch_config(n, 4);
      for (int64_t g = 0; g < config.groups; ++g) {
        const uint32_t keep = group_keep_bits(params, g, n);
        const int valid = units_in_group(g, n);
        got_bits[g] = static_cast<uint8_t>(keep);
        apply_group_elementwise(&x[8 * g], &got[8 * g], keep, valid, scale);
        apply_group_elementwise(&x[8 * g], &got_dx[8 * g], want_bits[g], valid, scale);
      }
      const size_t bytes = static_cast<size_t>(n) * sizeof(T);
      CHECK(got_bits == want_bits, "dtype=%d n=%lld p=%g: mask bytes", dtype, (long long)n, p);
      CHECK(n == 0 || memcmp(got.data(), want.data(), bytes) == 0, "dtype=%d n=%lld p=%g: forward",
            dtype, (long long)n, p);
      CHECK(n == 0 || memcmp(got_dx.data(), want_dx.data(), bytes) == 0,
            "dtype=%d n=%lld p=%g: backward from bits", dtype, (long long)n, p);
    }
  }
}

}  // namespace

int main() {
  const int sm_counts[] = {-1, 0, 1, 2, 40, 132, 100000};
  for (int sms : sm_counts) {
    for (int64_t n = 0; n <= 4200; ++n) check_shape(n, sms);
    const int64_t large[] = {(int64_t{1} << 31) - 1, int64_t{1} << 31, (int64_t{1} << 32) + 9,
                             int64_t{1} << 40, INT64_MAX};
    for (int64_t n : large) check_shape(n, sms);
  }
  // Few SMs make threads loop; many give one group per thread.
  const int64_t coverage_sizes[] = {1, 7, 8, 9, 255, 2048, 2049, 16384 + 3, 100003};
  for (int sms : {1, 3, 132}) {
    for (int64_t n : coverage_sizes) check_coverage(n, sms);
  }
  CHECK(units_in_group((uint64_t{1} << 60) - 1, uint64_t{1} << 63) == kUnitsPerGroup,
        "no overflow at the top of the index range");
  CHECK(units_in_group(UINT64_MAX / 8, UINT64_MAX) == 7, "last group of the largest range");

  alignas(16) static char buffer[64];
  CHECK(vector_aligned(buffer) && vector_aligned(buffer + 16) && vector_aligned(buffer + 48),
        "16-byte aligned addresses");
  CHECK(!vector_aligned(buffer + 2) && !vector_aligned(buffer + 4) && !vector_aligned(buffer + 8),
        "misaligned addresses");

  check_group_work<float16_bits>(FASTDROP_FLOAT16);
  check_group_work<bfloat16_bits>(FASTDROP_BFLOAT16);
  check_group_work<float>(FASTDROP_FLOAT32);
  check_group_work<double>(FASTDROP_FLOAT64);
  return finish("test_launch_config");
}
