// pybind11 glue for the fused bias + activation + dropout's C ABI: argument checks, GIL release,
// nothing else. Arrays arrive flat and contiguous from the front-ends; bfloat16 arrives as its raw
// uint16 bits.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "binding_checks.h"
#include "fastdrop/fastdrop.h"

namespace py = pybind11;
using namespace fastdrop_bindings;

namespace {

void forward(const std::string& activation, const std::string& dtype, const py::array& x,
             std::optional<py::array> bias, const py::array& y, int64_t cols, double p, uint64_t seed,
             uint64_t offset, std::optional<py::array> mask_bits) {
  const BiasActCall call = bias_act_call(activation, dtype, x, bias, cols);
  check_items(y, call.dtype, "out");
  void* yp = buffer(y, "out", call.n * item_size(call.dtype), true);
  auto* bits = mask_bits ? static_cast<uint8_t*>(buffer(*mask_bits, "mask_bits", (call.n + 7) / 8, true)) : nullptr;
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_bias_act_dropout_forward(call.activation, call.dtype, call.x, call.bias, yp, rows(call), cols,
                                               p, seed, offset, bits);
  }
  check(status);
}

void backward(const std::string& activation, const std::string& dtype, const py::array& dy, const py::array& x,
              std::optional<py::array> bias, const py::array& dx, int64_t cols, double p, uint64_t seed,
              uint64_t offset, std::optional<py::array> mask_bits) {
  const BiasActCall call = bias_act_call(activation, dtype, x, bias, cols);
  check_items(dy, call.dtype, "grad");
  check_items(dx, call.dtype, "out");
  const void* gp = buffer(dy, "grad", call.n * item_size(call.dtype), false);
  void* dxp = buffer(dx, "out", call.n * item_size(call.dtype), true);
  const auto* bits =
      mask_bits ? static_cast<const uint8_t*>(buffer(*mask_bits, "mask_bits", (call.n + 7) / 8, false)) : nullptr;
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = bits ? fastdrop_bias_act_dropout_backward_bits(call.activation, call.dtype, gp, call.x, call.bias, dxp,
                                                            rows(call), cols, p, bits)
                  : fastdrop_bias_act_dropout_backward(call.activation, call.dtype, gp, call.x, call.bias, dxp,
                                                       rows(call), cols, p, seed, offset);
  }
  check(status);
}

}  // namespace

void bind_bias_act(py::module_& m) {
  m.def("bias_act_dropout_forward", &forward, py::arg("activation"), py::arg("dtype"), py::arg("x"),
        py::arg("bias"), py::arg("y"), py::arg("cols"), py::arg("p"), py::arg("seed"), py::arg("offset"),
        py::arg("mask_bits") = py::none(),
        "y = dropout(act(x + bias)) over (n / cols, cols) data, bias (cols values) optional, keep bits optional; "
        "activation: relu, gelu or gelu_tanh.");
  m.def("bias_act_dropout_backward", &backward, py::arg("activation"), py::arg("dtype"), py::arg("dy"), py::arg("x"),
        py::arg("bias"), py::arg("dx"), py::arg("cols"), py::arg("p"), py::arg("seed") = 0, py::arg("offset") = 0,
        py::arg("mask_bits") = py::none(),
        "dx = keep ? act'(x + bias) dy / (1 - p) : 0, keep read from mask_bits when given, else regenerated from "
        "(seed, offset).");
}
