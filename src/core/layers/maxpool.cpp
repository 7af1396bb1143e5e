#include "cnndiag/layers/maxpool.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

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
  parallel_for(
      0, planes,
      [&](Index begin, Index end, int /*chunk*/) {
        for (Index p = begin; p < end; ++p) {
          const T* in = x.data() + p * g.in_plane();
          T* out = y.data() + p * g.out_plane();
          std::int32_t* arg = argmax_.data() + p * g.out_plane();
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
  parallel_for(
      0, planes,
      [&](Index begin, Index end, int /*chunk*/) {
        for (Index p = begin; p < end; ++p) {
          T* din = dx->data() + p * g.in_plane();
          const T* dout = dy.data() + p * g.out_plane();
          const std::int32_t* arg = argmax_.data() + p * g.out_plane();
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
