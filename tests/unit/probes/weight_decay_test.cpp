#include <gtest/gtest.h>

#include <cmath>

#include "cnndiag/probes/probes.hpp"
#include "probe_fixture.hpp"

namespace cnndiag {
namespace {

constexpr const char* kLinear = R"(
[[layer]]
name = "fc1"
type = "linear"
out = 3
)";

test::ProbeData linear_data() {
  test::ProbeData d;
  d.x = test::uniform_inputs(Shape{24, 8}, 5);
  d.y = test::linear_targets(d.x, 3, 0.01, 6);
  return d;
}

Observation observe(const std::string& name, const std::string& optimizer, int iterations,
                    int index = -1) {
  return test::train_and_observe(name, test::net_config(kLinear, optimizer, iterations),
                                 linear_data(), index);
}

TEST(WeightDecayProbe, DominanceIsDecayTermOverDataGradient) {
  // lr·λ = 0.05: no overshoot, but λ‖w‖ dwarfs the data gradient at iteration 0.
  const Observation o = observe("wd_dominant", "type = \"sgd\"\nlr = 0.001\nweight_decay = 50.0", 0);
  const ProbeResult r = probe_weight_decay(o);
  const Param<double>& w = test::param_of(*o.model, "fc1.weight");
  double w2 = 0, g2 = 0;
  for (Index i = 0; i < w.value.size(); ++i) {
    w2 += w.value[i] * w.value[i];
    g2 += w.grad[i] * w.grad[i];
  }
  const double expected = 50.0 * std::sqrt(w2) / std::sqrt(g2);
  EXPECT_NEAR(r.measurements["fc1.weight"]["dominance"].get<double>(), expected, 1e-9 * expected);
  const auto f = test::findings_with(r, "weight_decay.dominant", "fc1.weight");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, expected > 100 ? Severity::kError : Severity::kWarning);
  EXPECT_GT(expected, 2.0);
  EXPECT_TRUE(test::findings_with(r, "weight_decay.overshoot").empty());
  // The bias is not decayed: not measured.
  EXPECT_FALSE(r.measurements.contains("fc1.bias"));
}

TEST(WeightDecayProbe, DominanceIsOnlyInfoOnceTheLossHasFitted) {
  Observation o = observe("wd_fitted", "type = \"sgd\"\nlr = 0.001\nweight_decay = 50.0", 0);
  o.history_loss = {1000 * o.loss};  // the loss fell 1000× since the first step
  const auto f = test::findings_with(probe_weight_decay(o), "weight_decay.dominant");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kInfo);
}

TEST(WeightDecayProbe, OvershootFromLrLambdaOfOne) {
  {
    const Observation o = observe("wd_lrl_1", "type = \"sgd\"\nlr = 0.01\nweight_decay = 100.0", 0);
    const auto f = test::findings_with(probe_weight_decay(o), "weight_decay.overshoot", "fc1.weight");
    ASSERT_EQ(f.size(), 1u);
    EXPECT_NEAR(f[0].evidence["lr_lambda"].get<double>(), 1.0, 1e-12);
    EXPECT_NE(f[0].message.find("wipes the weight out"), std::string::npos) << f[0].message;
    EXPECT_NE(f[0].fix.find("lr·λ must be ≪ 1"), std::string::npos);
  }
  {
    const Observation o = observe("wd_lrl_099", "type = \"sgd\"\nlr = 0.01\nweight_decay = 99.0", 0);
    EXPECT_TRUE(test::findings_with(probe_weight_decay(o), "weight_decay.overshoot").empty());
  }
}

TEST(WeightDecayProbe, HealthyDecayIsQuiet) {
  const Observation o = observe("wd_healthy", "type = \"sgd\"\nlr = 0.1\nweight_decay = 5e-4", 300);
  const ProbeResult r = probe_weight_decay(o);
  for (const Finding& f : r.findings) EXPECT_EQ(f.severity, Severity::kInfo) << f.id << ": " << f.message;
  EXPECT_NEAR(r.measurements["fc1.weight"]["shrink_steps"].get<double>(), 1.0 / (0.1 * 5e-4), 1e-6);
}

TEST(WeightDecayProbe, CoupledAdamHasNoOvershootButDominance) {
  const Observation o = observe("wd_adam", "type = \"adam\"\nlr = 0.01\nweight_decay = 200.0", 0);
  const ProbeResult r = probe_weight_decay(o);
  EXPECT_TRUE(test::findings_with(r, "weight_decay.overshoot").empty());
  EXPECT_EQ(test::findings_with(r, "weight_decay.dominant", "fc1.weight").size(), 1u);
  EXPECT_TRUE(r.measurements["fc1.weight"]["multiplier"].is_null());
}

TEST(WeightDecayProbe, AdamWComparesTheShrinkWithAdamsDataStep) {
  const Observation o = observe("wd_adamw", "type = \"adamw\"\nlr = 0.01\nweight_decay = 150.0", 0);
  const ProbeResult r = probe_weight_decay(o);
  EXPECT_EQ(test::findings_with(r, "weight_decay.overshoot", "fc1.weight").size(), 1u);
  // At t = 1 from a zero state, Adam's step is lr·g/(|g| + ε) ≈ lr per coordinate.
  const nlohmann::json& m = r.measurements["fc1.weight"];
  EXPECT_EQ(m["convention"], "decoupled");
  EXPECT_NEAR(m["data_term"].get<double>(), 0.01 * std::sqrt(24.0), 1e-6);
  EXPECT_NEAR(m["decay_term"].get<double>(), 1.5 * m["norm"].get<double>(), 1e-12);
}

TEST(WeightDecayProbe, CollapsedNormOnlyWhenDecayCanExplainIt) {
  // The same shrunken weights: blamed on decay when (1 − lr·λ)^t ≤ 1e-3, not otherwise.
  auto shrink = [](Observation& o) {
    for (double& v : test::param_of(*o.model, "fc1.weight").value.span()) v *= 1e-4;
  };
  {
    Observation o = observe("wd_collapse_yes", "type = \"sgd\"\nlr = 0.01\nweight_decay = 50.0", 20);
    shrink(o);  // |1 − 0.5|^20 ≈ 1e-6: decay alone gets there
    const auto f = test::findings_with(probe_weight_decay(o), "weight_decay.collapsed_norm");
    ASSERT_EQ(f.size(), 1u);
    EXPECT_LT(f[0].evidence["norm_ratio"].get<double>(), 1e-3);
  }
  {
    Observation o = observe("wd_collapse_no", "type = \"sgd\"\nlr = 0.01\nweight_decay = 1.0", 20);
    shrink(o);  // |1 − 0.01|^20 ≈ 0.82: decay cannot have done it
    EXPECT_TRUE(test::findings_with(probe_weight_decay(o), "weight_decay.collapsed_norm").empty());
  }
}

}  // namespace
}  // namespace cnndiag
