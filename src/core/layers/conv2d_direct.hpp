#pragma once
// Direct (no im2col) stride-1 convolution for conv2d layers with few channels (the seed's 1→1
// 3×3, LeNet's 1→6 5×5). There im2col + GEMM spends more time copying windows than multiplying.
//
// The trick that makes every inner loop long and contiguous: each input plane is copied once
// into a zero-padded plane xp of width Wp = W + 2·PW (and height H + 2·PH), so that with stride 1
//   y[oh, ow] = Σ_{kh,kw} w[kh, kw] · xp[(oh + kh)·Wp + ow + kw].
// Computing y on rows of width Wp instead of OW (the extra Wp − OW columns per row are garbage,
// dropped when copying out), the output of one tap is ONE axpy over the whole plane:
//   y_ext[i] += w[kh, kw] · xp[i + kh·Wp + kw],   i ∈ [0, L),  L = OH·Wp rounded up to 16.
// Likewise, with dy_ext = dy on rows of width Wp, zero in the extra columns:
//   weight grad:  dw[kh, kw] += Σ_i dy_ext[i] · xp[i + kh·Wp + kw]          (a dot product)
//   data grad:    dxp[i + kh·Wp + kw] += w[kh, kw] · dy_ext[i]                (an axpy),
// and dx is the interior of dxp. The zero columns of dy_ext keep the garbage out of dw and dx.
//
// The float axpy and dot are compiled for AVX-512, AVX2 and the baseline and picked at load
// time by the CPU (GCC target_clones), like the GEMM's kernels; double uses the same code
// without clones. Summation order is fixed by the shapes (taps in order; dot products into 16
// partial sums combined in lane order), so results are deterministic.

#include "cnndiag/layers/window2d.hpp"

namespace cnndiag::detail {

/// Elements of scratch one sample needs (one chunk's share): padded input planes, padded
/// data-gradient planes and one extended output plane.
Index direct_conv_scratch(const WindowGeometry& g, Index out_channels);

/// y_n (OC, OH, OW) = b + Σ_c x_n[c] ⋆ w[oc, c], overwritten. bias may be null.
template <typename T>
void direct_conv_forward(const T* x_n, const T* w, const T* bias, const WindowGeometry& g,
                         Index out_channels, T* y_n, T* scratch);

/// dw (OC, C, KH, KW) += Σ over this sample; dx_n (C, H, W) = the data gradient computed with
/// the kernel w_dx (w itself, or the faulty rotated kernel), assigned, if dx_n is not null.
template <typename T>
void direct_conv_backward(const T* x_n, const T* w_dx, const T* dy_n, const WindowGeometry& g,
                          Index out_channels, T* dw, T* dx_n, T* scratch);

}  // namespace cnndiag::detail
