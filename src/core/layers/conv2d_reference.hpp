#pragma once
// The plain reference for conv2d (llm.c's matmul_forward_naive idea): the definition written as
// nested loops, no im2col, no GEMM, no threads. Tests compare the fast layer against it.

#include "cnndiag/layers/window2d.hpp"
#include "cnndiag/tensor.hpp"

namespace cnndiag::reference {

// x: (N, C, H, W)  w: (OC, C, KH, KW)  b: (OC) or null  →  y: (N, OC, OH, OW), overwritten.
//   y[n, oc, oh, ow] = b[oc] + Σ_{c, kh, kw} w[oc, c, kh, kw] · x[n, c, oh·SH − PH + kh, ow·SW − PW + kw]
template <typename T>
void conv2d_forward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b,
                    const WindowGeometry& g, Tensor<T>& y) {
  const Index N = x.dim(0), C = g.channels, H = g.in_h, W = g.in_w, OC = w.dim(0);
  const Index KH = g.kernel_h, KW = g.kernel_w, OH = g.out_h, OW = g.out_w;
  for (Index n = 0; n < N; ++n)
    for (Index oc = 0; oc < OC; ++oc)
      for (Index oh = 0; oh < OH; ++oh)
        for (Index ow = 0; ow < OW; ++ow) {
          T sum = b ? (*b)[oc] : T(0);
          for (Index c = 0; c < C; ++c)
            for (Index kh = 0; kh < KH; ++kh)
              for (Index kw = 0; kw < KW; ++kw) {
                const Index ih = oh * g.stride_h - g.pad_h + kh;
                const Index iw = ow * g.stride_w - g.pad_w + kw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                sum += w[((oc * C + c) * KH + kh) * KW + kw] * x[((n * C + c) * H + ih) * W + iw];
              }
          y[((n * OC + oc) * OH + oh) * OW + ow] = sum;
        }
}

// The adjoint of the loops above, term by term: every product w·x that fed y[n, oc, oh, ow]
// sends dy[n, oc, oh, ow]·x to dw, dy·w to dx, and dy to db.
// dx is assigned (zeroed first); dw and db (if not null) are accumulated.
template <typename T>
void conv2d_backward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& dy,
                     const WindowGeometry& g, Tensor<T>& dx, Tensor<T>& dw, Tensor<T>* db) {
  const Index N = x.dim(0), C = g.channels, H = g.in_h, W = g.in_w, OC = w.dim(0);
  const Index KH = g.kernel_h, KW = g.kernel_w, OH = g.out_h, OW = g.out_w;
  dx.zero();
  for (Index n = 0; n < N; ++n)
    for (Index oc = 0; oc < OC; ++oc)
      for (Index oh = 0; oh < OH; ++oh)
        for (Index ow = 0; ow < OW; ++ow) {
          const T g_out = dy[((n * OC + oc) * OH + oh) * OW + ow];
          if (db) (*db)[oc] += g_out;
          for (Index c = 0; c < C; ++c)
            for (Index kh = 0; kh < KH; ++kh)
              for (Index kw = 0; kw < KW; ++kw) {
                const Index ih = oh * g.stride_h - g.pad_h + kh;
                const Index iw = ow * g.stride_w - g.pad_w + kw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const Index wi = ((oc * C + c) * KH + kh) * KW + kw;
                const Index xi = ((n * C + c) * H + ih) * W + iw;
                dw[wi] += g_out * x[xi];
                dx[xi] += g_out * w[wi];
              }
        }
}

}  // namespace cnndiag::reference
