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

fastdrop_activation activation_from_name(const std::string& name) {
  if (name == "relu") return FASTDROP_ACTIVATION_RELU;
  if (name == "gelu") return FASTDROP_ACTIVATION_GELU;
  if (name == "gelu_tanh") return FASTDROP_ACTIVATION_GELU_TANH;
  throw py::value_error("activation: expected relu, gelu or gelu_tanh, got " + name);
}

// What a bias + activation + dropout call's forward and backward share: the checked names, x (n
// elements of rows of cols) and the bias.
struct BiasActCall {
  fastdrop_activation activation;
  fastdrop_dtype dtype;
  py::ssize_t n;
  int64_t cols;
  const void* x;
  const void* bias;
};

BiasActCall bias_act_call(const std::string& activation, const std::string& dtype_name, const py::array& x,
                                 const std::optional<py::array>& bias, int64_t cols) {
  BiasActCall call{activation_from_name(activation), dtype_from_name(dtype_name), x.size(), cols, nullptr, nullptr};
  check_items(x, call.dtype, "x");
  // cols = 0 only for an empty x (a last dimension of 0).
  if (cols < 0 || (cols == 0 ? call.n != 0 : call.n % cols != 0)) {
    throw py::value_error("cols: must divide the number of elements of x");
  }
  call.x = buffer(x, "x", call.n * item_size(call.dtype), false);
  if (bias) {
    check_items(*bias, call.dtype, "bias");
    call.bias = buffer(*bias, "bias", cols * item_size(call.dtype), false);
  }
  return call;
}

int64_t rows(const BiasActCall& call) { return call.cols ? call.n / call.cols : 0; }

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

// The forward (dy None) or the backward, the mask regenerated, of a sharded bias + activation +
// dropout.
void bias_act_dropout_runs(const std::string& activation, const std::string& dtype_name,
                           const std::optional<py::array>& dy, const py::array& x, std::optional<py::array> bias,
                           const py::array& out, int64_t cols, double p, uint64_t seed, uint64_t offset,
                           const Runs& runs) {
  const BiasActCall call = bias_act_call(activation, dtype_name, x, bias, cols);
  check_items(out, call.dtype, "out");
  void* outp = buffer(out, "out", call.n * item_size(call.dtype), true);
  const void* gp = nullptr;
  if (dy) {
    check_items(*dy, call.dtype, "grad");
    gp = buffer(*dy, "grad", call.n * item_size(call.dtype), false);
  }
  const fastdrop_unit_runs call_runs = unit_runs(runs, call.n);
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = dy ? fastdrop_bias_act_dropout_backward_runs(call.activation, call.dtype, gp, call.x, call.bias, outp,
                                                          rows(call), cols, p, seed, offset, &call_runs)
                : fastdrop_bias_act_dropout_forward_runs(call.activation, call.dtype, call.x, call.bias, outp,
                                                         rows(call), cols, p, seed, offset, &call_runs);
  }
  check(status);
}

}  // namespace

void bind_bias_act_dropout(py::module_& m) {
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
  m.def(
      "bias_act_dropout_forward_runs",
      [](const std::string& activation, const std::string& dtype, const py::array& x, std::optional<py::array> bias,
         const py::array& y, int64_t cols, double p, uint64_t seed, uint64_t offset, const Runs& runs) {
        bias_act_dropout_runs(activation, dtype, std::nullopt, x, bias, y, cols, p, seed, offset, runs);
      },
      py::arg("activation"), py::arg("dtype"), py::arg("x"), py::arg("bias"), py::arg("y"), py::arg("cols"),
      py::arg("p"), py::arg("seed"), py::arg("offset"), py::arg("runs"),
      "bias + activation + dropout of a shard whose elements are the units of runs");
  m.def(
      "bias_act_dropout_backward_runs",
      [](const std::string& activation, const std::string& dtype, const py::array& dy, const py::array& x,
         std::optional<py::array> bias, const py::array& dx, int64_t cols, double p, uint64_t seed, uint64_t offset,
         const Runs& runs) { bias_act_dropout_runs(activation, dtype, dy, x, bias, dx, cols, p, seed, offset, runs); },
      py::arg("activation"), py::arg("dtype"), py::arg("dy"), py::arg("x"), py::arg("bias"), py::arg("dx"),
      py::arg("cols"), py::arg("p"), py::arg("seed"), py::arg("offset"), py::arg("runs"),
      "its backward, the mask regenerated from (seed, offset) over the runs");
}
