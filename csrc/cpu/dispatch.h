// Runtime choice of the CPU kernels (ISA) and of the thread count.
#pragma once
#include "fastdrop/fastdrop.h"
#include "kernel_table.h"

namespace fastdrop::cpu {

// The kernels of the active ISA, or nullptr if FASTDROP_CPU_ISA named one that is unknown or absent.
const KernelTable* active_kernels();
const ApplyRowTable* active_apply_rows();
int num_threads();

}  // namespace fastdrop::cpu
