// Every layer type, in float64, through the shared harness: dx and every parameter gradient
// against central differences, on odd shapes, strides, padding, several channels and a batch of 3.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "cnndiag/init.hpp"
#include "cnndiag/layers/factory.hpp"
#include "gradcheck/harness.hpp"
#include "support/layer_builders.hpp"

namespace cnndiag {
namespace {

using testing::conv_config;
using testing::gradcheck_layer;
using testing::layer_config;
using testing::linear_config;
using testing::pool_config;

// Builds the layer and gives its parameters random values (N(0, 1) weights make every term of
// every gradient matter; biases and batchnorm γ/β random too so no gradient is trivially zero).
std::unique_ptr<Layer<double>> build(const LayerConfig& config, const Shape& input,
                                     std::uint64_t seed = 3) {
  auto layer = make_layer<double>(config, input);
  Rng rng(seed);
  InitSpec spec;
  spec.kind = InitSpec::Kind::kNormal;
  spec.mean = 0.0;
  spec.std = 1.0;
  for (Param<double>& p : layer->params()) init_param(p, spec, rng);
  return layer;
}

void expect_gradients_match(const LayerConfig& config, const Shape& input,
                            testing::GradcheckOptions options = {}) {
  auto layer = build(config, input);
  const testing::GradcheckReport report = gradcheck_layer(*layer, options);
  EXPECT_TRUE(report.ok()) << config.type << " '" << config.name << "' on " << input.str()
                           << report.str();
  // Something was compared for dx and for every parameter.
  for (const testing::TensorCheck& t : report.tensors) EXPECT_GT(t.checked, 0) << t.str();
  if (std::getenv("CNNDIAG_SHOW_GRADCHECK")) std::printf("%s%s\n", config.name.c_str(), report.str().c_str());
  EXPECT_EQ(report.tensors.size(), 1 + layer->params().size());
}

TEST(LayersGradcheck, Conv2dSingleChannelSamePadding) {
  expect_gradients_match(conv_config("conv1", 1, 3, 3, 1, 1), Shape{1, 5, 5});
}
TEST(LayersGradcheck, Conv2dMultiChannelStride2Pad2NonSquare) {
  expect_gradients_match(conv_config("conv", 3, 3, 2, 2, 2), Shape{2, 7, 6});
}
TEST(LayersGradcheck, Conv2dNoBiasStride3) {
  expect_gradients_match(conv_config("conv", 2, 2, 3, 3, 1, false), Shape{3, 8, 7});
}
TEST(LayersGradcheck, Conv2dKernelCoversWholeInput) {
  expect_gradients_match(conv_config("conv", 2, 5, 4), Shape{2, 5, 4});
}
TEST(LayersGradcheck, MaxPoolOverlappingWindowsWithPad) {
  expect_gradients_match(pool_config("pool", "maxpool", 3, 2, 1), Shape{2, 7, 5});
}
TEST(LayersGradcheck, MaxPool2x2) {
  expect_gradients_match(pool_config("pool", "maxpool", 2, 2), Shape{3, 5, 6});
}
TEST(LayersGradcheck, AvgPoolOverlappingWindowsWithPad) {
  expect_gradients_match(pool_config("pool", "avgpool", 3, 2, 1), Shape{2, 7, 5});
}
TEST(LayersGradcheck, AvgPoolNonSquareStride1) {
  LayerConfig c = pool_config("pool", "avgpool", 2, 1);
  c.size_w = 3;
  expect_gradients_match(c, Shape{2, 4, 5});
}
TEST(LayersGradcheck, Relu) { expect_gradients_match(layer_config("r", "relu"), Shape{2, 3, 5}); }
TEST(LayersGradcheck, LeakyRelu) {
  LayerConfig c = layer_config("lr", "leaky_relu");
  c.negative_slope = 0.2;
  expect_gradients_match(c, Shape{7});
}
TEST(LayersGradcheck, Sigmoid) {
  testing::GradcheckOptions o;
  o.input_scale = 3.0;  // reach into the saturating tails too
  expect_gradients_match(layer_config("s", "sigmoid"), Shape{3, 2, 3}, o);
}
TEST(LayersGradcheck, Tanh) {
  testing::GradcheckOptions o;
  o.input_scale = 2.0;
  expect_gradients_match(layer_config("t", "tanh"), Shape{11}, o);
}
TEST(LayersGradcheck, LinearFromImage) {
  expect_gradients_match(linear_config("fc", 4), Shape{2, 3, 3});
}
TEST(LayersGradcheck, LinearNoBias) { expect_gradients_match(linear_config("fc", 5, false), Shape{7}); }
TEST(LayersGradcheck, BatchNormTraining4D) {
  expect_gradients_match(layer_config("bn", "batchnorm"), Shape{3, 4, 3});
}
TEST(LayersGradcheck, BatchNormTraining2D) {
  testing::GradcheckOptions o;
  o.batch = 5;
  expect_gradients_match(layer_config("bn", "batchnorm"), Shape{6}, o);
}
TEST(LayersGradcheck, BatchNormEval) {
  testing::GradcheckOptions o;
  o.training = false;
  expect_gradients_match(layer_config("bn", "batchnorm"), Shape{2, 3, 3}, o);
}

}  // namespace
}  // namespace cnndiag
