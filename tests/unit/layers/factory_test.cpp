#include "cnndiag/layers/factory.hpp"

#include <gtest/gtest.h>

#include "cnndiag/errors.hpp"
#include "support/layer_builders.hpp"

namespace cnndiag {
namespace {

using testing::conv_config;
using testing::layer_config;
using testing::linear_config;
using testing::pool_config;

TEST(Factory, EveryDocumentedTypeBuilds) {
  const std::vector<std::string> expected = {"conv2d", "maxpool", "avgpool",
                                             "relu",   "leaky_relu", "sigmoid",
                                             "tanh",   "linear",  "batchnorm"};
  EXPECT_EQ(layer_types(), expected);
  for (const std::string& type : layer_types()) {
    LayerConfig c = layer_config("l", type);
    c.out_channels = 2;
    c.kernel_h = c.kernel_w = 3;
    c.size_h = c.size_w = 2;
    c.stride_h = c.stride_w = type == "conv2d" ? 1 : 2;
    c.out = 5;
    auto f = make_layer<float>(c, Shape{3, 8, 8});
    auto d = make_layer<double>(c, Shape{3, 8, 8});
    EXPECT_EQ(f->type(), type);
    EXPECT_EQ(d->name(), "l");
    EXPECT_EQ(f->input_shape(), (Shape{3, 8, 8}));
  }
}

TEST(Factory, OutputShapesOfTheSeedNetwork) {
  auto conv = make_layer<float>(conv_config("conv1", 1, 3, 3, 1, 1), Shape{1, 20, 20});
  EXPECT_EQ(conv->output_shape(), (Shape{1, 20, 20}));
  auto fc1 = make_layer<float>(linear_config("fc1", 4), conv->output_shape());
  EXPECT_EQ(fc1->output_shape(), (Shape{4}));
  EXPECT_EQ(fc1->params()[0].value.shape(), (Shape{4, 400}));
  auto pool = make_layer<float>(pool_config("p", "maxpool", 2, 2), Shape{6, 28, 28});
  EXPECT_EQ(pool->output_shape(), (Shape{6, 14, 14}));
}

TEST(Factory, ErrorsCarryTheConfigLocation) {
  LayerConfig c = conv_config("conv2", 6, 3, 3);
  c.where = {"net.toml", 12, 1};
  try {
    make_layer<float>(c, Shape{400});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "net.toml:12:1: layer 'conv2' (conv2d) needs a (C,H,W) input, got "
                           "(400) from the previous layer");
  }
  LayerConfig unknown = layer_config("x", "conv3d");
  EXPECT_THROW(make_layer<float>(unknown, Shape{1, 4, 4}), ConfigError);
}

TEST(Factory, FaultIsInjectedOrRejected) {
  LayerConfig c = layer_config("sig1", "sigmoid");
  c.fault = "sigmoid_derivative_on_wrong_tensor";
  EXPECT_EQ(make_layer<double>(c, Shape{4})->fault(), Fault::kSigmoidDerivativeOnWrongTensor);
  c.fault = "kernel_not_flipped";
  try {
    make_layer<double>(c, Shape{4});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("layer 'sig1' (sigmoid): fault 'kernel_not_flipped'"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace cnndiag
