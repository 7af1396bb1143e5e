#include "cnndiag/layers/batchnorm.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "cnndiag/errors.hpp"
#include "cnndiag/init.hpp"
#include "support/layer_builders.hpp"

namespace cnndiag {
namespace {

using testing::tensor_of;

// Parameters start at zero (factory.hpp); the default init makes γ = 1, β = 0.
template <typename T>
void init_defaults(BatchNorm<T>& bn) {
  Rng rng(0);
  for (Param<T>& p : bn.params()) init_param(p, InitSpec{}, rng);
}

TEST(BatchNorm, TrainingStatisticsOfAFlatInput) {
  BatchNorm<double> bn("bn", Shape{1}, 1e-5, 0.1);
  init_defaults(bn);
  const auto x = tensor_of<double>(Shape{4, 1}, {1, 2, 3, 4});
  Tensor<double> y(x.shape());
  bn.forward(x, y, true);
  // μ = 2.5, biased σ² = 1.25; γ = 1, β = 0 by default.
  const double inv_std = 1 / std::sqrt(1.25 + 1e-5);
  for (Index i = 0; i < 4; ++i) EXPECT_NEAR(y[i], (x[i] - 2.5) * inv_std, 1e-14);
  // Running stats: 0.9·0 + 0.1·2.5, and 0.9·1 + 0.1·(unbiased 5/3).
  EXPECT_NEAR(bn.buffers()[0].value[0], 0.25, 1e-15);
  EXPECT_NEAR(bn.buffers()[1].value[0], 0.9 + 0.1 * 5.0 / 3.0, 1e-15);
}

TEST(BatchNorm, PerChannelOverBatchAndSpace) {
  // (N=2, C=2, H=1, W=2): channel 0 holds {1, 3, 5, 7}, channel 1 holds {10, 10, 10, 10}.
  BatchNorm<double> bn("bn", Shape{2, 1, 2}, 1e-5, 0.1);
  bn.params()[0].value = tensor_of<double>(Shape{2}, {2, 1});
  bn.params()[1].value = tensor_of<double>(Shape{2}, {0, 3});
  const auto x = tensor_of<double>(Shape{2, 2, 1, 2}, {1, 3, 10, 10, 5, 7, 10, 10});
  Tensor<double> y(x.shape());
  bn.forward(x, y, true);
  const double inv_std0 = 1 / std::sqrt(5.0 + 1e-5);  // μ = 4, σ² = (9+1+1+9)/4
  EXPECT_NEAR(y[0], 2 * (1 - 4) * inv_std0, 1e-14);
  EXPECT_NEAR(y[5], 2 * (7 - 4) * inv_std0, 1e-14);
  for (Index i : {2, 3, 6, 7}) EXPECT_NEAR(y[i], 3.0, 1e-12);  // constant channel → β
  EXPECT_NEAR(bn.buffers()[0].value[1], 1.0, 1e-15);
}

TEST(BatchNorm, EvalUsesRunningStatistics) {
  BatchNorm<double> bn("bn", Shape{2}, 1e-5, 0.1);
  init_defaults(bn);
  bn.buffers()[0].value = tensor_of<double>(Shape{2}, {1, -1});
  bn.buffers()[1].value = tensor_of<double>(Shape{2}, {4, 0.25});
  const auto x = tensor_of<double>(Shape{1, 2}, {3, 0});
  Tensor<double> y(x.shape());
  bn.forward(x, y, false);
  EXPECT_NEAR(y[0], 2 / std::sqrt(4 + 1e-5), 1e-14);
  EXPECT_NEAR(y[1], 1 / std::sqrt(0.25 + 1e-5), 1e-14);
  // Eval leaves the running statistics alone.
  EXPECT_EQ(bn.buffers()[0].value[0], 1);
  EXPECT_EQ(bn.buffers()[1].value[1], 0.25);
}

TEST(BatchNorm, ParamsBuffersAndDefaults) {
  BatchNorm<float> bn("bn", Shape{3, 4, 4}, 1e-5, 0.1);
  ASSERT_EQ(bn.params().size(), 2u);
  EXPECT_EQ(bn.params()[0].name, "weight");
  EXPECT_EQ(bn.params()[1].name, "bias");
  EXPECT_TRUE(bn.params()[0].is_bias);
  EXPECT_TRUE(bn.params()[1].is_bias);
  EXPECT_EQ(bn.params()[0].default_init, DefaultInit::kOnes);
  EXPECT_EQ(bn.params()[1].default_init, DefaultInit::kZeros);
  ASSERT_EQ(bn.buffers().size(), 2u);
  EXPECT_EQ(bn.buffers()[0].name, "running_mean");
  EXPECT_EQ(bn.buffers()[1].name, "running_var");
  EXPECT_EQ(bn.buffers()[1].value[2], 1.0f);
}

TEST(BatchNorm, Errors) {
  EXPECT_THROW(BatchNorm<float>("bn", Shape{2, 3}, 1e-5, 0.1), ShapeError);
  EXPECT_THROW(BatchNorm<float>("bn", Shape{3}, 0.0, 0.1), ConfigError);
  EXPECT_THROW(BatchNorm<float>("bn", Shape{3}, 1e-5, 1.5), ConfigError);
  BatchNorm<float> bn("bn", Shape{3}, 1e-5, 0.1);
  Tensor<float> x(Shape{1, 3}), y(Shape{1, 3});
  EXPECT_THROW(bn.forward(x, y, true), ShapeError);  // one value per channel
  EXPECT_NO_THROW(bn.forward(x, y, false));
}

}  // namespace
}  // namespace cnndiag
