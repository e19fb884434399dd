// Runtime choice of the CPU kernels (ISA) and of the thread count.
#pragma once
#include "fastdrop/fastdrop.h"
#include "fused_table.h"
#include "kernel_table.h"

namespace fastdrop::cpu {

// The ISA whose kernels run; false if FASTDROP_CPU_ISA named one that is unknown or absent.
bool active_isa(fastdrop_cpu_isa* isa);

// The table of the active ISA among three per-ISA tables (scalar, avx2, avx512), or nullptr.
template <class Table>
const Table* pick(const Table& (*scalar_table)(), const Table& (*avx2_table)(), const Table& (*avx512_table)()) {
  fastdrop_cpu_isa isa;
  if (!active_isa(&isa)) return nullptr;
  switch (isa) {
    case FASTDROP_ISA_SCALAR:
      return &scalar_table();
    case FASTDROP_ISA_AVX2:
      return &avx2_table();
    case FASTDROP_ISA_AVX512:
      return &avx512_table();
  }
  return nullptr;
}

// The kernels of the active ISA, or nullptr if FASTDROP_CPU_ISA named one that is unknown or absent.
inline const KernelTable* active_kernels() { return pick(&scalar::kernels, &avx2::kernels, &avx512::kernels); }
inline const FusedTable* active_fused_kernels() {
  return pick(&scalar::fused_kernels, &avx2::fused_kernels, &avx512::fused_kernels);
}
inline const ApplyRowTable* active_apply_rows() {
  return pick(&scalar::apply_rows, &avx2::apply_rows, &avx512::apply_rows);
}
int num_threads();

}  // namespace fastdrop::cpu
