#pragma once
// What the CPU's vector units can do, for the kernels that pick an instruction set at run time.
//
// The library is compiled for the portable x86-64 baseline; the hot kernels carry
// __attribute__((target("avx512f"))) (or avx2/fma) and run only after one of these checks said
// yes. The answers are computed once, on first use (not at static initialisation, whose order
// across files is unset), and are the same for the whole process.

#include "cnndiag/tensor.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CNNDIAG_X86_KERNELS 1
#endif

namespace cnndiag::detail {

/// AVX-512 Foundation (16 float lanes, mask registers).
bool cpu_has_avx512();

/// AVX2 with FMA (8 float lanes).
bool cpu_has_avx2_fma();

#ifdef CNNDIAG_X86_KERNELS
/// The mask of the first n of 16 lanes (none for n ≤ 0, all for n ≥ 16). Plain integer code:
/// callable from the AVX-512 kernels and inlined into them.
inline __mmask16 first_lanes(Index n) {
  if (n <= 0) return 0;
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}
#endif

}  // namespace cnndiag::detail
