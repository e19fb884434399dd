// The C ABI of the fused bias + dropout + residual add on the CPU: argument checks, then the call
// split into chunks across threads.
#include "api_common.h"
#include "bias_dropout_add_kernel.h"

namespace {

using fastdrop::cpu::single_run;
using fastdrop::cpu::valid_runs;

// Over the units of runs (nullptr: element i is unit i); the bias column of a chunk is that of its
// local start: a shard holds whole rows of its cols.
fastdrop_status bias_dropout_add_over(fastdrop_dtype dtype, const void* x, const void* bias, const void* residual,
                                      void* y, int64_t rows, int64_t cols, double p, uint64_t seed, uint64_t offset,
                                      const fastdrop_unit_runs* runs, uint8_t* mask_bits) {
  if (rows < 0 || cols < 0) return FASTDROP_ERROR_INVALID_VALUE;
  const int64_t n = rows * cols;
  const fastdrop_status status = fastdrop::cpu::check_elementwise_call(dtype, x, y, n, p);
  if (status != FASTDROP_SUCCESS) return status;
  if (n > 0 && !residual) return FASTDROP_ERROR_NULL_POINTER;
  const fastdrop_unit_runs call_runs = runs ? *runs : single_run(n);
  if (!valid_runs(&call_runs, n)) return FASTDROP_ERROR_INVALID_VALUE;
  const fastdrop::DropoutParams params = fastdrop::make_dropout_params(p, seed, offset);
  const fastdrop::cpu::BiasDropoutAddFn kernel =
      fastdrop::cpu::active<fastdrop::cpu::bias_dropout_add_kernels>()->forward[dtype];
  const size_t size = fastdrop::cpu::dtype_size(dtype);
  fastdrop::cpu::advise_huge_pages(y, static_cast<size_t>(n) * size);
  fastdrop::cpu::for_each_elementwise_run_chunk(n, call_runs, [&](int64_t start, uint64_t unit, int64_t len) {
    kernel(static_cast<const char*>(x) + start * size, bias, static_cast<const char*>(residual) + start * size,
           static_cast<char*>(y) + start * size, cols, start % (cols ? cols : 1), unit, len, params,
           mask_bits ? mask_bits + start / 8 : nullptr);
  });
  return FASTDROP_SUCCESS;
}

}  // namespace

extern "C" {

fastdrop_status fastdrop_bias_dropout_add_forward(fastdrop_dtype dtype, const void* x, const void* bias,
                                                  const void* residual, void* y, int64_t rows, int64_t cols,
                                                  double p, uint64_t seed, uint64_t offset, uint8_t* mask_bits) {
  return bias_dropout_add_over(dtype, x, bias, residual, y, rows, cols, p, seed, offset, nullptr, mask_bits);
}

fastdrop_status fastdrop_bias_dropout_add_forward_runs(fastdrop_dtype dtype, const void* x, const void* bias,
                                                       const void* residual, void* y, int64_t rows, int64_t cols,
                                                       double p, uint64_t seed, uint64_t offset,
                                                       const fastdrop_unit_runs* runs) {
  if (!runs) return FASTDROP_ERROR_INVALID_VALUE;
  return bias_dropout_add_over(dtype, x, bias, residual, y, rows, cols, p, seed, offset, runs, nullptr);
}

}  // extern "C"
