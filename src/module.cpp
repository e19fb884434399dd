// The compiled module fastdrop._native: the library-wide functions (CPU ISA, threads, CUDA,
// version, the stream's words), and every op's bindings, src/bind_<op>.cpp, registered from the op
// list (fastdrop/ops.def). pybind11 glue only: argument checks, GIL release, nothing else.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "binding_checks.h"
#include "fastdrop/fastdrop.h"

namespace py = pybind11;
using namespace fastdrop_bindings;

#define FASTDROP_OP(op) void bind_##op(py::module_& m);
#include "fastdrop/ops.def"
#undef FASTDROP_OP
void bind_cuda(py::module_& m);

namespace {

fastdrop_cpu_isa isa_from_name(const std::string& name) {
  for (int i = FASTDROP_ISA_SCALAR; i <= FASTDROP_ISA_AVX512; ++i) {
    if (name == fastdrop_cpu_isa_name(static_cast<fastdrop_cpu_isa>(i))) return static_cast<fastdrop_cpu_isa>(i);
  }
  throw py::value_error("isa: expected scalar, avx2 or avx512, got " + name);
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
#define FASTDROP_OP(op) bind_##op(m);
#include "fastdrop/ops.def"
#undef FASTDROP_OP
  bind_cuda(m);
  m.doc() = "fastdrop's compiled core (C ABI in csrc/include/fastdrop/fastdrop.h)";
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
