#include "cnndiag/layers/avgpool.hpp"

#include <algorithm>

#include "cnndiag/parallel.hpp"
#include "layers/eigen_maps.hpp"
#include "layers/window_span.hpp"

namespace cnndiag {

template <typename T>
AvgPool<T>::AvgPool(std::string name, Shape input_shape, const PoolOptions& options)
    : Layer<T>(std::move(name), input_shape) {
  geometry_ = make_pool_geometry(this->describe(), input_shape, options);
  min_planes_per_chunk_ =
      std::max<Index>(1, detail::ceil_div(detail::kMinElementsPerChunk, geometry_.in_plane()));
}

template <typename T>
Shape AvgPool<T>::output_shape() const {
  return Shape{geometry_.channels, geometry_.out_h, geometry_.out_w};
}

// x: (N, C, H, W) → y: (N, C, OH, OW)
// y = (1/(KH·KW)) · Σ_window x, the padded cells adding 0 but still counted in KH·KW
// (count_include_pad=True).
template <typename T>
void AvgPool<T>::forward(const Tensor<T>& x, Tensor<T>& y, bool /*training*/) {
  const WindowGeometry& g = geometry_;
  const T scale = T(1) / static_cast<T>(g.kernel_h * g.kernel_w);
  parallel_for(
      0, x.dim(0) * g.channels,
      [&](Index begin, Index end, int /*chunk*/) {
        for (Index p = begin; p < end; ++p) {
          const T* in = x.data() + p * g.in_plane();
          T* out = y.data() + p * g.out_plane();
          for (Index oh = 0; oh < g.out_h; ++oh) {
            for (Index ow = 0; ow < g.out_w; ++ow) {
              const detail::WindowSpan s = detail::window_span(g, oh, ow);
              T sum = T(0);
              for (Index ih = s.h_begin; ih < s.h_end; ++ih)
                for (Index iw = s.w_begin; iw < s.w_end; ++iw) sum += in[ih * g.in_w + iw];
              out[oh * g.out_w + ow] = sum * scale;
            }
          }
        }
      },
      min_planes_per_chunk_);
}

// dy: (N, C, OH, OW)   dx: (N, C, H, W)
// ∂y[o]/∂x[i] = 1/(KH·KW) for every real element i of window o, so
//   dx[i] = Σ_{windows o ∋ i} dy[o] / (KH·KW).
template <typename T>
void AvgPool<T>::backward(const Tensor<T>& x, const Tensor<T>& /*y*/, const Tensor<T>& dy,
                          Tensor<T>* dx) {
  if (dx == nullptr) return;
  const WindowGeometry& g = geometry_;
  const T scale = T(1) / static_cast<T>(g.kernel_h * g.kernel_w);
  parallel_for(
      0, x.dim(0) * g.channels,
      [&](Index begin, Index end, int /*chunk*/) {
        for (Index p = begin; p < end; ++p) {
          T* din = dx->data() + p * g.in_plane();
          const T* dout = dy.data() + p * g.out_plane();
          std::fill(din, din + g.in_plane(), T(0));
          for (Index oh = 0; oh < g.out_h; ++oh) {
            for (Index ow = 0; ow < g.out_w; ++ow) {
              const detail::WindowSpan s = detail::window_span(g, oh, ow);
              const T share = dout[oh * g.out_w + ow] * scale;
              for (Index ih = s.h_begin; ih < s.h_end; ++ih)
                for (Index iw = s.w_begin; iw < s.w_end; ++iw) din[ih * g.in_w + iw] += share;
            }
          }
        }
      },
      min_planes_per_chunk_);
}

template class AvgPool<float>;
template class AvgPool<double>;

}  // namespace cnndiag
