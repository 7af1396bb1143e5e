#pragma once
/// Base of the shape-preserving element-wise layers (relu, leaky_relu, sigmoid, tanh): the output
/// shape is the input shape, any rank; there are no parameters.

#include "cnndiag/layers/layer.hpp"

namespace cnndiag {

template <typename T>
class Elementwise : public Layer<T> {
 public:
  using Layer<T>::Layer;
  Shape output_shape() const override { return this->input_shape_; }
};

}  // namespace cnndiag
