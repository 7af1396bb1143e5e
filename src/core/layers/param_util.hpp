#pragma once
// Building a layer's Param: value and grad zero, with its init metadata.

#include <string>

#include "cnndiag/layers/layer.hpp"

namespace cnndiag::detail {

template <typename T>
Param<T> make_param(std::string name, const Shape& shape, bool is_bias, Index fan_in,
                    Index fan_out, DefaultInit default_init = DefaultInit::kByRole) {
  Param<T> p;
  p.name = std::move(name);
  p.value = Tensor<T>(shape);
  p.grad = Tensor<T>(shape);
  p.is_bias = is_bias;
  p.fan_in = fan_in;
  p.fan_out = fan_out;
  p.default_init = default_init;
  return p;
}

}  // namespace cnndiag::detail
