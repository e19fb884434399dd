// The C ABI of alpha dropout on the CPU: argument checks, then the call split into chunks across
// threads.
#include "alpha_dropout_kernel.h"
#include "api_common.h"
#include "dropout_kernel.h"

namespace {

using fastdrop::cpu::advise_huge_pages;
using fastdrop::cpu::check_elementwise_call;
using fastdrop::cpu::check_runs_call;
using fastdrop::cpu::dtype_size;
using fastdrop::cpu::for_each_elementwise_run_chunk;
using fastdrop::cpu::single_run;

fastdrop_status alpha_forward_over(fastdrop_dtype dtype, const void* x, void* y, int64_t n, double p, uint64_t seed,
                                   uint64_t offset, const fastdrop_unit_runs& runs, uint8_t* mask_bits) {
  const fastdrop::DropoutParams params = fastdrop::make_dropout_params(p, seed, offset);
  const fastdrop::AlphaParams alpha = fastdrop::make_alpha_params(p);
  const fastdrop::cpu::AlphaForwardFn forward =
      fastdrop::cpu::active<fastdrop::cpu::alpha_dropout_kernels>()->forward[dtype];
  const size_t size = dtype_size(dtype);
  advise_huge_pages(y, static_cast<size_t>(n) * size);
  for_each_elementwise_run_chunk(n, runs, [&](int64_t start, uint64_t unit, int64_t len) {
    forward(static_cast<const char*>(x) + start * size, static_cast<char*>(y) + start * size, unit, len, params, alpha,
            mask_bits ? mask_bits + start / 8 : nullptr);
  });
  return FASTDROP_SUCCESS;
}

// The backward is dropout's forward with the scale a in place of 1 / (1 - p).
fastdrop_status alpha_backward_over(fastdrop_dtype dtype, const void* dy, void* dx, int64_t n, double p,
                                    uint64_t seed, uint64_t offset, const fastdrop_unit_runs& runs) {
  fastdrop::DropoutParams params = fastdrop::make_dropout_params(p, seed, offset);
  const fastdrop::AlphaParams alpha = fastdrop::make_alpha_params(p);
  params.scale_f32 = alpha.f32.a;
  params.scale_f64 = alpha.f64.a;
  const fastdrop::cpu::ForwardFn forward = fastdrop::cpu::active<fastdrop::cpu::dropout_kernels>()->forward[dtype];
  const size_t size = dtype_size(dtype);
  advise_huge_pages(dx, static_cast<size_t>(n) * size);
  for_each_elementwise_run_chunk(n, runs, [&](int64_t start, uint64_t unit, int64_t len) {
    forward(static_cast<const char*>(dy) + start * size, static_cast<char*>(dx) + start * size, unit, len, params,
            nullptr, nullptr);
  });
  return FASTDROP_SUCCESS;
}

}  // namespace

extern "C" {

fastdrop_status fastdrop_alpha_dropout_forward(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                               double p, uint64_t seed, uint64_t offset,
                                               uint8_t* mask_bits) {
  const fastdrop_status status = check_elementwise_call(dtype, x, y, n, p);
  if (status != FASTDROP_SUCCESS) return status;
  return alpha_forward_over(dtype, x, y, n, p, seed, offset, single_run(n), mask_bits);
}

fastdrop_status fastdrop_alpha_dropout_backward(fastdrop_dtype dtype, const void* dy, void* dx,
                                                int64_t n, double p, uint64_t seed, uint64_t offset) {
  const fastdrop_status status = check_elementwise_call(dtype, dy, dx, n, p);
  if (status != FASTDROP_SUCCESS) return status;
  return alpha_backward_over(dtype, dy, dx, n, p, seed, offset, single_run(n));
}

fastdrop_status fastdrop_alpha_dropout_forward_runs(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                                    double p, uint64_t seed, uint64_t offset,
                                                    const fastdrop_unit_runs* runs) {
  const fastdrop_status status = check_runs_call(dtype, x, y, n, p, runs);
  if (status != FASTDROP_SUCCESS) return status;
  return alpha_forward_over(dtype, x, y, n, p, seed, offset, *runs, nullptr);
}

fastdrop_status fastdrop_alpha_dropout_backward_runs(fastdrop_dtype dtype, const void* dy, void* dx, int64_t n,
                                                     double p, uint64_t seed, uint64_t offset,
                                                     const fastdrop_unit_runs* runs) {
  const fastdrop_status status = check_runs_call(dtype, dy, dx, n, p, runs);
  if (status != FASTDROP_SUCCESS) return status;
  return alpha_backward_over(dtype, dy, dx, n, p, seed, offset, *runs);
}

}  // extern "C"
