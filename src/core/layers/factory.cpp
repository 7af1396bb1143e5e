#include "cnndiag/layers/factory.hpp"

#include "cnndiag/errors.hpp"
#include "cnndiag/layers/avgpool.hpp"
#include "cnndiag/layers/batchnorm.hpp"
#include "cnndiag/layers/conv2d.hpp"
#include "cnndiag/layers/leaky_relu.hpp"
#include "cnndiag/layers/linear.hpp"
#include "cnndiag/layers/maxpool.hpp"
#include "cnndiag/layers/relu.hpp"
#include "cnndiag/layers/sigmoid.hpp"
#include "cnndiag/layers/tanh.hpp"

namespace cnndiag {
namespace {

// "net.toml:12:7: " when the config came from a file (SourceLocation::str() lives with the parser;
// this keeps the layers library independent of it).
std::string location_prefix(const SourceLocation& where) {
  if (where.file.empty()) return {};
  std::string s = where.file;
  if (where.line > 0) s += ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
  return s + ": ";
}

PoolOptions pool_options(const LayerConfig& c) {
  PoolOptions o;
  o.size_h = c.size_h;
  o.size_w = c.size_w;
  o.stride_h = c.stride_h;
  o.stride_w = c.stride_w;
  o.pad_h = c.pad_h;
  o.pad_w = c.pad_w;
  return o;
}

template <typename T>
std::unique_ptr<Layer<T>> build(const LayerConfig& c, const Shape& in) {
  const std::string& type = c.type;
  if (type == "conv2d") {
    Conv2dOptions o;
    o.out_channels = c.out_channels;
    o.kernel_h = c.kernel_h;
    o.kernel_w = c.kernel_w;
    o.stride_h = c.stride_h;
    o.stride_w = c.stride_w;
    o.pad_h = c.pad_h;
    o.pad_w = c.pad_w;
    o.bias = c.bias;
    return std::make_unique<Conv2d<T>>(c.name, in, o);
  }
  if (type == "maxpool") return std::make_unique<MaxPool<T>>(c.name, in, pool_options(c));
  if (type == "avgpool") return std::make_unique<AvgPool<T>>(c.name, in, pool_options(c));
  if (type == "relu") return std::make_unique<Relu<T>>(c.name, in);
  if (type == "leaky_relu") return std::make_unique<LeakyRelu<T>>(c.name, in, c.negative_slope);
  if (type == "sigmoid") return std::make_unique<Sigmoid<T>>(c.name, in);
  if (type == "tanh") return std::make_unique<Tanh<T>>(c.name, in);
  if (type == "linear") return std::make_unique<Linear<T>>(c.name, in, c.out, c.bias);
  if (type == "batchnorm") return std::make_unique<BatchNorm<T>>(c.name, in, c.eps, c.bn_momentum);
  std::string known;
  for (const std::string& t : layer_types()) known += (known.empty() ? "" : ", ") + t;
  throw ConfigError("layer '" + c.name + "': unknown type '" + type + "' (known: " + known + ")");
}

}  // namespace

const std::vector<std::string>& layer_types() {
  static const std::vector<std::string> types = {"conv2d", "maxpool", "avgpool",
                                                 "relu",   "leaky_relu", "sigmoid",
                                                 "tanh",   "linear",  "batchnorm"};
  return types;
}

template <typename T>
std::unique_ptr<Layer<T>> make_layer(const LayerConfig& config, const Shape& input_shape) {
  std::unique_ptr<Layer<T>> layer;
  try {
    layer = build<T>(config, input_shape);
    if (!config.fault.empty()) {
      const std::optional<Fault> fault = parse_fault(config.fault);
      if (!fault) {
        std::string known;
        for (const FaultInfo& f : fault_catalogue())
          known += (known.empty() ? "" : ", ") + std::string(f.id);
        throw ConfigError("layer '" + config.name + "' (" + config.type + "): unknown fault '" +
                          config.fault + "' (known: " + known + ")");
      }
      layer->set_fault(*fault);
    }
  } catch (const ConfigError& e) {
    throw ConfigError(location_prefix(config.where) + e.what());
  } catch (const ShapeError& e) {
    throw ShapeError(location_prefix(config.where) + e.what());
  }
  return layer;
}

template std::unique_ptr<Layer<float>> make_layer<float>(const LayerConfig&, const Shape&);
template std::unique_ptr<Layer<double>> make_layer<double>(const LayerConfig&, const Shape&);

}  // namespace cnndiag
