#pragma once
// Direct (no im2col) stride-1 convolution for conv2d layers with few channels (the seed's 1→1
// 3×3, LeNet's 1→6 5×5). There im2col + GEMM spends more time copying windows than multiplying.
//
// The trick that makes every inner loop long and contiguous: each input plane is copied into a
// zero-padded plane xp of width Wp = W + 2·PW (and height H + 2·PH), so that with stride 1
//   y[oh, ow] = Σ_{kh,kw} w[kh, kw] · xp[(oh + kh)·Wp + ow + kw].
// Computing y on rows of width Wp instead of OW (the extra Wp − OW columns per row are garbage,
// dropped when copying out), the output of one tap is ONE shifted run over the whole plane:
//   y_ext[i] += w[kh, kw] · xp[i + kh·Wp + kw],   i ∈ [0, L),  L = OH·Wp rounded up to 16.
// Likewise, with dy_ext = dy on rows of width Wp, zero in the extra columns:
//   weight grad:  dw[kh, kw] += Σ_i dy_ext[i] · xp[i + kh·Wp + kw]          (a dot product)
//   data grad:    dxp[i + kh·Wp + kw] += w[kh, kw] · dy_ext[i]                (an axpy),
// and dx is the interior of dxp. The zero columns of dy_ext keep the garbage out of dw and dx.
//
// Two implementations of the same sums (conv2d_direct.cpp):
//  - float on a CPU with AVX-512: register-blocked kernels. Forward keeps a block of output
//    vectors of every output channel in registers; per kernel row (c, kh) it loads the input
//    vectors once and gets the row's KW taps by shifting them by kw lanes, each multiply-added
//    into all the accumulators (instead of one load-load-store axpy per tap). The weight
//    gradient keeps one 16-lane accumulator per (output channel, tap), runs over the plane once
//    per block of them, and carries the 16 lane partials across all samples of the call; they
//    are added up (in lane order) once at the end of the call, not once per sample and tap. The
//    bias gradient Σ_i dy_ext[i] is one more such accumulator. Kernels wider than 5 columns use
//    the portable forward.
//  - double (gradient checks), and float without AVX-512: the plain axpy / dot form above, whose
//    float axpy and dot are compiled for AVX-512, AVX2 and the baseline (GCC target_clones).
// The data gradient always uses the axpy form (a first layer, like the benchmarks', skips it).
// Summation order is fixed by the shapes and the selected kernel, never by timing, so results
// are deterministic; the two implementations differ by float reassociation only.
//
// Scratch: the padded planes' borders are zeroed once per call and only interiors are written
// afterwards, so per sample the cost is copying the H×W interior, not refilling the plane.

#include "cnndiag/layers/window2d.hpp"

namespace cnndiag::detail {

/// Elements of scratch one call needs (one chunk's share): padded input planes, padded
/// data-gradient planes, the extended output planes and the weight gradient's lane partials.
Index direct_conv_scratch(const WindowGeometry& g, Index out_channels);

/// For `samples` consecutive samples x (samples, C, H, W):
/// y (samples, OC, OH, OW) = b + Σ_c x_n[c] ⋆ w[oc, c], overwritten. bias may be null.
template <typename T>
void direct_conv_forward(const T* x, Index samples, const T* w, const T* bias,
                         const WindowGeometry& g, Index out_channels, T* y, T* scratch);

/// dw (OC, C, KH, KW) += Σ over the samples of x and dy (samples, OC, OH, OW);
/// db (OC) += Σ_p dy_n[oc, p] over the first `bias_samples` samples, if db is not null (all of
/// them for the true gradient, 1 for the bias_grad_first_sample fault);
/// dx (samples, C, H, W) = the data gradient computed with the kernel w_dx (w itself, or the
/// faulty rotated kernel), assigned, if dx is not null.
template <typename T>
void direct_conv_backward(const T* x, Index samples, const T* w_dx, const T* dy,
                          const WindowGeometry& g, Index out_channels, T* dw, T* db,
                          Index bias_samples, T* dx, T* scratch);

/// Which float implementation runs: "avx512" or "portable".
const char* direct_conv_kernel_name();

/// Forces the portable float implementation (tests compare both); false restores the CPU's.
void direct_conv_force_portable(bool on);

}  // namespace cnndiag::detail
