#pragma once
/// leaky_relu: y = x for x > 0, a·x otherwise (a = negative_slope, default 0.01), element-wise,
/// any input shape; output shape = input shape.
///
/// Contract (layer.hpp):
///  - forward overwrites y; caches nothing (backward reads x).
///  - backward assigns dx = dy ⊙ (x > 0 ? 1 : a). No parameters.
///  - Faults: derivative_omitted (dx = dy), relu_mask_from_grad (dx = dy ⊙ (dy > 0 ? 1 : a)).
///  - kink_distance: |x|, the distance to the kink at 0.

#include "cnndiag/layers/elementwise.hpp"

namespace cnndiag {

template <typename T>
class LeakyRelu final : public Elementwise<T> {
 public:
  LeakyRelu(std::string name, Shape input_shape, double negative_slope)
      : Elementwise<T>(std::move(name), input_shape), negative_slope_(negative_slope) {}
  std::string_view type() const override { return "leaky_relu"; }
  double negative_slope() const { return negative_slope_; }
  void forward(const Tensor<T>& x, Tensor<T>& y, bool training) override;
  void backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy,
                Tensor<T>* dx) override;
  void kink_distance(const Tensor<T>& x, Tensor<T>& distance) const override;

 private:
  double negative_slope_;
};

}  // namespace cnndiag
