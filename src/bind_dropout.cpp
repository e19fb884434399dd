// pybind11 glue for dropout's C ABI: argument checks, GIL release, nothing else. Arrays arrive flat
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

void forward(const std::string& dtype_name, const py::array& x, const py::array& y, double p, uint64_t seed,
             uint64_t offset, std::optional<py::array> mask_bits, std::optional<py::array> mask_bytes) {
  const fastdrop_dtype dtype = dtype_from_name(dtype_name);
  check_items(x, dtype, "x");
  const py::ssize_t n = x.size();
  const void* xp = buffer(x, "x", n * item_size(dtype), false);
  void* yp = buffer(y, "out", n * item_size(dtype), true);
  auto* bits = mask_bits ? static_cast<uint8_t*>(buffer(*mask_bits, "mask_bits", (n + 7) / 8, true)) : nullptr;
  auto* bytes = mask_bytes ? static_cast<bool*>(buffer(*mask_bytes, "mask_bytes", n, true)) : nullptr;
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_dropout_forward(dtype, xp, yp, n, p, seed, offset, bits, bytes);
  }
  check(status);
}

void backward_bits(const std::string& dtype_name, const py::array& dy, const py::array& dx, double p,
                   const py::array& mask_bits) {
  const fastdrop_dtype dtype = dtype_from_name(dtype_name);
  check_items(dy, dtype, "grad");
  const py::ssize_t n = dy.size();
  const void* gp = buffer(dy, "grad", n * item_size(dtype), false);
  void* dxp = buffer(dx, "out", n * item_size(dtype), true);
  const auto* bits = static_cast<const uint8_t*>(buffer(mask_bits, "mask_bits", (n + 7) / 8, false));
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_dropout_backward_bits(dtype, gp, dxp, n, p, bits);
  }
  check(status);
}

// The same calls on raw addresses, for torch tensors' memory.
void forward_raw(const std::string& dtype_name, uintptr_t x, uintptr_t y, int64_t n, double p, uint64_t seed,
                 uint64_t offset, uintptr_t mask_bits, uintptr_t mask_bytes) {
  const fastdrop_dtype dtype = dtype_from_name(dtype_name);
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_dropout_forward(dtype, address<const void>(x), address<void>(y), n, p, seed, offset,
                                      address<uint8_t>(mask_bits), address<bool>(mask_bytes));
  }
  check(status);
}

void backward_bits_raw(const std::string& dtype_name, uintptr_t dy, uintptr_t dx, int64_t n, double p,
                       uintptr_t mask_bits) {
  const fastdrop_dtype dtype = dtype_from_name(dtype_name);
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_dropout_backward_bits(dtype, address<const void>(dy), address<void>(dx), n, p,
                                            address<const uint8_t>(mask_bits));
  }
  check(status);
}

void mask_bits(int64_t n, double p, uint64_t seed, uint64_t offset, const py::array& bits) {
  if (n < 0) throw py::value_error("n: expected a count >= 0");
  auto* out = static_cast<uint8_t*>(buffer(bits, "mask_bits", (n + 7) / 8, true));
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_dropout_mask_bits(n, p, seed, offset, out);
  }
  check(status);
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

}  // namespace

void bind_dropout(py::module_& m) {
  m.def("forward", &forward, py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("p"), py::arg("seed"),
        py::arg("offset"), py::arg("mask_bits") = py::none(), py::arg("mask_bytes") = py::none());
  m.def("backward_bits", &backward_bits, py::arg("dtype"), py::arg("dy"), py::arg("dx"), py::arg("p"),
        py::arg("mask_bits"));
  m.def("forward_raw", &forward_raw, py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("n"), py::arg("p"),
        py::arg("seed"), py::arg("offset"), py::arg("mask_bits") = 0, py::arg("mask_bytes") = 0);
  m.def("backward_bits_raw", &backward_bits_raw, py::arg("dtype"), py::arg("dy"), py::arg("dx"), py::arg("n"),
        py::arg("p"), py::arg("mask_bits"));
  m.def("mask_bits", &mask_bits, py::arg("n"), py::arg("p"), py::arg("seed"), py::arg("offset"), py::arg("bits"));
  bind_elementwise_runs(m, "forward_runs", fastdrop_dropout_forward_runs, "x",
                        "dropout of a shard whose elements are the units of runs; also its backward");
  m.def("mask_bits_runs", &mask_bits_runs, py::arg("n"), py::arg("p"), py::arg("seed"), py::arg("offset"),
        py::arg("runs"), py::arg("bits"), "keep bits of a shard's units, each run from a whole byte");
}
