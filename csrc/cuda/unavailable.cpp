// The CUDA C ABI (fastdrop_cuda.h) of a build without CUDA: every call reports it unavailable, so
// that callers link and run the same way whichever build they get.
#include "fastdrop/fastdrop_cuda.h"

extern "C" {

fastdrop_status fastdrop_cuda_dropout_forward(fastdrop_dtype, const void*, void*, int64_t, double,
                                              uint64_t, uint64_t, uint8_t*, void*) {
  return FASTDROP_ERROR_CUDA_UNAVAILABLE;
}

fastdrop_status fastdrop_cuda_dropout_forward_device_seed(fastdrop_dtype, const void*, void*,
                                                          int64_t, double, const uint64_t*,
                                                          uint8_t*, void*) {
  return FASTDROP_ERROR_CUDA_UNAVAILABLE;
}

fastdrop_status fastdrop_cuda_dropout_backward(fastdrop_dtype, const void*, void*, int64_t, double,
                                               uint64_t, uint64_t, void*) {
  return FASTDROP_ERROR_CUDA_UNAVAILABLE;
}

fastdrop_status fastdrop_cuda_dropout_backward_bits(fastdrop_dtype, const void*, void*, int64_t,
                                                    double, const uint8_t*, void*) {
  return FASTDROP_ERROR_CUDA_UNAVAILABLE;
}

const char* fastdrop_cuda_error_string(void) { return "fastdrop was built without CUDA"; }

}  // extern "C"
