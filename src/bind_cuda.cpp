// pybind11 glue for the CUDA C ABI (fastdrop_cuda.h): raw device addresses and a stream handle
// (torch's data_ptr() and cuda_stream), the GIL released while the kernel is enqueued, nothing else.
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

#include "fastdrop/fastdrop_cuda.h"

namespace py = pybind11;

namespace {

fastdrop_dtype dtype_from_name(const std::string& name) {
  if (name == "float16") return FASTDROP_FLOAT16;
  if (name == "bfloat16") return FASTDROP_BFLOAT16;
  if (name == "float32") return FASTDROP_FLOAT32;
  if (name == "float64") return FASTDROP_FLOAT64;
  throw py::type_error("dtype: expected float16, bfloat16, float32 or float64, got " + name);
}

// Status to exception, as bindings.cpp does; CUDA failures carry the runtime's own description.
void check(fastdrop_status status) {
  switch (status) {
    case FASTDROP_SUCCESS:
      return;
    case FASTDROP_ERROR_INVALID_VALUE:
      throw py::value_error(fastdrop_status_string(status));
    case FASTDROP_ERROR_UNSUPPORTED_DTYPE:
      throw py::type_error(fastdrop_status_string(status));
    case FASTDROP_ERROR_CUDA_UNAVAILABLE:
    case FASTDROP_ERROR_CUDA:
      throw std::runtime_error(std::string(fastdrop_status_string(status)) + " (" +
                               fastdrop_cuda_error_string() + ")");
    default:
      throw std::runtime_error(fastdrop_status_string(status));
  }
}

template <class T>
T* address(uintptr_t ptr) {
  return reinterpret_cast<T*>(ptr);
}

void cuda_forward_raw(const std::string& dtype_name, uintptr_t x, uintptr_t y, int64_t n, double p,
                      uint64_t seed, uint64_t offset, uintptr_t mask_bits, uintptr_t stream) {
  const fastdrop_dtype dtype = dtype_from_name(dtype_name);
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_cuda_dropout_forward(dtype, address<const void>(x), address<void>(y), n, p, seed,
                                           offset, address<uint8_t>(mask_bits), address<void>(stream));
  }
  check(status);
}

void cuda_forward_device_seed_raw(const std::string& dtype_name, uintptr_t x, uintptr_t y, int64_t n,
                                  double p, uintptr_t seed_offset, uintptr_t mask_bits, uintptr_t stream) {
  const fastdrop_dtype dtype = dtype_from_name(dtype_name);
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_cuda_dropout_forward_device_seed(dtype, address<const void>(x), address<void>(y), n, p,
                                                       address<const uint64_t>(seed_offset),
                                                       address<uint8_t>(mask_bits), address<void>(stream));
  }
  check(status);
}

void cuda_backward_bits_raw(const std::string& dtype_name, uintptr_t dy, uintptr_t dx, int64_t n, double p,
                            uintptr_t mask_bits, uintptr_t stream) {
  const fastdrop_dtype dtype = dtype_from_name(dtype_name);
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_cuda_dropout_backward_bits(dtype, address<const void>(dy), address<void>(dx), n, p,
                                                 address<const uint8_t>(mask_bits), address<void>(stream));
  }
  check(status);
}

}  // namespace

// Called from PYBIND11_MODULE in bindings.cpp. The functions exist in every build; without CUDA
// they raise RuntimeError (FASTDROP_ERROR_CUDA_UNAVAILABLE).
void bind_cuda(py::module_& m) {
  m.def("cuda_forward_raw", &cuda_forward_raw, py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("n"),
        py::arg("p"), py::arg("seed"), py::arg("offset"), py::arg("mask_bits") = 0, py::arg("stream") = 0,
        "y = dropout(x) on device memory, enqueued on stream (a cudaStream_t; 0: the legacy default "
        "stream); mask_bits written when not 0.");
  m.def("cuda_forward_device_seed_raw", &cuda_forward_device_seed_raw, py::arg("dtype"), py::arg("x"),
        py::arg("y"), py::arg("n"), py::arg("p"), py::arg("seed_offset"), py::arg("mask_bits") = 0,
        py::arg("stream") = 0,
        "As cuda_forward_raw with (seed, offset) read from two uint64 in device memory when the kernel "
        "runs (CUDA graphs).");
  m.def("cuda_backward_bits_raw", &cuda_backward_bits_raw, py::arg("dtype"), py::arg("dy"), py::arg("dx"),
        py::arg("n"), py::arg("p"), py::arg("mask_bits"), py::arg("stream") = 0,
        "dx = dropout backward of dy with the mask read from mask_bits, on device memory.");
}
