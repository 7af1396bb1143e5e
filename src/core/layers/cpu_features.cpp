#include "layers/cpu_features.hpp"

namespace cnndiag::detail {

bool cpu_has_avx512() {
#ifdef CNNDIAG_X86_KERNELS
  static const bool on = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return on;
#else
  return false;
#endif
}

bool cpu_has_avx2_fma() {
#ifdef CNNDIAG_X86_KERNELS
  static const bool on = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0;
  }();
  return on;
#else
  return false;
#endif
}

}  // namespace cnndiag::detail
