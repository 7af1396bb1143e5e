#include "layers/conv2d_direct.hpp"

#include <algorithm>

namespace cnndiag::detail {
namespace {

constexpr Index kLanes = 16;

// Sizes of the padded layout (see the header).
struct Padded {
  Index hp, wp;   // padded height and width
  Index length;   // L = OH·Wp rounded up to 16: the extended output plane
  Index plane;    // elements of one padded input plane, with room for the last tap's reads
};
Padded padded(const WindowGeometry& g) {
  Padded p;
  p.hp = g.in_h + 2 * g.pad_h;
  p.wp = g.in_w + 2 * g.pad_w;
  p.length = (g.out_h * p.wp + kLanes - 1) / kLanes * kLanes;
  p.plane = std::max(p.hp * p.wp, p.length + (g.kernel_h - 1) * p.wp + g.kernel_w - 1);
  return p;
}

template <typename T>
inline void axpy_impl(T* __restrict y, const T* __restrict x, T a, Index n) {
  for (Index i = 0; i < n; ++i) y[i] += a * x[i];
}

// Σ a[i]·b[i] for n a multiple of 16: lane j sums terms i ≡ j (mod 16), lanes added in order.
template <typename T>
inline T dot_impl(const T* __restrict a, const T* __restrict b, Index n) {
  T acc[kLanes] = {};
  for (Index i = 0; i < n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += a[i + j] * b[i + j];
  T sum = T(0);
  for (int j = 0; j < kLanes; ++j) sum += acc[j];
  return sum;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CNNDIAG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CNNDIAG_CLONES
#endif

CNNDIAG_CLONES void axpy_f32(float* y, const float* x, float a, Index n) { axpy_impl(y, x, a, n); }
CNNDIAG_CLONES float dot_f32(const float* a, const float* b, Index n) { return dot_impl(a, b, n); }

inline void axpy(float* y, const float* x, float a, Index n) { axpy_f32(y, x, a, n); }
inline void axpy(double* y, const double* x, double a, Index n) { axpy_impl(y, x, a, n); }
inline float dot(const float* a, const float* b, Index n) { return dot_f32(a, b, n); }
inline double dot(const double* a, const double* b, Index n) { return dot_impl(a, b, n); }

// x_n (C, H, W) → C zero-padded planes of p.plane elements.
template <typename T>
void pad_planes(const T* x_n, const WindowGeometry& g, const Padded& p, T* xp) {
  for (Index c = 0; c < g.channels; ++c) {
    T* plane = xp + c * p.plane;
    std::fill(plane, plane + p.plane, T(0));
    for (Index h = 0; h < g.in_h; ++h)
      std::copy_n(x_n + (c * g.in_h + h) * g.in_w, g.in_w, plane + (h + g.pad_h) * p.wp + g.pad_w);
  }
}

}  // namespace

Index direct_conv_scratch(const WindowGeometry& g, Index out_channels) {
  (void)out_channels;
  const Padded p = padded(g);
  return 2 * g.channels * p.plane + p.length;  // xp, dxp, y_ext / dy_ext
}

template <typename T>
void direct_conv_forward(const T* x_n, const T* w, const T* bias, const WindowGeometry& g,
                         Index out_channels, T* y_n, T* scratch) {
  const Padded p = padded(g);
  const Index C = g.channels, KK = g.kernel_h * g.kernel_w;
  T* xp = scratch;
  T* y_ext = scratch + 2 * C * p.plane;
  pad_planes(x_n, g, p, xp);
  for (Index oc = 0; oc < out_channels; ++oc) {
    std::fill(y_ext, y_ext + p.length, bias != nullptr ? bias[oc] : T(0));
    for (Index c = 0; c < C; ++c)
      for (Index kh = 0; kh < g.kernel_h; ++kh)
        for (Index kw = 0; kw < g.kernel_w; ++kw)
          axpy(y_ext, xp + c * p.plane + kh * p.wp + kw, w[(oc * C + c) * KK + kh * g.kernel_w + kw],
               p.length);
    T* y = y_n + oc * g.out_plane();
    for (Index oh = 0; oh < g.out_h; ++oh)
      std::copy_n(y_ext + oh * p.wp, g.out_w, y + oh * g.out_w);
  }
}

template <typename T>
void direct_conv_backward(const T* x_n, const T* w_dx, const T* dy_n, const WindowGeometry& g,
                          Index out_channels, T* dw, T* dx_n, T* scratch) {
  const Padded p = padded(g);
  const Index C = g.channels, KK = g.kernel_h * g.kernel_w;
  T* xp = scratch;
  T* dxp = scratch + C * p.plane;
  T* dy_ext = scratch + 2 * C * p.plane;
  pad_planes(x_n, g, p, xp);
  if (dx_n != nullptr) std::fill(dxp, dxp + C * p.plane, T(0));
  for (Index oc = 0; oc < out_channels; ++oc) {
    // dy on rows of width Wp, zero outside the OW real columns and past OH rows.
    std::fill(dy_ext, dy_ext + p.length, T(0));
    const T* dy = dy_n + oc * g.out_plane();
    for (Index oh = 0; oh < g.out_h; ++oh)
      std::copy_n(dy + oh * g.out_w, g.out_w, dy_ext + oh * p.wp);
    for (Index c = 0; c < C; ++c) {
      for (Index kh = 0; kh < g.kernel_h; ++kh) {
        for (Index kw = 0; kw < g.kernel_w; ++kw) {
          const Index tap = (oc * C + c) * KK + kh * g.kernel_w + kw;
          const Index shift = c * p.plane + kh * p.wp + kw;
          dw[tap] += dot(dy_ext, xp + shift, p.length);
          if (dx_n != nullptr) axpy(dxp + shift, dy_ext, w_dx[tap], p.length);
        }
      }
    }
  }
  if (dx_n == nullptr) return;
  for (Index c = 0; c < C; ++c)
    for (Index h = 0; h < g.in_h; ++h)
      std::copy_n(dxp + c * p.plane + (h + g.pad_h) * p.wp + g.pad_w, g.in_w,
                  dx_n + (c * g.in_h + h) * g.in_w);
}

template void direct_conv_forward<float>(const float*, const float*, const float*,
                                         const WindowGeometry&, Index, float*, float*);
template void direct_conv_forward<double>(const double*, const double*, const double*,
                                          const WindowGeometry&, Index, double*, double*);
template void direct_conv_backward<float>(const float*, const float*, const float*,
                                          const WindowGeometry&, Index, float*, float*, float*);
template void direct_conv_backward<double>(const double*, const double*, const double*,
                                           const WindowGeometry&, Index, double*, double*,
                                           double*);

}  // namespace cnndiag::detail
