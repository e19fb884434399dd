// The C ABI of DropBlock on the CPU: argument checks, the first pass (keep bits and kept count)
// over runs of whole planes across threads, the scale, then the second pass, a streaming apply of
// the bits with that scale.
#include <stdlib.h>

#include <atomic>

#include "api_common.h"
#include "drop_block2d_kernel.h"

namespace {

// Elements per run of planes, about (a run is at least one plane): as dropout's chunks.
constexpr int64_t kChunk = 1 << 15;
// Below this many elements a call stays on the calling thread: waking threads costs more.
constexpr int64_t kParallelMin = 1 << 16;

bool valid_block(int64_t block_size, int64_t height, int64_t width) {
  return block_size >= 1 && block_size % 2 == 1 && block_size <= height && block_size <= width;
}

// Planes per run: enough for about kChunk elements, and a multiple of the fewest planes that hold
// a multiple of 8 elements, so that runs start on a byte of bits and never share one.
int64_t planes_per_run(int64_t plane_size) {
  int64_t whole_bytes = 1;
  while ((whole_bytes * plane_size) % 8 != 0) whole_bytes *= 2;
  const int64_t wanted = kChunk / plane_size > 1 ? kChunk / plane_size : 1;
  return (wanted + whole_bytes - 1) / whole_bytes * whole_bytes;
}

}  // namespace

extern "C" {

fastdrop_status fastdrop_drop_block2d_forward(fastdrop_dtype dtype, const void* x, void* y, int64_t batch,
                                              int64_t channels, int64_t height, int64_t width, int64_t block_size,
                                              double p, double eps, uint64_t seed, uint64_t offset,
                                              uint8_t* mask_bits, double* scale) {
  if (!fastdrop::cpu::valid_dtype(dtype)) return FASTDROP_ERROR_UNSUPPORTED_DTYPE;
  if (batch < 0 || channels < 0 || !fastdrop::cpu::valid_p(p) || !(eps >= 0.0 && isfinite(eps)) ||
      !valid_block(block_size, height, width)) {
    return FASTDROP_ERROR_INVALID_VALUE;
  }
  const int64_t planes = batch * channels, plane_size = height * width, n = planes * plane_size;
  if (n > 0 && (!x || !y || !mask_bits)) return FASTDROP_ERROR_NULL_POINTER;
  const fastdrop::cpu::drop_block2d_kernels* table = fastdrop::cpu::active<fastdrop::cpu::drop_block2d_kernels>();
  if (!table) return FASTDROP_ERROR_ISA_UNAVAILABLE;
  const fastdrop::DropBlockParams params =
      fastdrop::make_drop_block_params(p, height, width, block_size, seed, offset);
  const size_t workspace_bytes = fastdrop::cpu::drop_block_workspace_bytes(params);
  std::atomic<int64_t> kept{0};
  std::atomic<bool> out_of_memory{false};
  fastdrop::cpu::for_each_chunk(
      planes, planes_per_run(plane_size), (kParallelMin + plane_size - 1) / plane_size,
      [&](int64_t start, int64_t len) {
        void* workspace = malloc(workspace_bytes);
        if (!workspace) {
          out_of_memory = true;
          return;
        }
        kept += table->keep_bits(static_cast<uint64_t>(start), len, params, workspace,
                                 mask_bits + start * plane_size / 8);
        free(workspace);
      });
  if (out_of_memory) return FASTDROP_ERROR_OUT_OF_MEMORY;
  const double s = fastdrop::drop_block_scale(n, kept, eps);
  if (scale) *scale = s;
  return fastdrop_apply_mask_bits_scale(dtype, x, y, n, s, mask_bits);
}

}  // extern "C"
