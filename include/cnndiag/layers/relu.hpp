#pragma once
/// relu: y = max(x, 0), element-wise, any input shape; output shape = input shape.
///
/// Contract (layer.hpp):
///  - forward overwrites y; caches nothing (backward reads x).
///  - backward assigns dx = dy ⊙ [x > 0] (the derivative at exactly 0 is taken as 0, like PyTorch).
///    No parameters.
///  - Faults: derivative_omitted (dx = dy), relu_mask_from_grad (dx = dy ⊙ [dy > 0]).
///  - kink_distance: |x|, the distance to the kink at 0.

#include "cnndiag/layers/elementwise.hpp"

namespace cnndiag {

template <typename T>
class Relu final : public Elementwise<T> {
 public:
  using Elementwise<T>::Elementwise;
  std::string_view type() const override { return "relu"; }
  void forward(const Tensor<T>& x, Tensor<T>& y, bool training) override;
  void backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy,
                Tensor<T>* dx) override;
  void kink_distance(const Tensor<T>& x, Tensor<T>& distance) const override;
};

}  // namespace cnndiag
