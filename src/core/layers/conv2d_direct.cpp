#include "layers/conv2d_direct.hpp"

#include <algorithm>

namespace cnndiag::detail {
namespace {

// The outputs o (along one axis) whose input o − pad + k lies in [0, in): [begin, end).
struct Span {
  Index begin, end;
};
inline Span valid(Index k, Index out, Index in, Index pad) {
  const Index begin = std::max<Index>(0, pad - k);
  const Index end = std::min<Index>(out, in + pad - k);
  return {begin, std::max(begin, end)};
}

// y[oh, ow] += w[kh, kw] · x[oh − PH + kh, ow − PW + kw], tap by tap: each tap is a scaled row
// add along ow, contiguous in x and y, which vectorises.
template <typename T>
inline void forward_impl(const T* x, const T* w, const WindowGeometry& g, T* y) {
  for (Index kh = 0; kh < g.kernel_h; ++kh) {
    const Span rows = valid(kh, g.out_h, g.in_h, g.pad_h);
    for (Index kw = 0; kw < g.kernel_w; ++kw) {
      const Span cols = valid(kw, g.out_w, g.in_w, g.pad_w);
      const T wv = w[kh * g.kernel_w + kw];
      for (Index oh = rows.begin; oh < rows.end; ++oh) {
        const T* __restrict xr = x + (oh - g.pad_h + kh) * g.in_w - g.pad_w + kw;
        T* __restrict yr = y + oh * g.out_w;
        for (Index ow = cols.begin; ow < cols.end; ++ow) yr[ow] += wv * xr[ow];
      }
    }
  }
}

// dw[kh, kw] += Σ dy[oh, ow] · x[oh − PH + kh, ow − PW + kw]: per tap a dot product over the
// valid outputs, summed into 16 partial sums (lane j takes every 16th term of a row's first
// multiple of 16) and one sum of the row tails, combined in lane order at the end — a fixed
// order that vectorises.
template <typename T>
inline void weight_grad_impl(const T* x, const T* dy, const WindowGeometry& g, T* dw) {
  constexpr int kLanes = 16;
  for (Index kh = 0; kh < g.kernel_h; ++kh) {
    const Span rows = valid(kh, g.out_h, g.in_h, g.pad_h);
    for (Index kw = 0; kw < g.kernel_w; ++kw) {
      const Span cols = valid(kw, g.out_w, g.in_w, g.pad_w);
      T acc[kLanes] = {};
      T rest = T(0);  // the row tails (fewer than 16 terms), kept apart so acc stays in registers
      for (Index oh = rows.begin; oh < rows.end; ++oh) {
        const T* __restrict xr = x + (oh - g.pad_h + kh) * g.in_w - g.pad_w + kw;
        const T* __restrict dr = dy + oh * g.out_w;
        Index ow = cols.begin;
        for (; ow + kLanes <= cols.end; ow += kLanes)
          for (int j = 0; j < kLanes; ++j) acc[j] += dr[ow + j] * xr[ow + j];
        for (; ow < cols.end; ++ow) rest += dr[ow] * xr[ow];
      }
      T sum = T(0);
      for (int j = 0; j < kLanes; ++j) sum += acc[j];
      dw[kh * g.kernel_w + kw] += sum + rest;
    }
  }
}

// dx[oh − PH + kh, ow − PW + kw] += w[kh, kw] · dy[oh, ow]: the forward's index sets, scattered
// back (the adjoint of forward_impl), again a scaled row add per tap.
template <typename T>
inline void data_grad_impl(const T* dy, const T* w, const WindowGeometry& g, T* dx) {
  for (Index kh = 0; kh < g.kernel_h; ++kh) {
    const Span rows = valid(kh, g.out_h, g.in_h, g.pad_h);
    for (Index kw = 0; kw < g.kernel_w; ++kw) {
      const Span cols = valid(kw, g.out_w, g.in_w, g.pad_w);
      const T wv = w[kh * g.kernel_w + kw];
      for (Index oh = rows.begin; oh < rows.end; ++oh) {
        T* __restrict xr = dx + (oh - g.pad_h + kh) * g.in_w - g.pad_w + kw;
        const T* __restrict dr = dy + oh * g.out_w;
        for (Index ow = cols.begin; ow < cols.end; ++ow) xr[ow] += wv * dr[ow];
      }
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CNNDIAG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CNNDIAG_CLONES
#endif

CNNDIAG_CLONES void forward_f32(const float* x, const float* w, const WindowGeometry& g,
                                float* y) {
  forward_impl(x, w, g, y);
}
CNNDIAG_CLONES void weight_grad_f32(const float* x, const float* dy, const WindowGeometry& g,
                                    float* dw) {
  weight_grad_impl(x, dy, g, dw);
}
CNNDIAG_CLONES void data_grad_f32(const float* dy, const float* w, const WindowGeometry& g,
                                  float* dx) {
  data_grad_impl(dy, w, g, dx);
}

}  // namespace

template <>
void direct_conv_forward<float>(const float* x, const float* w, const WindowGeometry& g, float* y) {
  forward_f32(x, w, g, y);
}
template <>
void direct_conv_forward<double>(const double* x, const double* w, const WindowGeometry& g,
                                 double* y) {
  forward_impl(x, w, g, y);
}
template <>
void direct_conv_weight_grad<float>(const float* x, const float* dy, const WindowGeometry& g,
                                    float* dw) {
  weight_grad_f32(x, dy, g, dw);
}
template <>
void direct_conv_weight_grad<double>(const double* x, const double* dy, const WindowGeometry& g,
                                     double* dw) {
  weight_grad_impl(x, dy, g, dw);
}
template <>
void direct_conv_data_grad<float>(const float* dy, const float* w, const WindowGeometry& g,
                                  float* dx) {
  data_grad_f32(dy, w, g, dx);
}
template <>
void direct_conv_data_grad<double>(const double* dy, const double* w, const WindowGeometry& g,
                                   double* dx) {
  data_grad_impl(dy, w, g, dx);
}

}  // namespace cnndiag::detail
