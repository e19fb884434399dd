#include "dispatch.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <mutex>

namespace fastdrop::cpu {
namespace {

// -1 while unset: FASTDROP_CPU_ISA is read at the first use. kInvalidIsa: it named no usable ISA.
constexpr int kInvalidIsa = -2;
std::atomic<int> g_isa{-1};
std::atomic<int> g_threads{0};
std::once_flag g_isa_once;

bool supported(fastdrop_cpu_isa isa) {
  switch (isa) {
    case FASTDROP_ISA_SCALAR:
      return true;
    case FASTDROP_ISA_AVX2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case FASTDROP_ISA_AVX512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl");
  }
  return false;
}

fastdrop_cpu_isa best_supported() {
  if (supported(FASTDROP_ISA_AVX512)) return FASTDROP_ISA_AVX512;
  if (supported(FASTDROP_ISA_AVX2)) return FASTDROP_ISA_AVX2;
  return FASTDROP_ISA_SCALAR;
}

void init_isa() {
  std::call_once(g_isa_once, [] {
    int isa = best_supported();
    const char* forced = getenv("FASTDROP_CPU_ISA");
    if (forced && *forced) {
      isa = kInvalidIsa;
      for (int i = FASTDROP_ISA_SCALAR; i <= FASTDROP_ISA_AVX512; ++i) {
        const auto candidate = static_cast<fastdrop_cpu_isa>(i);
        if (strcmp(forced, fastdrop_cpu_isa_name(candidate)) == 0 && supported(candidate)) isa = i;
      }
    }
    int unset = -1;
    g_isa.compare_exchange_strong(unset, isa);
  });
}

}  // namespace

bool active_isa(fastdrop_cpu_isa* isa) {
  init_isa();
  const int value = g_isa.load();
  if (value < 0) return false;
  *isa = static_cast<fastdrop_cpu_isa>(value);
  return true;
}

int num_threads() {
  const int threads = g_threads.load();
  return threads > 0 ? threads : omp_get_max_threads();
}

}  // namespace fastdrop::cpu

using fastdrop::cpu::g_isa;

extern "C" {

fastdrop_cpu_isa fastdrop_cpu_isa_active(void) {
  fastdrop::cpu::init_isa();
  const int isa = g_isa.load();
  return isa >= 0 ? static_cast<fastdrop_cpu_isa>(isa) : fastdrop::cpu::best_supported();
}

bool fastdrop_cpu_isa_supported(fastdrop_cpu_isa isa) { return fastdrop::cpu::supported(isa); }

fastdrop_status fastdrop_cpu_isa_set(fastdrop_cpu_isa isa) {
  if (!fastdrop_cpu_isa_name(isa)) return FASTDROP_ERROR_INVALID_VALUE;
  if (!fastdrop::cpu::supported(isa)) return FASTDROP_ERROR_ISA_UNAVAILABLE;
  fastdrop::cpu::init_isa();
  g_isa.store(isa);
  return FASTDROP_SUCCESS;
}

const char* fastdrop_cpu_isa_name(fastdrop_cpu_isa isa) {
  switch (isa) {
    case FASTDROP_ISA_SCALAR:
      return "scalar";
    case FASTDROP_ISA_AVX2:
      return "avx2";
    case FASTDROP_ISA_AVX512:
      return "avx512";
  }
  return nullptr;
}

fastdrop_status fastdrop_set_num_threads(int threads) {
  if (threads < 0) return FASTDROP_ERROR_INVALID_VALUE;
  fastdrop::cpu::g_threads.store(threads);
  return FASTDROP_SUCCESS;
}

int fastdrop_get_num_threads(void) { return fastdrop::cpu::num_threads(); }

}  // extern "C"
