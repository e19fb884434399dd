// The C ABI of the fused bias + activation + dropout on the CPU: argument checks, then the call
// split into chunks across threads.
#include "api_common.h"
#include "bias_act_dropout_kernel.h"

namespace {

// Units per chunk: a multiple of 8, so that bit masks of different chunks never share a byte, and
// smaller than dropout's, as gelu costs several times a keep bit per unit (Gaussian dropout's).
constexpr int64_t kChunk = 1 << 13;
// Below this many units a call stays on the calling thread: waking threads costs more.
constexpr int64_t kParallelMin = 1 << 14;

// The checks every entry point shares; *table receives the active ISA's kernels.
fastdrop_status check_call(fastdrop_activation activation, fastdrop_dtype dtype, const void* in, const void* x,
                           const void* out, int64_t rows, int64_t cols, double p,
                           const fastdrop::cpu::bias_act_dropout_kernels** table) {
  if (!fastdrop::cpu::valid_dtype(dtype)) return FASTDROP_ERROR_UNSUPPORTED_DTYPE;
  if (activation < FASTDROP_ACTIVATION_RELU || activation > FASTDROP_ACTIVATION_GELU_TANH) {
    return FASTDROP_ERROR_INVALID_VALUE;
  }
  if (rows < 0 || cols < 0 || !fastdrop::cpu::valid_p(p)) return FASTDROP_ERROR_INVALID_VALUE;
  if (rows > 0 && cols > 0 && (!in || !x || !out)) return FASTDROP_ERROR_NULL_POINTER;
  *table = fastdrop::cpu::active<fastdrop::cpu::bias_act_dropout_kernels>();
  return *table ? FASTDROP_SUCCESS : FASTDROP_ERROR_ISA_UNAVAILABLE;
}

// The forward (dy null) or the backward over the units of runs (nullptr: element i is unit i);
// the backward reads its mask from bits_in when from_bits, else regenerates it from (seed, offset),
// and the forward writes its bits to bits_out when not null. Chunks never cross a run, and
// the bias column of a chunk is that of its local start: a shard holds whole rows of its cols.
fastdrop_status run_over(fastdrop_activation activation, fastdrop_dtype dtype, const void* dy, const void* x,
                         const void* bias, void* out, int64_t rows, int64_t cols, double p, uint64_t seed,
                         uint64_t offset, const fastdrop_unit_runs* runs, bool from_bits,
                         const uint8_t* bits_in, uint8_t* bits_out) {
  const fastdrop::cpu::bias_act_dropout_kernels* table;
  const fastdrop_status status = check_call(activation, dtype, dy ? dy : x, x, out, rows, cols, p, &table);
  if (status != FASTDROP_SUCCESS) return status;
  const int64_t n = rows * cols;
  if (from_bits && n > 0 && !bits_in) return FASTDROP_ERROR_NULL_POINTER;
  const fastdrop_unit_runs call_runs = runs ? *runs : fastdrop::cpu::single_run(n);
  if (!fastdrop::cpu::valid_runs(&call_runs, n)) return FASTDROP_ERROR_INVALID_VALUE;
  const fastdrop::DropoutParams params = fastdrop::make_dropout_params(p, seed, offset);
  const size_t size = fastdrop::cpu::dtype_size(dtype);
  fastdrop::cpu::advise_huge_pages(out, static_cast<size_t>(n) * size);
  char* o = static_cast<char*>(out);
  const char* xs = static_cast<const char*>(x);
  if (dy) {
    const fastdrop::cpu::BiasActBackwardFn kernel = table->backward[activation][dtype];
    const char* g = static_cast<const char*>(dy);
    fastdrop::cpu::for_each_run_chunk(n, call_runs, kChunk, kParallelMin,
                                      [&](int64_t start, uint64_t unit, int64_t len) {
                                        kernel(g + start * size, xs + start * size, bias, o + start * size,
                                               cols, start % cols, unit, len, params,
                                               bits_in ? bits_in + start / 8 : nullptr);
                                      });
  } else {
    const fastdrop::cpu::BiasActForwardFn kernel = table->forward[activation][dtype];
    fastdrop::cpu::for_each_run_chunk(n, call_runs, kChunk, kParallelMin,
                                      [&](int64_t start, uint64_t unit, int64_t len) {
                                        kernel(xs + start * size, bias, o + start * size, cols, start % cols,
                                               unit, len, params, bits_out ? bits_out + start / 8 : nullptr);
                                      });
  }
  return FASTDROP_SUCCESS;
}

}  // namespace

extern "C" {

fastdrop_status fastdrop_bias_act_dropout_forward(fastdrop_activation activation, fastdrop_dtype dtype,
                                                  const void* x, const void* bias, void* y, int64_t rows,
                                                  int64_t cols, double p, uint64_t seed, uint64_t offset,
                                                  uint8_t* mask_bits) {
  return run_over(activation, dtype, nullptr, x, bias, y, rows, cols, p, seed, offset, nullptr, false, nullptr, mask_bits);
}

fastdrop_status fastdrop_bias_act_dropout_backward(fastdrop_activation activation, fastdrop_dtype dtype,
                                                   const void* dy, const void* x, const void* bias, void* dx,
                                                   int64_t rows, int64_t cols, double p, uint64_t seed,
                                                   uint64_t offset) {
  return run_over(activation, dtype, dy, x, bias, dx, rows, cols, p, seed, offset, nullptr, false, nullptr, nullptr);
}

fastdrop_status fastdrop_bias_act_dropout_backward_bits(fastdrop_activation activation, fastdrop_dtype dtype,
                                                        const void* dy, const void* x, const void* bias, void* dx,
                                                        int64_t rows, int64_t cols, double p,
                                                        const uint8_t* mask_bits) {
  return run_over(activation, dtype, dy, x, bias, dx, rows, cols, p, 0, 0, nullptr, true, mask_bits, nullptr);
}

fastdrop_status fastdrop_bias_act_dropout_forward_runs(fastdrop_activation activation, fastdrop_dtype dtype,
                                                       const void* x, const void* bias, void* y, int64_t rows,
                                                       int64_t cols, double p, uint64_t seed, uint64_t offset,
                                                       const fastdrop_unit_runs* runs) {
  if (!runs) return FASTDROP_ERROR_INVALID_VALUE;
  return run_over(activation, dtype, nullptr, x, bias, y, rows, cols, p, seed, offset, runs, false, nullptr, nullptr);
}

fastdrop_status fastdrop_bias_act_dropout_backward_runs(fastdrop_activation activation, fastdrop_dtype dtype,
                                                        const void* dy, const void* x, const void* bias, void* dx,
                                                        int64_t rows, int64_t cols, double p, uint64_t seed,
                                                        uint64_t offset, const fastdrop_unit_runs* runs) {
  if (!runs) return FASTDROP_ERROR_INVALID_VALUE;
  return run_over(activation, dtype, dy, x, bias, dx, rows, cols, p, seed, offset, runs, false, nullptr, nullptr);
}

}  // extern "C"
