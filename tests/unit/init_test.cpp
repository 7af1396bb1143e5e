#include "cnndiag/init.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "cnndiag/errors.hpp"
#include "cnndiag/layers/batchnorm.hpp"
#include "cnndiag/layers/linear.hpp"

namespace cnndiag {
namespace {

Param<double> param(Index n, Index fan_in, Index fan_out, bool is_bias = false) {
  Param<double> p;
  p.name = is_bias ? "bias" : "weight";
  p.value = Tensor<double>(Shape{n});
  p.grad = Tensor<double>(Shape{n});
  p.is_bias = is_bias;
  p.fan_in = fan_in;
  p.fan_out = fan_out;
  return p;
}

struct Moments {
  double mean = 0, std = 0, min = 1e300, max = -1e300;
};
Moments moments(const Tensor<double>& t) {
  Moments m;
  for (Index i = 0; i < t.size(); ++i) {
    m.mean += t[i];
    m.min = std::min(m.min, t[i]);
    m.max = std::max(m.max, t[i]);
  }
  m.mean /= static_cast<double>(t.size());
  for (Index i = 0; i < t.size(); ++i) m.std += (t[i] - m.mean) * (t[i] - m.mean);
  m.std = std::sqrt(m.std / static_cast<double>(t.size() - 1));
  return m;
}

InitSpec spec(InitSpec::Kind kind, bool uniform = false) {
  InitSpec s;
  s.kind = kind;
  s.uniform_variant = uniform;
  return s;
}

constexpr Index kDraws = 40000;  // standard error of the mean ≈ 0.5 % of std

TEST(Init, NormalAndUniformMoments) {
  Rng rng(1);
  Param<double> p = param(kDraws, 10, 10);
  InitSpec n = spec(InitSpec::Kind::kNormal);
  n.mean = -0.0025;
  n.std = 0.005;
  init_param(p, n, rng);
  Moments m = moments(p.value);
  EXPECT_NEAR(m.mean, -0.0025, 4 * 0.005 / 200);
  EXPECT_NEAR(m.std, 0.005, 0.005 * 0.02);

  InitSpec u = spec(InitSpec::Kind::kUniform);
  u.low = -0.25;
  u.high = 0.75;
  init_param(p, u, rng);
  m = moments(p.value);
  EXPECT_GE(m.min, -0.25);
  EXPECT_LT(m.max, 0.75);
  EXPECT_NEAR(m.mean, 0.25, 0.01);
  EXPECT_NEAR(m.std, 1.0 / std::sqrt(12.0), 0.01);
}

TEST(Init, Constant) {
  Rng rng(1);
  Param<double> p = param(7, 1, 1);
  InitSpec c = spec(InitSpec::Kind::kConstant);
  c.value = 0.125;
  init_param(p, c, rng);
  for (Index i = 0; i < 7; ++i) EXPECT_EQ(p.value[i], 0.125);
}

TEST(Init, HeAndXavier) {
  Rng rng(2);
  Param<double> p = param(kDraws, 50, 200);
  init_param(p, spec(InitSpec::Kind::kHe), rng);
  EXPECT_NEAR(moments(p.value).std, std::sqrt(2.0 / 50), 0.02 * std::sqrt(2.0 / 50));
  init_param(p, spec(InitSpec::Kind::kHe, true), rng);
  Moments m = moments(p.value);
  const double he_bound = std::sqrt(6.0 / 50);
  EXPECT_GE(m.min, -he_bound);
  EXPECT_LE(m.max, he_bound);
  EXPECT_GT(m.max, 0.99 * he_bound);
  EXPECT_NEAR(m.std, std::sqrt(2.0 / 50), 0.02 * std::sqrt(2.0 / 50));
  init_param(p, spec(InitSpec::Kind::kXavier), rng);
  EXPECT_NEAR(moments(p.value).std, std::sqrt(2.0 / 250), 0.02 * std::sqrt(2.0 / 250));
  init_param(p, spec(InitSpec::Kind::kXavier, true), rng);
  m = moments(p.value);
  EXPECT_LE(m.max, std::sqrt(6.0 / 250));
  EXPECT_NEAR(m.std, std::sqrt(2.0 / 250), 0.02 * std::sqrt(2.0 / 250));
}

TEST(Init, DefaultIsPyTorchUniformForWeightsZeroForBiases) {
  Rng rng(3);
  Param<double> w = param(kDraws, 400, 4);
  init_param(w, InitSpec{}, rng);
  const Moments m = moments(w.value);
  EXPECT_GE(m.min, -1.0 / 20);
  EXPECT_LT(m.max, 1.0 / 20);
  EXPECT_GT(m.max, 0.99 / 20);
  EXPECT_NEAR(m.std, 1.0 / 20 / std::sqrt(3.0), 0.01 / 20);
  Param<double> b = param(4, 400, 4, true);
  b.value.fill(9);
  init_param(b, InitSpec{}, rng);
  for (Index i = 0; i < 4; ++i) EXPECT_EQ(b.value[i], 0);
}

TEST(Init, DefaultForBatchNormIsOneAndZero) {
  BatchNorm<float> bn("bn", Shape{3}, 1e-5, 0.1);
  Rng rng(0);
  for (Param<float>& p : bn.params()) init_param(p, InitSpec{}, rng);
  for (Index i = 0; i < 3; ++i) {
    EXPECT_EQ(bn.params()[0].value[i], 1.0f);
    EXPECT_EQ(bn.params()[1].value[i], 0.0f);
  }
  // γ has no fan: fan-based schemes are refused with the parameter's name.
  EXPECT_THROW(init_param(bn.params()[0], spec(InitSpec::Kind::kHe), rng), ConfigError);
}

TEST(Init, DeterministicRowMajorAndSameNumbersInFloatAndDouble) {
  Linear<double> d("fc", Shape{5}, 3, true);
  Linear<float> f("fc", Shape{5}, 3, true);
  InitSpec n = spec(InitSpec::Kind::kNormal);
  Rng a = Rng::stream(7, "init/fc.weight"), b = Rng::stream(7, "init/fc.weight");
  init_param(d.params()[0], n, a);
  init_param(f.params()[0], n, b);
  Rng c = Rng::stream(7, "init/fc.weight");
  for (Index i = 0; i < 15; ++i) {
    const double expected = c.normal();  // element i is the i-th draw: row-major order
    EXPECT_EQ(d.params()[0].value[i], expected);
    EXPECT_EQ(f.params()[0].value[i], static_cast<float>(expected));
  }
}

}  // namespace
}  // namespace cnndiag
