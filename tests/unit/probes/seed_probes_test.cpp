// The probes on the seed post's run (data/examples/seed/net.toml, 10000 iterations, ~0.7 s):
// weight decay 500 at lr 0.003 (lr·λ = 1.5), a tiny init, and targets that are uniform noise.
#include <gtest/gtest.h>

#include "cnndiag/probes/probes.hpp"
#include "probe_fixture.hpp"

namespace cnndiag {
namespace {

// The run is trained once per process, on first use, in a folder named after the test that asks
// (ctest runs every test in its own process, concurrently: the folders must differ). Failures
// surface as exceptions inside a test, never as a skipped suite.
struct SeedRun {
  Observation first;  // iteration 0
  Observation last;   // iteration 10000
};

const SeedRun& seed_run() {
  static const SeedRun run = [] {
    const Config config = load_config(test::source_dir() / "data/examples/seed/net.toml");
    TrainOptions options;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    options.out_dir = test::scratch_dir(std::string("seed_probes_") + info->name());
    const TrainResult result = train(config, options);
    if (result.iteration != 10000) throw InternalError("the seed run stopped early");
    return SeedRun{observe_checkpoint(result.checkpoints.front()),
                   observe_checkpoint(result.checkpoints.back())};
  }();
  return run;
}

class SeedProbes : public ::testing::Test {
 protected:
  void SetUp() override {
    first_ = &seed_run().first;
    last_ = &seed_run().last;
  }
  const Observation* first_ = nullptr;
  const Observation* last_ = nullptr;
};

TEST_F(SeedProbes, WeightDecayOvershootsAndCollapsesConvAndFc1) {
  const ProbeResult r = probe_weight_decay(*last_);
  for (const char* tensor : {"conv1.weight", "fc1.weight"}) {
    const auto overshoot = test::findings_with(r, "weight_decay.overshoot", tensor);
    ASSERT_EQ(overshoot.size(), 1u) << tensor;
    EXPECT_EQ(overshoot[0].severity, Severity::kError);
    EXPECT_NEAR(overshoot[0].evidence["lr_lambda"].get<double>(), 1.5, 1e-12);
    EXPECT_NEAR(overshoot[0].evidence["multiplier"].get<double>(), -0.5, 1e-12);
    EXPECT_NE(overshoot[0].message.find("-0.5"), std::string::npos) << overshoot[0].message;
    EXPECT_NE(overshoot[0].fix.find("weight_decay ≤ 1e-3 (5e-4 is common)"), std::string::npos);
    for (const char* key : {"lambda", "lr", "dominance", "norm", "norm_initial", "norm_ratio"})
      EXPECT_TRUE(overshoot[0].evidence.contains(key)) << key;

    const auto collapsed = test::findings_with(r, "weight_decay.collapsed_norm", tensor);
    ASSERT_EQ(collapsed.size(), 1u) << tensor;
    EXPECT_EQ(collapsed[0].severity, Severity::kError);
    EXPECT_LT(collapsed[0].evidence["norm_ratio"].get<double>(), 1e-3);
  }
  // Biases are not decayed in the seed: nothing is said about them.
  EXPECT_TRUE(test::findings_with(r, "weight_decay.overshoot", "fc1.bias").empty());
  // Settled where λw ≈ −∇data: the dominance reads ≈ 1 (the DESIGN.md §6 note).
  EXPECT_NEAR(r.measurements["fc1.weight"]["dominance"].get<double>(), 1.0, 0.1);
}

TEST_F(SeedProbes, WeightDecayDominatesAtIterationZero) {
  const ProbeResult r = probe_weight_decay(*first_);
  const auto dominant = test::findings_with(r, "weight_decay.dominant", "fc1.weight");
  ASSERT_EQ(dominant.size(), 1u);
  EXPECT_EQ(dominant[0].severity, Severity::kError);
  EXPECT_GT(dominant[0].evidence["dominance"].get<double>(), 100);
  EXPECT_TRUE(test::findings_with(r, "weight_decay.collapsed_norm").empty());
}

TEST_F(SeedProbes, TargetsAreUnpredictable) {
  const ProbeResult r = probe_targets(*last_);
  const auto f = test::findings_with(r, "targets.unpredictable");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kWarning);
  EXPECT_LE(f[0].evidence["cv_r2"].get<double>(), 0.0);
  EXPECT_EQ(f[0].evidence["form"], "dual");  // 400 features, 25 or 26 training samples a fold
  // The trained network sits at the best constant output's loss: all these targets allow.
  const auto level = test::findings_with(r, "targets.constant_level");
  ASSERT_EQ(level.size(), 1u);
  EXPECT_EQ(level[0].severity, Severity::kInfo);
}

TEST_F(SeedProbes, TinyInitIsFlaggedOnFc1AndConv1) {
  const ProbeResult r = probe_init(*last_);
  const auto fc1 = test::findings_with(r, "init.scale", "fc1.weight");
  ASSERT_EQ(fc1.size(), 1u);
  EXPECT_NEAR(fc1[0].evidence["std_initial"].get<double>(), 0.005 / std::sqrt(12.0), 2e-4);
  EXPECT_NEAR(fc1[0].evidence["reference_std"].get<double>(), std::sqrt(2.0 / 404.0), 1e-12);
  EXPECT_EQ(fc1[0].evidence["reference"], "glorot");  // fc1 feeds a sigmoid
  EXPECT_EQ(test::findings_with(r, "init.scale", "conv1.weight").size(), 1u);
  EXPECT_TRUE(test::findings_with(r, "init.scale", "fc2.weight").empty());
}

TEST_F(SeedProbes, SigmoidStartsInItsLinearRegime) {
  const ProbeResult r = probe_units(*first_);
  const auto f = test::findings_with(r, "units.linear_regime", "sig1");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kInfo);
}

TEST_F(SeedProbes, LossCurveHasNoErrors) {
  // The loss still creeps down towards the constant level (fc2's bias learns at 0.1×lr): it is
  // neither diverging nor non-finite.
  for (const Finding& f : probe_loss_curve(*last_).findings)
    EXPECT_NE(f.severity, Severity::kError) << f.id;
}

}  // namespace
}  // namespace cnndiag
