#pragma once
// Eigen views over cnndiag's row-major buffers, shared by the layer implementations. Nothing here
// owns memory: every map points into a Tensor or a scratch vector sized in reserve(), so products
// written as `out.noalias() = a * b` evaluate straight into preallocated storage.

#include <Eigen/Core>
#include <algorithm>

#include "cnndiag/tensor.hpp"

namespace cnndiag::detail {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <typename T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;
template <typename T>
using VectorMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>;
template <typename T>
using ConstVectorMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>;
template <typename T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <typename T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

/// Elements per parallel chunk below which element-wise loops stay on the calling thread: waking
/// a worker costs a few microseconds, about what 32k cheap element operations take.
inline constexpr Index kMinElementsPerChunk = Index{1} << 15;

/// ceil(a / b) for b > 0.
inline Index ceil_div(Index a, Index b) { return (a + b - 1) / b; }

/// C = A·B (accumulate = false) or C += A·B (accumulate = true), evaluated tile by tile.
///
/// Why tiles: Eigen packs a kc×mc block of A and a kc×nc block of B for its GEMM kernel and puts
/// those buffers on the stack only up to EIGEN_STACK_ALLOCATION_LIMIT (128 KiB); larger ones are
/// malloc'ed on every product, which the hot path must not do (BENCH.md: big allocations are fresh
/// mmaps here). Eigen never packs more than the operands hold, so tiles of at most kMaxDepth × 
/// kPanel elements keep each buffer under the limit. The tile order is fixed, so results are
/// deterministic; the depth split only regroups the sum when depth > kMaxDepth.
template <typename Dst, typename Lhs, typename Rhs>
void gemm_tiled(Dst&& C, const Lhs& A, const Rhs& B, bool accumulate) {
  using T = typename std::decay_t<Dst>::Scalar;
  constexpr Index kPanelElements = Index{96 * 1024} / static_cast<Index>(sizeof(T));
  constexpr Index kMaxDepth = 256;
  const Index m = A.rows(), depth = A.cols(), n = B.cols();
  const Index kd = std::min(depth, kMaxDepth);
  const Index rows_per_tile = std::max<Index>(1, kPanelElements / std::max<Index>(kd, 1));
  const Index cols_per_tile = rows_per_tile;
  if (m <= rows_per_tile && n <= cols_per_tile && depth <= kMaxDepth) {  // the common case
    if (accumulate)
      C.noalias() += A * B;
    else
      C.noalias() = A * B;
    return;
  }
  for (Index i = 0; i < m; i += rows_per_tile) {
    const Index mi = std::min(rows_per_tile, m - i);
    for (Index j = 0; j < n; j += cols_per_tile) {
      const Index nj = std::min(cols_per_tile, n - j);
      auto c = C.block(i, j, mi, nj);
      for (Index k = 0; k < depth; k += kd) {
        const Index dk = std::min(kd, depth - k);
        if (k == 0 && !accumulate)
          c.noalias() = A.block(i, k, mi, dk) * B.block(k, j, dk, nj);
        else
          c.noalias() += A.block(i, k, mi, dk) * B.block(k, j, dk, nj);
      }
    }
  }
}

}  // namespace cnndiag::detail
