/* fastdrop C ABI: fused dropout kernels usable from any language or framework.
 *
 * Every function returns a fastdrop_status and never aborts the process. Arrays are contiguous,
 * in row-major (C) order of the logical shape: element i is unit i of the randomness contract
 * (DESIGN.md), so the mask depends only on (seed, offset, i), never on the ISA or thread count.
 * Functions are thread-safe: they keep no state between calls apart from the settings below. */
#ifndef FASTDROP_FASTDROP_H
#define FASTDROP_FASTDROP_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fastdrop_status {
  FASTDROP_SUCCESS = 0,
  FASTDROP_ERROR_INVALID_VALUE = 1,     /* p outside [0, 1] or NaN, negative count, unknown name */
  FASTDROP_ERROR_UNSUPPORTED_DTYPE = 2, /* dtype is not one of fastdrop_dtype */
  FASTDROP_ERROR_NULL_POINTER = 3,      /* a required pointer is NULL while the count is not 0 */
  FASTDROP_ERROR_ISA_UNAVAILABLE = 4,   /* the CPU ISA asked for (or FASTDROP_CPU_ISA) is absent */
  FASTDROP_ERROR_CUDA_UNAVAILABLE = 5,  /* CUDA support not built, or no device found */
  FASTDROP_ERROR_CUDA = 6               /* a CUDA runtime call failed */
} fastdrop_status;

typedef enum fastdrop_dtype {
  FASTDROP_FLOAT16 = 0,  /* IEEE binary16, computed in float32 */
  FASTDROP_BFLOAT16 = 1, /* bfloat16, computed in float32 */
  FASTDROP_FLOAT32 = 2,
  FASTDROP_FLOAT64 = 3
} fastdrop_dtype;

typedef enum fastdrop_cpu_isa {
  FASTDROP_ISA_SCALAR = 0,
  FASTDROP_ISA_AVX2 = 1,
  FASTDROP_ISA_AVX512 = 2
} fastdrop_cpu_isa;

/* A short English description of a status code. */
const char* fastdrop_status_string(fastdrop_status status);
const char* fastdrop_version(void);

/* Philox4x32-10 of one counter under one key, as Random123 defines it. */
fastdrop_status fastdrop_philox4x32_10(const uint32_t counter[4], const uint32_t key[2],
                                       uint32_t out[4]);

/* words[i] = the 32-bit word of unit (first + i) of call (seed, offset), for 0 <= i < n. */
fastdrop_status fastdrop_stream_words(uint64_t seed, uint64_t offset, uint64_t first, int64_t n,
                                      uint32_t* words);

/* y = dropout(x) over n elements. mask_bits (ceil(n / 8) bytes, bit i & 7 of byte i >> 3) and
 * mask_bytes (n bools) are written when not NULL. y may equal x (in place). */
fastdrop_status fastdrop_dropout_forward(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                         double p, uint64_t seed, uint64_t offset,
                                         uint8_t* mask_bits, bool* mask_bytes);

/* dx = dropout backward of dy, the mask regenerated from (seed, offset): nothing was stored. */
fastdrop_status fastdrop_dropout_backward(fastdrop_dtype dtype, const void* dy, void* dx,
                                          int64_t n, double p, uint64_t seed, uint64_t offset);

/* dx = dropout backward of dy with the mask read from mask_bits as written by the forward. */
fastdrop_status fastdrop_dropout_backward_bits(fastdrop_dtype dtype, const void* dy, void* dx,
                                               int64_t n, double p, const uint8_t* mask_bits);

/* Keep bits alone for units [0, n) of call (seed, offset): bit i & 7 of byte i >> 3 (ceil(n / 8)
 * bytes, bits past n are 0). The units of broadcast dropout (a noise shape, one unit per channel
 * for spatial dropout, per sample for stochastic depth) are drawn with it. */
fastdrop_status fastdrop_dropout_mask_bits(int64_t n, double p, uint64_t seed, uint64_t offset,
                                           uint8_t* mask_bits);

/* What fastdrop_apply_mask_bits does with an element x of a unit whose keep bit is k. */
typedef enum fastdrop_apply_kind {
  FASTDROP_APPLY_DROPOUT = 0,   /* k ? x / (1 - p) : 0: dropout forward and backward */
  FASTDROP_APPLY_ALPHA = 1,     /* k ? a x + a alpha p : a alpha (p - 1): alpha dropout forward */
  FASTDROP_APPLY_ALPHA_GRAD = 2 /* k ? a x : 0: alpha dropout backward */
} fastdrop_apply_kind;

/* y = kind(x, keep bit of the element's unit) for a contiguous array x of `ndim` dimensions
 * `shape` (row-major), where the element at index (i_0, ..., i_{ndim-1}) belongs to unit
 * sum_d i_d * unit_strides[d] (a stride of 0 broadcasts the mask along that dimension), and the
 * keep bits of the units are read from unit_bits (unit_bits_size bytes) as
 * fastdrop_dropout_mask_bits writes them; FASTDROP_ERROR_INVALID_VALUE if they do not cover every
 * unit reached. 1 <= ndim <= 16. y may equal x. */
fastdrop_status fastdrop_apply_mask_bits(fastdrop_apply_kind kind, fastdrop_dtype dtype, const void* x,
                                         void* y, int ndim, const int64_t* shape,
                                         const int64_t* unit_strides, double p,
                                         const uint8_t* unit_bits, int64_t unit_bits_size);

/* Alpha dropout (PyTorch's constants), fused like fastdrop_dropout_forward; mask_bits optional. */
fastdrop_status fastdrop_alpha_dropout_forward(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                               double p, uint64_t seed, uint64_t offset,
                                               uint8_t* mask_bits);

/* Alpha dropout's backward, dx = keep ? a dy : 0, the mask regenerated from (seed, offset). */
fastdrop_status fastdrop_alpha_dropout_backward(fastdrop_dtype dtype, const void* dy, void* dx,
                                                int64_t n, double p, uint64_t seed, uint64_t offset);

/* Fused bias + dropout + residual add over (rows, cols) row-major data: y = residual + dropout(x +
 * bias), bias of cols values broadcast over the rows (NULL for none), computed in the compute type
 * and rounded once. mask_bits (optional) receives the keep bits as fastdrop_dropout_forward writes
 * them; the gradient of x is then fastdrop_dropout_backward_bits of dy (or fastdrop_dropout_backward
 * from (seed, offset)), that of the residual dy itself, that of the bias the column sums of x's. */
fastdrop_status fastdrop_bias_dropout_add_forward(fastdrop_dtype dtype, const void* x, const void* bias,
                                                  const void* residual, void* y, int64_t rows, int64_t cols,
                                                  double p, uint64_t seed, uint64_t offset, uint8_t* mask_bits);

/* CPU ISA in use. The best the CPU supports unless FASTDROP_CPU_ISA (scalar, avx2, avx512) names
 * another at the first call; if that one is unknown or absent, kernels return
 * FASTDROP_ERROR_ISA_UNAVAILABLE until fastdrop_cpu_isa_set picks a supported one. */
fastdrop_cpu_isa fastdrop_cpu_isa_active(void);
bool fastdrop_cpu_isa_supported(fastdrop_cpu_isa isa);
fastdrop_status fastdrop_cpu_isa_set(fastdrop_cpu_isa isa);
/* "scalar", "avx2", "avx512", or NULL for a value outside the enum. */
const char* fastdrop_cpu_isa_name(fastdrop_cpu_isa isa);

/* Threads the CPU kernels use (OpenMP); 0 restores the default, OpenMP's maximum. Results do not
 * depend on it. Returns FASTDROP_ERROR_INVALID_VALUE for a negative count. */
fastdrop_status fastdrop_set_num_threads(int threads);
int fastdrop_get_num_threads(void);

/* Whether the library was compiled with CUDA kernels. */
bool fastdrop_cuda_built(void);
/* Number of usable CUDA devices: 0 without a GPU or driver. FASTDROP_ERROR_CUDA_UNAVAILABLE when
 * the library was built without CUDA. */
fastdrop_status fastdrop_cuda_device_count(int* count);

/* Gaussian dropout (Keras's GaussianDropout with rate p, 0 <= p < 1): y = x * n over n
 * elements, n = 1 + sigma * z with sigma = sqrt(p / (1 - p)) and z standard normal, drawn by
 * Box-Muller from the words of units (i & ~1, i | 1) of call (seed, offset). p = 0 gives y = x;
 * p >= 1 or NaN is FASTDROP_ERROR_INVALID_VALUE. Results are the same on every CPU ISA and
 * thread count. y may equal x (in place). */
fastdrop_status fastdrop_gaussian_dropout_forward(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                                  double p, uint64_t seed, uint64_t offset);

/* Its backward, dx = dy * n, the noise regenerated from (seed, offset): nothing was stored. */
fastdrop_status fastdrop_gaussian_dropout_backward(fastdrop_dtype dtype, const void* dy, void* dx, int64_t n,
                                                   double p, uint64_t seed, uint64_t offset);

/* The activation of the fused bias + activation + dropout below. */
typedef enum fastdrop_activation {
  FASTDROP_ACTIVATION_RELU = 0,     /* max(v, 0) (NaN stays NaN) */
  FASTDROP_ACTIVATION_GELU = 1,     /* v Phi(v), Phi the standard normal distribution (erf form) */
  FASTDROP_ACTIVATION_GELU_TANH = 2 /* 0.5 v (1 + tanh(sqrt(2 / pi) (v + 0.044715 v^3))) */
} fastdrop_activation;

/* Fused bias + activation + dropout over (rows, cols) row-major data: y = dropout(act(x + bias)),
 * i.e. y = keep ? act(x + bias) / (1 - p) : 0 with the keep decisions of fastdrop_dropout_forward
 * (unit i = element i), bias of cols values broadcast over the rows (NULL for none), computed in
 * the compute type and rounded once. In float32 (and for 16-bit floats) gelu's exact form is
 * within 7 ulp of the exact function, its tanh form within 4 ulp plus what the rounding of its
 * tanh argument, computed as PyTorch does, costs (dropout_math.h); float64 uses libm's erfc and
 * exp. mask_bits (optional, ceil(n / 8) bytes) receives the keep bits. y may equal x.
 * FASTDROP_ERROR_INVALID_VALUE for an activation outside the enum. */
fastdrop_status fastdrop_bias_act_dropout_forward(fastdrop_activation activation, fastdrop_dtype dtype,
                                                  const void* x, const void* bias, void* y, int64_t rows,
                                                  int64_t cols, double p, uint64_t seed, uint64_t offset,
                                                  uint8_t* mask_bits);

/* Its backward, dx = keep ? act'(x + bias) dy / (1 - p) : 0, x + bias recomputed from the forward's
 * input x, the mask regenerated from (seed, offset): nothing was stored but x. The bias gradient
 * is the column sums of dx. dx may equal dy. */
fastdrop_status fastdrop_bias_act_dropout_backward(fastdrop_activation activation, fastdrop_dtype dtype,
                                                   const void* dy, const void* x, const void* bias, void* dx,
                                                   int64_t rows, int64_t cols, double p, uint64_t seed,
                                                   uint64_t offset);

/* The same with the mask read from mask_bits as the forward wrote them. */
fastdrop_status fastdrop_bias_act_dropout_backward_bits(fastdrop_activation activation, fastdrop_dtype dtype,
                                                        const void* dy, const void* x, const void* bias, void* dx,
                                                        int64_t rows, int64_t cols, double p,
                                                        const uint8_t* mask_bits);

#ifdef __cplusplus
}
#endif

#endif /* FASTDROP_FASTDROP_H */
