// Runtime choice of the CPU kernels (ISA) and of the thread count.
#pragma once
#include "fastdrop/fastdrop.h"
#include "registry.h"

namespace fastdrop::cpu {

// The ISA whose kernels run; false if FASTDROP_CPU_ISA named one that is unknown or absent.
bool active_isa(fastdrop_cpu_isa* isa);

// An op's kernel table (Table: <op>_kernels) for the active ISA, or nullptr if FASTDROP_CPU_ISA
// named one that is unknown or absent.
template <class Table>
const Table* active() {
  fastdrop_cpu_isa isa;
  if (!active_isa(&isa)) return nullptr;
  switch (isa) {
    case FASTDROP_ISA_SCALAR:
      return &scalar::kernels<Table>();
    case FASTDROP_ISA_AVX2:
      return &avx2::kernels<Table>();
    case FASTDROP_ISA_AVX512:
      return &avx512::kernels<Table>();
  }
  return nullptr;
}

int num_threads();

}  // namespace fastdrop::cpu
