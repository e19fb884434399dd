/* fastdrop C ABI for CUDA: the kernels of fastdrop.h on device memory, enqueued on a stream.
 *
 * No CUDA header is needed to use it: `stream` is a cudaStream_t (equivalently a CUstream) passed
 * as void*, NULL meaning the legacy default stream. Results are bit-identical to the CPU functions
 * of fastdrop.h with the same arguments: the mask depends only on (seed, offset, element index).
 *
 * Common rules (besides those of fastdrop.h: status codes, "Errors:", masks, in-place use):
 * - Pointers are device-accessible memory (device, managed or mapped host) of the current device
 *   (cudaSetDevice), and the stream belongs to that device. Element arrays (x, y, dy, dx) must be
 *   aligned to their element size; 16-byte aligned arrays take the fast, vectorised path. Every
 *   buffer must stay allocated until the work enqueued on `stream` has run.
 * - Arguments are checked as by the CPU functions (dtype, p in [0, 1], n >= 0, NULL pointers when
 *   n > 0; FASTDROP_ERROR_INVALID_VALUE for a misaligned element array) before CUDA is touched.
 *   A library built without CUDA returns FASTDROP_ERROR_CUDA_UNAVAILABLE from every function
 *   returning a status, without checking the arguments.
 * - Asynchronous: a function returns once the kernel is enqueued on `stream`, in stream order
 *   with the work before and after it. A CUDA error raised while the kernel runs surfaces at a
 *   later synchronisation, as for any kernel. Nothing synchronises, so a call can be captured in
 *   a CUDA graph; arguments passed by value, (seed, offset) included, are then fixed in it.
 * - FASTDROP_ERROR_CUDA_UNAVAILABLE: no usable device or driver (a driver older than the CUDA
 *   runtime fastdrop was built with counts as none). FASTDROP_ERROR_CUDA: a runtime call or the
 *   launch failed; fastdrop_cuda_error_string says which error.
 * - Thread-safe: no state is kept between calls apart from the per-thread error of
 *   fastdrop_cuda_error_string. Calls from several threads, or on several streams, may overlap.
 * - n == 0 enqueues nothing but still reports FASTDROP_ERROR_CUDA_UNAVAILABLE without a device. */
#ifndef FASTDROP_FASTDROP_CUDA_H
#define FASTDROP_FASTDROP_CUDA_H

#include <stdint.h>

#include "fastdrop/fastdrop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = dropout(x) over n elements; mask_bits (ceil(n / 8) bytes, bit i & 7 of byte i >> 3, bits
 * past n zero) is optional, written when not NULL. y may equal x (in place).
 * Errors: UNSUPPORTED_DTYPE, INVALID_VALUE (n < 0, p outside [0, 1] or NaN, x or y misaligned),
 * NULL_POINTER (x or y), CUDA_UNAVAILABLE, CUDA. */
fastdrop_status fastdrop_cuda_dropout_forward(fastdrop_dtype dtype, const void* x, void* y,
                                              int64_t n, double p, uint64_t seed, uint64_t offset,
                                              uint8_t* mask_bits, void* stream);

/* As fastdrop_cuda_dropout_forward, with (seed, offset) read from device memory when the kernel
 * runs: seed_offset[0] is the seed and seed_offset[1] the offset (8-byte aligned). A captured
 * CUDA graph can so be replayed with new values written there before each replay.
 * Errors: as fastdrop_cuda_dropout_forward, and NULL_POINTER (seed_offset, when n > 0) and
 * INVALID_VALUE (seed_offset misaligned). */
fastdrop_status fastdrop_cuda_dropout_forward_device_seed(fastdrop_dtype dtype, const void* x,
                                                          void* y, int64_t n, double p,
                                                          const uint64_t* seed_offset,
                                                          uint8_t* mask_bits, void* stream);

/* dx = dropout backward of dy, the mask regenerated from (seed, offset): nothing was stored.
 * Errors: as fastdrop_cuda_dropout_forward (dy and dx for x and y). */
fastdrop_status fastdrop_cuda_dropout_backward(fastdrop_dtype dtype, const void* dy, void* dx,
                                               int64_t n, double p, uint64_t seed, uint64_t offset,
                                               void* stream);

/* dx = dropout backward of dy with the mask read from mask_bits as the forward wrote it.
 * Errors: UNSUPPORTED_DTYPE, INVALID_VALUE (n < 0, p outside [0, 1] or NaN, dy or dx misaligned),
 * NULL_POINTER (dy, dx or mask_bits), CUDA_UNAVAILABLE, CUDA. */
fastdrop_status fastdrop_cuda_dropout_backward_bits(fastdrop_dtype dtype, const void* dy, void* dx,
                                                    int64_t n, double p, const uint8_t* mask_bits,
                                                    void* stream);

/* The CUDA runtime's description of the error behind the last FASTDROP_ERROR_CUDA or
 * FASTDROP_ERROR_CUDA_UNAVAILABLE a function above returned on this thread; "no error" before
 * any. A static string: never freed. */
const char* fastdrop_cuda_error_string(void);

#ifdef __cplusplus
}
#endif

#endif /* FASTDROP_FASTDROP_CUDA_H */
