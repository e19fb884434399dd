// The C ABI of Gaussian dropout on the CPU: argument checks, then the call split into chunks
// across threads.
#include "api_common.h"
#include "gaussian_dropout_kernel.h"

namespace {

// Units per chunk: even, so that both units of a Box–Muller pair are in the same chunk, and
// smaller than dropout's: a unit's noise costs several times its keep bit, so threads pay off
// from fewer units on.
constexpr int64_t kChunk = 1 << 13;
// Below this many units a call stays on the calling thread: waking threads costs more.
constexpr int64_t kParallelMin = 1 << 14;

// Runs whose every chunk starts at an even unit: then no chunk splits a Box–Muller pair.
bool pair_aligned(const fastdrop_unit_runs& runs) {
  return runs.first % 2 == 0 && runs.run_length % 2 == 0 && runs.run_stride % 2 == 0;
}

fastdrop_status gaussian_apply(fastdrop_dtype dtype, const void* in, void* out, int64_t n, double p,
                               uint64_t seed, uint64_t offset, const fastdrop_unit_runs* runs) {
  if (!fastdrop::cpu::valid_dtype(dtype)) return FASTDROP_ERROR_UNSUPPORTED_DTYPE;
  // Gaussian dropout's rate is in [0, 1): p = 1 would need an infinite variance.
  if (n < 0 || isnan(p) || p < 0.0 || p >= 1.0) return FASTDROP_ERROR_INVALID_VALUE;
  if (n > 0 && (!in || !out)) return FASTDROP_ERROR_NULL_POINTER;
  const fastdrop_unit_runs call_runs = runs ? *runs : fastdrop::cpu::single_run(n);
  if (!fastdrop::cpu::valid_runs(&call_runs, n) || (runs && !pair_aligned(*runs))) return FASTDROP_ERROR_INVALID_VALUE;
  const fastdrop::cpu::gaussian_dropout_kernels* table =
      fastdrop::cpu::active<fastdrop::cpu::gaussian_dropout_kernels>();
  if (!table) return FASTDROP_ERROR_ISA_UNAVAILABLE;
  const fastdrop::GaussianParams params = fastdrop::make_gaussian_params(p, seed, offset);
  const fastdrop::cpu::GaussianFn apply = table->apply[dtype];
  const size_t size = fastdrop::cpu::dtype_size(dtype);
  fastdrop::cpu::advise_huge_pages(out, static_cast<size_t>(n) * size);
  fastdrop::cpu::for_each_run_chunk(n, call_runs, kChunk, kParallelMin, [&](int64_t start, uint64_t unit, int64_t len) {
    apply(static_cast<const char*>(in) + start * size, static_cast<char*>(out) + start * size, unit, len, params);
  });
  return FASTDROP_SUCCESS;
}

}  // namespace

extern "C" {

fastdrop_status fastdrop_gaussian_dropout_forward(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                                  double p, uint64_t seed, uint64_t offset) {
  return gaussian_apply(dtype, x, y, n, p, seed, offset, nullptr);
}

fastdrop_status fastdrop_gaussian_dropout_backward(fastdrop_dtype dtype, const void* dy, void* dx, int64_t n,
                                                   double p, uint64_t seed, uint64_t offset) {
  // dx = dy * n with the same noise: the forward's map applied to the gradient.
  return gaussian_apply(dtype, dy, dx, n, p, seed, offset, nullptr);
}

fastdrop_status fastdrop_gaussian_dropout_forward_runs(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                                       double p, uint64_t seed, uint64_t offset,
                                                       const fastdrop_unit_runs* runs) {
  if (!runs) return FASTDROP_ERROR_INVALID_VALUE;
  return gaussian_apply(dtype, x, y, n, p, seed, offset, runs);
}

fastdrop_status fastdrop_gaussian_dropout_backward_runs(fastdrop_dtype dtype, const void* dy, void* dx, int64_t n,
                                                        double p, uint64_t seed, uint64_t offset,
                                                        const fastdrop_unit_runs* runs) {
  if (!runs) return FASTDROP_ERROR_INVALID_VALUE;
  return gaussian_apply(dtype, dy, dx, n, p, seed, offset, runs);
}

}  // extern "C"
