// pybind11 glue for Gaussian dropout's C ABI: argument checks, GIL release, nothing else. Arrays
// arrive flat and contiguous from the front-ends; bfloat16 arrives as its raw uint16 bits.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "binding_checks.h"
#include "fastdrop/fastdrop.h"

namespace py = pybind11;
using namespace fastdrop_bindings;

namespace {

// The C ABI's status string says [0, 1] for every variant; Gaussian dropout's rate excludes 1.
void check_p(double p) {
  if (std::isnan(p) || p < 0.0 || p >= 1.0) {
    const std::string got = py::repr(py::float_(p));
    throw py::value_error("p: Gaussian dropout rate has to be in [0, 1), got " + got);
  }
}

using GaussianAbi = fastdrop_status (*)(fastdrop_dtype, const void*, void*, int64_t, double, uint64_t, uint64_t);

// out = in * n for the flat arrays of one call, through the forward or backward entry point.
void run(GaussianAbi abi, const char* in_name, const std::string& dtype_name, const py::array& in,
         const py::array& out, double p, uint64_t seed, uint64_t offset) {
  const fastdrop_dtype dtype = dtype_from_name(dtype_name);
  check_p(p);
  check_items(in, dtype, in_name);
  check_items(out, dtype, "out");
  const py::ssize_t n = in.size();
  const void* src = buffer(in, in_name, n * item_size(dtype), false);
  void* dst = buffer(out, "out", n * item_size(dtype), true);
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = abi(dtype, src, dst, n, p, seed, offset);
  }
  check(status);
}

// Runs of whole Box–Muller pairs: the C ABI refuses others, and this says why.
void check_pairs(const fastdrop_unit_runs& runs) {
  if (runs.first % 2 || runs.run_length % 2 || runs.run_stride % 2) {
    throw py::value_error("runs: Gaussian dropout needs even first, run_length and run_stride (whole pairs)");
  }
}

}  // namespace

void bind_gaussian_dropout(py::module_& m) {
  m.def(
      "gaussian_forward",
      [](const std::string& dtype, const py::array& x, const py::array& y, double p, uint64_t seed, uint64_t offset) {
        run(fastdrop_gaussian_dropout_forward, "x", dtype, x, y, p, seed, offset);
      },
      py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("p"), py::arg("seed"), py::arg("offset"),
      "y = x * n, n = 1 + sqrt(p / (1 - p)) z with z standard normal from (seed, offset); y may be x.");
  m.def(
      "gaussian_backward",
      [](const std::string& dtype, const py::array& dy, const py::array& dx, double p, uint64_t seed,
         uint64_t offset) { run(fastdrop_gaussian_dropout_backward, "grad", dtype, dy, dx, p, seed, offset); },
      py::arg("dtype"), py::arg("dy"), py::arg("dx"), py::arg("p"), py::arg("seed"), py::arg("offset"),
      "dx = dy * n with the forward's noise, regenerated from (seed, offset).");
  bind_elementwise_runs(m, "gaussian_forward_runs", fastdrop_gaussian_dropout_forward_runs, "x",
                        "Gaussian dropout of a shard (runs of whole Box-Muller pairs)", check_pairs);
  bind_elementwise_runs(m, "gaussian_backward_runs", fastdrop_gaussian_dropout_backward_runs, "grad",
                        "Gaussian dropout's backward of a shard, the noise regenerated", check_pairs);
}
