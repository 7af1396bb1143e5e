#pragma once
// The matrix product behind conv2d and linear: C = A·B or C += A·B on strided views.
//
// float runs through a packed, cache-blocked GEMM with a register-tiled micro-kernel written for
// AVX-512 or AVX2+FMA, chosen at run time from the CPU's features (gemm.cpp). The library itself
// is compiled for the portable x86-64 baseline; only the kernels carry target attributes, so the
// binary runs on any x86-64 CPU and uses the widest FMA unit it finds. Without AVX2 (or on
// another architecture), and for double, the product is Eigen's (gemm_tiled in eigen_maps.hpp).
//
// Determinism: for a given CPU kind (which kernel is selected) and given shapes, the order of
// every floating-point operation is fixed (blocking depends on the shapes only), so results are
// bit-identical run to run; they differ from Eigen's by float reassociation.
//
// Allocation: none. The packed operands go into a caller-provided workspace (per thread chunk,
// sized by gemm_workspace_size in the layers' reserve()).

#include "cnndiag/tensor.hpp"

namespace cnndiag::detail {

/// A read-only strided matrix view: element (i, j) is data[i·row_stride + j·col_stride].
/// A row-major (r × c) buffer is {data, c, 1}; its transpose is {data, 1, c}.
template <typename T>
struct StridedMatrix {
  const T* data;
  Index row_stride;
  Index col_stride;
};

/// Elements of scratch that gemm<T>(m, n, k, …) needs (0 when it needs none). The layers size
/// one workspace per parallel chunk in reserve(), so products never allocate.
template <typename T>
Index gemm_workspace_size(Index m, Index n, Index k);

/// C (m × n, row-major with leading dimension ldc) = A (m × k) · B (k × n), or C += A·B when
/// `accumulate`. k = 0 gives C = 0 (or leaves C) as the empty sum. `workspace` holds at least
/// gemm_workspace_size<T>(m, n, k) elements (any alignment) that no other thread uses meanwhile.
///
/// `packed_a`, when not null, is A as gemm_pack_lhs<T>(m, n, k, a, …) packed it (same shapes,
/// same A, and gemm_pack_lhs returned true): the product then skips packing A. A layer whose
/// weights are the left operand of one product per sample packs them once per call this way.
template <typename T>
void gemm(Index m, Index n, Index k, StridedMatrix<T> a, StridedMatrix<T> b, T* c, Index ldc,
          bool accumulate, T* workspace, const T* packed_a = nullptr);

/// Elements of the buffer gemm_pack_lhs<T>(m, n, k, …) fills; 0 when products of these shapes do
/// not run the packed path (double, small shapes, no AVX2), so there is nothing to pack.
template <typename T>
Index gemm_lhs_size(Index m, Index n, Index k);

/// Packs A (m × k) once for many products gemm<T>(m, n, k, a, …, packed) with the same A and
/// shapes but different B. Returns false (and writes nothing) when these shapes do not run the
/// packed path; pass packed_a = nullptr to gemm then. `packed` holds gemm_lhs_size<T>(m, n, k)
/// elements.
template <typename T>
bool gemm_pack_lhs(Index m, Index n, Index k, StridedMatrix<T> a, T* packed);

/// Which float kernel gemm<float> uses on this CPU: "avx512", "avx2" or "eigen".
const char* gemm_kernel_name();

/// Forces the portable Eigen path for float (tests compare the kernels with it); false restores
/// the run-time choice.
void gemm_force_portable(bool on);

/// Caps the float kernel at AVX2+FMA on an AVX-512 CPU (tests run both kernels on one machine);
/// false restores the run-time choice. Returns whether the AVX2 kernel is now the one in use
/// (false on a CPU without AVX2). Not for use while products run on other threads, and packed
/// operands (gemm_pack_lhs) must be packed again after a change.
bool gemm_limit_to_avx2(bool on);

}  // namespace cnndiag::detail
