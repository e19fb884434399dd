// pybind11 glue for the fastdrop C ABI: argument checks, GIL release, nothing else. Arrays arrive
// contiguous and flat from the Python front-end; 16-bit floats arrive as their raw bits.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "binding_checks.h"
#include "fastdrop/fastdrop.h"

namespace py = pybind11;
using namespace fastdrop_bindings;

void bind_bias_act(py::module_& m);
void bind_cuda(py::module_& m);
void bind_gaussian(py::module_& m);
void bind_shard(py::module_& m);
void bind_drop_block(py::module_& m);

namespace {

fastdrop_cpu_isa isa_from_name(const std::string& name) {
  for (int i = FASTDROP_ISA_SCALAR; i <= FASTDROP_ISA_AVX512; ++i) {
    if (name == fastdrop_cpu_isa_name(static_cast<fastdrop_cpu_isa>(i))) return static_cast<fastdrop_cpu_isa>(i);
  }
  throw py::value_error("isa: expected scalar, avx2 or avx512, got " + name);
}

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

// The same calls on raw addresses (torch tensors' data_ptr()), for callers that already hold
// contiguous memory of the right size and want no array conversion per call.
template <class T>
T* address(uintptr_t ptr) {
  return reinterpret_cast<T*>(ptr);
}

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

fastdrop_apply_kind apply_kind_from_name(const std::string& name) {
  if (name == "dropout") return FASTDROP_APPLY_DROPOUT;
  if (name == "alpha") return FASTDROP_APPLY_ALPHA;
  if (name == "alpha_grad") return FASTDROP_APPLY_ALPHA_GRAD;
  throw py::value_error("kind: expected dropout, alpha or alpha_grad, got " + name);
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

void bias_dropout_add_forward(const std::string& dtype_name, const py::array& x, std::optional<py::array> bias,
                              const py::array& residual, const py::array& y, int64_t cols, double p, uint64_t seed,
                              uint64_t offset, std::optional<py::array> mask_bits) {
  const BiasDropoutAddArrays a = bias_dropout_add_arrays(dtype_name, x, bias, residual, y, cols);
  auto* bits = mask_bits ? static_cast<uint8_t*>(buffer(*mask_bits, "mask_bits", (a.n + 7) / 8, true)) : nullptr;
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_bias_dropout_add_forward(a.dtype, a.x, a.bias, a.residual, a.y, a.n / cols, cols, p, seed,
                                               offset, bits);
  }
  check(status);
}

void stream_words(uint64_t seed, uint64_t offset, uint64_t first, const py::array& words) {
  if (words.itemsize() != 4) throw py::type_error("words: expected a uint32 array");
  const py::ssize_t n = words.size();
  auto* out = static_cast<uint32_t*>(buffer(words, "words", n * 4, true));
  fastdrop_status status;
  {
    py::gil_scoped_release release;
    status = fastdrop_stream_words(seed, offset, first, n, out);
  }
  check(status);
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  bind_bias_act(m);
  bind_cuda(m);
  bind_gaussian(m);
  bind_shard(m);
  bind_drop_block(m);
  m.doc() = "fastdrop's compiled core (C ABI in csrc/include/fastdrop/fastdrop.h)";
  m.def("forward", &forward, py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("p"), py::arg("seed"),
        py::arg("offset"), py::arg("mask_bits") = py::none(), py::arg("mask_bytes") = py::none());
  m.def("backward_bits", &backward_bits, py::arg("dtype"), py::arg("dy"), py::arg("dx"), py::arg("p"),
        py::arg("mask_bits"));
  m.def("forward_raw", &forward_raw, py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("n"), py::arg("p"),
        py::arg("seed"), py::arg("offset"), py::arg("mask_bits") = 0, py::arg("mask_bytes") = 0);
  m.def("backward_bits_raw", &backward_bits_raw, py::arg("dtype"), py::arg("dy"), py::arg("dx"), py::arg("n"),
        py::arg("p"), py::arg("mask_bits"));
  m.def("mask_bits", &mask_bits, py::arg("n"), py::arg("p"), py::arg("seed"), py::arg("offset"), py::arg("bits"));
  m.def("apply_mask_bits", &apply_mask_bits, py::arg("kind"), py::arg("dtype"), py::arg("x"), py::arg("y"),
        py::arg("shape"), py::arg("unit_strides"), py::arg("p"), py::arg("unit_bits"));
  m.def("alpha_forward", &alpha_forward, py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("p"), py::arg("seed"),
        py::arg("offset"), py::arg("mask_bits") = py::none());
  m.def("alpha_backward", &alpha_backward, py::arg("dtype"), py::arg("dy"), py::arg("dx"), py::arg("p"),
        py::arg("seed"), py::arg("offset"));
  m.def("bias_dropout_add_forward", &bias_dropout_add_forward, py::arg("dtype"), py::arg("x"), py::arg("bias"),
        py::arg("residual"), py::arg("y"), py::arg("cols"), py::arg("p"), py::arg("seed"), py::arg("offset"),
        py::arg("mask_bits") = py::none());
  m.def("stream_words", &stream_words, py::arg("seed"), py::arg("offset"), py::arg("first"), py::arg("words"));
  m.def("cpu_isa", [] { return std::string(fastdrop_cpu_isa_name(fastdrop_cpu_isa_active())); });
  m.def("set_cpu_isa", [](const std::string& name) {
    const fastdrop_cpu_isa isa = isa_from_name(name);
    if (fastdrop_cpu_isa_set(isa) == FASTDROP_ERROR_ISA_UNAVAILABLE) {
      throw std::runtime_error("isa: this CPU does not support " + name);
    }
  });
  m.def("cpu_isa_supported", [](const std::string& name) { return fastdrop_cpu_isa_supported(isa_from_name(name)); });
  m.def("set_num_threads", [](int threads) { check(fastdrop_set_num_threads(threads)); });
  m.def("get_num_threads", &fastdrop_get_num_threads);
  m.def("cuda_built", &fastdrop_cuda_built);
  m.def("cuda_device_count", [] {
    int count = 0;
    const fastdrop_status status = fastdrop_cuda_device_count(&count);
    return status == FASTDROP_SUCCESS ? count : 0;
  });
  m.attr("version") = fastdrop_version();
}
