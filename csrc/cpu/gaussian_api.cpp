// The C ABI of Gaussian dropout on the CPU: argument checks, then the call split into chunks
// across threads (as api.cpp does for the other variants).
#include <math.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "dispatch.h"
#include "fastdrop/fastdrop.h"
#include "gaussian_table.h"

namespace {

// Units per chunk: even, so that both units of a Box–Muller pair are in the same chunk, and
// smaller than dropout's: a unit's noise costs several times its keep bit, so threads pay off
// from fewer units on.
constexpr int64_t kChunk = 1 << 13;
// Below this many units a call stays on the calling thread: waking threads costs more.
constexpr int64_t kParallelMin = 1 << 14;

// api.cpp's advice, repeated here until both share it: outputs are often fresh allocations, and
// on a VM 4 KiB page faults can cost more than the kernel's work; transparent huge pages (a hint,
// THP is often enabled only on request) cut them 512-fold.
constexpr size_t kHugePage = size_t(1) << 21;

void advise_huge_pages(void* out, size_t bytes) {
#if defined(MADV_HUGEPAGE)
  if (!out || bytes < 4 * kHugePage) return;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(out) + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(out) + bytes) & ~(kHugePage - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)out;
  (void)bytes;
#endif
}

size_t dtype_size(fastdrop_dtype dtype) {
  static const size_t sizes[] = {2, 2, 4, 8};
  return sizes[dtype];
}

fastdrop_status gaussian_apply(fastdrop_dtype dtype, const void* in, void* out, int64_t n, double p,
                               uint64_t seed, uint64_t offset) {
  if (dtype < FASTDROP_FLOAT16 || dtype > FASTDROP_FLOAT64) return FASTDROP_ERROR_UNSUPPORTED_DTYPE;
  // Gaussian dropout's rate is in [0, 1): p = 1 would need an infinite variance.
  if (n < 0 || isnan(p) || p < 0.0 || p >= 1.0) return FASTDROP_ERROR_INVALID_VALUE;
  if (n > 0 && (!in || !out)) return FASTDROP_ERROR_NULL_POINTER;
  const fastdrop::cpu::GaussianTable* table = fastdrop::cpu::pick(
      &fastdrop::cpu::scalar::gaussian_kernels, &fastdrop::cpu::avx2::gaussian_kernels,
      &fastdrop::cpu::avx512::gaussian_kernels);
  if (!table) return FASTDROP_ERROR_ISA_UNAVAILABLE;
  const fastdrop::GaussianParams params = fastdrop::make_gaussian_params(p, seed, offset);
  const fastdrop::cpu::GaussianFn apply = table->apply[dtype];
  const size_t size = dtype_size(dtype);
  advise_huge_pages(out, static_cast<size_t>(n) * size);
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) num_threads(fastdrop::cpu::num_threads()) if (n >= kParallelMin)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t start = c * kChunk;
    apply(static_cast<const char*>(in) + start * size, static_cast<char*>(out) + start * size,
          static_cast<uint64_t>(start), n - start < kChunk ? n - start : kChunk, params);
  }
  return FASTDROP_SUCCESS;
}

}  // namespace

extern "C" {

fastdrop_status fastdrop_gaussian_dropout_forward(fastdrop_dtype dtype, const void* x, void* y, int64_t n,
                                                  double p, uint64_t seed, uint64_t offset) {
  return gaussian_apply(dtype, x, y, n, p, seed, offset);
}

fastdrop_status fastdrop_gaussian_dropout_backward(fastdrop_dtype dtype, const void* dy, void* dx, int64_t n,
                                                   double p, uint64_t seed, uint64_t offset) {
  // dx = dy * n with the same noise: the forward's map applied to the gradient.
  return gaussian_apply(dtype, dy, dx, n, p, seed, offset);
}

}  // extern "C"
