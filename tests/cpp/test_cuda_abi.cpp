// The CUDA C ABI (fastdrop_cuda.h). Everywhere: the status codes of bad arguments, and
// FASTDROP_ERROR_CUDA_UNAVAILABLE without CUDA or a device, never a crash. With a device: outputs
// and masks bit-identical to the CPU ABI for every dtype, odd sizes, unaligned and in-place
// arrays, on a non-default stream, and the device-seed entry point.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <vector>

#include "check.h"
#include "fastdrop/fastdrop.h"
#include "fastdrop/fastdrop_cuda.h"

#if FASTDROP_TEST_CUDA
#include <cuda_runtime.h>
#endif

namespace {

// Addresses that are never dereferenced: each call below fails its checks before CUDA runs.
void* fake(uintptr_t address) { return reinterpret_cast<void*>(address); }

void check_argument_errors(bool built) {
  // A build without CUDA answers every call with CUDA_UNAVAILABLE, whatever the arguments.
  auto want = [built](fastdrop_status status) {
    return built ? status : FASTDROP_ERROR_CUDA_UNAVAILABLE;
  };
  void* x = fake(0x10000);
  void* y = fake(0x20000);
  const auto bad_dtype = static_cast<fastdrop_dtype>(7);
  CHECK(fastdrop_cuda_dropout_forward(bad_dtype, x, y, 8, 0.5, 1, 2, nullptr, nullptr) ==
            want(FASTDROP_ERROR_UNSUPPORTED_DTYPE), "unknown dtype");
  const double bad_ps[] = {-0.1, 1.5, NAN};
  for (double p : bad_ps) {
    CHECK(fastdrop_cuda_dropout_forward(FASTDROP_FLOAT32, x, y, 8, p, 1, 2, nullptr, nullptr) ==
              want(FASTDROP_ERROR_INVALID_VALUE), "p = %g", p);
    CHECK(fastdrop_cuda_dropout_backward_bits(FASTDROP_FLOAT32, x, y, 8, p,
                                              static_cast<uint8_t*>(x), nullptr) ==
              want(FASTDROP_ERROR_INVALID_VALUE), "backward_bits p = %g", p);
  }
  CHECK(fastdrop_cuda_dropout_forward(FASTDROP_FLOAT32, x, y, -1, 0.5, 1, 2, nullptr, nullptr) ==
            want(FASTDROP_ERROR_INVALID_VALUE), "negative n");
  CHECK(fastdrop_cuda_dropout_forward(FASTDROP_FLOAT32, nullptr, y, 8, 0.5, 1, 2, nullptr,
                                      nullptr) == want(FASTDROP_ERROR_NULL_POINTER), "null x");
  CHECK(fastdrop_cuda_dropout_backward(FASTDROP_FLOAT64, x, nullptr, 8, 0.5, 1, 2, nullptr) ==
            want(FASTDROP_ERROR_NULL_POINTER), "null dx");
  CHECK(fastdrop_cuda_dropout_backward_bits(FASTDROP_FLOAT16, x, y, 8, 0.5, nullptr, nullptr) ==
            want(FASTDROP_ERROR_NULL_POINTER), "null mask");
  CHECK(fastdrop_cuda_dropout_forward_device_seed(FASTDROP_BFLOAT16, x, y, 8, 0.5, nullptr,
                                                  nullptr, nullptr) ==
            want(FASTDROP_ERROR_NULL_POINTER), "null seed_offset");
  CHECK(fastdrop_cuda_dropout_forward_device_seed(
            FASTDROP_BFLOAT16, x, y, 8, 0.5, static_cast<const uint64_t*>(fake(0x30004)), nullptr,
            nullptr) == want(FASTDROP_ERROR_INVALID_VALUE), "misaligned seed_offset");
  // Element arrays must be aligned to their element size.
  CHECK(fastdrop_cuda_dropout_forward(FASTDROP_FLOAT32, fake(0x10002), y, 8, 0.5, 1, 2, nullptr,
                                      nullptr) == want(FASTDROP_ERROR_INVALID_VALUE),
        "misaligned x");
  CHECK(fastdrop_cuda_dropout_forward(FASTDROP_FLOAT16, x, fake(0x20001), 8, 0.5, 1, 2, nullptr,
                                      nullptr) == want(FASTDROP_ERROR_INVALID_VALUE),
        "misaligned y");
}

// Without a device every valid call, even an empty one, reports CUDA unavailable.
void check_without_device() {
  CHECK(fastdrop_cuda_dropout_forward(FASTDROP_FLOAT32, nullptr, nullptr, 0, 0.5, 1, 2, nullptr,
                                      nullptr) == FASTDROP_ERROR_CUDA_UNAVAILABLE, "n = 0");
  CHECK(fastdrop_cuda_dropout_forward(FASTDROP_FLOAT32, fake(0x10000), fake(0x20000), 64, 0.5, 1,
                                      2, static_cast<uint8_t*>(fake(0x30000)), nullptr) ==
            FASTDROP_ERROR_CUDA_UNAVAILABLE, "forward");
  CHECK(fastdrop_cuda_dropout_backward_bits(FASTDROP_FLOAT16, fake(0x10000), fake(0x20000), 64,
                                            0.5, static_cast<uint8_t*>(fake(0x30000)), nullptr) ==
            FASTDROP_ERROR_CUDA_UNAVAILABLE, "backward_bits");
  CHECK(strlen(fastdrop_cuda_error_string()) > 0, "an error description");
}

#if FASTDROP_TEST_CUDA

bool is_nan(fastdrop_dtype dtype, uint64_t bits) {
  switch (dtype) {
    case FASTDROP_FLOAT16:
      return (bits & 0x7fff) > 0x7c00;
    case FASTDROP_BFLOAT16:
      return (bits & 0x7fff) > 0x7f80;
    case FASTDROP_FLOAT32:
      return (bits & 0x7fffffff) > 0x7f800000;
    default:
      return (bits & 0x7fffffffffffffffull) > 0x7ff0000000000000ull;
  }
}

// Random bit patterns of every class (subnormals, infinities, all exponents) except NaN, whose
// payload a GPU does not keep through arithmetic.
template <class T>
std::vector<T> make_input(fastdrop_dtype dtype, int64_t n) {
  std::vector<T> x(static_cast<size_t>(n));
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (T& v : x) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t bits = state ^ state >> 29;
    if (sizeof(T) < 8) bits &= (uint64_t{1} << (8 * sizeof(T))) - 1;
    if (is_nan(dtype, bits)) bits = 0;
    memcpy(&v, &bits, sizeof(T));
  }
  return x;
}

struct Device {
  char* x = nullptr;
  char* y = nullptr;
  uint8_t* bits = nullptr;
  uint64_t* seed_offset = nullptr;
  ~Device() {
    cudaFree(x);
    cudaFree(y);
    cudaFree(bits);
    cudaFree(seed_offset);
  }
};

// One dtype, one size, one p; `shift` elements into the buffers to test the unaligned path.
template <class T>
void compare(fastdrop_dtype dtype, int64_t n, double p, int64_t shift, cudaStream_t stream) {
  const size_t size = sizeof(T);
  const uint64_t seed = 0x0123456789abcdefull ^ static_cast<uint64_t>(n);
  const uint64_t offset = static_cast<uint64_t>(n) * 3 + 1;
  const std::vector<T> x = make_input<T>(dtype, n);
  const size_t bytes = static_cast<size_t>(n) * size;
  const size_t mask_bytes = static_cast<size_t>((n + 7) / 8);

  std::vector<T> want_y(n), want_dx(n);
  std::vector<uint8_t> want_bits(mask_bytes);
  CHECK(fastdrop_dropout_forward(dtype, x.data(), want_y.data(), n, p, seed, offset,
                                 want_bits.data(), nullptr) == FASTDROP_SUCCESS, "CPU forward");
  CHECK(fastdrop_dropout_backward_bits(dtype, x.data(), want_dx.data(), n, p, want_bits.data()) ==
            FASTDROP_SUCCESS, "CPU backward");

  Device d;
  const size_t padded = bytes + 2 * size * (shift + 1);
  CHECK(cudaMalloc(&d.x, padded) == cudaSuccess && cudaMalloc(&d.y, padded) == cudaSuccess &&
            cudaMalloc(&d.bits, mask_bytes + 1) == cudaSuccess &&
            cudaMalloc(&d.seed_offset, 16) == cudaSuccess, "cudaMalloc");
  char* dx = d.x + shift * size;
  char* dy = d.y + shift * size;
  const uint64_t seed_offset[2] = {seed, offset};
  cudaMemcpy(dx, x.data(), bytes, cudaMemcpyHostToDevice);
  cudaMemcpy(d.seed_offset, seed_offset, 16, cudaMemcpyHostToDevice);
  cudaMemset(d.y, 0x5a, padded);
  cudaMemset(d.bits, 0xa5, mask_bytes + 1);

  std::vector<T> got(n);
  std::vector<uint8_t> got_bits(mask_bytes + 1);
  auto fetch = [&](const char* what, const void* device_y, const std::vector<T>& want) {
    CHECK(cudaStreamSynchronize(stream) == cudaSuccess, "%s: kernel ran", what);
    cudaMemcpy(got.data(), device_y, bytes, cudaMemcpyDeviceToHost);
    CHECK(n == 0 || memcmp(got.data(), want.data(), bytes) == 0,
          "%s: dtype=%d n=%lld p=%g shift=%lld", what, dtype, (long long)n, p, (long long)shift);
  };

  CHECK(fastdrop_cuda_dropout_forward(dtype, dx, dy, n, p, seed, offset, d.bits, stream) ==
            FASTDROP_SUCCESS, "forward status");
  fetch("forward", dy, want_y);
  cudaMemcpy(got_bits.data(), d.bits, mask_bytes + 1, cudaMemcpyDeviceToHost);
  CHECK(n == 0 || memcmp(got_bits.data(), want_bits.data(), mask_bytes) == 0,
        "mask dtype=%d n=%lld p=%g", dtype, (long long)n, p);
  CHECK(got_bits[mask_bytes] == 0xa5, "nothing written past the mask");
  std::vector<char> guard(size);
  cudaMemcpy(guard.data(), dy + bytes, size, cudaMemcpyDeviceToHost);
  CHECK(guard == std::vector<char>(size, 0x5a), "nothing written past y");
  if (shift > 0) {
    cudaMemcpy(guard.data(), dy - size, size, cudaMemcpyDeviceToHost);
    CHECK(guard == std::vector<char>(size, 0x5a), "nothing written before y");
  }

  CHECK(fastdrop_cuda_dropout_forward_device_seed(dtype, dx, dy, n, p, d.seed_offset, nullptr,
                                                  stream) == FASTDROP_SUCCESS, "device seed");
  fetch("device seed", dy, want_y);
  CHECK(fastdrop_cuda_dropout_backward_bits(dtype, dx, dy, n, p, d.bits, stream) ==
            FASTDROP_SUCCESS, "backward_bits status");
  fetch("backward from bits", dy, want_dx);
  CHECK(fastdrop_cuda_dropout_backward(dtype, dx, dy, n, p, seed, offset, stream) ==
            FASTDROP_SUCCESS, "backward status");
  fetch("backward from seed", dy, want_y);
  CHECK(fastdrop_cuda_dropout_forward(dtype, dx, dx, n, p, seed, offset, nullptr, stream) ==
            FASTDROP_SUCCESS, "in-place status");
  fetch("in place", dx, want_y);
}

template <class T>
void compare_dtype(fastdrop_dtype dtype, cudaStream_t stream) {
  const int64_t sizes[] = {0, 1, 3, 7, 8, 9, 15, 16, 17, 1023, 1025, 65536 * 3 + 5, (1 << 22) + 3};
  const double ps[] = {0.0, 0.1, 0.5, 0.9, 1.0 - 1.0 / 1048576, 1.0};
  for (int64_t n : sizes) {
    for (double p : ps) {
      compare<T>(dtype, n, p, 0, stream);
      compare<T>(dtype, n, p, 1, stream);
    }
  }
}

void check_with_device() {
  cudaStream_t stream = nullptr;
  CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) == cudaSuccess, "stream");
  compare_dtype<uint16_t>(FASTDROP_FLOAT16, stream);
  compare_dtype<uint16_t>(FASTDROP_BFLOAT16, stream);
  compare_dtype<float>(FASTDROP_FLOAT32, stream);
  compare_dtype<double>(FASTDROP_FLOAT64, stream);
  compare<float>(FASTDROP_FLOAT32, 1000, 0.3, 0, nullptr);  // the legacy default stream
  cudaStreamDestroy(stream);
}

#endif

}  // namespace

int main() {
  const bool built = fastdrop_cuda_built();
  check_argument_errors(built);
  int devices = 0;
  const bool found = fastdrop_cuda_device_count(&devices) == FASTDROP_SUCCESS && devices > 0;
  if (!found) {
    check_without_device();
    printf("test_cuda_abi: no CUDA device (built: %d), kernels not run\n", built);
  }
#if FASTDROP_TEST_CUDA
  if (found) check_with_device();
#endif
  return finish("test_cuda_abi");
}
