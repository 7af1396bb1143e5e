#pragma once
/// maxpool: y[n, c, oh, ow] = max of x[n, c, ·, ·] over the window (padding semantics in
/// pooling.hpp: padded cells are −∞ and never win). Ties are broken by the first maximum in
/// row-major scan order of the window; a NaN in the window wins (it propagates).
///
/// Contract (layer.hpp):
///  - forward overwrites y and caches, per output element, the index of its argmax in the input
///    plane (reserve(n) sizes that cache).
///  - backward assigns dx: each dy goes to the argmax cached by the last forward; everything
///    else is 0 (overlapping windows add up). No parameters.
///  - Fault maxpool_route_first: dy goes to the window's first real element (top-left).
///  - kink_distance: how far one input element must move to change some window's argmax — for
///    a window's max, its gap to the window's runner-up; for any other element in a window, its
///    gap to that window's max; the minimum over the windows containing it; +∞ for elements no
///    window covers.

#include <cstdint>
#include <vector>

#include "cnndiag/layers/pooling.hpp"

namespace cnndiag {

template <typename T>
class MaxPool final : public Layer<T> {
 public:
  MaxPool(std::string name, Shape input_shape, const PoolOptions& options);

  std::string_view type() const override { return "maxpool"; }
  Shape output_shape() const override;
  const WindowGeometry& geometry() const { return geometry_; }

  void reserve(Index n) override;
  void forward(const Tensor<T>& x, Tensor<T>& y, bool training) override;
  void backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy,
                Tensor<T>* dx) override;
  void kink_distance(const Tensor<T>& x, Tensor<T>& distance) const override;

  /// The argmax cache of the last forward: per output element (N, C, OH, OW), the row-major
  /// index ih·W + iw of the winning input element within its (n, c) plane.
  std::span<const std::int32_t> argmax() const { return {argmax_.data(), cached_outputs_}; }

 private:
  WindowGeometry geometry_;
  Index min_planes_per_chunk_ = 1;
  std::vector<std::int32_t> argmax_;
  std::size_t cached_outputs_ = 0;
};

}  // namespace cnndiag
