// pybind11 glue for the CUDA C ABI (fastdrop_cuda.h): raw device addresses and a stream handle
// (torch's data_ptr() and cuda_stream), the GIL released while the kernel is enqueued, nothing else.
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

#include "binding_checks.h"
#include "fastdrop/fastdrop_cuda.h"

namespace py = pybind11;
using namespace fastdrop_bindings;

namespace {

// Status to exception; CUDA failures carry the runtime's own description.
void check_cuda(fastdrop_status status) {
  if (status == FASTDROP_ERROR_CUDA_UNAVAILABLE || status == FASTDROP_ERROR_CUDA) {
    throw std::runtime_error(std::string(fastdrop_status_string(status)) + " (" + fastdrop_cuda_error_string() + ")");
  }
  check(status);
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
  check_cuda(status);
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
  check_cuda(status);
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
  check_cuda(status);
}

}  // namespace

// Called from PYBIND11_MODULE in module.cpp. The functions exist in every build; without CUDA
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
