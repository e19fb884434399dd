// The C ABI that applies stored keep bits on the CPU: the units family (spatial, locked and
// noise_shape dropout, feature alpha dropout, stochastic depth), whose units are shared by many
// elements, and the apply of element bits with a given scale (DropBlock's second pass, backwards
// from bits).
#include "api_common.h"
#include "apply_mask_bits_kernel.h"
#include "dropout_kernel.h"

namespace {

// Dimensions an apply takes; callers merge adjacent dimensions of the same kind first.
constexpr int kMaxDims = 16;

using fastdrop::cpu::advise_huge_pages;
using fastdrop::cpu::dtype_size;
using fastdrop::cpu::for_each_elementwise_chunk;
using fastdrop::cpu::valid_dtype;
using fastdrop::cpu::valid_p;

}  // namespace

extern "C" {

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
  const fastdrop::cpu::apply_mask_bits_kernels* rows =
      fastdrop::cpu::active<fastdrop::cpu::apply_mask_bits_kernels>();
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
  for_each_elementwise_chunk(n, [&](int64_t start, int64_t len) {
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

fastdrop_status fastdrop_apply_mask_bits_scale(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                               double scale, const uint8_t* mask_bits) {
  const fastdrop_status status = fastdrop::cpu::check_elementwise_call(dtype, x, y, n, 0.0);
  if (status != FASTDROP_SUCCESS) return status;
  if (!isfinite(scale)) return FASTDROP_ERROR_INVALID_VALUE;
  if (n > 0 && !mask_bits) return FASTDROP_ERROR_NULL_POINTER;
  // Dropout's backward from bits, whose kernel reads only the scale of its params.
  fastdrop::DropoutParams params = fastdrop::make_dropout_params(0.0, 0, 0);
  params.scale_f64 = scale;
  params.scale_f32 = static_cast<float>(scale);
  const fastdrop::cpu::BackwardBitsFn apply =
      fastdrop::cpu::active<fastdrop::cpu::dropout_kernels>()->backward_bits[dtype];
  const size_t size = dtype_size(dtype);
  advise_huge_pages(y, static_cast<size_t>(n) * size);
  for_each_elementwise_chunk(n, [&](int64_t start, int64_t len) {
    apply(static_cast<const char*>(x) + start * size, static_cast<char*>(y) + start * size, len, params,
          mask_bits + start / 8);
  });
  return FASTDROP_SUCCESS;
}

}  // extern "C"
