// What the C ABI's CPU entry points (cpu/<op>.cpp) share: argument checks, dtype sizes, the
// huge-page hint and the split of a call into chunks, or into chunks of runs (shards), across
// threads. Internal to the core's baseline sources.
#pragma once
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "dispatch.h"
#include "fastdrop/fastdrop.h"

namespace fastdrop::cpu {
namespace {

inline bool valid_p(double p) { return !isnan(p) && p >= 0.0 && p <= 1.0; }

inline bool valid_dtype(fastdrop_dtype dtype) { return dtype >= FASTDROP_FLOAT16 && dtype <= FASTDROP_FLOAT64; }

inline size_t dtype_size(fastdrop_dtype dtype) {
  static const size_t sizes[] = {2, 2, 4, 8};
  return sizes[dtype];
}

// Outputs are often fresh allocations whose pages are not yet mapped; on a VM a 4 KiB page fault
// can cost more than the kernel's work on that page. Asking for transparent huge pages on a large
// output (a hint; THP is often enabled only on request) cuts those faults 512-fold.
constexpr size_t kHugePage = size_t(1) << 21;

inline void advise_huge_pages(void* out, size_t bytes) {
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

// Runs body(start, len) over [0, n) in chunks of `chunk` units, on several threads from
// `parallel_min` units on (below that, waking threads costs more than it saves).
template <class Body>
void for_each_chunk(int64_t n, int64_t chunk, int64_t parallel_min, Body body) {
  const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) num_threads(num_threads()) if (n >= parallel_min)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t start = c * chunk;
    body(start, n - start < chunk ? n - start : chunk);
  }
}

// Element i of a call is unit i: one run over the whole array.
inline fastdrop_unit_runs single_run(int64_t n) { return fastdrop_unit_runs{0, n, static_cast<uint64_t>(n)}; }

// Runs of positive length that tile the n elements (any runs for none).
inline bool valid_runs(const fastdrop_unit_runs* runs, int64_t n) {
  if (!runs) return false;
  if (n == 0) return runs->run_length >= 0;
  return runs->run_length > 0 && n % runs->run_length == 0;
}

// Runs body(start, unit, len) over the elements [0, n) in chunks of at most `chunk` elements that
// never cross a run, element start + i being unit unit + i; on several threads from
// `parallel_min` elements on. Chunks start at a multiple of `chunk` within their run.
template <class Body>
void for_each_run_chunk(int64_t n, const fastdrop_unit_runs& runs, int64_t chunk, int64_t parallel_min, Body body) {
  if (n == 0) return;
  const int64_t per_run = (runs.run_length + chunk - 1) / chunk;
  const int64_t chunks = n / runs.run_length * per_run;
#pragma omp parallel for schedule(static) num_threads(num_threads()) if (n >= parallel_min)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t run = c / per_run;
    const int64_t at = c % per_run * chunk;
    const int64_t len = runs.run_length - at < chunk ? runs.run_length - at : chunk;
    body(run * runs.run_length + at, runs.first + static_cast<uint64_t>(run) * runs.run_stride + static_cast<uint64_t>(at),
         len);
  }
}

// Units per chunk of the elementwise ops (dropout, alpha dropout, the apply of bits, bias + dropout
// + add): a multiple of 8 so that bit masks of different chunks never share a byte.
constexpr int64_t kElementwiseChunk = 1 << 15;
// Below this many units a call stays on the calling thread: waking threads costs more.
constexpr int64_t kElementwiseParallelMin = 1 << 16;

// for_each_chunk with the elementwise ops' chunks.
template <class Body>
void for_each_elementwise_chunk(int64_t n, Body body) {
  for_each_chunk(n, kElementwiseChunk, kElementwiseParallelMin, body);
}

// body(start, unit, len) over the runs' chunks of an elementwise op; with a single run, chunks
// start at multiples of kElementwiseChunk, so bit masks indexed from a chunk's start stay whole bytes.
template <class Body>
void for_each_elementwise_run_chunk(int64_t n, const fastdrop_unit_runs& runs, Body body) {
  for_each_run_chunk(n, runs, kElementwiseChunk, kElementwiseParallelMin, body);
}

// The checks every elementwise entry point starts with: dtype, count, p, pointers, the ISA.
inline fastdrop_status check_elementwise_call(fastdrop_dtype dtype, const void* in, const void* out, int64_t n,
                                              double p) {
  if (!valid_dtype(dtype)) return FASTDROP_ERROR_UNSUPPORTED_DTYPE;
  if (n < 0 || !valid_p(p)) return FASTDROP_ERROR_INVALID_VALUE;
  if (n > 0 && (!in || !out)) return FASTDROP_ERROR_NULL_POINTER;
  fastdrop_cpu_isa isa;
  if (!active_isa(&isa)) return FASTDROP_ERROR_ISA_UNAVAILABLE;
  return FASTDROP_SUCCESS;
}

// check_elementwise_call, and runs that tile the n elements: the checks of the elementwise _runs
// entry points.
inline fastdrop_status check_runs_call(fastdrop_dtype dtype, const void* in, const void* out, int64_t n, double p,
                                       const fastdrop_unit_runs* runs) {
  const fastdrop_status status = check_elementwise_call(dtype, in, out, n, p);
  if (status != FASTDROP_SUCCESS) return status;
  return valid_runs(runs, n) ? FASTDROP_SUCCESS : FASTDROP_ERROR_INVALID_VALUE;
}

}  // namespace
}  // namespace fastdrop::cpu
