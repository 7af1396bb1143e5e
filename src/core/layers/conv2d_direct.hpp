#pragma once
// Direct (no im2col) stride-1 convolution of one input plane with one KH×KW kernel, for conv2d
// layers with few channels (the seed's 1→1 3×3, LeNet's 1→6 5×5). There im2col + GEMM spends
// more time copying windows than multiplying: a plane pass per kernel tap is cheaper, since every
// tap is a contiguous multiply-add along a row.
//
// All three work on one (input channel, output channel) pair; the layer loops over pairs and
// samples. With KH×KW kernel w, padding (PH, PW), x (H, W) and y (OH, OW), stride 1:
//   forward:      y[oh, ow]   += Σ_{kh,kw} w[kh, kw] · x[oh − PH + kh, ow − PW + kw]
//   weight grad:  dw[kh, kw]  += Σ_{oh,ow}  dy[oh, ow] · x[oh − PH + kh, ow − PW + kw]
//   data grad:    dx[ih, iw]  += Σ_{kh,kw} w[kh, kw] · dy[ih + PH − kh, iw + PW − kw]
// (terms whose index falls outside the plane are zero padding and skipped).
//
// The float versions are compiled for AVX-512, AVX2 and the baseline and picked at load time by
// the CPU (GCC target_clones), like the GEMM's kernels; the double versions are plain.
// Summation order is fixed by the shapes (taps in order, rows in order, 16 partial sums for the
// weight gradient combined in lane order), so results are deterministic.

#include "cnndiag/layers/window2d.hpp"

namespace cnndiag::detail {

template <typename T>
void direct_conv_forward(const T* x, const T* w, const WindowGeometry& g, T* y);
template <typename T>
void direct_conv_weight_grad(const T* x, const T* dy, const WindowGeometry& g, T* dw);
template <typename T>
void direct_conv_data_grad(const T* dy, const T* w, const WindowGeometry& g, T* dx);

}  // namespace cnndiag::detail
