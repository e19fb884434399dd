// What every pybind11 source of the extension shares: dtype names, status codes to Python
// exceptions, the checks on the arrays handed to the C ABI, raw addresses, and the runs of
// sharded calls.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <tuple>

#include "fastdrop/fastdrop.h"

namespace fastdrop_bindings {

namespace py = pybind11;

inline fastdrop_dtype dtype_from_name(const std::string& name) {
  if (name == "float16") return FASTDROP_FLOAT16;
  if (name == "bfloat16") return FASTDROP_BFLOAT16;
  if (name == "float32") return FASTDROP_FLOAT32;
  if (name == "float64") return FASTDROP_FLOAT64;
  throw py::type_error("dtype: expected float16, bfloat16, float32 or float64, got " + name);
}

inline void check(fastdrop_status status) {
  switch (status) {
    case FASTDROP_SUCCESS:
      return;
    case FASTDROP_ERROR_INVALID_VALUE:
      throw py::value_error(fastdrop_status_string(status));
    case FASTDROP_ERROR_UNSUPPORTED_DTYPE:
      throw py::type_error(fastdrop_status_string(status));
    case FASTDROP_ERROR_OUT_OF_MEMORY:
      throw std::bad_alloc();  // pybind11 raises MemoryError
    default:
      throw std::runtime_error(fastdrop_status_string(status));
  }
}

inline py::ssize_t item_size(fastdrop_dtype dtype) {
  return dtype == FASTDROP_FLOAT64 ? 8 : dtype == FASTDROP_FLOAT32 ? 4 : 2;
}

inline void check_items(const py::array& a, fastdrop_dtype dtype, const char* what) {
  if (a.itemsize() != item_size(dtype)) {
    throw py::type_error(std::string(what) + ": item size " + std::to_string(a.itemsize()) +
                         " does not match the dtype");
  }
}

// A contiguous, writable-if-asked buffer of exactly `bytes` bytes.
inline void* buffer(const py::array& a, const char* what, py::ssize_t bytes, bool writable) {
  if (!(a.flags() & py::array::c_style)) throw py::value_error(std::string(what) + ": must be C-contiguous");
  if (writable && !a.writeable()) throw py::value_error(std::string(what) + ": must be writable");
  if (a.nbytes() != bytes) {
    throw py::value_error(std::string(what) + ": expected " + std::to_string(bytes) + " bytes, got " +
                          std::to_string(a.nbytes()));
  }
  return const_cast<void*>(a.data());
}

// Raw addresses (torch tensors' data_ptr()) as pointers, for callers that already hold contiguous
// memory of the right size and want no array conversion per call.
template <class T>
T* address(uintptr_t ptr) {
  return reinterpret_cast<T*>(ptr);
}

// Sharded calls (the C ABI's _runs entry points) take their runs from Python as (first,
// run_length, run_stride).
using Runs = std::tuple<uint64_t, int64_t, uint64_t>;
using ElementwiseRunsAbi = fastdrop_status (*)(fastdrop_dtype, const void*, void*, int64_t, double, uint64_t, uint64_t,
                                               const fastdrop_unit_runs*);
// What an op further requires of the runs of its calls, raising if they fail it (nullptr: nothing).
using RunsCheck = void (*)(const fastdrop_unit_runs& runs);

// The runs of a call of n elements, refused with an error that names them (the C ABI's status
// string speaks of p and counts).
inline fastdrop_unit_runs unit_runs(const Runs& runs, int64_t n, RunsCheck check_runs = nullptr) {
  const fastdrop_unit_runs call_runs{std::get<0>(runs), std::get<1>(runs), std::get<2>(runs)};
  if (call_runs.run_length < 0 || (n > 0 && (call_runs.run_length == 0 || n % call_runs.run_length))) {
    throw py::value_error("runs: run_length must be positive and divide n");
  }
  if (check_runs) check_runs(call_runs);
  return call_runs;
}

// out = op(in) for the flat arrays of one sharded call.
inline void elementwise_runs(ElementwiseRunsAbi abi, const char* in_name, const std::string& dtype_name,
                             const py::array& in, const py::array& out, double p, uint64_t seed, uint64_t offset,
                             const Runs& runs, RunsCheck check_runs) {
  const fastdrop_dtype dtype = dtype_from_name(dtype_name);
  check_items(in, dtype, in_name);
  const py::ssize_t n = in.size();
  const void* src = buffer(in, in_name, n * item_size(dtype), false);
  void* dst = buffer(out, "out", n * item_size(dtype), true);
  const fastdrop_unit_runs call_runs = unit_runs(runs, n, check_runs);
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = abi(dtype, src, dst, n, p, seed, offset, &call_runs);
  }
  check(status);
}

// Binds an elementwise _runs entry point as name(dtype, x, y, p, seed, offset, runs).
inline void bind_elementwise_runs(py::module_& m, const char* name, ElementwiseRunsAbi abi, const char* in_name,
                                  const char* doc, RunsCheck check_runs = nullptr) {
  m.def(
      name,
      [abi, in_name, check_runs](const std::string& dtype, const py::array& in, const py::array& out, double p,
                                 uint64_t seed, uint64_t offset, const Runs& runs) {
        elementwise_runs(abi, in_name, dtype, in, out, p, seed, offset, runs, check_runs);
      },
      py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("p"), py::arg("seed"), py::arg("offset"), py::arg("runs"),
      doc);
}

}  // namespace fastdrop_bindings
