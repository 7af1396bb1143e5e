#pragma once
// LayerConfig builders and random tensors for layer tests (config.cpp, the parser, is not needed:
// tests build the structs the parser would produce).

#include <string>

#include "cnndiag/config.hpp"
#include "cnndiag/rng.hpp"
#include "cnndiag/tensor.hpp"

namespace cnndiag::testing {

inline LayerConfig layer_config(std::string name, std::string type) {
  LayerConfig c;
  c.name = std::move(name);
  c.type = std::move(type);
  return c;
}

inline LayerConfig conv_config(std::string name, Index out_channels, Index kernel_h,
                               Index kernel_w, Index stride = 1, Index pad = 0, bool bias = true) {
  LayerConfig c = layer_config(std::move(name), "conv2d");
  c.out_channels = out_channels;
  c.kernel_h = kernel_h;
  c.kernel_w = kernel_w;
  c.stride_h = c.stride_w = stride;
  c.pad_h = c.pad_w = pad;
  c.bias = bias;
  return c;
}

inline LayerConfig pool_config(std::string name, std::string type, Index size, Index stride,
                               Index pad = 0) {
  LayerConfig c = layer_config(std::move(name), std::move(type));
  c.size_h = c.size_w = size;
  c.stride_h = c.stride_w = stride;
  c.pad_h = c.pad_w = pad;
  return c;
}

inline LayerConfig linear_config(std::string name, Index out, bool bias = true) {
  LayerConfig c = layer_config(std::move(name), "linear");
  c.out = out;
  c.bias = bias;
  return c;
}

/// N(0, scale²) entries.
template <typename T>
Tensor<T> random_tensor(const Shape& shape, Rng& rng, double scale = 1.0) {
  Tensor<T> t(shape);
  for (Index i = 0; i < t.size(); ++i) t[i] = static_cast<T>(scale * rng.normal());
  return t;
}

template <typename T>
Tensor<T> tensor_of(const Shape& shape, std::initializer_list<double> values) {
  Tensor<T> t(shape);
  Index i = 0;
  for (double v : values) t[i++] = static_cast<T>(v);
  return t;
}

}  // namespace cnndiag::testing
