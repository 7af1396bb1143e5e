#include "cnndiag/loss.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace cnndiag {
namespace {

LossConfig mse(const std::string& reduction, double scale) {
  LossConfig c;
  c.type = "mse";
  c.reduction = reduction;
  c.scale = scale;
  return c;
}

TEST(Loss, MseMeanWithScaleIsTheSeedsError) {
  // y − t = [[1, 2], [3, 0]]: Σ‖·‖² = 1 + 4 + 9 = 14; E = 0.5 · 14 / 2 = 3.5
  Tensor<double> y({2, 2});
  y[0] = 1, y[1] = 2, y[2] = 3, y[3] = 0;
  Targets<double> t{Tensor<double>({2, 2}, 0.0), {}};
  Tensor<double> dy({2, 2});
  const Loss<double> loss(mse("mean", 0.5));
  EXPECT_DOUBLE_EQ(loss.evaluate(y, t, &dy), 3.5);
  // dE/dy = 0.5 · 2 (y − t) / N = (y − t) / 2
  EXPECT_DOUBLE_EQ(dy[0], 0.5);
  EXPECT_DOUBLE_EQ(dy[2], 1.5);
}

TEST(Loss, MseSumDoesNotDivideByN) {
  Tensor<double> y({2, 1});
  y[0] = 1, y[1] = 1;
  Targets<double> t{Tensor<double>({2, 1}, 0.0), {}};
  Tensor<double> dy({2, 1});
  const Loss<double> loss(mse("sum", 1.0));
  EXPECT_DOUBLE_EQ(loss.evaluate(y, t, &dy), 2.0);
  EXPECT_DOUBLE_EQ(dy[0], 2.0);
}

TEST(Loss, CrossEntropyKnownAnswerAndStability) {
  LossConfig c;
  c.type = "softmax_cross_entropy";
  const Loss<double> loss(c);
  Tensor<double> y({2, 2});
  y[0] = 0, y[1] = 0;        // p = (½, ½): ℓ = ln 2
  y[2] = 1000, y[3] = 0;     // huge logit, label 0: ℓ ≈ 0 and no overflow
  Targets<double> t{{}, {0, 0}};
  Tensor<double> dy({2, 2});
  const double e = loss.evaluate(y, t, &dy);
  EXPECT_NEAR(e, std::log(2.0) / 2, 1e-12);
  EXPECT_NEAR(dy[0], (0.5 - 1) / 2, 1e-12);
  EXPECT_NEAR(dy[1], 0.5 / 2, 1e-12);
  EXPECT_TRUE(std::isfinite(dy[2]) && std::isfinite(dy[3]));
}

// Central differences in float64 on both losses: the gradient harness for losses.
TEST(Loss, GradientsMatchFiniteDifferences) {
  for (const std::string type : {"mse", "softmax_cross_entropy"}) {
    LossConfig c;
    c.type = type;
    c.scale = 0.7;
    const Loss<double> loss(c);
    Tensor<double> y({3, 4});
    for (Index i = 0; i < y.size(); ++i) y[i] = std::sin(1.3 * static_cast<double>(i)) * 2;
    Targets<double> t{Tensor<double>({3, 4}), {1, 3, 0}};
    for (Index i = 0; i < t.values.size(); ++i) t.values[i] = std::cos(static_cast<double>(i));
    Tensor<double> dy({3, 4}, 1e30);  // sentinel: evaluate must assign every entry
    loss.evaluate(y, t, &dy);
    for (Index i = 0; i < y.size(); ++i) {
      const double h = 6e-6 * std::max(1.0, std::fabs(y[i]));
      Tensor<double> yp = y, ym = y;
      yp[i] += h;
      ym[i] -= h;
      const double numeric = (loss.evaluate(yp, t, nullptr) - loss.evaluate(ym, t, nullptr)) / (2 * h);
      // atol 1e-8, rtol 1e-5: central differences on smooth functions in float64 (error ~h²).
      EXPECT_NEAR(dy[i], numeric, 1e-8 + 1e-5 * std::fabs(numeric)) << type << " at " << i;
    }
  }
}

TEST(Loss, MissingBatchMeanFaultScalesGradientByN) {
  LossConfig c = mse("mean", 0.5);
  const Loss<double> good(c);
  c.fault = "missing_batch_mean";
  const Loss<double> bad(c);
  Tensor<double> y({4, 1}, 1.0);
  Targets<double> t{Tensor<double>({4, 1}, 0.0), {}};
  Tensor<double> dg({4, 1}), db({4, 1});
  EXPECT_DOUBLE_EQ(good.evaluate(y, t, &dg), bad.evaluate(y, t, &db));
  EXPECT_DOUBLE_EQ(db[0], 4 * dg[0]);
}

TEST(Loss, RejectsUnknownTypeAndFault) {
  LossConfig c;
  c.type = "hinge";
  EXPECT_THROW(Loss<float>{c}, ConfigError);
  c.type = "mse";
  c.fault = "kernel_not_flipped";
  EXPECT_THROW(Loss<float>{c}, ConfigError);
}

}  // namespace
}  // namespace cnndiag
