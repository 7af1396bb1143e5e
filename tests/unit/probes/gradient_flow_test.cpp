#include <gtest/gtest.h>

#include <cmath>

#include "cnndiag/probes/probes.hpp"
#include "probe_fixture.hpp"

namespace cnndiag {
namespace {

constexpr const char* kTwoLayers = R"(
[[layer]]
name = "fc1"
type = "linear"
out = 6
init.weight = "xavier"
[[layer]]
name = "act"
type = "tanh"
[[layer]]
name = "fc2"
type = "linear"
out = 2
init.weight = "xavier"
)";

test::ProbeData data() {
  test::ProbeData d;
  d.x = test::uniform_inputs(Shape{20, 5}, 21);
  d.y = test::linear_targets(d.x, 2, 0.01, 22);
  return d;
}

test::ProbeRun run(const std::string& name, const std::string& optimizer, int iterations) {
  return test::train_run(name, test::net_config(kTwoLayers, optimizer, iterations), data());
}

double distance(const Tensor<double>& a, const Tensor<double>& b) {
  double s = 0;
  for (Index i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s);
}

// The update ratio's step is the one the optimizer really takes next: compare it with the
// difference between two consecutive float64 checkpoints, for every optimizer and its state.
TEST(GradientFlowProbe, NextStepIsTheOptimizersActualStep) {
  const char* optimizers[] = {
      "type = \"sgd\"\nlr = 0.05\nweight_decay = 0.01",
      "type = \"sgd\"\nlr = 0.05\nmomentum = 0.9\nweight_decay = 0.01",
      "type = \"sgd\"\nlr = 0.05\nmomentum = 0.9\nnesterov = true",
      "type = \"adam\"\nlr = 0.01\nweight_decay = 0.01",
      "type = \"adamw\"\nlr = 0.01\nweight_decay = 0.1\nbias_lr_scale = 0.5",
  };
  int k = 0;
  for (const char* optimizer : optimizers) {
    const test::ProbeRun r = run("gf_step_" + std::to_string(k++), optimizer, 4);
    const Observation o = observe_checkpoint(r.result.checkpoints[3]);
    const CheckpointData next = read_checkpoint(r.result.checkpoints[4]);
    const ProbeResult result = probe_gradient_flow(o);
    for (const NamedTensor& p : next.params) {
      const double actual = distance(p.value, test::param_of(*o.model, p.key).value);
      const nlohmann::json& m = result.measurements[p.key];
      EXPECT_EQ(m["step_basis"], "exact") << optimizer;
      EXPECT_NEAR(m["step_norm"].get<double>(), actual, 1e-9 * actual) << optimizer << " " << p.key;
    }
  }
}

TEST(GradientFlowProbe, HealthyRunHasNoGradientFindings) {
  const test::ProbeRun r = run("gf_healthy", "type = \"sgd\"\nlr = 0.05\nmomentum = 0.9", 100);
  const ProbeResult result = probe_gradient_flow(observe_checkpoint(r.result.checkpoints.back()));
  EXPECT_TRUE(result.findings.empty()) << result.findings.front().id << ": "
                                       << result.findings.front().message;
  EXPECT_TRUE(result.measurements["first_last"]["ratio"].is_number());
}

TEST(GradientFlowProbe, VanishingTowardsTheInput) {
  const test::ProbeRun r = run("gf_vanish", "type = \"sgd\"\nlr = 0.05", 2);
  Observation o = observe_checkpoint(r.result.checkpoints.back());
  test::param_of(*o.model, "fc1.weight").grad.fill(1e-9);
  test::param_of(*o.model, "fc1.bias").grad.fill(1e-9);
  const ProbeResult result = probe_gradient_flow(o);
  const auto layer = test::findings_with(result, "gradient_flow.vanishing", "fc1");
  ASSERT_FALSE(layer.empty());
  bool ratio_finding = false;
  for (const Finding& f : layer)
    if (f.tensor.empty()) {
      ratio_finding = true;
      EXPECT_LT(f.evidence["ratio"].get<double>(), 1e-3);
    }
  EXPECT_TRUE(ratio_finding);
  // Once the loss has fitted, small gradients are expected: nothing is said.
  o.history_loss = {1000 * o.loss};
  EXPECT_TRUE(test::findings_with(probe_gradient_flow(o), "gradient_flow.vanishing").empty());
}

TEST(GradientFlowProbe, ExplodingByRatioAndByMean) {
  const test::ProbeRun r = run("gf_explode", "type = \"sgd\"\nlr = 0.05", 2);
  Observation o = observe_checkpoint(r.result.checkpoints.back());
  for (double& g : test::param_of(*o.model, "fc1.weight").grad.span()) g *= 1e4;
  ProbeResult result = probe_gradient_flow(o);
  auto f = test::findings_with(result, "gradient_flow.exploding", "fc1");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kError);
  EXPECT_GT(f[0].evidence["ratio"].get<double>(), 70);

  test::param_of(*o.model, "fc2.weight").grad.fill(1e7);
  result = probe_gradient_flow(o);
  EXPECT_EQ(test::findings_with(result, "gradient_flow.exploding", "fc2.weight").size(), 1u);
}

TEST(GradientFlowProbe, UpdateRatioOutsideItsBand) {
  {
    const test::ProbeRun r = run("gf_update_high", "type = \"sgd\"\nlr = 20.0", 0);
    const ProbeResult result = probe_gradient_flow(observe_checkpoint(r.result.checkpoints[0]));
    const auto f = test::findings_with(result, "gradient_flow.update_ratio");
    ASSERT_FALSE(f.empty());
    for (const Finding& x : f) {
      EXPECT_GT(x.evidence["update_ratio"].get<double>(), 0.1);
      EXPECT_EQ(x.tensor.find(".bias"), std::string::npos);  // biases are measured, not judged
    }
  }
  {
    const test::ProbeRun r = run("gf_update_low", "type = \"sgd\"\nlr = 1e-9", 0);
    const ProbeResult result = probe_gradient_flow(observe_checkpoint(r.result.checkpoints[0]));
    const auto f = test::findings_with(result, "gradient_flow.update_ratio", "fc1.weight");
    ASSERT_EQ(f.size(), 1u);
    EXPECT_LT(f[0].evidence["update_ratio"].get<double>(), 1e-5);
  }
}

}  // namespace
}  // namespace cnndiag
