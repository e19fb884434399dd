// Whether a CUDA device can be used: the library is usable on machines without a GPU or driver.
#include <cuda_runtime.h>

#include "fastdrop/fastdrop.h"

extern "C" fastdrop_status fastdrop_cuda_device_count(int* count) {
  if (!count) return FASTDROP_ERROR_NULL_POINTER;
  *count = 0;
  const cudaError_t err = cudaGetDeviceCount(count);
  if (err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver) {
    cudaGetLastError();  // clear the sticky error so later queries start clean
    *count = 0;
    return FASTDROP_SUCCESS;
  }
  return err == cudaSuccess ? FASTDROP_SUCCESS : FASTDROP_ERROR_CUDA;
}
