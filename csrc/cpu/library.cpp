// The C ABI entry points of the library as a whole rather than of one op: status strings, the
// version, one Philox block, and whether CUDA was built.
#include "fastdrop/fastdrop.h"
#include "fastdrop/philox.h"

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

bool fastdrop_cuda_built(void) { return FASTDROP_CUDA_BUILT != 0; }

#if !FASTDROP_CUDA_BUILT
fastdrop_status fastdrop_cuda_device_count(int* count) {
  if (count) *count = 0;
  return FASTDROP_ERROR_CUDA_UNAVAILABLE;
}
#endif

}  // extern "C"
