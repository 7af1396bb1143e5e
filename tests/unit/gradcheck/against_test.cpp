// gradcheck --against on the seed's MATLAB gradients (written by an independent NumPy copy of
// the post's code, tests/crosscheck/make_seed_grads.py), and the probe on a checkpoint.

#include <gtest/gtest.h>

#include <set>

#include "cnndiag/config.hpp"
#include "cnndiag/gradcheck.hpp"
#include "cnndiag/trainer.hpp"
#include "support/test_util.hpp"

namespace cnndiag {
namespace {

const std::filesystem::path kSeed = "data/examples/seed";

GradcheckResult against(const std::string& config, const std::string& file) {
  return gradcheck_against(load_config(test::source_dir() / config), test::source_dir() / kSeed / file,
                           GradcheckSettings{});
}

std::set<std::string> wrong(const GradcheckResult& r) {
  std::set<std::string> out;
  for (const TensorCheck& c : r.checks)
    if (c.status == CheckStatus::kMismatch) out.insert(c.tensor);
  return out;
}

TEST(GradcheckAgainst, SeedGradientsHaveThePostsBug) {
  for (const char* file : {"seed-grads.mat", "seed-grads-v73.mat"}) {
    const GradcheckResult r = against((kSeed / "against.toml").string(), file);
    EXPECT_EQ(wrong(r), (std::set<std::string>{"fc1.weight", "fc1.bias", "conv1:output",
                                               "conv1.weight", "conv1.bias"}))
        << file;
    ASSERT_EQ(r.checks.size(), 7u);
    for (const TensorCheck& c : r.checks) {
      EXPECT_EQ(c.scope, "against");
      if (c.tensor.rfind("fc2", 0) == 0) {
        // cnndiag's gradient, N·∂E/∂θ, equals NumPy's sum to float64 rounding.
        EXPECT_LT(c.max_rel_error, 1e-12) << c.tensor;
        EXPECT_NEAR(c.cosine, 1.0, 1e-12);
      }
    }
    ASSERT_FALSE(r.hypotheses.empty());
    const Hypothesis& top = r.hypotheses.front();
    EXPECT_EQ(top.fault, "sigmoid_derivative_on_wrong_tensor") << file;
    EXPECT_EQ(top.layer, "sig1");
    EXPECT_TRUE(top.complete);
    EXPECT_EQ(top.scale, 1.0);
    EXPECT_LT(top.max_rel_error, 1e-12);  // the bug reproduces NumPy's numbers exactly
  }
}

TEST(GradcheckAgainst, MeanReductionOfSummedGradientsIsNamedAsTheFactorN) {
  const GradcheckResult r = against("tests/unit/gradcheck/data/against_mean.toml", "seed-grads.mat");
  // Now every tensor is off, fc2.* by exactly N = 32.
  EXPECT_EQ(wrong(r).size(), 7u);
  for (const TensorCheck& c : r.checks) {
    if (c.tensor.rfind("fc2", 0) == 0) {
      EXPECT_NEAR(c.scale, 32.0, 1e-9) << c.tensor;
    }
  }
  ASSERT_FALSE(r.hypotheses.empty());
  const Hypothesis& top = r.hypotheses.front();
  EXPECT_EQ(top.fault, "sigmoid_derivative_on_wrong_tensor");
  EXPECT_NEAR(top.scale, 32.0, 1e-9);
  EXPECT_EQ(top.scale_name, "missing batch mean");
  EXPECT_TRUE(top.complete);
}

TEST(GradcheckProbe, FindsThePostsBugOnACheckpoint) {
  const Config config = load_config(test::source_dir() / kSeed / "buggy-backward.toml");
  TrainOptions options;
  options.iterations = 3;
  options.out_dir = test::scratch_dir("GradcheckProbe");
  const TrainResult trained = train(config, options);
  ASSERT_FALSE(trained.checkpoints.empty());
  const auto& last = trained.checkpoints.back();

  const Observation o = observe_checkpoint(last);
  const ProbeResult p = probe_gradcheck(o);
  EXPECT_EQ(p.probe, "gradcheck");
  std::set<std::string> tensors;
  for (const Finding& f : p.findings) {
    EXPECT_EQ(f.id, "gradcheck.mismatch");
    EXPECT_EQ(f.evidence["hypothesis"]["fault"], "sigmoid_derivative_on_wrong_tensor");
    tensors.insert(f.tensor);
  }
  EXPECT_TRUE(tensors.count("fc1.weight"));
  EXPECT_TRUE(tensors.count("conv1.weight"));
  EXPECT_FALSE(tensors.count("fc2.weight"));
  EXPECT_TRUE(p.measurements.contains("fc2.weight"));

  // The same checkpoint through the command's entry point.
  const GradcheckResult r = gradcheck_checkpoint(last, GradcheckSettings{});
  EXPECT_EQ(r.hypotheses.front().fault, "sigmoid_derivative_on_wrong_tensor");
  EXPECT_EQ(r.localisation.layer, "sig1");
}

TEST(GradcheckProbe, CleanSeedCheckpointHasNoFindings) {
  const Config config = load_config(test::source_dir() / kSeed / "net.toml");
  TrainOptions options;
  options.iterations = 2;
  options.out_dir = test::scratch_dir("GradcheckProbeClean");
  const TrainResult trained = train(config, options);
  const ProbeResult p = probe_gradcheck(observe_checkpoint(trained.checkpoints.back()));
  EXPECT_TRUE(p.findings.empty());
}

}  // namespace
}  // namespace cnndiag
