// pybind11 glue for DropBlock's C ABI: argument checks, GIL release, nothing else. Arrays arrive
// flat and contiguous from the front-ends; bfloat16 arrives as its raw uint16 bits.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <string>
#include <vector>

#include "binding_checks.h"
#include "fastdrop/fastdrop.h"

namespace py = pybind11;
using namespace fastdrop_bindings;

namespace {

// The C ABI's status string says only "invalid value": these say which argument and why.
void check_block(const std::vector<int64_t>& shape, int64_t block_size, double eps) {
  if (shape.size() != 4) throw py::value_error("shape: expected (batch, channels, height, width)");
  for (int64_t size : shape) {
    if (size < 0) throw py::value_error("shape: expected sizes >= 0");
  }
  if (block_size < 1 || block_size % 2 == 0 || block_size > shape[2] || block_size > shape[3]) {
    throw py::value_error("block_size: expected an odd size from 1 to the height " + std::to_string(shape[2]) +
                          " and width " + std::to_string(shape[3]) + ", got " + std::to_string(block_size));
  }
  if (!(eps >= 0.0 && std::isfinite(eps))) {
    throw py::value_error("eps: expected a finite number >= 0, got " + std::string(py::repr(py::float_(eps))));
  }
}

double forward(const std::string& dtype_name, const py::array& x, const py::array& y, const std::vector<int64_t>& shape,
               int64_t block_size, double p, double eps, uint64_t seed, uint64_t offset, const py::array& mask_bits) {
  const fastdrop_dtype dtype = dtype_from_name(dtype_name);
  check_items(x, dtype, "x");
  check_block(shape, block_size, eps);
  const py::ssize_t n = x.size();
  if (shape[0] * shape[1] * shape[2] * shape[3] != n) throw py::value_error("shape: must have as many elements as x");
  const void* xp = buffer(x, "x", n * item_size(dtype), false);
  void* yp = buffer(y, "out", n * item_size(dtype), true);
  auto* bits = static_cast<uint8_t*>(buffer(mask_bits, "mask_bits", (n + 7) / 8, true));
  double scale = 0.0;
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_drop_block2d_forward(dtype, xp, yp, shape[0], shape[1], shape[2], shape[3], block_size, p, eps,
                                           seed, offset, bits, &scale);
  }
  check(status);
  return scale;
}

}  // namespace

void bind_drop_block2d(py::module_& m) {
  m.def("drop_block2d_forward", &forward, py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("shape"),
        py::arg("block_size"), py::arg("p"), py::arg("eps"), py::arg("seed"), py::arg("offset"), py::arg("mask_bits"),
        "DropBlock of x, (batch, channels, height, width) row-major, into y (may be x); writes the element keep "
        "bits and returns the scale numel / (eps + kept).");
}
