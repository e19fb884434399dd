// The C ABI of the fused bias + activation + dropout on the CPU: argument checks, then the call
// split into chunks across threads (as api.cpp does for the other variants).
#include "api_common.h"
#include "bias_act_table.h"

namespace {

// Units per chunk: a multiple of 8, so that bit masks of different chunks never share a byte, and
// smaller than dropout's, as gelu costs several times a keep bit per unit (Gaussian dropout's).
constexpr int64_t kChunk = 1 << 13;
// Below this many units a call stays on the calling thread: waking threads costs more.
constexpr int64_t kParallelMin = 1 << 14;

// The checks every entry point shares; *table receives the active ISA's kernels.
fastdrop_status check_call(fastdrop_activation activation, fastdrop_dtype dtype, const void* in, const void* x,
                           const void* out, int64_t rows, int64_t cols, double p,
                           const fastdrop::cpu::BiasActTable** table) {
  if (!fastdrop::cpu::valid_dtype(dtype)) return FASTDROP_ERROR_UNSUPPORTED_DTYPE;
  if (activation < FASTDROP_ACTIVATION_RELU || activation > FASTDROP_ACTIVATION_GELU_TANH) {
    return FASTDROP_ERROR_INVALID_VALUE;
  }
  if (rows < 0 || cols < 0 || !fastdrop::cpu::valid_p(p)) return FASTDROP_ERROR_INVALID_VALUE;
  if (rows > 0 && cols > 0 && (!in || !x || !out)) return FASTDROP_ERROR_NULL_POINTER;
  *table = fastdrop::cpu::pick(&fastdrop::cpu::scalar::bias_act_kernels, &fastdrop::cpu::avx2::bias_act_kernels,
                               &fastdrop::cpu::avx512::bias_act_kernels);
  return *table ? FASTDROP_SUCCESS : FASTDROP_ERROR_ISA_UNAVAILABLE;
}

// The backward with the mask read from mask_bits (from_bits) or regenerated from (seed, offset).
fastdrop_status backward(fastdrop_activation activation, fastdrop_dtype dtype, const void* dy, const void* x,
                         const void* bias, void* dx, int64_t rows, int64_t cols, double p, uint64_t seed,
                         uint64_t offset, bool from_bits, const uint8_t* mask_bits) {
  const fastdrop::cpu::BiasActTable* table;
  const fastdrop_status status = check_call(activation, dtype, dy, x, dx, rows, cols, p, &table);
  if (status != FASTDROP_SUCCESS) return status;
  const int64_t n = rows * cols;
  if (from_bits && n > 0 && !mask_bits) return FASTDROP_ERROR_NULL_POINTER;
  const fastdrop::DropoutParams params = fastdrop::make_dropout_params(p, seed, offset);
  const fastdrop::cpu::BiasActBackwardFn kernel = table->backward[activation][dtype];
  const size_t size = fastdrop::cpu::dtype_size(dtype);
  fastdrop::cpu::advise_huge_pages(dx, static_cast<size_t>(n) * size);
  fastdrop::cpu::for_each_chunk(n, kChunk, kParallelMin, [&](int64_t start, int64_t len) {
    kernel(static_cast<const char*>(dy) + start * size, static_cast<const char*>(x) + start * size, bias,
           static_cast<char*>(dx) + start * size, cols, static_cast<uint64_t>(start), len, params,
           mask_bits ? mask_bits + start / 8 : nullptr);
  });
  return FASTDROP_SUCCESS;
}

}  // namespace

extern "C" {

fastdrop_status fastdrop_bias_act_dropout_forward(fastdrop_activation activation, fastdrop_dtype dtype,
                                                  const void* x, const void* bias, void* y, int64_t rows,
                                                  int64_t cols, double p, uint64_t seed, uint64_t offset,
                                                  uint8_t* mask_bits) {
  const fastdrop::cpu::BiasActTable* table;
  const fastdrop_status status = check_call(activation, dtype, x, x, y, rows, cols, p, &table);
  if (status != FASTDROP_SUCCESS) return status;
  const int64_t n = rows * cols;
  const fastdrop::DropoutParams params = fastdrop::make_dropout_params(p, seed, offset);
  const fastdrop::cpu::BiasActForwardFn kernel = table->forward[activation][dtype];
  const size_t size = fastdrop::cpu::dtype_size(dtype);
  fastdrop::cpu::advise_huge_pages(y, static_cast<size_t>(n) * size);
  fastdrop::cpu::for_each_chunk(n, kChunk, kParallelMin, [&](int64_t start, int64_t len) {
    kernel(static_cast<const char*>(x) + start * size, bias, static_cast<char*>(y) + start * size, cols,
           static_cast<uint64_t>(start), len, params, mask_bits ? mask_bits + start / 8 : nullptr);
  });
  return FASTDROP_SUCCESS;
}

fastdrop_status fastdrop_bias_act_dropout_backward(fastdrop_activation activation, fastdrop_dtype dtype,
                                                   const void* dy, const void* x, const void* bias, void* dx,
                                                   int64_t rows, int64_t cols, double p, uint64_t seed,
                                                   uint64_t offset) {
  return backward(activation, dtype, dy, x, bias, dx, rows, cols, p, seed, offset, false, nullptr);
}

fastdrop_status fastdrop_bias_act_dropout_backward_bits(fastdrop_activation activation, fastdrop_dtype dtype,
                                                        const void* dy, const void* x, const void* bias, void* dx,
                                                        int64_t rows, int64_t cols, double p,
                                                        const uint8_t* mask_bits) {
  return backward(activation, dtype, dy, x, bias, dx, rows, cols, p, 0, 0, true, mask_bits);
}

}  // extern "C"
