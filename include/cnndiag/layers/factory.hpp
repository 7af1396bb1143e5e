#pragma once
/// Building layers from their config.

#include <memory>
#include <string>
#include <vector>

#include "cnndiag/config.hpp"
#include "cnndiag/layers/layer.hpp"

namespace cnndiag {

/// Every layer type a config may name, in documentation order.
const std::vector<std::string>& layer_types();

/// Builds the layer `config` describes for a per-sample input shape, with parameters allocated
/// (zero) but not initialised, and its fault (if any) injected. Throws ShapeError when the input
/// does not fit (the message names the layer, its type, the input shape and why: "layer 'conv2'
/// (conv2d): kernel 5×5 with pad 0 does not fit input (16,3,3)") and ConfigError for settings the
/// type does not accept (a pooling layer given out_channels is caught by the parser already).
template <typename T>
std::unique_ptr<Layer<T>> make_layer(const LayerConfig& config, const Shape& input_shape);

}  // namespace cnndiag
