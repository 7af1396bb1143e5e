#pragma once
// Small networks for the gradient checker's tests: every layer type, both losses, and the
// benchmark networks B1–B3 of BENCH.md (with small batches: the architecture is what matters).

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cnndiag/init.hpp"
#include "cnndiag/loss.hpp"
#include "cnndiag/model.hpp"
#include "cnndiag/rng.hpp"
#include "support/layer_builders.hpp"

namespace cnndiag::testing {

struct Net {
  std::vector<LayerConfig> layers;
  LossConfig loss;
  Shape input;
  Index batch = 4;
  std::unique_ptr<Model<double>> model;
  Tensor<double> inputs;
  Targets<double> targets;

  /// Builds the model (faults as in `layers`), random params N(0, weight_std²) (weight_std ≤ 0:
  /// 1/√fan_in, which keeps deep nets' activations O(1)) (biases N(0, 0.1²)),
  /// inputs N(0, 1), targets U[0,1) or uniform labels.
  void build(std::uint64_t seed = 7, double weight_std = 0.5) {
    model = std::make_unique<Model<double>>(layers, input);
    Rng rng(seed);
    for (auto& [key, p] : model->named_params()) {
      InitSpec spec;
      spec.kind = InitSpec::Kind::kNormal;
      spec.std = p->is_bias      ? 0.1
                 : weight_std > 0 ? weight_std
                                  : 1.0 / std::sqrt(static_cast<double>(p->fan_in));
      spec.mean = p->name == "weight" && p->fan_in == 0 ? 1.0 : 0.0;  // batchnorm γ around 1
      init_param(*p, spec, rng);
    }
    inputs = random_tensor<double>(input.with_batch(batch), rng);
    const Index k = model->output_shape().numel();
    if (loss.type == "mse") {
      targets.values.resize(Shape{batch, k});
      for (Index i = 0; i < targets.values.size(); ++i) targets.values[i] = rng.uniform();
    } else {
      for (Index i = 0; i < batch; ++i)
        targets.labels.push_back(static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(k))));
    }
  }
  /// The layer config named `name`.
  LayerConfig& layer(const std::string& name) {
    for (LayerConfig& l : layers)
      if (l.name == name) return l;
    throw std::runtime_error("no layer " + name);
  }
};

inline LossConfig mse_loss(std::string reduction = "mean", double scale = 0.5) {
  LossConfig l;
  l.type = "mse";
  l.reduction = std::move(reduction);
  l.scale = scale;
  return l;
}

inline LossConfig ce_loss(std::string reduction = "mean") {
  LossConfig l;
  l.type = "softmax_cross_entropy";
  l.reduction = std::move(reduction);
  l.scale = 1.0;
  return l;
}

/// Every layer type in one image network: conv → batchnorm → relu → maxpool → conv → leaky_relu
/// → avgpool → linear → tanh → linear → sigmoid → linear.
inline Net zoo_net(LossConfig loss = mse_loss()) {
  Net n;
  n.input = Shape{2, 6, 6};
  LayerConfig lr = layer_config("lr1", "leaky_relu");
  lr.negative_slope = 0.1;
  LayerConfig avg = pool_config("avg1", "avgpool", 2, 1);
  n.layers = {conv_config("c1", 3, 3, 3, 1, 1), layer_config("bn1", "batchnorm"),
              layer_config("r1", "relu"),       pool_config("mp1", "maxpool", 2, 2),
              conv_config("c2", 2, 2, 2, 1, 0), lr,
              avg,                              linear_config("fc1", 5),
              layer_config("t1", "tanh"),       linear_config("fc2", 4),
              layer_config("s1", "sigmoid"),    linear_config("fc3", 3)};
  n.loss = std::move(loss);
  return n;
}

/// B1 "seed": conv 1@3×3 pad 1 → linear 400→4 → sigmoid → linear 4→4, mse mean ½.
inline Net b1_net(Index batch = 32) {
  Net n;
  n.input = Shape{1, 20, 20};
  n.batch = batch;
  n.layers = {conv_config("conv1", 1, 3, 3, 1, 1), linear_config("fc1", 4),
              layer_config("sig1", "sigmoid"), linear_config("fc2", 4)};
  n.loss = mse_loss();
  return n;
}

/// B2 "lenet": conv 6@5×5 pad 2 → relu → maxpool 2 → conv 16@5×5 → relu → maxpool 2 → linear 120
/// → relu → linear 84 → relu → linear 10, softmax cross-entropy.
inline Net b2_net(Index batch) {
  Net n;
  n.input = Shape{1, 28, 28};
  n.batch = batch;
  n.layers = {conv_config("conv1", 6, 5, 5, 1, 2), layer_config("relu1", "relu"),
              pool_config("pool1", "maxpool", 2, 2),  conv_config("conv2", 16, 5, 5, 1, 0),
              layer_config("relu2", "relu"),          pool_config("pool2", "maxpool", 2, 2),
              linear_config("fc1", 120),              layer_config("relu3", "relu"),
              linear_config("fc2", 84),               layer_config("relu4", "relu"),
              linear_config("fc3", 10)};
  n.loss = ce_loss();
  return n;
}

/// B3 "convnet": conv 32@3×3 pad 1 → relu → maxpool 2 → conv 64@3×3 pad 1 → relu → maxpool 2
/// → linear 10, softmax cross-entropy.
inline Net b3_net(Index batch) {
  Net n;
  n.input = Shape{3, 32, 32};
  n.batch = batch;
  n.layers = {conv_config("conv1", 32, 3, 3, 1, 1), layer_config("relu1", "relu"),
              pool_config("pool1", "maxpool", 2, 2),  conv_config("conv2", 64, 3, 3, 1, 1),
              layer_config("relu2", "relu"),          pool_config("pool2", "maxpool", 2, 2),
              linear_config("fc", 10)};
  n.loss = ce_loss();
  return n;
}

}  // namespace cnndiag::testing
