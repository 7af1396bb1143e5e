#pragma once
// The three products of a linear layer with a narrow output (out ≤ kSmallLinearMaxOut, e.g. the
// seed's 400→4 and 4→4, LeNet's 84→10), in float, without packing.
//
// With out that small, a packed GEMM (gemm.hpp) spends its time packing and running mostly empty
// micro-kernel tiles (dX = dY·W has a depth of only `out`), and Eigen's small-matrix path pays the
// same packing. These kernels read the operands where they are, in the layout they already have
// (all row-major, every inner loop along the long contiguous dimension D):
//   forward  Y (N, out)  = X (N, D) · Wᵀ (+ b)  N·out dot products along D: 4 samples × 4
//                                                outputs in 16 vector accumulators, each x and
//                                                w vector loaded once for 4 of them
//   dW       (out, D)   += dYᵀ (out, N) · X      a 4-output × 64-column tile of dW stays in
//                                                registers over the batch: per sample, 4 X
//                                                vectors times 4 broadcast dy values
//   dX       (N, D)      = dY (N, out) · W       a 4-sample × 64-column tile of dX in registers
//                                                over the out rows of W
// Columns past D's last multiple of 16 are handled with AVX-512 masked loads and stores.
//
// Only on CPUs with AVX-512 (small_linear_available()); elsewhere, and for double, the layer
// keeps gemm<T>. Determinism: each output's summation order is fixed by the shapes (the dot
// products add 16 lane partials in a fixed tree), so results are bit-identical run to run.
// No allocation, no threads.

#include "cnndiag/tensor.hpp"

namespace cnndiag::detail {

/// Linear layers with at most this many outputs use the kernels below (when available).
inline constexpr Index kSmallLinearMaxOut = 16;

/// True when the CPU has AVX-512 and small_linear_force_portable is off.
bool small_linear_available();

/// Makes small_linear_available() false (tests compare against the GEMM path); false restores it.
void small_linear_force_portable(bool on);

/// Y (n, out) = X (n, d) · Wᵀ + b, W (out, d) row-major, b (out) or null; Y overwritten.
void small_linear_forward(Index n, Index d, Index out, const float* x, const float* w,
                          const float* b, float* y);

/// The double forward of a narrow layer, Y (n, out) = X (n, d) · Wᵀ + b, for the gradient checks:
/// an exhaustive check runs this product twice per parameter (two thousand times or more), and for
/// shapes like 32×400·(400×4)ᵀ Eigen's GEMM spends most of its time packing. One dot product per
/// (sample, output) in 8 lane partial sums added in a fixed order, compiled for AVX-512, AVX2 and
/// the baseline (target_clones; portable C++). Any CPU, any out.
void small_linear_forward(Index n, Index d, Index out, const double* x, const double* w,
                          const double* b, double* y);

/// dW (out, d) += dYᵀ · X, dY (n, out), X (n, d).
void small_linear_weight_grad(Index n, Index d, Index out, const float* dy, const float* x,
                              float* dw);

/// dX (n, d) = dY · W, dY (n, out), W (out, d); dX overwritten.
void small_linear_data_grad(Index n, Index d, Index out, const float* dy, const float* w,
                            float* dx);

}  // namespace cnndiag::detail
