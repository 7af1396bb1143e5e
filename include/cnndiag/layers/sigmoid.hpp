#pragma once
/// sigmoid: y = σ(x) = 1/(1+e^{−x}), element-wise, any input shape; output shape = input shape.
/// Evaluated without overflow for any |x| (see sigmoid.cpp); σ saturates to exactly 0 or 1 in
/// floating point beyond |x| ≈ 17 (float) / 37 (double).
///
/// Contract (layer.hpp):
///  - forward overwrites y; caches nothing (backward reads y, which forward wrote).
///  - backward assigns dx = dy ⊙ y ⊙ (1−y). No parameters.
///  - Faults (DESIGN.md §7.2): derivative_omitted and sigmoid_derivative_on_wrong_tensor
///    (dx = dy; for the latter the model also sets kLinearInputSigmoidMask on the linear layer
///    before), derivative_on_input (dx = dy ⊙ x ⊙ (1−x)), derivative_reapplied
///    (dx = dy ⊙ σ(y) ⊙ (1−σ(y))).

#include "cnndiag/layers/elementwise.hpp"

namespace cnndiag {

template <typename T>
class Sigmoid final : public Elementwise<T> {
 public:
  using Elementwise<T>::Elementwise;
  std::string_view type() const override { return "sigmoid"; }
  void forward(const Tensor<T>& x, Tensor<T>& y, bool training) override;
  void backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy,
                Tensor<T>* dx) override;
};

/// σ(z) without overflow for any z (exposed for tests and for the loss).
template <typename T>
T stable_sigmoid(T z);

}  // namespace cnndiag
