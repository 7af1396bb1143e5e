#include "cnndiag/optim.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace cnndiag {
namespace {

// A one-layer model (linear 2→1) whose weight and bias we set by hand.
struct Fixture {
  std::vector<LayerConfig> layers;
  std::unique_ptr<Model<double>> model;
  Param<double>* w = nullptr;
  Param<double>* b = nullptr;
  Fixture() {
    LayerConfig fc;
    fc.name = "fc";
    fc.type = "linear";
    fc.out = 1;
    layers = {fc};
    model = std::make_unique<Model<double>>(layers, Shape{2});
    auto params = model->named_params();
    w = params[0].second;
    b = params[1].second;
    w->value[0] = 1.0, w->value[1] = -2.0;
    b->value[0] = 0.5;
    w->grad[0] = 0.1, w->grad[1] = 0.2;
    b->grad[0] = 0.3;
  }
};

TEST(Optimizer, SgdCoupledDecayOnWeightsOnlyWithBiasLrScale) {
  Fixture f;
  OptimizerConfig c;
  c.type = "sgd";
  c.lr = 0.003;
  c.weight_decay = 500;
  c.bias_lr_scale = 0.1;
  Optimizer<double> opt(c, *f.model);
  opt.step();
  // w ← w − lr (g + λ w):  1 − 0.003 (0.1 + 500) = −0.5003
  EXPECT_NEAR(f.w->value[0], 1.0 - 0.003 * (0.1 + 500.0), 1e-15);
  EXPECT_NEAR(f.w->value[1], -2.0 - 0.003 * (0.2 - 1000.0), 1e-15);
  // b ← b − 0.1·lr·g (no decay)
  EXPECT_NEAR(f.b->value[0], 0.5 - 0.0003 * 0.3, 1e-15);
  ASSERT_EQ(opt.rules().size(), 2u);
  EXPECT_TRUE(opt.rules()[0].decayed);
  EXPECT_FALSE(opt.rules()[1].decayed);
  EXPECT_DOUBLE_EQ(opt.rules()[1].lr, 0.0003);
  EXPECT_EQ(opt.decay_convention(), "coupled");
}

TEST(Optimizer, SgdMomentumIsPyTorchForm) {
  Fixture f;
  OptimizerConfig c;
  c.lr = 0.1;
  c.momentum = 0.9;
  Optimizer<double> opt(c, *f.model);
  opt.step();  // v = g = 0.1; w = 1 − 0.01
  opt.step();  // v = 0.9·0.1 + 0.1 = 0.19; w = 0.99 − 0.019
  EXPECT_NEAR(f.w->value[0], 1.0 - 0.01 - 0.019, 1e-15);
  ASSERT_EQ(opt.slots().size(), 2u);
  EXPECT_EQ(opt.slots()[0].name, "velocity");
}

TEST(Optimizer, AdamFirstStepMovesByLrTimesSign) {
  Fixture f;
  OptimizerConfig c;
  c.type = "adam";
  c.lr = 0.01;
  Optimizer<double> opt(c, *f.model);
  opt.step();
  // m̂ = g, v̂ = g²: the step is lr·g/(|g| + ε) ≈ lr·sign(g)
  EXPECT_NEAR(f.w->value[0], 1.0 - 0.01, 1e-7);
  EXPECT_NEAR(f.w->value[1], -2.0 - 0.01, 1e-7);
  EXPECT_EQ(opt.steps(), 1);
}

TEST(Optimizer, AdamWDecaysDecoupled) {
  Fixture f;
  f.w->grad.zero();
  f.b->grad.zero();
  OptimizerConfig c;
  c.type = "adamw";
  c.lr = 0.1;
  c.weight_decay = 0.5;
  Optimizer<double> opt(c, *f.model);
  opt.step();
  // zero gradient: only the decoupled shrink w·(1 − lr·λ) acts
  EXPECT_NEAR(f.w->value[0], 1.0 * (1 - 0.05), 1e-15);
  EXPECT_NEAR(f.b->value[0], 0.5, 1e-15);
  EXPECT_EQ(opt.decay_convention(), "decoupled");
}

}  // namespace
}  // namespace cnndiag
