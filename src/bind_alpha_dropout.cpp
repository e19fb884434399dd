// pybind11 glue for alpha dropout's C ABI: argument checks, GIL release, nothing else. Arrays arrive flat
// and contiguous from the front-ends; 16-bit floats arrive as their raw bits.
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

void alpha_forward(const std::string& dtype_name, const py::array& x, const py::array& y, double p, uint64_t seed,
                   uint64_t offset, std::optional<py::array> mask_bits) {
  const fastdrop_dtype dtype = dtype_from_name(dtype_name);
  check_items(x, dtype, "x");
  const py::ssize_t n = x.size();
  const void* xp = buffer(x, "x", n * item_size(dtype), false);
  void* yp = buffer(y, "out", n * item_size(dtype), true);
  auto* bits = mask_bits ? static_cast<uint8_t*>(buffer(*mask_bits, "mask_bits", (n + 7) / 8, true)) : nullptr;
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_alpha_dropout_forward(dtype, xp, yp, n, p, seed, offset, bits);
  }
  check(status);
}

void alpha_backward(const std::string& dtype_name, const py::array& dy, const py::array& dx, double p, uint64_t seed,
                    uint64_t offset) {
  const fastdrop_dtype dtype = dtype_from_name(dtype_name);
  check_items(dy, dtype, "grad");
  const py::ssize_t n = dy.size();
  const void* gp = buffer(dy, "grad", n * item_size(dtype), false);
  void* dxp = buffer(dx, "out", n * item_size(dtype), true);
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_alpha_dropout_backward(dtype, gp, dxp, n, p, seed, offset);
  }
  check(status);
}

}  // namespace

void bind_alpha_dropout(py::module_& m) {
  m.def("alpha_forward", &alpha_forward, py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("p"), py::arg("seed"),
        py::arg("offset"), py::arg("mask_bits") = py::none());
  m.def("alpha_backward", &alpha_backward, py::arg("dtype"), py::arg("dy"), py::arg("dx"), py::arg("p"),
        py::arg("seed"), py::arg("offset"));
  bind_elementwise_runs(m, "alpha_forward_runs", fastdrop_alpha_dropout_forward_runs, "x", "alpha dropout of a shard");
  bind_elementwise_runs(m, "alpha_backward_runs", fastdrop_alpha_dropout_backward_runs, "grad",
                        "alpha dropout's backward of a shard, the mask regenerated");
}
