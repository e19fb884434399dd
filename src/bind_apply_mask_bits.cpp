// pybind11 glue for the C ABI that applies stored keep bits (the units family: spatial, locked
// and noise_shape dropout, feature alpha dropout, stochastic depth; and element bits with a scale):
// argument checks, GIL release, nothing else. Arrays arrive flat and contiguous from the
// front-ends; 16-bit floats arrive as their raw bits.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "binding_checks.h"
#include "fastdrop/fastdrop.h"

namespace py = pybind11;
using namespace fastdrop_bindings;

namespace {

fastdrop_apply_kind apply_kind_from_name(const std::string& name) {
  if (name == "dropout") return FASTDROP_APPLY_DROPOUT;
  if (name == "alpha") return FASTDROP_APPLY_ALPHA;
  if (name == "alpha_grad") return FASTDROP_APPLY_ALPHA_GRAD;
  throw py::value_error("kind: expected dropout, alpha or alpha_grad, got " + name);
}

void apply_mask_bits(const std::string& kind_name, const std::string& dtype_name, const py::array& x,
                     const py::array& y, const std::vector<int64_t>& shape, const std::vector<int64_t>& unit_strides,
                     double p, const py::array& unit_bits) {
  const fastdrop_apply_kind kind = apply_kind_from_name(kind_name);
  const fastdrop_dtype dtype = dtype_from_name(dtype_name);
  if (shape.size() != unit_strides.size()) throw py::value_error("unit_strides: expected one per dimension of shape");
  check_items(x, dtype, "x");
  const void* xp = buffer(x, "x", x.size() * item_size(dtype), false);
  void* yp = buffer(y, "out", x.size() * item_size(dtype), true);
  py::ssize_t elements = 1;
  for (int64_t size : shape) elements *= size;
  if (elements != x.size()) throw py::value_error("shape: must have as many elements as x");
  const auto* bits = static_cast<const uint8_t*>(buffer(unit_bits, "unit_bits", unit_bits.nbytes(), false));
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_apply_mask_bits(kind, dtype, xp, yp, static_cast<int>(shape.size()), shape.data(),
                                      unit_strides.data(), p, bits, unit_bits.nbytes());
  }
  check(status);
}

void apply_mask_bits_scale(const std::string& dtype_name, const py::array& x, const py::array& y, double scale,
                           const py::array& mask_bits) {
  const fastdrop_dtype dtype = dtype_from_name(dtype_name);
  check_items(x, dtype, "x");
  if (!std::isfinite(scale)) throw py::value_error("scale: expected a finite number");
  const py::ssize_t n = x.size();
  const void* xp = buffer(x, "x", n * item_size(dtype), false);
  void* yp = buffer(y, "out", n * item_size(dtype), true);
  const auto* bits = static_cast<const uint8_t*>(buffer(mask_bits, "mask_bits", (n + 7) / 8, false));
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_apply_mask_bits_scale(dtype, xp, yp, n, scale, bits);
  }
  check(status);
}


}  // namespace

void bind_apply_mask_bits(py::module_& m) {
  m.def("apply_mask_bits", &apply_mask_bits, py::arg("kind"), py::arg("dtype"), py::arg("x"), py::arg("y"),
        py::arg("shape"), py::arg("unit_strides"), py::arg("p"), py::arg("unit_bits"));
  m.def("apply_mask_bits_scale", &apply_mask_bits_scale, py::arg("dtype"), py::arg("x"), py::arg("y"),
        py::arg("scale"), py::arg("mask_bits"),
        "y = keep ? x * scale : 0 with keep from bit (i & 7) of mask_bits[i >> 3]; y may be x.");

}
