/* fastdrop C ABI: fused dropout kernels usable from any language or framework.
 *
 * Conventions of every function here (fastdrop_cuda.h adds its own for device memory):
 *
 * Status codes. A function that can fail returns a fastdrop_status and never aborts the process;
 * its comment lists, after "Errors:", the codes it can return besides FASTDROP_SUCCESS, named
 * without their FASTDROP_ERROR_ prefix. fastdrop_status_string describes any code. Arguments are
 * checked before anything is written: a kernel that fails leaves every array as it was. The
 * queries (version, ISA, thread count, whether CUDA was built) cannot fail and return their answer.
 * ISA_UNAVAILABLE comes from a kernel only when the environment variable FASTDROP_CPU_ISA names a
 * CPU ISA that is unknown or that this CPU lacks (see fastdrop_cpu_isa_active).
 *
 * Memory. Buffers belong to the caller: fastdrop never allocates or frees one, nor keeps a pointer
 * to it after the call returns. An element array holds n values of the dtype, contiguous in
 * row-major (C) order of the logical shape and aligned to the element size. Element i is unit i of
 * the randomness contract (docs/design.md) unless a function maps them otherwise (apply_mask_bits, the
 * _runs functions), so the mask depends only on (seed, offset, i), never on the ISA or thread
 * count. An output may be the very array its input is read from (in place: y == x, dx == dy); any
 * other overlap between the arrays of one call is undefined behaviour. A bit mask (mask_bits)
 * holds unit i in bit i & 7 of byte i >> 3, ceil(n / 8) bytes unless a function says otherwise:
 * bits past n are written as 0 and ignored when read. A byte mask (mask_bytes) is n bools, true
 * where the unit is kept. NULL is accepted for an array of 0 elements and for the arrays a
 * function calls optional; any other NULL array is NULL_POINTER.
 *
 * Threads. Any function may be called from any thread, concurrently with any other, on shared
 * inputs too (the outputs of concurrent calls must not overlap). A CPU kernel returns when done; it
 * runs on an OpenMP team of fastdrop_get_num_threads() threads, or on the calling thread alone for
 * small arrays and, under OpenMP's default settings, when called inside a parallel region. Each
 * concurrent call has its own team, so a caller running its own thread pool may want
 * fastdrop_set_num_threads(1). Two settings are process-wide: the CPU ISA (fastdrop_cpu_isa_set,
 * or FASTDROP_CPU_ISA read at the first call) and the thread count (fastdrop_set_num_threads).
 * They may be changed while other threads run kernels: a running call uses the old setting or the
 * new, with the same result either way. No other state is kept between calls. */
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
  FASTDROP_ERROR_CUDA = 6,              /* a CUDA runtime call failed */
  FASTDROP_ERROR_OUT_OF_MEMORY = 7      /* a kernel's workspace could not be allocated */
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

/* A short English description of a status code ("unknown status" for a value outside the enum).
 * A static string: never freed. */
const char* fastdrop_status_string(fastdrop_status status);
/* The library's version, "major.minor.patch". A static string. */
const char* fastdrop_version(void);

/* Philox4x32-10 of one counter under one key, as Random123 defines it.
 * Errors: NULL_POINTER (counter, key or out). */
fastdrop_status fastdrop_philox4x32_10(const uint32_t counter[4], const uint32_t key[2],
                                       uint32_t out[4]);

/* words[i] = the 32-bit word of continuous draw (first + i) of call (seed, offset), for 0 <= i < n:
 * word (u & 3) of Philox block (u >> 2). Bernoulli units use 16-bit lanes instead (contract v2).
 * Errors: INVALID_VALUE (n < 0), NULL_POINTER (words), ISA_UNAVAILABLE. */
fastdrop_status fastdrop_stream_words(uint64_t seed, uint64_t offset, uint64_t first, int64_t n,
                                      uint32_t* words);

/* y = dropout(x) over n elements. mask_bits (ceil(n / 8) bytes, bit i & 7 of byte i >> 3) and
 * mask_bytes (n bools) are optional, written when not NULL. y may equal x (in place).
 * Errors: UNSUPPORTED_DTYPE, INVALID_VALUE (n < 0, p outside [0, 1] or NaN), NULL_POINTER (x or
 * y), ISA_UNAVAILABLE. */
fastdrop_status fastdrop_dropout_forward(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                         double p, uint64_t seed, uint64_t offset,
                                         uint8_t* mask_bits, bool* mask_bytes);

/* dx = dropout backward of dy, the mask regenerated from (seed, offset): nothing was stored.
 * Errors: as fastdrop_dropout_forward (dy and dx for x and y). */
fastdrop_status fastdrop_dropout_backward(fastdrop_dtype dtype, const void* dy, void* dx,
                                          int64_t n, double p, uint64_t seed, uint64_t offset);

/* dx = dropout backward of dy with the mask read from mask_bits as written by the forward.
 * Errors: UNSUPPORTED_DTYPE, INVALID_VALUE (n < 0, p outside [0, 1] or NaN), NULL_POINTER (dy, dx
 * or mask_bits), ISA_UNAVAILABLE. */
fastdrop_status fastdrop_dropout_backward_bits(fastdrop_dtype dtype, const void* dy, void* dx,
                                               int64_t n, double p, const uint8_t* mask_bits);

/* Keep bits alone for units [0, n) of call (seed, offset): bit i & 7 of byte i >> 3 (ceil(n / 8)
 * bytes, bits past n are 0). The units of broadcast dropout (a noise shape, one unit per channel
 * for spatial dropout, per sample for stochastic depth) are drawn with it.
 * Errors: INVALID_VALUE (n < 0, p outside [0, 1] or NaN), NULL_POINTER (mask_bits),
 * ISA_UNAVAILABLE. */
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
 * unit reached. 1 <= ndim <= 16. y may equal x.
 * Errors: INVALID_VALUE (kind outside the enum, ndim outside [1, 16], p outside [0, 1] or NaN, a negative size or
 * unit stride, unit_bits_size too small), UNSUPPORTED_DTYPE, NULL_POINTER (shape or unit_strides
 * always; x, y or unit_bits unless the shape has 0 elements), ISA_UNAVAILABLE. */
fastdrop_status fastdrop_apply_mask_bits(fastdrop_apply_kind kind, fastdrop_dtype dtype, const void* x,
                                         void* y, int ndim, const int64_t* shape,
                                         const int64_t* unit_strides, double p,
                                         const uint8_t* unit_bits, int64_t unit_bits_size);

/* Alpha dropout (PyTorch's constants), fused like fastdrop_dropout_forward; mask_bits optional.
 * Errors: as fastdrop_dropout_forward. */
fastdrop_status fastdrop_alpha_dropout_forward(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                               double p, uint64_t seed, uint64_t offset,
                                               uint8_t* mask_bits);

/* Alpha dropout's backward, dx = keep ? a dy : 0, the mask regenerated from (seed, offset).
 * Errors: as fastdrop_dropout_forward (dy and dx for x and y). */
fastdrop_status fastdrop_alpha_dropout_backward(fastdrop_dtype dtype, const void* dy, void* dx,
                                                int64_t n, double p, uint64_t seed, uint64_t offset);

/* Fused bias + dropout + residual add over (rows, cols) row-major data: y = residual + dropout(x +
 * bias), bias of cols values broadcast over the rows (NULL for none), computed in the compute type
 * and rounded once. mask_bits (optional) receives the keep bits as fastdrop_dropout_forward writes
 * them; the gradient of x is then fastdrop_dropout_backward_bits of dy (or fastdrop_dropout_backward
 * from (seed, offset)), that of the residual dy itself, that of the bias the column sums of x's.
 * y may equal x or residual (in place).
 * Errors: INVALID_VALUE (rows or cols < 0, p outside [0, 1] or NaN), UNSUPPORTED_DTYPE,
 * NULL_POINTER (x, residual or y), ISA_UNAVAILABLE. */
fastdrop_status fastdrop_bias_dropout_add_forward(fastdrop_dtype dtype, const void* x, const void* bias,
                                                  const void* residual, void* y, int64_t rows, int64_t cols,
                                                  double p, uint64_t seed, uint64_t offset, uint8_t* mask_bits);

/* CPU ISA in use, process-wide. The best the CPU supports unless FASTDROP_CPU_ISA (scalar, avx2,
 * avx512) names another at the first call; if that one is unknown or absent, kernels return
 * FASTDROP_ERROR_ISA_UNAVAILABLE until fastdrop_cpu_isa_set picks a supported one (meanwhile this
 * answers the best the CPU supports). */
fastdrop_cpu_isa fastdrop_cpu_isa_active(void);
/* Whether this CPU can run the kernels of `isa`; false for a value outside the enum. */
bool fastdrop_cpu_isa_supported(fastdrop_cpu_isa isa);
/* Makes `isa` the ISA of every later call, from any thread.
 * Errors: INVALID_VALUE (isa outside the enum), ISA_UNAVAILABLE (this CPU lacks it). */
fastdrop_status fastdrop_cpu_isa_set(fastdrop_cpu_isa isa);
/* "scalar", "avx2", "avx512", or NULL for a value outside the enum. */
const char* fastdrop_cpu_isa_name(fastdrop_cpu_isa isa);

/* Threads the CPU kernels use (OpenMP), process-wide; 0 restores the default, OpenMP's maximum
 * (omp_get_max_threads of the calling thread). Results do not depend on it.
 * Errors: INVALID_VALUE (threads < 0). */
fastdrop_status fastdrop_set_num_threads(int threads);
int fastdrop_get_num_threads(void);

/* Whether the library was compiled with CUDA kernels. */
bool fastdrop_cuda_built(void);
/* Number of usable CUDA devices: 0 without a GPU or driver (or with a driver older than the CUDA
 * runtime fastdrop was built with).
 * Errors: CUDA_UNAVAILABLE (built without CUDA; *count is then 0 if count is not NULL), and in a
 * CUDA build NULL_POINTER (count) or CUDA (the CUDA runtime failed otherwise). */
fastdrop_status fastdrop_cuda_device_count(int* count);

/* Gaussian dropout (Keras's GaussianDropout with rate p, 0 <= p < 1): y = x * n over n
 * elements, n = 1 + sigma * z with sigma = sqrt(p / (1 - p)) and z standard normal, drawn by
 * Box-Muller from the words of units (i & ~1, i | 1) of call (seed, offset). p = 0 gives y = x;
 * p >= 1 or NaN is FASTDROP_ERROR_INVALID_VALUE. Results are the same on every CPU ISA and
 * thread count. y may equal x (in place).
 * Errors: UNSUPPORTED_DTYPE, INVALID_VALUE (n < 0, p outside [0, 1) or NaN), NULL_POINTER (x or
 * y), ISA_UNAVAILABLE. */
fastdrop_status fastdrop_gaussian_dropout_forward(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                                  double p, uint64_t seed, uint64_t offset);

/* Its backward, dx = dy * n, the noise regenerated from (seed, offset): nothing was stored.
 * Errors: as fastdrop_gaussian_dropout_forward (dy and dx for x and y). */
fastdrop_status fastdrop_gaussian_dropout_backward(fastdrop_dtype dtype, const void* dy, void* dx, int64_t n,
                                                   double p, uint64_t seed, uint64_t offset);

/* Shards. A process that holds a slice of a larger logical tensor gets, through the _runs
 * functions, exactly the slice of the whole tensor's result: the units of its elements are their
 * indices in the logical tensor. fastdrop_unit_runs says which: element i = r * run_length + j
 * (0 <= j < run_length) of the contiguous local array is unit first + r * run_stride + j. For the
 * slice [start, start + len) along dimension d of a row-major logical shape G, with inner =
 * G[d+1] * ... * G[last]: first = start * inner, run_length = len * inner, run_stride = G[d] * inner.
 * The element count n must be a multiple of run_length (run_length > 0 unless n is 0); otherwise,
 * or for a NULL runs, FASTDROP_ERROR_INVALID_VALUE. Sharded calls write no masks: backward
 * regenerates the mask from (seed, offset) with the same runs, or reads the units' keep bits
 * from fastdrop_dropout_mask_bits_runs. */
typedef struct fastdrop_unit_runs {
  uint64_t first;
  int64_t run_length;
  uint64_t run_stride;
} fastdrop_unit_runs;

/* fastdrop_dropout_forward (no masks) over the units of runs; also the backward from (seed, offset).
 * Errors: UNSUPPORTED_DTYPE, INVALID_VALUE (n < 0, p outside [0, 1] or NaN, runs), NULL_POINTER (x
 * or y), ISA_UNAVAILABLE. */
fastdrop_status fastdrop_dropout_forward_runs(fastdrop_dtype dtype, const void* x, void* y, int64_t n, double p,
                                              uint64_t seed, uint64_t offset, const fastdrop_unit_runs* runs);

/* Keep bits of the units of runs: those of run r start at byte r * ceil(run_length / 8) of
 * mask_bits ((n / run_length) * ceil(run_length / 8) bytes), bit j & 7 of byte j >> 3 of it for
 * its element j, the bits past run_length 0. Whole bytes per run, so that runs never share one.
 * Errors: INVALID_VALUE (n < 0, p outside [0, 1] or NaN, runs), NULL_POINTER (mask_bits),
 * ISA_UNAVAILABLE. */
fastdrop_status fastdrop_dropout_mask_bits_runs(int64_t n, double p, uint64_t seed, uint64_t offset,
                                                const fastdrop_unit_runs* runs, uint8_t* mask_bits);

/* fastdrop_alpha_dropout_forward (no mask) and fastdrop_alpha_dropout_backward over the units of runs.
 * Errors: as fastdrop_dropout_forward_runs. */
fastdrop_status fastdrop_alpha_dropout_forward_runs(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                                    double p, uint64_t seed, uint64_t offset,
                                                    const fastdrop_unit_runs* runs);
fastdrop_status fastdrop_alpha_dropout_backward_runs(fastdrop_dtype dtype, const void* dy, void* dx, int64_t n,
                                                     double p, uint64_t seed, uint64_t offset,
                                                     const fastdrop_unit_runs* runs);

/* fastdrop_gaussian_dropout_forward / _backward over the units of runs. A Box-Muller draw takes
 * the words of a pair of units (2k, 2k + 1), so first, run_length and run_stride must be even
 * (FASTDROP_ERROR_INVALID_VALUE otherwise): each shard then holds whole pairs.
 * Errors: UNSUPPORTED_DTYPE, INVALID_VALUE (n < 0, p outside [0, 1) or NaN, runs), NULL_POINTER (x
 * or y), ISA_UNAVAILABLE. */
fastdrop_status fastdrop_gaussian_dropout_forward_runs(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                                       double p, uint64_t seed, uint64_t offset,
                                                       const fastdrop_unit_runs* runs);
fastdrop_status fastdrop_gaussian_dropout_backward_runs(fastdrop_dtype dtype, const void* dy, void* dx, int64_t n,
                                                        double p, uint64_t seed, uint64_t offset,
                                                        const fastdrop_unit_runs* runs);

/* fastdrop_bias_dropout_add_forward (no mask) over the units of runs; the bias is indexed by the
 * local column (the shard's own cols bias values).
 * Errors: INVALID_VALUE (rows or cols < 0, p outside [0, 1] or NaN, runs), UNSUPPORTED_DTYPE,
 * NULL_POINTER (x, residual or y), ISA_UNAVAILABLE. */
fastdrop_status fastdrop_bias_dropout_add_forward_runs(fastdrop_dtype dtype, const void* x, const void* bias,
                                                       const void* residual, void* y, int64_t rows, int64_t cols,
                                                       double p, uint64_t seed, uint64_t offset,
                                                       const fastdrop_unit_runs* runs);

/* y = keep ? x * scale : 0 over n elements, keep read from mask_bits as fastdrop_dropout_forward
 * writes them, scale held in the compute type (rounded to float32 for 16-bit and float32 data);
 * the backward of any variant whose scale is known only at run time (DropBlock's). y may equal x.
 * FASTDROP_ERROR_INVALID_VALUE for n < 0 or a scale that is not finite. */
fastdrop_status fastdrop_apply_mask_bits_scale(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                               double scale, const uint8_t* mask_bits);

/* DropBlock with torchvision's drop_block2d semantics on (batch, channels, height, width)
 * row-major data (an unbatched (C, H, W) input is batch 1). Block seeds are drawn on the grid
 * (batch, channels, height - block_size + 1, width - block_size + 1), one unit per position in
 * row-major order, each dropped with probability
 * gamma = p height width / (block_size^2 (height - block_size + 1)(width - block_size + 1))
 * (at most p) by dropout's Bernoulli draw; the seed at (i, j) drops rows i .. i + block_size - 1
 * and columns j .. j + block_size - 1 of its map. Kept elements are scaled by
 * scale = numel / (eps + kept), kept counted over the whole tensor, computed in double (0 when
 * nothing is kept) and held in the compute type: y = keep ? x * scale : 0, rounded once.
 * mask_bits (required, ceil(numel / 8) bytes) receives the element keep bits as
 * fastdrop_dropout_forward writes them and *scale (when not NULL) the scale, in double: backward is
 * fastdrop_apply_mask_bits_scale of dy with both. y may equal x (in place). Results are the same on
 * every CPU ISA and thread count. FASTDROP_ERROR_INVALID_VALUE for a negative size, p outside
 * [0, 1] or NaN, eps negative or not finite, or block_size not odd, below 1 or larger than height
 * or width; FASTDROP_ERROR_OUT_OF_MEMORY when the workspace of a run of planes (about
 * (2 block_size + 3) width bytes) cannot be allocated. */
fastdrop_status fastdrop_drop_block2d_forward(fastdrop_dtype dtype, const void* x, void* y, int64_t batch,
                                              int64_t channels, int64_t height, int64_t width, int64_t block_size,
                                              double p, double eps, uint64_t seed, uint64_t offset,
                                              uint8_t* mask_bits, double* scale);

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
 * tanh argument, computed as PyTorch does, costs (fastdrop/math/bias_act_dropout.h); float64 uses libm's erfc and
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

/* fastdrop_bias_act_dropout_forward (no mask) and fastdrop_bias_act_dropout_backward (the mask
 * regenerated from (seed, offset)) over the units of runs (see Shards above); the bias is indexed
 * by the local column (the shard's own cols bias values).
 * Errors: UNSUPPORTED_DTYPE, INVALID_VALUE (activation, rows or cols < 0, p outside [0, 1] or NaN,
 * runs), NULL_POINTER (x and y, or dy, x and dx), ISA_UNAVAILABLE. */
fastdrop_status fastdrop_bias_act_dropout_forward_runs(fastdrop_activation activation, fastdrop_dtype dtype,
                                                       const void* x, const void* bias, void* y, int64_t rows,
                                                       int64_t cols, double p, uint64_t seed, uint64_t offset,
                                                       const fastdrop_unit_runs* runs);
fastdrop_status fastdrop_bias_act_dropout_backward_runs(fastdrop_activation activation, fastdrop_dtype dtype,
                                                        const void* dy, const void* x, const void* bias, void* dx,
                                                        int64_t rows, int64_t cols, double p, uint64_t seed,
                                                        uint64_t offset, const fastdrop_unit_runs* runs);

#ifdef __cplusplus
}
#endif

#endif /* FASTDROP_FASTDROP_H */
