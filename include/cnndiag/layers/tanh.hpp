#pragma once
/// tanh: y = tanh(x), element-wise, any input shape; output shape = input shape.
///
/// Contract (layer.hpp):
///  - forward overwrites y; caches nothing (backward reads y, which forward wrote).
///  - backward assigns dx = dy ⊙ (1 − y²). No parameters.
///  - Faults: derivative_omitted (dx = dy), derivative_on_input (dx = dy ⊙ (1 − x²)),
///    derivative_reapplied (dx = dy ⊙ (1 − tanh²(y))).

#include "cnndiag/layers/elementwise.hpp"

namespace cnndiag {

template <typename T>
class Tanh final : public Elementwise<T> {
 public:
  using Elementwise<T>::Elementwise;
  std::string_view type() const override { return "tanh"; }
  void forward(const Tensor<T>& x, Tensor<T>& y, bool training) override;
  void backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy,
                Tensor<T>* dx) override;
};

}  // namespace cnndiag
