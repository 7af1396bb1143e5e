#include <gtest/gtest.h>

#include <cmath>

#include "cnndiag/probes/probes.hpp"
#include "probe_fixture.hpp"

namespace cnndiag {
namespace {

std::string linear_net(Index out) {
  return "[[layer]]\nname = \"fc1\"\ntype = \"linear\"\nout = " + std::to_string(out) + "\n";
}

Observation observe_regression(const std::string& name, const Tensor<double>& x,
                               const Tensor<double>& y, int iterations = 0,
                               const std::string& loss = "type = \"mse\"",
                               const std::string& optimizer = "lr = 0.05") {
  test::ProbeData d;
  d.x = x;
  d.y = y;
  return test::train_and_observe(
      name, test::net_config(linear_net(y.dim(1)), optimizer, iterations, loss), d);
}

TEST(TargetsProbe, ExactLinearTargetsGiveR2NearOnePrimal) {
  const Tensor<double> x = test::uniform_inputs(Shape{40, 5}, 51);  // D = 5 < N
  const ProbeResult r = probe_targets(observe_regression("targets_primal", x, test::linear_targets(x, 3, 0.0, 52)));
  const nlohmann::json& m = r.measurements["targets"];
  EXPECT_EQ(m["form"], "primal");
  EXPECT_GT(m["cv_r2"].get<double>(), 0.999);
  EXPECT_TRUE(test::findings_with(r, "targets.unpredictable").empty());
}

TEST(TargetsProbe, LinearTargetsWithNoiseInTheDualForm) {
  // Images with few degrees of freedom, as real ones have: x = z·B + noise with a 4-dimensional
  // latent z and D = 64 > N pixels; the targets are linear in z, so in x. (With 64 independent
  // pixels no method could fit 64 coefficients from 24 training samples.)
  const Index n = 30, latent = 4, d = 64;
  const Tensor<double> z = test::uniform_inputs(Shape{n, latent}, 53);
  const Tensor<double> basis = test::uniform_inputs(Shape{latent, d}, 54);
  Rng rng(55);
  Tensor<double> x(Shape{n, 1, 8, 8});
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < d; ++j) {
      double s = 0.01 * (rng.uniform() - 0.5);
      for (Index q = 0; q < latent; ++q) s += z[i * latent + q] * basis[q * d + j];
      x[i * d + j] = s;
    }
  const ProbeResult r =
      probe_targets(observe_regression("targets_dual", x, test::linear_targets(z, 2, 0.05, 56)));
  const nlohmann::json& m = r.measurements["targets"];
  EXPECT_EQ(m["form"], "dual");
  EXPECT_EQ(m["folds"], 5);
  EXPECT_GT(m["cv_r2"].get<double>(), 0.9);
  EXPECT_TRUE(test::findings_with(r, "targets.unpredictable").empty());
}

TEST(TargetsProbe, NoiseTargetsAreUnpredictable) {
  for (std::uint64_t seed : {61, 62, 63}) {
    const Tensor<double> x = test::uniform_inputs(Shape{32, 1, 6, 6}, seed);
    const ProbeResult r = probe_targets(
        observe_regression("targets_noise", x, test::noise_targets(32, 4, seed + 100)));
    const auto f = test::findings_with(r, "targets.unpredictable");
    ASSERT_EQ(f.size(), 1u) << seed;
    EXPECT_LE(f[0].evidence["cv_r2"].get<double>(), 0.0);
    EXPECT_NE(f[0].message.find("constant output"), std::string::npos);
  }
}

TEST(TargetsProbe, IsDeterministic) {
  const Tensor<double> x = test::uniform_inputs(Shape{25, 12}, 71);
  const Observation o = observe_regression("targets_det", x, test::linear_targets(x, 2, 0.3, 72));
  EXPECT_EQ(probe_targets(o).measurements.dump(), probe_targets(o).measurements.dump());
}

TEST(TargetsProbe, BestConstantLossByHand) {
  const Tensor<double> x = test::uniform_inputs(Shape{12, 3}, 81);
  const Tensor<double> y = test::noise_targets(12, 2, 82);
  for (const char* reduction : {"mean", "sum"}) {
    const std::string loss = std::string("type = \"mse\"\nreduction = \"") + reduction +
                             "\"\nscale = 0.5";
    const ProbeResult r = probe_targets(observe_regression("targets_const", x, y, 0, loss));
    double total = 0;
    for (Index k = 0; k < 2; ++k) {
      double mean = 0;
      for (Index i = 0; i < 12; ++i) mean += y[i * 2 + k] / 12.0;
      for (Index i = 0; i < 12; ++i) total += (y[i * 2 + k] - mean) * (y[i * 2 + k] - mean);
    }
    const double expected = 0.5 * total / (std::string(reduction) == "mean" ? 12.0 : 1.0);
    EXPECT_NEAR(r.measurements["targets"]["constant_loss"].get<double>(), expected, 1e-12)
        << reduction;
  }
}

TEST(TargetsProbe, ConstantLevelWarnsOnlyWhenTheTargetsArePredictable) {
  const Tensor<double> x = test::uniform_inputs(Shape{40, 5}, 91);
  const Tensor<double> y = test::linear_targets(x, 2, 0.01, 92);
  // Before the first step every network is there: info only.
  Observation o = observe_regression("targets_level_init", x, y, 0);
  auto f = test::findings_with(probe_targets(o), "targets.constant_level");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kInfo);
  // Trained at a learning rate too small to learn: no better than the mean although the
  // targets are learnable.
  o = observe_regression("targets_level", x, y, 5, "type = \"mse\"", "lr = 1e-9");
  f = test::findings_with(probe_targets(o), "targets.constant_level");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kWarning);
  // Trained: well below the constant level.
  o = observe_regression("targets_level_trained", x, y, 500);
  EXPECT_TRUE(test::findings_with(probe_targets(o), "targets.constant_level").empty());
}

TEST(TargetsProbe, ConstantTargets) {
  const Tensor<double> x = test::uniform_inputs(Shape{10, 4}, 93);
  Tensor<double> y(Shape{10, 2}, 0.25);
  const ProbeResult r = probe_targets(observe_regression("targets_flat", x, y));
  EXPECT_EQ(test::findings_with(r, "targets.constant").size(), 1u);
  EXPECT_TRUE(test::findings_with(r, "targets.unpredictable").empty());
}

Observation observe_classes(const std::string& name, const Tensor<double>& x,
                            const Tensor<double>& labels, Index classes) {
  test::ProbeData d;
  d.x = x;
  d.labels = labels;
  return test::train_and_observe(
      name,
      test::net_config(linear_net(classes), "lr = 0.05", 0, "type = \"softmax_cross_entropy\"",
                       "targets = \"labels\""),
      d);
}

TEST(TargetsProbe, ClassificationAgainstTheMajorityClass) {
  const Index n = 60, classes = 3;
  const Tensor<double> x = test::uniform_inputs(Shape{n, 4}, 95);
  const Tensor<double> scores = test::linear_targets(x, classes, 0.0, 96);
  Tensor<double> labels(Shape{n});
  for (Index i = 0; i < n; ++i) {
    Index best = 0;
    for (Index k = 1; k < classes; ++k)
      if (scores[i * classes + k] > scores[i * classes + best]) best = k;
    labels[i] = static_cast<double>(best);
  }
  const ProbeResult good = probe_targets(observe_classes("targets_cls", x, labels, classes));
  const nlohmann::json& m = good.measurements["targets"];
  EXPECT_GT(m["cv_accuracy"].get<double>(), m["majority_accuracy"].get<double>());
  EXPECT_TRUE(test::findings_with(good, "targets.unpredictable").empty());

  Rng rng(97);
  for (Index i = 0; i < n; ++i) labels[i] = static_cast<double>(rng.below(static_cast<std::uint64_t>(classes)));
  const ProbeResult bad = probe_targets(observe_classes("targets_cls_noise", x, labels, classes));
  EXPECT_EQ(test::findings_with(bad, "targets.unpredictable").size(), 1u)
      << bad.measurements.dump();
}

TEST(TargetsProbe, BestConstantCrossEntropyIsTheClassEntropy) {
  const Index n = 8;
  Tensor<double> labels(Shape{n});
  for (Index i = 0; i < n; ++i) labels[i] = i < 6 ? 0.0 : 1.0;  // p = (3/4, 1/4, 0)
  const ProbeResult r =
      probe_targets(observe_classes("targets_ce", test::uniform_inputs(Shape{n, 3}, 98), labels, 3));
  const double entropy = -(0.75 * std::log(0.75) + 0.25 * std::log(0.25));
  EXPECT_NEAR(r.measurements["targets"]["constant_loss"].get<double>(), entropy, 1e-9);
}

}  // namespace
}  // namespace cnndiag
