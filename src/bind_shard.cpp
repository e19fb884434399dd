// pybind11 glue for the C ABI's _runs entry points (shards of a logical tensor): argument checks,
// GIL release, nothing else. runs arrives as (first, run_length, run_stride).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <tuple>

#include "binding_checks.h"
#include "fastdrop/fastdrop.h"

namespace py = pybind11;
using namespace fastdrop_bindings;

namespace {

using Runs = std::tuple<uint64_t, int64_t, uint64_t>;
using ElementwiseRunsAbi = fastdrop_status (*)(fastdrop_dtype, const void*, void*, int64_t, double, uint64_t, uint64_t,
                                               const fastdrop_unit_runs*);

// The runs of a call of n elements, refused with an error that names them (the C ABI's status
// string speaks of p and counts). Gaussian dropout's runs must also hold whole pairs.
fastdrop_unit_runs unit_runs(const Runs& runs, int64_t n, bool pairs = false) {
  const fastdrop_unit_runs call_runs{std::get<0>(runs), std::get<1>(runs), std::get<2>(runs)};
  if (call_runs.run_length < 0 || (n > 0 && (call_runs.run_length == 0 || n % call_runs.run_length))) {
    throw py::value_error("runs: run_length must be positive and divide n");
  }
  if (pairs && (call_runs.first % 2 || call_runs.run_length % 2 || call_runs.run_stride % 2)) {
    throw py::value_error("runs: Gaussian dropout needs even first, run_length and run_stride (whole pairs)");
  }
  return call_runs;
}

// out = op(in) for the flat arrays of one sharded call.
void elementwise(ElementwiseRunsAbi abi, const char* in_name, const std::string& dtype_name, const py::array& in,
                 const py::array& out, double p, uint64_t seed, uint64_t offset, const Runs& runs, bool pairs) {
  const fastdrop_dtype dtype = dtype_from_name(dtype_name);
  check_items(in, dtype, in_name);
  const py::ssize_t n = in.size();
  const void* src = buffer(in, in_name, n * item_size(dtype), false);
  void* dst = buffer(out, "out", n * item_size(dtype), true);
  const fastdrop_unit_runs call_runs = unit_runs(runs, n, pairs);
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = abi(dtype, src, dst, n, p, seed, offset, &call_runs);
  }
  check(status);
}

void bind_elementwise(py::module_& m, const char* name, ElementwiseRunsAbi abi, const char* in_name, const char* doc,
                      bool pairs = false) {
  m.def(
      name,
      [abi, in_name, pairs](const std::string& dtype, const py::array& in, const py::array& out, double p,
                            uint64_t seed, uint64_t offset,
                            const Runs& runs) { elementwise(abi, in_name, dtype, in, out, p, seed, offset, runs, pairs); },
      py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("p"), py::arg("seed"), py::arg("offset"), py::arg("runs"),
      doc);
}

void mask_bits_runs(int64_t n, double p, uint64_t seed, uint64_t offset, const Runs& runs, const py::array& bits) {
  if (n < 0) throw py::value_error("n: expected a count >= 0");
  const fastdrop_unit_runs call_runs = unit_runs(runs, n);
  const int64_t bytes = n ? n / call_runs.run_length * ((call_runs.run_length + 7) / 8) : 0;
  auto* out = static_cast<uint8_t*>(buffer(bits, "mask_bits", bytes, true));
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_dropout_mask_bits_runs(n, p, seed, offset, &call_runs, out);
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

void bind_shard(py::module_& m) {
  bind_elementwise(m, "forward_runs", fastdrop_dropout_forward_runs, "x",
                   "dropout of a shard whose elements are the units of runs; also its backward");
  bind_elementwise(m, "alpha_forward_runs", fastdrop_alpha_dropout_forward_runs, "x", "alpha dropout of a shard");
  bind_elementwise(m, "alpha_backward_runs", fastdrop_alpha_dropout_backward_runs, "grad",
                   "alpha dropout's backward of a shard, the mask regenerated");
  bind_elementwise(m, "gaussian_forward_runs", fastdrop_gaussian_dropout_forward_runs, "x",
                   "Gaussian dropout of a shard (runs of whole Box-Muller pairs)", true);
  bind_elementwise(m, "gaussian_backward_runs", fastdrop_gaussian_dropout_backward_runs, "grad",
                   "Gaussian dropout's backward of a shard, the noise regenerated", true);
  m.def("mask_bits_runs", &mask_bits_runs, py::arg("n"), py::arg("p"), py::arg("seed"), py::arg("offset"),
        py::arg("runs"), py::arg("bits"), "keep bits of a shard's units, each run from a whole byte");
  m.def("bias_dropout_add_forward_runs", &bias_dropout_add_forward_runs, py::arg("dtype"), py::arg("x"),
        py::arg("bias"), py::arg("residual"), py::arg("y"), py::arg("cols"), py::arg("p"), py::arg("seed"),
        py::arg("offset"), py::arg("runs"));
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
