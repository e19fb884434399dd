// CUDA dropout kernels and their C ABI (fastdrop_cuda.h). The per-element math is
// fastdrop/math/dropout.h's, shared with the CPU kernels, so results are bit-identical to theirs.
#include <cuda_runtime.h>
#include <string.h>

#include "fastdrop/math/dropout.h"
#include "fastdrop/fastdrop_cuda.h"
#include "launch_config.h"

namespace fastdrop::cuda {
namespace {

static_assert(sizeof(float16_bits) == 2 && sizeof(bfloat16_bits) == 2, "16-bit storage types");

// Everything one kernel launch reads, passed by value.
struct KernelArgs {
  const void* in;                // x (forward) or dy (backward)
  void* out;                     // y or dx; may equal in
  int64_t n;
  DropoutParams params;          // seed and offset unused when the mask comes from bits
  const uint64_t* seed_offset;   // forward: when not null, (seed, offset) read here at run time
  uint8_t* mask_bits_out;        // forward: the mask written here when not null
  const uint8_t* mask_bits_in;   // backward from bits: the mask read here
  bool vector;                   // in and out are 16-byte aligned: whole groups as 128-bit words
};

// A group (8 elements) of any dtype is 1, 2 or 4 128-bit words.
template <class T>
constexpr int kWordsPerGroup = static_cast<int>(sizeof(T)) * kUnitsPerGroup / 16;

template <class T>
__device__ __forceinline__ void load_group(const T* src, T (&v)[kUnitsPerGroup]) {
  uint4 words[kWordsPerGroup<T>];
#pragma unroll
  for (int i = 0; i < kWordsPerGroup<T>; ++i) words[i] = reinterpret_cast<const uint4*>(src)[i];
  memcpy(v, words, sizeof words);
}

template <class T>
__device__ __forceinline__ void store_group(T* dst, const T (&v)[kUnitsPerGroup]) {
  uint4 words[kWordsPerGroup<T>];
  memcpy(words, v, sizeof words);
#pragma unroll
  for (int i = 0; i < kWordsPerGroup<T>; ++i) reinterpret_cast<uint4*>(dst)[i] = words[i];
}

// One group: as 128-bit words when aligned and whole, else element by element (unaligned arrays
// and the ragged last group).
template <class T>
__device__ __forceinline__ void apply_group(const T* in, T* out, uint32_t keep, int valid,
                                            typename ComputeType<T>::type scale, bool vector) {
  if (vector && valid == kUnitsPerGroup) {
    T v[kUnitsPerGroup];
    load_group(in, v);
    apply_group_elementwise(v, v, keep, kUnitsPerGroup, scale);
    store_group(out, v);
  } else {
    apply_group_elementwise(in, out, keep, valid, scale);
  }
}

// Grid-stride loops over groups: group g is units 8g .. 8g + 7 and byte g of the bit mask.
template <class T>
__global__ void __launch_bounds__(kThreadsPerBlock) forward_kernel(KernelArgs args) {
  DropoutParams params = args.params;
  if (args.seed_offset) {
    params.seed = args.seed_offset[0];
    params.offset = args.seed_offset[1];
  }
  const auto scale = scale_of(params, typename ComputeType<T>::type{});
  const T* in = static_cast<const T*>(args.in);
  T* out = static_cast<T*>(args.out);
  const uint64_t n = static_cast<uint64_t>(args.n);
  const uint64_t groups = (n + kUnitsPerGroup - 1) / kUnitsPerGroup;
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * blockDim.x;
  for (uint64_t g = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups;
       g += stride) {
    const uint32_t keep = group_keep_bits(params, g, n);
    apply_group(in + g * kUnitsPerGroup, out + g * kUnitsPerGroup, keep, units_in_group(g, n),
                scale, args.vector);
    if (args.mask_bits_out) args.mask_bits_out[g] = static_cast<uint8_t>(keep);
  }
}

template <class T>
__global__ void __launch_bounds__(kThreadsPerBlock) backward_bits_kernel(KernelArgs args) {
  const auto scale = scale_of(args.params, typename ComputeType<T>::type{});
  const T* in = static_cast<const T*>(args.in);
  T* out = static_cast<T*>(args.out);
  const uint64_t n = static_cast<uint64_t>(args.n);
  const uint64_t groups = (n + kUnitsPerGroup - 1) / kUnitsPerGroup;
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * blockDim.x;
  for (uint64_t g = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups;
       g += stride) {
    apply_group(in + g * kUnitsPerGroup, out + g * kUnitsPerGroup, args.mask_bits_in[g],
                units_in_group(g, n), scale, args.vector);
  }
}

// The error behind this thread's last CUDA failure, for fastdrop_cuda_error_string.
thread_local cudaError_t last_error = cudaSuccess;

fastdrop_status fail(cudaError_t err) {
  last_error = err;
  const bool unavailable = err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver;
  return unavailable ? FASTDROP_ERROR_CUDA_UNAVAILABLE : FASTDROP_ERROR_CUDA;
}

int64_t element_size(fastdrop_dtype dtype) {
  return dtype == FASTDROP_FLOAT64 ? 8 : dtype == FASTDROP_FLOAT32 ? 4 : 2;
}

bool misaligned(const void* ptr, int64_t alignment) {
  return reinterpret_cast<uintptr_t>(ptr) % static_cast<uintptr_t>(alignment) != 0;
}

// The CPU ABI's checks, plus element alignment: a misaligned access would be a sticky error that
// ruins the caller's CUDA context.
fastdrop_status check_arrays(fastdrop_dtype dtype, const void* in, const void* out, int64_t n,
                             double p) {
  if (dtype < FASTDROP_FLOAT16 || dtype > FASTDROP_FLOAT64) {
    return FASTDROP_ERROR_UNSUPPORTED_DTYPE;
  }
  if (n < 0 || !(p >= 0.0 && p <= 1.0)) return FASTDROP_ERROR_INVALID_VALUE;  // NaN fails too
  if (n > 0 && (!in || !out)) return FASTDROP_ERROR_NULL_POINTER;
  if (misaligned(in, element_size(dtype)) || misaligned(out, element_size(dtype))) {
    return FASTDROP_ERROR_INVALID_VALUE;
  }
  return FASTDROP_SUCCESS;
}

enum class Kernel { kForward, kBackwardBits };

template <class T>
void launch_typed(Kernel kernel, const KernelArgs& args, const LaunchConfig& config,
                  cudaStream_t stream) {
  if (kernel == Kernel::kForward) {
    forward_kernel<T><<<config.blocks, config.threads, 0, stream>>>(args);
  } else {
    backward_bits_kernel<T><<<config.blocks, config.threads, 0, stream>>>(args);
  }
}

// Sizes the grid for the current device and enqueues the kernel; args already checked.
fastdrop_status launch(fastdrop_dtype dtype, Kernel kernel, KernelArgs args, void* stream) {
  int device = 0;
  int sm_count = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess) {
    err = cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device);
  }
  if (err != cudaSuccess) {
    cudaGetLastError();  // leave no error behind for the caller's next check
    return fail(err);
  }
  const LaunchConfig config = launch_config(args.n, sm_count);
  if (config.blocks == 0) return FASTDROP_SUCCESS;
  args.vector = vector_aligned(args.in) && vector_aligned(args.out);
  const auto s = static_cast<cudaStream_t>(stream);
  switch (dtype) {
    case FASTDROP_FLOAT16:
      launch_typed<float16_bits>(kernel, args, config, s);
      break;
    case FASTDROP_BFLOAT16:
      launch_typed<bfloat16_bits>(kernel, args, config, s);
      break;
    case FASTDROP_FLOAT32:
      launch_typed<float>(kernel, args, config, s);
      break;
    case FASTDROP_FLOAT64:
      launch_typed<double>(kernel, args, config, s);
      break;
  }
  err = cudaGetLastError();
  return err == cudaSuccess ? FASTDROP_SUCCESS : fail(err);
}

// The launches behind the C ABI, on arguments it has checked.
fastdrop_status forward(fastdrop_dtype dtype, const void* x, void* y, int64_t n, double p,
                        uint64_t seed, uint64_t offset, const uint64_t* seed_offset,
                        uint8_t* mask_bits, void* stream) {
  KernelArgs args{};
  args.in = x;
  args.out = y;
  args.n = n;
  args.params = make_dropout_params(p, seed, offset);
  args.seed_offset = seed_offset;
  args.mask_bits_out = mask_bits;
  return launch(dtype, Kernel::kForward, args, stream);
}

fastdrop_status backward_bits(fastdrop_dtype dtype, const void* dy, void* dx, int64_t n, double p,
                              const uint8_t* mask_bits, void* stream) {
  KernelArgs args{};
  args.in = dy;
  args.out = dx;
  args.n = n;
  args.params = make_dropout_params(p, 0, 0);
  args.mask_bits_in = mask_bits;
  return launch(dtype, Kernel::kBackwardBits, args, stream);
}

}  // namespace
}  // namespace fastdrop::cuda

extern "C" {

fastdrop_status fastdrop_cuda_dropout_forward(fastdrop_dtype dtype, const void* x, void* y,
                                              int64_t n, double p, uint64_t seed, uint64_t offset,
                                              uint8_t* mask_bits, void* stream) {
  const fastdrop_status status = fastdrop::cuda::check_arrays(dtype, x, y, n, p);
  if (status != FASTDROP_SUCCESS) return status;
  return fastdrop::cuda::forward(dtype, x, y, n, p, seed, offset, nullptr, mask_bits, stream);
}

fastdrop_status fastdrop_cuda_dropout_forward_device_seed(fastdrop_dtype dtype, const void* x,
                                                          void* y, int64_t n, double p,
                                                          const uint64_t* seed_offset,
                                                          uint8_t* mask_bits, void* stream) {
  const fastdrop_status status = fastdrop::cuda::check_arrays(dtype, x, y, n, p);
  if (status != FASTDROP_SUCCESS) return status;
  if (n > 0 && !seed_offset) return FASTDROP_ERROR_NULL_POINTER;
  if (fastdrop::cuda::misaligned(seed_offset, 8)) return FASTDROP_ERROR_INVALID_VALUE;
  return fastdrop::cuda::forward(dtype, x, y, n, p, 0, 0, seed_offset, mask_bits, stream);
}

fastdrop_status fastdrop_cuda_dropout_backward(fastdrop_dtype dtype, const void* dy, void* dx,
                                               int64_t n, double p, uint64_t seed, uint64_t offset,
                                               void* stream) {
  return fastdrop_cuda_dropout_forward(dtype, dy, dx, n, p, seed, offset, nullptr, stream);
}

fastdrop_status fastdrop_cuda_dropout_backward_bits(fastdrop_dtype dtype, const void* dy, void* dx,
                                                    int64_t n, double p, const uint8_t* mask_bits,
                                                    void* stream) {
  const fastdrop_status status = fastdrop::cuda::check_arrays(dtype, dy, dx, n, p);
  if (status != FASTDROP_SUCCESS) return status;
  if (n > 0 && !mask_bits) return FASTDROP_ERROR_NULL_POINTER;
  return fastdrop::cuda::backward_bits(dtype, dy, dx, n, p, mask_bits, stream);
}

const char* fastdrop_cuda_error_string(void) {
  return cudaGetErrorString(fastdrop::cuda::last_error);
}

}  // extern "C"
