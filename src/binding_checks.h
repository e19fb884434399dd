// What every pybind11 source of the extension shares: dtype names, status codes to Python
// exceptions, and the checks on the arrays handed to the C ABI.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <new>
#include <optional>
#include <stdexcept>
#include <string>

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

// The checked buffers of a bias + dropout + residual add over (n / cols, cols) data.
struct BiasDropoutAddArrays {
  fastdrop_dtype dtype;
  py::ssize_t n;
  const void* x;
  const void* bias;
  const void* residual;
  void* y;
};

inline BiasDropoutAddArrays bias_dropout_add_arrays(const std::string& dtype_name, const py::array& x,
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

inline fastdrop_activation activation_from_name(const std::string& name) {
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

inline BiasActCall bias_act_call(const std::string& activation, const std::string& dtype_name, const py::array& x,
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

inline int64_t rows(const BiasActCall& call) { return call.cols ? call.n / call.cols : 0; }

}  // namespace fastdrop_bindings
