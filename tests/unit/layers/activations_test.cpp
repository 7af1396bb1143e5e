// relu, leaky_relu, sigmoid, tanh: known values, derivatives, saturation, kinks.
#include <gtest/gtest.h>

#include <cmath>

#include "cnndiag/layers/leaky_relu.hpp"
#include "cnndiag/layers/relu.hpp"
#include "cnndiag/layers/sigmoid.hpp"
#include "cnndiag/layers/tanh.hpp"
#include "support/layer_builders.hpp"

namespace cnndiag {
namespace {

using testing::tensor_of;

template <typename L, typename T>
void run(L& layer, const Tensor<T>& x, const Tensor<T>& dy, Tensor<T>& y, Tensor<T>& dx) {
  y.resize(x.shape());
  dx.resize(x.shape());
  dx.fill(T(123));
  layer.forward(x, y, true);
  layer.backward(x, y, dy, &dx);
}

TEST(Relu, ForwardBackwardAndKinks) {
  Relu<double> relu("r", Shape{5});
  const auto x = tensor_of<double>(Shape{1, 5}, {-2, -0.0, 0, 0.5, 3});
  const auto dy = tensor_of<double>(Shape{1, 5}, {1, 2, 3, 4, 5});
  Tensor<double> y, dx;
  run(relu, x, dy, y, dx);
  const double ey[] = {0, 0, 0, 0.5, 3}, edx[] = {0, 0, 0, 4, 5};
  for (Index i = 0; i < 5; ++i) {
    EXPECT_EQ(y[i], ey[i]) << i;
    EXPECT_EQ(dx[i], edx[i]) << i;
  }
  Tensor<double> d;
  relu.kink_distance(x, d);
  EXPECT_EQ(d[0], 2);
  EXPECT_EQ(d[2], 0);
  EXPECT_EQ(d[4], 3);
  EXPECT_EQ(relu.output_shape(), (Shape{5}));
}

TEST(LeakyRelu, SlopeOnTheNegativeSide) {
  LeakyRelu<float> lrelu("l", Shape{3}, 0.1);
  const auto x = tensor_of<float>(Shape{1, 3}, {-2, 0, 4});
  const auto dy = tensor_of<float>(Shape{1, 3}, {10, 10, 10});
  Tensor<float> y, dx;
  run(lrelu, x, dy, y, dx);
  EXPECT_FLOAT_EQ(y[0], -0.2f);
  EXPECT_FLOAT_EQ(y[1], 0.0f);
  EXPECT_FLOAT_EQ(y[2], 4.0f);
  EXPECT_FLOAT_EQ(dx[0], 1.0f);
  EXPECT_FLOAT_EQ(dx[1], 1.0f);  // slope a at exactly 0, like PyTorch
  EXPECT_FLOAT_EQ(dx[2], 10.0f);
}

TEST(Sigmoid, KnownValuesAndDerivative) {
  Sigmoid<double> sig("s", Shape{3});
  const auto x = tensor_of<double>(Shape{1, 3}, {0, 1, -2});
  const auto dy = tensor_of<double>(Shape{1, 3}, {1, 1, 2});
  Tensor<double> y, dx;
  run(sig, x, dy, y, dx);
  EXPECT_DOUBLE_EQ(y[0], 0.5);
  EXPECT_NEAR(y[1], 0.7310585786300049, 1e-15);
  EXPECT_NEAR(y[2], 0.11920292202211755, 1e-15);
  EXPECT_DOUBLE_EQ(dx[0], 0.25);
  EXPECT_NEAR(dx[1], 0.7310585786300049 * (1 - 0.7310585786300049), 1e-15);
  EXPECT_NEAR(dx[2], 2 * 0.11920292202211755 * (1 - 0.11920292202211755), 1e-15);
}

TEST(Sigmoid, StableForLargeMagnitudes) {
  EXPECT_EQ(stable_sigmoid(1000.0), 1.0);
  EXPECT_EQ(stable_sigmoid(-1000.0), 0.0);
  EXPECT_EQ(stable_sigmoid(200.0f), 1.0f);
  EXPECT_EQ(stable_sigmoid(-200.0f), 0.0f);
  // Far in the left tail the result keeps full relative precision: σ(−50) = e^{−50}/(1+e^{−50}).
  EXPECT_NEAR(stable_sigmoid(-50.0) / std::exp(-50.0), 1.0, 1e-15);
  EXPECT_GT(stable_sigmoid(-80.0f), 0.0f);
  EXPECT_FALSE(std::isnan(stable_sigmoid(-std::numeric_limits<double>::infinity())));
}

TEST(Tanh, KnownValuesAndDerivative) {
  Tanh<double> t("t", Shape{2});
  const auto x = tensor_of<double>(Shape{1, 2}, {0.5, -30});
  const auto dy = tensor_of<double>(Shape{1, 2}, {2, 1});
  Tensor<double> y, dx;
  run(t, x, dy, y, dx);
  EXPECT_NEAR(y[0], 0.46211715726000974, 1e-15);
  EXPECT_EQ(y[1], -1.0);
  EXPECT_NEAR(dx[0], 2 * (1 - 0.46211715726000974 * 0.46211715726000974), 1e-15);
  EXPECT_EQ(dx[1], 0.0);
}

}  // namespace
}  // namespace cnndiag
