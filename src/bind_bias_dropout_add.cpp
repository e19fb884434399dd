// pybind11 glue for the fused bias + dropout + residual add's C ABI: argument checks, GIL release,
// nothing else. Arrays arrive flat and contiguous from the front-ends; 16-bit floats arrive as
// their raw bits.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <string>

#include "binding_checks.h"
#include "fastdrop/fastdrop.h"

namespace py = pybind11;
using namespace fastdrop_bindings;

namespace {

// The checked buffers of a bias + dropout + residual add over (n / cols, cols) data.
struct BiasDropoutAddArrays {
  fastdrop_dtype dtype;
  py::ssize_t n;
  const void* x;
  const void* bias;
  const void* residual;
  void* y;
};

BiasDropoutAddArrays bias_dropout_add_arrays(const std::string& dtype_name, const py::array& x,
                                                    const std::optional<py::array>& bias, const py::array& residual,
                                                    const py::array& y, int64_t cols) {
  const fastdrop_dtype dtype = dtype_from_name(dtype_name);
  check_items(x, dtype, "x");
  const py::ssize_t n = x.size();
  if (cols <= 0 || n % cols != 0) throw py::value_error("cols: must divide the number of elements of x");
  return BiasDropoutAddArrays{dtype,
                              n,
                              buffer(x, "x", n * item_size(dtype), false),
                              bias ? buffer(*bias, "bias", cols * item_size(dtype), false) : nullptr,
                              buffer(residual, "residual", n * item_size(dtype), false),
                              buffer(y, "out", n * item_size(dtype), true)};
}

void bias_dropout_add_forward(const std::string& dtype_name, const py::array& x, std::optional<py::array> bias,
                              const py::array& residual, const py::array& y, int64_t cols, double p, uint64_t seed,
                              uint64_t offset, std::optional<py::array> mask_bits) {
  const BiasDropoutAddArrays a = bias_dropout_add_arrays(dtype_name, x, bias, residual, y, cols);
  auto* bits = mask_bits ? static_cast<uint8_t*>(buffer(*mask_bits, "mask_bits", (a.n + 7) / 8, true)) : nullptr;
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_bias_dropout_add_forward(a.dtype, a.x, a.bias, a.residual, a.y, a.n / cols, cols, p, seed,
                                               offset, bits);
  }
  check(status);
}

void bias_dropout_add_forward_runs(const std::string& dtype_name, const py::array& x, std::optional<py::array> bias,
                                   const py::array& residual, const py::array& y, int64_t cols, double p,
                                   uint64_t seed, uint64_t offset, const Runs& runs) {
  const BiasDropoutAddArrays a = bias_dropout_add_arrays(dtype_name, x, bias, residual, y, cols);
  const fastdrop_unit_runs call_runs = unit_runs(runs, a.n);
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_bias_dropout_add_forward_runs(a.dtype, a.x, a.bias, a.residual, a.y, a.n / cols, cols, p, seed,
                                                    offset, &call_runs);
  }
  check(status);
}

}  // namespace

void bind_bias_dropout_add(py::module_& m) {
  m.def("bias_dropout_add_forward", &bias_dropout_add_forward, py::arg("dtype"), py::arg("x"), py::arg("bias"),
        py::arg("residual"), py::arg("y"), py::arg("cols"), py::arg("p"), py::arg("seed"), py::arg("offset"),
        py::arg("mask_bits") = py::none());
  m.def("bias_dropout_add_forward_runs", &bias_dropout_add_forward_runs, py::arg("dtype"), py::arg("x"),
        py::arg("bias"), py::arg("residual"), py::arg("y"), py::arg("cols"), py::arg("p"), py::arg("seed"),
        py::arg("offset"), py::arg("runs"));
}
