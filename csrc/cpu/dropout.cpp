// The C ABI of dropout on the CPU: argument checks, then the call split into chunks across threads.
#include "api_common.h"
#include "dropout_kernel.h"

namespace {

using fastdrop::cpu::advise_huge_pages;
using fastdrop::cpu::check_elementwise_call;
using fastdrop::cpu::check_runs_call;
using fastdrop::cpu::dtype_size;
using fastdrop::cpu::for_each_elementwise_chunk;
using fastdrop::cpu::for_each_elementwise_run_chunk;
using fastdrop::cpu::single_run;
using fastdrop::cpu::valid_p;
using fastdrop::cpu::valid_runs;

// The forward over the units of runs; masks only for a single run.
fastdrop_status forward_over(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                             const fastdrop::DropoutParams& params, const fastdrop_unit_runs& runs,
                             uint8_t* mask_bits, bool* mask_bytes) {
  const fastdrop::cpu::ForwardFn forward = fastdrop::cpu::active<fastdrop::cpu::dropout_kernels>()->forward[dtype];
  const size_t size = dtype_size(dtype);
  advise_huge_pages(y, static_cast<size_t>(n) * size);
  for_each_elementwise_run_chunk(n, runs, [&](int64_t start, uint64_t unit, int64_t len) {
    forward(static_cast<const char*>(x) + start * size, static_cast<char*>(y) + start * size, unit, len, params,
            mask_bits ? mask_bits + start / 8 : nullptr, mask_bytes ? mask_bytes + start : nullptr);
  });
  return FASTDROP_SUCCESS;
}

}  // namespace

extern "C" {

fastdrop_status fastdrop_stream_words(uint64_t seed, uint64_t offset, uint64_t first, int64_t n,
                                      uint32_t* words) {
  if (n < 0) return FASTDROP_ERROR_INVALID_VALUE;
  if (n > 0 && !words) return FASTDROP_ERROR_NULL_POINTER;
  const fastdrop::cpu::dropout_kernels* kernels = fastdrop::cpu::active<fastdrop::cpu::dropout_kernels>();
  if (!kernels) return FASTDROP_ERROR_ISA_UNAVAILABLE;
  for_each_elementwise_chunk(n, [&](int64_t start, int64_t len) {
    kernels->stream_words(seed, offset, first + static_cast<uint64_t>(start), len, words + start);
  });
  return FASTDROP_SUCCESS;
}

fastdrop_status fastdrop_dropout_forward(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                         double p, uint64_t seed, uint64_t offset,
                                         uint8_t* mask_bits, bool* mask_bytes) {
  const fastdrop_status status = check_elementwise_call(dtype, x, y, n, p);
  if (status != FASTDROP_SUCCESS) return status;
  return forward_over(dtype, x, y, n, fastdrop::make_dropout_params(p, seed, offset), single_run(n), mask_bits,
                      mask_bytes);
}

fastdrop_status fastdrop_dropout_backward(fastdrop_dtype dtype, const void* dy, void* dx,
                                          int64_t n, double p, uint64_t seed, uint64_t offset) {
  return fastdrop_dropout_forward(dtype, dy, dx, n, p, seed, offset, nullptr, nullptr);
}

fastdrop_status fastdrop_dropout_backward_bits(fastdrop_dtype dtype, const void* dy, void* dx,
                                               int64_t n, double p, const uint8_t* mask_bits) {
  const fastdrop_status status = check_elementwise_call(dtype, dy, dx, n, p);
  if (status != FASTDROP_SUCCESS) return status;
  if (n > 0 && !mask_bits) return FASTDROP_ERROR_NULL_POINTER;
  // The apply of bits with dropout's scale (finite: 1 / (1 - p), or 0 when p is 1).
  return fastdrop_apply_mask_bits_scale(dtype, dy, dx, n, fastdrop::make_dropout_params(p, 0, 0).scale_f64,
                                        mask_bits);
}

fastdrop_status fastdrop_dropout_mask_bits(int64_t n, double p, uint64_t seed, uint64_t offset,
                                           uint8_t* mask_bits) {
  if (n < 0 || !valid_p(p)) return FASTDROP_ERROR_INVALID_VALUE;
  if (n > 0 && !mask_bits) return FASTDROP_ERROR_NULL_POINTER;
  const fastdrop::cpu::dropout_kernels* kernels = fastdrop::cpu::active<fastdrop::cpu::dropout_kernels>();
  if (!kernels) return FASTDROP_ERROR_ISA_UNAVAILABLE;
  const fastdrop::DropoutParams params = fastdrop::make_dropout_params(p, seed, offset);
  for_each_elementwise_run_chunk(n, single_run(n), [&](int64_t start, uint64_t unit, int64_t len) {
    kernels->mask_bits(unit, len, params, mask_bits + start / 8);
  });
  return FASTDROP_SUCCESS;
}

fastdrop_status fastdrop_dropout_forward_runs(fastdrop_dtype dtype, const void* x, void* y, int64_t n, double p,
                                              uint64_t seed, uint64_t offset, const fastdrop_unit_runs* runs) {
  const fastdrop_status status = check_runs_call(dtype, x, y, n, p, runs);
  if (status != FASTDROP_SUCCESS) return status;
  return forward_over(dtype, x, y, n, fastdrop::make_dropout_params(p, seed, offset), *runs, nullptr, nullptr);
}

fastdrop_status fastdrop_dropout_mask_bits_runs(int64_t n, double p, uint64_t seed, uint64_t offset,
                                                const fastdrop_unit_runs* runs, uint8_t* mask_bits) {
  if (n < 0 || !valid_p(p) || !valid_runs(runs, n)) return FASTDROP_ERROR_INVALID_VALUE;
  if (n > 0 && !mask_bits) return FASTDROP_ERROR_NULL_POINTER;
  const fastdrop::cpu::dropout_kernels* kernels = fastdrop::cpu::active<fastdrop::cpu::dropout_kernels>();
  if (!kernels) return FASTDROP_ERROR_ISA_UNAVAILABLE;
  const fastdrop::DropoutParams params = fastdrop::make_dropout_params(p, seed, offset);
  const int64_t run_bytes = (runs->run_length + 7) / 8;
  for_each_elementwise_run_chunk(n, *runs, [&](int64_t start, uint64_t unit, int64_t len) {
    const int64_t run = start / runs->run_length;
    const int64_t at = start % runs->run_length;
    kernels->mask_bits(unit, len, params, mask_bits + run * run_bytes + at / 8);
  });
  return FASTDROP_SUCCESS;
}

}  // extern "C"
