#include "cnndiag/layers/maxpool.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "layers/cpu_features.hpp"

#include "cnndiag/parallel.hpp"
#include "layers/eigen_maps.hpp"
#include "layers/window_span.hpp"

namespace cnndiag {

template <typename T>
MaxPool<T>::MaxPool(std::string name, Shape input_shape, const PoolOptions& options)
    : Layer<T>(std::move(name), input_shape) {
  geometry_ = make_pool_geometry(this->describe(), input_shape, options);
  min_planes_per_chunk_ =
      std::max<Index>(1, detail::ceil_div(detail::kMinElementsPerChunk, geometry_.in_plane()));
}

template <typename T>
Shape MaxPool<T>::output_shape() const {
  return Shape{geometry_.channels, geometry_.out_h, geometry_.out_w};
}

template <typename T>
void MaxPool<T>::reserve(Index n) {
  const auto needed = static_cast<std::size_t>(n * geometry_.channels * geometry_.out_plane());
  if (argmax_.size() < needed) argmax_.resize(needed);
}

namespace {

// The common 2×2, stride 2, unpadded window (LeNet, VGG…) without the general window
// bookkeeping, same semantics as the general loop below: candidates in row-major order, a
// strictly larger value or a NaN (over a non-NaN) replaces the best. Written with selects instead
// of branches: which element wins is data-dependent and would mispredict.
// One output: candidates in row-major order; a strictly larger value, or a NaN over a non-NaN
// best, replaces the best.
template <typename T>
inline void pool_2x2_one(const T* r0, const T* r1, std::int32_t i0, std::int32_t w, T* out,
                         std::int32_t* arg) {
  T best = r0[0];
  std::int32_t at = i0;
  const T v[3] = {r0[1], r1[0], r1[1]};
  const std::int32_t where[3] = {i0 + 1, i0 + w, i0 + w + 1};
  for (int c = 0; c < 3; ++c) {
    if (v[c] > best || (std::isnan(v[c]) && !std::isnan(best))) {
      best = v[c];
      at = where[c];
    }
  }
  *out = best;
  *arg = at;
}

template <typename T>
void pool_2x2(const T* in, const WindowGeometry& g, T* out, std::int32_t* arg) {
  const Index W = g.in_w, OW = g.out_w;
  const auto w = static_cast<std::int32_t>(W);
  for (Index oh = 0; oh < g.out_h; ++oh) {
    const T* r0 = in + 2 * oh * W;
    const T* r1 = r0 + W;
    const auto top = static_cast<std::int32_t>(2 * oh * W);
    Index ow = 0;
#if defined(__SSE2__)
    if constexpr (std::is_same_v<T, float>) {
      // Four outputs at a time with SSE2 (the x86-64 baseline): the same comparisons as
      // pool_2x2_one as lane masks and blends instead of branches, which mispredict on data.
      const auto blend = [](__m128 mask, __m128 a, __m128 b) {  // mask ? a : b
        return _mm_or_ps(_mm_and_ps(mask, a), _mm_andnot_ps(mask, b));
      };
      const auto blendi = [](__m128 mask, __m128i a, __m128i b) {
        const __m128i m = _mm_castps_si128(mask);
        return _mm_or_si128(_mm_and_si128(m, a), _mm_andnot_si128(m, b));
      };
      const auto takes = [](__m128 v, __m128 best) {
        return _mm_or_ps(_mm_cmpgt_ps(v, best),
                         _mm_and_ps(_mm_cmpunord_ps(v, v), _mm_cmpord_ps(best, best)));
      };
      for (; ow + 4 <= OW; ow += 4) {
        const __m128 a0 = _mm_loadu_ps(r0 + 2 * ow), a1 = _mm_loadu_ps(r0 + 2 * ow + 4);
        const __m128 b0 = _mm_loadu_ps(r1 + 2 * ow), b1 = _mm_loadu_ps(r1 + 2 * ow + 4);
        const __m128 v0 = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0));  // even columns
        const __m128 v1 = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1));  // odd columns
        const __m128 v2 = _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0));
        const __m128 v3 = _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1));
        const auto i0 = static_cast<std::int32_t>(top + 2 * ow);
        const __m128i at0 = _mm_setr_epi32(i0, i0 + 2, i0 + 4, i0 + 6);
        __m128 best = v0;
        __m128i at = at0;
        __m128 t = takes(v1, best);
        best = blend(t, v1, best);
        at = blendi(t, _mm_add_epi32(at0, _mm_set1_epi32(1)), at);
        t = takes(v2, best);
        best = blend(t, v2, best);
        at = blendi(t, _mm_add_epi32(at0, _mm_set1_epi32(w)), at);
        t = takes(v3, best);
        best = blend(t, v3, best);
        at = blendi(t, _mm_add_epi32(at0, _mm_set1_epi32(w + 1)), at);
        _mm_storeu_ps(out + oh * OW + ow, best);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(arg + oh * OW + ow), at);
      }
    }
#endif
    for (; ow < OW; ++ow)
      pool_2x2_one(r0 + 2 * ow, r1 + 2 * ow, static_cast<std::int32_t>(top + 2 * ow), w,
                   out + oh * OW + ow, arg + oh * OW + ow);
  }
}

#ifdef CNNDIAG_X86_KERNELS
// The 2×2 / stride 2 window with AVX-512, 16 outputs per step: the two input rows' 32 values are
// split into even and odd columns with one permute each, then compared exactly as in
// pool_2x2_one (row-major candidate order, strictly larger or NaN-over-non-NaN wins) with mask
// registers. Rows of any length: the last step of a row uses masked loads and a masked store.
bool pool_avx512() { return detail::cpu_has_avx512(); }
using detail::first_lanes;
// Lanes where candidate v replaces best: v > best, or v is NaN and best is not.
__attribute__((target("avx512f"), always_inline)) inline __mmask16 takes(__m512 v, __m512 best) {
  return static_cast<__mmask16>(
      _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
      (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q)));
}
__attribute__((target("avx512f"))) void pool_2x2_avx512(const float* in, const WindowGeometry& g,
                                                        float* out, std::int32_t* arg) {
  const Index W = g.in_w, OW = g.out_w;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i w = _mm512_set1_epi32(static_cast<std::int32_t>(W));
  for (Index oh = 0; oh < g.out_h; ++oh) {
    const float* r0 = in + 2 * oh * W;
    const float* r1 = r0 + W;
    for (Index ow = 0; ow < OW; ow += 16) {
      const Index n = std::min<Index>(16, OW - ow);
      const __mmask16 lo = first_lanes(2 * n), hi = first_lanes(2 * n - 16), outs = first_lanes(n);
      __m512 a0, a1, b0, b1;
      if (n == 16) {  // plain loads where the step is inside the row: masked ones are slow on AMD
        a0 = _mm512_loadu_ps(r0 + 2 * ow);
        a1 = _mm512_loadu_ps(r0 + 2 * ow + 16);
        b0 = _mm512_loadu_ps(r1 + 2 * ow);
        b1 = _mm512_loadu_ps(r1 + 2 * ow + 16);
      } else {
        a0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * ow);
        a1 = _mm512_maskz_loadu_ps(hi, r0 + 2 * ow + 16);
        b0 = _mm512_maskz_loadu_ps(lo, r1 + 2 * ow);
        b1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * ow + 16);
      }
      const __m512 v0 = _mm512_permutex2var_ps(a0, even, a1),
                   v1 = _mm512_permutex2var_ps(a0, odd, a1);
      const __m512 v2 = _mm512_permutex2var_ps(b0, even, b1),
                   v3 = _mm512_permutex2var_ps(b0, odd, b1);
      const __m512i at0 =
          _mm512_add_epi32(_mm512_set1_epi32(static_cast<std::int32_t>(2 * oh * W + 2 * ow)), even);
      __m512 best = v0;
      __m512i at = at0;
      __mmask16 t = takes(v1, best);
      best = _mm512_mask_mov_ps(best, t, v1);
      at = _mm512_mask_mov_epi32(at, t, _mm512_add_epi32(at0, _mm512_set1_epi32(1)));
      t = takes(v2, best);
      best = _mm512_mask_mov_ps(best, t, v2);
      at = _mm512_mask_mov_epi32(at, t, _mm512_add_epi32(at0, w));
      t = takes(v3, best);
      best = _mm512_mask_mov_ps(best, t, v3);
      at = _mm512_mask_mov_epi32(at, t,
                                 _mm512_add_epi32(at0, _mm512_add_epi32(w, _mm512_set1_epi32(1))));
      if (n == 16) {
        _mm512_storeu_ps(out + oh * OW + ow, best);
        _mm512_storeu_si512(arg + oh * OW + ow, at);
      } else {
        _mm512_mask_storeu_ps(out + oh * OW + ow, outs, best);
        _mm512_mask_storeu_epi32(arg + oh * OW + ow, outs, at);
      }
    }
  }
}
// Its backward: each input of a 2×2 / stride 2 window belongs to exactly one window, so dx is
// written (not accumulated) in one pass: dy at the window's argmax, 0 at its three other
// elements, and 0 in a last row / column that no window covers (odd H or W).
__attribute__((target("avx512f"))) void unpool_2x2_avx512(const float* dout,
                                                          const std::int32_t* arg,
                                                          const WindowGeometry& g, float* din) {
  const Index W = g.in_w, OW = g.out_w;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  // Interleave two 16-lane vectors e, o into e0 o0 e1 o1 … (low half) and e8 o8 … (high half).
  const __m512i mix_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i mix_hi = _mm512_add_epi32(mix_lo, _mm512_set1_epi32(8));
  const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);
  const __m512i w = _mm512_set1_epi32(static_cast<std::int32_t>(W));
  const __m512i w1 = _mm512_add_epi32(w, one);
  for (Index oh = 0; oh < g.out_h; ++oh) {
    float* r0 = din + 2 * oh * W;
    float* r1 = r0 + W;
    for (Index ow = 0; ow < OW; ow += 16) {
      const Index n = std::min<Index>(16, OW - ow);
      const __mmask16 outs = first_lanes(n), lo = first_lanes(2 * n), hi = first_lanes(2 * n - 16);
      // Plain loads for full steps: AMD's cores run masked loads far slower.
      const __m512 d = n == 16 ? _mm512_loadu_ps(dout + oh * OW + ow)
                               : _mm512_maskz_loadu_ps(outs, dout + oh * OW + ow);
      const __m512i a = n == 16 ? _mm512_loadu_si512(arg + oh * OW + ow)
                                : _mm512_maskz_loadu_epi32(outs, arg + oh * OW + ow);
      const __m512i where = _mm512_sub_epi32(
          a, _mm512_add_epi32(_mm512_set1_epi32(static_cast<std::int32_t>(2 * oh * W + 2 * ow)),
                              even));
      const __m512 e0 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(where, zero), d);
      const __m512 o0 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(where, one), d);
      const __m512 e1 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(where, w), d);
      const __m512 o1 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(where, w1), d);
      const __m512 row0_lo = _mm512_permutex2var_ps(e0, mix_lo, o0);
      const __m512 row0_hi = _mm512_permutex2var_ps(e0, mix_hi, o0);
      const __m512 row1_lo = _mm512_permutex2var_ps(e1, mix_lo, o1);
      const __m512 row1_hi = _mm512_permutex2var_ps(e1, mix_hi, o1);
      if (n == 16) {  // plain stores where possible: masked stores are slow on AMD's cores
        _mm512_storeu_ps(r0 + 2 * ow, row0_lo);
        _mm512_storeu_ps(r0 + 2 * ow + 16, row0_hi);
        _mm512_storeu_ps(r1 + 2 * ow, row1_lo);
        _mm512_storeu_ps(r1 + 2 * ow + 16, row1_hi);
      } else {
        _mm512_mask_storeu_ps(r0 + 2 * ow, lo, row0_lo);
        _mm512_mask_storeu_ps(r0 + 2 * ow + 16, hi, row0_hi);
        _mm512_mask_storeu_ps(r1 + 2 * ow, lo, row1_lo);
        _mm512_mask_storeu_ps(r1 + 2 * ow + 16, hi, row1_hi);
      }
    }
    if (W > 2 * OW) r0[W - 1] = r1[W - 1] = 0.0f;
  }
  std::fill(din + 2 * g.out_h * W, din + g.in_plane(), 0.0f);
}
#endif

}  // namespace

// x: (N, C, H, W) → y: (N, C, OH, OW); each (n, c) plane is pooled on its own.
// y = max over the window's real elements (padding is −∞). The scan is row-major and only a
// strictly larger value replaces the current best, so among equal maxima the first wins. NaN
// is let through (it replaces a non-NaN best and then stays) so a broken input stays visible.
template <typename T>
void MaxPool<T>::forward(const Tensor<T>& x, Tensor<T>& y, bool /*training*/) {
  const WindowGeometry& g = geometry_;
  const Index planes = x.dim(0) * g.channels;
  reserve(x.dim(0));
  cached_outputs_ = static_cast<std::size_t>(planes * g.out_plane());
  const bool two_by_two = g.kernel_h == 2 && g.kernel_w == 2 && g.stride_h == 2 &&
                          g.stride_w == 2 && g.pad_h == 0 && g.pad_w == 0;
  parallel_for(
      0, planes,
      [&](Index begin, Index end, int /*chunk*/) {
        for (Index p = begin; p < end; ++p) {
          const T* in = x.data() + p * g.in_plane();
          T* out = y.data() + p * g.out_plane();
          std::int32_t* arg = argmax_.data() + p * g.out_plane();
          if (two_by_two) {
#ifdef CNNDIAG_X86_KERNELS
            if constexpr (std::is_same_v<T, float>) {
              if (pool_avx512()) {
                pool_2x2_avx512(in, g, out, arg);
                continue;
              }
            }
#endif
            pool_2x2(in, g, out, arg);
            continue;
          }
          for (Index oh = 0; oh < g.out_h; ++oh) {
            for (Index ow = 0; ow < g.out_w; ++ow) {
              const detail::WindowSpan s = detail::window_span(g, oh, ow);
              Index best_at = s.h_begin * g.in_w + s.w_begin;
              T best = in[best_at];
              for (Index ih = s.h_begin; ih < s.h_end; ++ih) {
                for (Index iw = s.w_begin; iw < s.w_end; ++iw) {
                  const T v = in[ih * g.in_w + iw];
                  if (v > best || (std::isnan(v) && !std::isnan(best))) {
                    best = v;
                    best_at = ih * g.in_w + iw;
                  }
                }
              }
              out[oh * g.out_w + ow] = best;
              arg[oh * g.out_w + ow] = static_cast<std::int32_t>(best_at);
            }
          }
        }
      },
      min_planes_per_chunk_);
}

// dy: (N, C, OH, OW)   dx: (N, C, H, W)
// y = x[argmax] locally, so ∂y/∂x is 1 at the argmax and 0 elsewhere in the window:
//   dx[argmax(o)] += dy[o]   for every output o, dx = 0 elsewhere
// (+= because windows overlap when stride < size). maxpool_route_first sends dy[o] to the
// window's first real element instead.
template <typename T>
void MaxPool<T>::backward(const Tensor<T>& x, const Tensor<T>& /*y*/, const Tensor<T>& dy,
                          Tensor<T>* dx) {
  if (dx == nullptr) return;
  const WindowGeometry& g = geometry_;
  const Index planes = x.dim(0) * g.channels;
  CNNDIAG_ASSERT(static_cast<std::size_t>(planes * g.out_plane()) == cached_outputs_,
                 "maxpool backward without a forward on the same batch");
  const bool route_first = this->fault_ == Fault::kMaxpoolRouteFirst;
  const bool two_by_two = g.kernel_h == 2 && g.kernel_w == 2 && g.stride_h == 2 &&
                          g.stride_w == 2 && g.pad_h == 0 && g.pad_w == 0;
  parallel_for(
      0, planes,
      [&](Index begin, Index end, int /*chunk*/) {
        for (Index p = begin; p < end; ++p) {
          T* din = dx->data() + p * g.in_plane();
          const T* dout = dy.data() + p * g.out_plane();
          const std::int32_t* arg = argmax_.data() + p * g.out_plane();
#ifdef CNNDIAG_X86_KERNELS
          if constexpr (std::is_same_v<T, float>) {
            if (two_by_two && !route_first && pool_avx512()) {
              unpool_2x2_avx512(dout, arg, g, din);
              continue;
            }
          }
#endif
          std::fill(din, din + g.in_plane(), T(0));
          for (Index oh = 0; oh < g.out_h; ++oh) {
            for (Index ow = 0; ow < g.out_w; ++ow) {
              const Index o = oh * g.out_w + ow;
              if (route_first) {
                const detail::WindowSpan s = detail::window_span(g, oh, ow);
                din[s.h_begin * g.in_w + s.w_begin] += dout[o];
              } else {
                din[arg[o]] += dout[o];
              }
            }
          }
        }
      },
      min_planes_per_chunk_);
}

// Max is piecewise linear: its kinks are the ties. Moving one element x_i changes which element
// wins some window when x_i reaches another element's value, so per window the distance is
//   max − runner-up  for the max itself (moving it down), and  max − x_i  for any other element
//   (moving it up); the element's distance is the minimum over the windows that contain it.
template <typename T>
void MaxPool<T>::kink_distance(const Tensor<T>& x, Tensor<T>& distance) const {
  const WindowGeometry& g = geometry_;
  const T inf = std::numeric_limits<T>::infinity();
  distance.resize(x.shape());
  distance.fill(inf);
  const Index planes = x.dim(0) * g.channels;
  for (Index p = 0; p < planes; ++p) {
    const T* in = x.data() + p * g.in_plane();
    T* dist = distance.data() + p * g.in_plane();
    for (Index oh = 0; oh < g.out_h; ++oh) {
      for (Index ow = 0; ow < g.out_w; ++ow) {
        const detail::WindowSpan s = detail::window_span(g, oh, ow);
        Index best_at = s.h_begin * g.in_w + s.w_begin;
        for (Index ih = s.h_begin; ih < s.h_end; ++ih)
          for (Index iw = s.w_begin; iw < s.w_end; ++iw)
            if (in[ih * g.in_w + iw] > in[best_at]) best_at = ih * g.in_w + iw;
        const T best = in[best_at];
        T runner_up = -inf;
        for (Index ih = s.h_begin; ih < s.h_end; ++ih) {
          for (Index iw = s.w_begin; iw < s.w_end; ++iw) {
            const Index i = ih * g.in_w + iw;
            if (i == best_at) continue;
            runner_up = std::max(runner_up, in[i]);
            dist[i] = std::min(dist[i], best - in[i]);
          }
        }
        dist[best_at] = std::min(dist[best_at], best - runner_up);  // +∞ for a 1-element window
      }
    }
  }
}

template class MaxPool<float>;
template class MaxPool<double>;

}  // namespace cnndiag
