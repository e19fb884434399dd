// The per-ISA kernel tables, one per op of fastdrop/ops.def. The table of an op is the struct
// <op>_kernels of cpu/<op>_kernel.h; each ISA's build of cpu/<op>_kernel.cpp defines
// kernels<op_kernels>() in that ISA's namespace. The declarations below come from the list, so
// that dispatch (dispatch.h) is written once for every op.
#pragma once

namespace fastdrop::cpu {

#define FASTDROP_OP(op) struct op##_kernels;
#include "fastdrop/ops.def"
#undef FASTDROP_OP

// One namespace per ISA, as CMake compiles the kernel sources (FASTDROP_ISA).
#define FASTDROP_OP(op) \
  template <>           \
  const op##_kernels& kernels<op##_kernels>();

namespace scalar {
template <class Table>
const Table& kernels();
#include "fastdrop/ops.def"
}  // namespace scalar

namespace avx2 {
template <class Table>
const Table& kernels();
#include "fastdrop/ops.def"
}  // namespace avx2

namespace avx512 {
template <class Table>
const Table& kernels();
#include "fastdrop/ops.def"
}  // namespace avx512

#undef FASTDROP_OP

}  // namespace fastdrop::cpu
