// The C ABI of the CPU kernels: argument checks, then the call split into chunks across threads.
#include "api_common.h"

namespace {

// Units per chunk: a multiple of 8 so that bit masks of different chunks never share a byte.
constexpr int64_t kChunk = 1 << 15;
// Below this many units a call stays on the calling thread: waking threads costs more.
constexpr int64_t kParallelMin = 1 << 16;
// Dimensions a broadcast apply takes; callers merge adjacent dimensions of the same kind first.
constexpr int kMaxDims = 16;

using fastdrop::cpu::advise_huge_pages;
using fastdrop::cpu::dtype_size;
using fastdrop::cpu::valid_dtype;
using fastdrop::cpu::valid_p;

template <class Body>
void for_each_chunk(int64_t n, Body body) {
  fastdrop::cpu::for_each_chunk(n, kChunk, kParallelMin, body);
}

// body(start, unit, len) over the runs' chunks; with a single run, chunks start at multiples of
// kChunk, so bit masks indexed from a chunk's start stay whole bytes.
template <class Body>
void for_each_run_chunk(int64_t n, const fastdrop_unit_runs& runs, Body body) {
  fastdrop::cpu::for_each_run_chunk(n, runs, kChunk, kParallelMin, body);
}

using fastdrop::cpu::single_run;
using fastdrop::cpu::valid_runs;

fastdrop_status check_common(fastdrop_dtype dtype, const void* in, const void* out, int64_t n,
                             double p) {
  if (!valid_dtype(dtype)) return FASTDROP_ERROR_UNSUPPORTED_DTYPE;
  if (n < 0 || !valid_p(p)) return FASTDROP_ERROR_INVALID_VALUE;
  if (n > 0 && (!in || !out)) return FASTDROP_ERROR_NULL_POINTER;
  if (!fastdrop::cpu::active_kernels()) return FASTDROP_ERROR_ISA_UNAVAILABLE;
  return FASTDROP_SUCCESS;
}

// check_common, and runs that tile the n elements: the checks of the elementwise _runs entry points.
fastdrop_status check_runs_call(fastdrop_dtype dtype, const void* in, const void* out, int64_t n, double p,
                                const fastdrop_unit_runs* runs) {
  const fastdrop_status status = check_common(dtype, in, out, n, p);
  if (status != FASTDROP_SUCCESS) return status;
  return valid_runs(runs, n) ? FASTDROP_SUCCESS : FASTDROP_ERROR_INVALID_VALUE;
}

// The forward of dropout (scale from params) over the units of runs; masks only for a single run.
fastdrop_status forward_over(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                             const fastdrop::DropoutParams& params, const fastdrop_unit_runs& runs,
                             uint8_t* mask_bits, bool* mask_bytes) {
  const fastdrop::cpu::ForwardFn forward = fastdrop::cpu::active_kernels()->forward[dtype];
  const size_t size = dtype_size(dtype);
  advise_huge_pages(y, static_cast<size_t>(n) * size);
  for_each_run_chunk(n, runs, [&](int64_t start, uint64_t unit, int64_t len) {
    forward(static_cast<const char*>(x) + start * size, static_cast<char*>(y) + start * size, unit, len, params,
            mask_bits ? mask_bits + start / 8 : nullptr, mask_bytes ? mask_bytes + start : nullptr);
  });
  return FASTDROP_SUCCESS;
}

fastdrop_status alpha_forward_over(fastdrop_dtype dtype, const void* x, void* y, int64_t n, double p, uint64_t seed,
                                   uint64_t offset, const fastdrop_unit_runs& runs, uint8_t* mask_bits) {
  const fastdrop::DropoutParams params = fastdrop::make_dropout_params(p, seed, offset);
  const fastdrop::AlphaParams alpha = fastdrop::make_alpha_params(p);
  const fastdrop::cpu::AlphaForwardFn forward = fastdrop::cpu::active_kernels()->alpha_forward[dtype];
  const size_t size = dtype_size(dtype);
  advise_huge_pages(y, static_cast<size_t>(n) * size);
  for_each_run_chunk(n, runs, [&](int64_t start, uint64_t unit, int64_t len) {
    forward(static_cast<const char*>(x) + start * size, static_cast<char*>(y) + start * size, unit, len, params, alpha,
            mask_bits ? mask_bits + start / 8 : nullptr);
  });
  return FASTDROP_SUCCESS;
}

// The backward is dropout's with the scale a in place of 1 / (1 - p).
fastdrop_status alpha_backward_over(fastdrop_dtype dtype, const void* dy, void* dx, int64_t n, double p,
                                    uint64_t seed, uint64_t offset, const fastdrop_unit_runs& runs) {
  fastdrop::DropoutParams params = fastdrop::make_dropout_params(p, seed, offset);
  const fastdrop::AlphaParams alpha = fastdrop::make_alpha_params(p);
  params.scale_f32 = alpha.f32.a;
  params.scale_f64 = alpha.f64.a;
  return forward_over(dtype, dy, dx, n, params, runs, nullptr, nullptr);
}

fastdrop_status bias_dropout_add_over(fastdrop_dtype dtype, const void* x, const void* bias, const void* residual,
                                      void* y, int64_t rows, int64_t cols, double p, uint64_t seed, uint64_t offset,
                                      const fastdrop_unit_runs* runs, uint8_t* mask_bits) {
  if (rows < 0 || cols < 0) return FASTDROP_ERROR_INVALID_VALUE;
  const int64_t n = rows * cols;
  const fastdrop_status status = check_common(dtype, x, y, n, p);
  if (status != FASTDROP_SUCCESS) return status;
  if (n > 0 && !residual) return FASTDROP_ERROR_NULL_POINTER;
  const fastdrop_unit_runs call_runs = runs ? *runs : single_run(n);
  if (!valid_runs(&call_runs, n)) return FASTDROP_ERROR_INVALID_VALUE;
  const fastdrop::cpu::FusedTable* fused = fastdrop::cpu::active_fused_kernels();
  const fastdrop::DropoutParams params = fastdrop::make_dropout_params(p, seed, offset);
  const fastdrop::cpu::BiasDropoutAddFn kernel = fused->bias_dropout_add[dtype];
  const size_t size = dtype_size(dtype);
  advise_huge_pages(y, static_cast<size_t>(n) * size);
  for_each_run_chunk(n, call_runs, [&](int64_t start, uint64_t unit, int64_t len) {
    kernel(static_cast<const char*>(x) + start * size, bias, static_cast<const char*>(residual) + start * size,
           static_cast<char*>(y) + start * size, cols, start % (cols ? cols : 1), unit, len, params,
           mask_bits ? mask_bits + start / 8 : nullptr);
  });
  return FASTDROP_SUCCESS;
}

// y = keep ? x * scale : 0 with the keep bits of mask_bits and the scale of params, arguments checked.
fastdrop_status apply_bits(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                           const fastdrop::DropoutParams& params, const uint8_t* mask_bits) {
  const fastdrop::cpu::BackwardBitsFn apply = fastdrop::cpu::active_kernels()->backward_bits[dtype];
  const size_t size = dtype_size(dtype);
  advise_huge_pages(y, static_cast<size_t>(n) * size);
  for_each_chunk(n, [&](int64_t start, int64_t len) {
    apply(static_cast<const char*>(x) + start * size, static_cast<char*>(y) + start * size, len, params,
          mask_bits + start / 8);
  });
  return FASTDROP_SUCCESS;
}

}  // namespace

extern "C" {

const char* fastdrop_status_string(fastdrop_status status) {
  switch (status) {
    case FASTDROP_SUCCESS:
      return "success";
    case FASTDROP_ERROR_INVALID_VALUE:
      return "invalid value: p must be in [0, 1] and counts non-negative";
    case FASTDROP_ERROR_UNSUPPORTED_DTYPE:
      return "unsupported dtype: expected float16, bfloat16, float32 or float64";
    case FASTDROP_ERROR_NULL_POINTER:
      return "null pointer for a non-empty array";
    case FASTDROP_ERROR_ISA_UNAVAILABLE:
      return "the requested CPU ISA is unknown or not supported by this CPU";
    case FASTDROP_ERROR_CUDA_UNAVAILABLE:
      return "CUDA is not available: not built, or no device found";
    case FASTDROP_ERROR_CUDA:
      return "a CUDA runtime call failed";
    case FASTDROP_ERROR_OUT_OF_MEMORY:
      return "out of memory for the kernel's workspace";
  }
  return "unknown status";
}

const char* fastdrop_version(void) { return FASTDROP_VERSION; }

fastdrop_status fastdrop_philox4x32_10(const uint32_t counter[4], const uint32_t key[2],
                                       uint32_t out[4]) {
  if (!counter || !key || !out) return FASTDROP_ERROR_NULL_POINTER;
  const fastdrop::PhiloxBlock block = fastdrop::philox4x32_10(
      fastdrop::PhiloxBlock{{counter[0], counter[1], counter[2], counter[3]}}, key[0], key[1]);
  for (int i = 0; i < 4; ++i) out[i] = block.v[i];
  return FASTDROP_SUCCESS;
}

fastdrop_status fastdrop_stream_words(uint64_t seed, uint64_t offset, uint64_t first, int64_t n,
                                      uint32_t* words) {
  if (n < 0) return FASTDROP_ERROR_INVALID_VALUE;
  if (n > 0 && !words) return FASTDROP_ERROR_NULL_POINTER;
  const fastdrop::cpu::KernelTable* kernels = fastdrop::cpu::active_kernels();
  if (!kernels) return FASTDROP_ERROR_ISA_UNAVAILABLE;
  for_each_chunk(n, [&](int64_t start, int64_t len) {
    kernels->stream_words(seed, offset, first + static_cast<uint64_t>(start), len, words + start);
  });
  return FASTDROP_SUCCESS;
}

fastdrop_status fastdrop_dropout_forward(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                         double p, uint64_t seed, uint64_t offset,
                                         uint8_t* mask_bits, bool* mask_bytes) {
  const fastdrop_status status = check_common(dtype, x, y, n, p);
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
  const fastdrop_status status = check_common(dtype, dy, dx, n, p);
  if (status != FASTDROP_SUCCESS) return status;
  if (n > 0 && !mask_bits) return FASTDROP_ERROR_NULL_POINTER;
  return apply_bits(dtype, dy, dx, n, fastdrop::make_dropout_params(p, 0, 0), mask_bits);
}

fastdrop_status fastdrop_apply_mask_bits_scale(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                               double scale, const uint8_t* mask_bits) {
  const fastdrop_status status = check_common(dtype, x, y, n, 0.0);
  if (status != FASTDROP_SUCCESS) return status;
  if (!isfinite(scale)) return FASTDROP_ERROR_INVALID_VALUE;
  if (n > 0 && !mask_bits) return FASTDROP_ERROR_NULL_POINTER;
  fastdrop::DropoutParams params = fastdrop::make_dropout_params(0.0, 0, 0);
  params.scale_f64 = scale;
  params.scale_f32 = static_cast<float>(scale);
  return apply_bits(dtype, x, y, n, params, mask_bits);
}

fastdrop_status fastdrop_dropout_mask_bits(int64_t n, double p, uint64_t seed, uint64_t offset,
                                           uint8_t* mask_bits) {
  if (n < 0 || !valid_p(p)) return FASTDROP_ERROR_INVALID_VALUE;
  if (n > 0 && !mask_bits) return FASTDROP_ERROR_NULL_POINTER;
  const fastdrop::cpu::KernelTable* kernels = fastdrop::cpu::active_kernels();
  if (!kernels) return FASTDROP_ERROR_ISA_UNAVAILABLE;
  const fastdrop::DropoutParams params = fastdrop::make_dropout_params(p, seed, offset);
  for_each_run_chunk(n, single_run(n), [&](int64_t start, uint64_t unit, int64_t len) {
    kernels->mask_bits(unit, len, params, mask_bits + start / 8);
  });
  return FASTDROP_SUCCESS;
}

fastdrop_status fastdrop_apply_mask_bits(fastdrop_apply_kind kind, fastdrop_dtype dtype, const void* x,
                                         void* y, int ndim, const int64_t* shape,
                                         const int64_t* unit_strides, double p,
                                         const uint8_t* unit_bits, int64_t unit_bits_size) {
  if (kind < FASTDROP_APPLY_DROPOUT || kind > FASTDROP_APPLY_ALPHA_GRAD) return FASTDROP_ERROR_INVALID_VALUE;
  if (!valid_dtype(dtype)) return FASTDROP_ERROR_UNSUPPORTED_DTYPE;
  if (ndim < 1 || ndim > kMaxDims || !valid_p(p)) return FASTDROP_ERROR_INVALID_VALUE;
  if (!shape || !unit_strides) return FASTDROP_ERROR_NULL_POINTER;
  int64_t n = 1;
  int64_t last_unit = 0;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] < 0 || unit_strides[d] < 0) return FASTDROP_ERROR_INVALID_VALUE;
    n *= shape[d];
    if (shape[d] > 0) last_unit += (shape[d] - 1) * unit_strides[d];
  }
  if (n > 0 && (!x || !y || !unit_bits)) return FASTDROP_ERROR_NULL_POINTER;
  if (n > 0 && unit_bits_size < last_unit / 8 + 1) return FASTDROP_ERROR_INVALID_VALUE;
  const fastdrop::cpu::ApplyRowTable* rows = fastdrop::cpu::active_apply_rows();
  if (!rows) return FASTDROP_ERROR_ISA_UNAVAILABLE;
  fastdrop::DropoutParams params = fastdrop::make_dropout_params(p, 0, 0);
  const fastdrop::AlphaParams alpha = fastdrop::make_alpha_params(p);
  if (kind == FASTDROP_APPLY_ALPHA_GRAD) {
    params.scale_f32 = alpha.f32.a;
    params.scale_f64 = alpha.f64.a;
  }
  const fastdrop::cpu::ApplyRowFn apply =
      kind == FASTDROP_APPLY_ALPHA ? rows->alpha[dtype] : rows->dropout[dtype];
  const size_t size = dtype_size(dtype);
  advise_huge_pages(y, static_cast<size_t>(n) * size);
  const int64_t row = shape[ndim - 1];
  for_each_chunk(n, [&](int64_t start, int64_t len) {
    // Walk the chunk row segment by row segment, tracking the index of its first element.
    int64_t index[kMaxDims];
    int64_t rest = start;
    for (int d = ndim - 1; d >= 0; --d) {
      index[d] = shape[d] ? rest % shape[d] : 0;
      rest = shape[d] ? rest / shape[d] : 0;
    }
    for (int64_t pos = start; pos < start + len;) {
      uint64_t unit = 0;
      for (int d = 0; d < ndim; ++d) unit += static_cast<uint64_t>(index[d] * unit_strides[d]);
      const int64_t in_row = row - index[ndim - 1];
      const int64_t seg = in_row < start + len - pos ? in_row : start + len - pos;
      apply(static_cast<const char*>(x) + pos * size, static_cast<char*>(y) + pos * size, seg, unit,
            unit_strides[ndim - 1], unit_bits, params, alpha);
      pos += seg;
      index[ndim - 1] += seg;
      for (int d = ndim - 1; d > 0 && index[d] == shape[d]; --d) {
        index[d] = 0;
        ++index[d - 1];
      }
    }
  });
  return FASTDROP_SUCCESS;
}

fastdrop_status fastdrop_alpha_dropout_forward(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                               double p, uint64_t seed, uint64_t offset,
                                               uint8_t* mask_bits) {
  const fastdrop_status status = check_common(dtype, x, y, n, p);
  if (status != FASTDROP_SUCCESS) return status;
  return alpha_forward_over(dtype, x, y, n, p, seed, offset, single_run(n), mask_bits);
}

fastdrop_status fastdrop_alpha_dropout_backward(fastdrop_dtype dtype, const void* dy, void* dx,
                                                int64_t n, double p, uint64_t seed, uint64_t offset) {
  const fastdrop_status status = check_common(dtype, dy, dx, n, p);
  if (status != FASTDROP_SUCCESS) return status;
  return alpha_backward_over(dtype, dy, dx, n, p, seed, offset, single_run(n));
}

fastdrop_status fastdrop_bias_dropout_add_forward(fastdrop_dtype dtype, const void* x, const void* bias,
                                                  const void* residual, void* y, int64_t rows, int64_t cols,
                                                  double p, uint64_t seed, uint64_t offset, uint8_t* mask_bits) {
  return bias_dropout_add_over(dtype, x, bias, residual, y, rows, cols, p, seed, offset, nullptr, mask_bits);
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
  const fastdrop::cpu::KernelTable* kernels = fastdrop::cpu::active_kernels();
  if (!kernels) return FASTDROP_ERROR_ISA_UNAVAILABLE;
  const fastdrop::DropoutParams params = fastdrop::make_dropout_params(p, seed, offset);
  const int64_t run_bytes = (runs->run_length + 7) / 8;
  for_each_run_chunk(n, *runs, [&](int64_t start, uint64_t unit, int64_t len) {
    const int64_t run = start / runs->run_length;
    const int64_t at = start % runs->run_length;
    kernels->mask_bits(unit, len, params, mask_bits + run * run_bytes + at / 8);
  });
  return FASTDROP_SUCCESS;
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

fastdrop_status fastdrop_bias_dropout_add_forward_runs(fastdrop_dtype dtype, const void* x, const void* bias,
                                                       const void* residual, void* y, int64_t rows, int64_t cols,
                                                       double p, uint64_t seed, uint64_t offset,
                                                       const fastdrop_unit_runs* runs) {
  if (!runs) return FASTDROP_ERROR_INVALID_VALUE;
  return bias_dropout_add_over(dtype, x, bias, residual, y, rows, cols, p, seed, offset, runs, nullptr);
}

bool fastdrop_cuda_built(void) { return FASTDROP_CUDA_BUILT != 0; }

#if !FASTDROP_CUDA_BUILT
fastdrop_status fastdrop_cuda_device_count(int* count) {
  if (count) *count = 0;
  return FASTDROP_ERROR_CUDA_UNAVAILABLE;
}
#endif

}  // extern "C"
