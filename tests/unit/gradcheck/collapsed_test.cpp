// The chain-rule reference on the seed network after weight decay has collapsed it: fc1.weight and
// conv1.* are ~1e-15…1e-28, so their gradients sit far below the loss's rounding. The buggy
// backward must still be caught and named at every checkpoint, and the clean one must pass.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include "cnndiag/config.hpp"
#include "cnndiag/gradcheck.hpp"
#include "cnndiag/trainer.hpp"
#include "support/test_util.hpp"

namespace cnndiag {
namespace {

/// Trains `config_name` from data/examples/seed once into a scratch dir, checkpointing 0, 50,
/// 1000 and 10000; returns the checkpoint of `iteration`.
std::filesystem::path checkpoint_of(const std::string& config_name, std::int64_t iteration) {
  static std::map<std::string, std::filesystem::path> dirs;
  auto it = dirs.find(config_name);
  if (it == dirs.end()) {
    Config config = load_config(test::source_dir() / "data/examples/seed" / config_name);
    config.checkpoint.every = 10000;
    config.checkpoint.at = {50, 1000};
    TrainOptions options;
    // ctest runs each test in its own process, in parallel: one scratch dir per test.
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string test = std::string(info->test_suite_name()) + "_" + info->name();
    std::replace(test.begin(), test.end(), '/', '_');
    options.out_dir = test::scratch_dir("gradcheck_collapsed_" + config_name + "_" + test);
    train(config, options);
    it = dirs.emplace(config_name, *options.out_dir).first;
  }
  char name[32];
  std::snprintf(name, sizeof name, "ckpt-%08lld.h5", static_cast<long long>(iteration));
  return it->second / name;
}

std::map<std::string, const TensorCheck*> by_tensor(const GradcheckResult& r) {
  std::map<std::string, const TensorCheck*> m;
  for (const TensorCheck& c : r.checks) m[c.tensor] = &c;
  return m;
}

class Collapsed : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(Collapsed, BuggyBackwardIsCaughtAndNamed) {
  const GradcheckResult r =
      gradcheck_checkpoint(checkpoint_of("buggy-backward.toml", GetParam()), {});
  EXPECT_GT(r.mismatching(), 0);
  const auto checks = by_tensor(r);
  for (const char* wrong : {"fc1.weight", "fc1.bias", "conv1.weight", "conv1.bias", "fc1:output",
                            "conv1:output"})
    EXPECT_EQ(checks.at(wrong)->status, CheckStatus::kMismatch) << wrong;
  for (const char* right : {"fc2.weight", "fc2.bias", "fc2:output", "sig1:output"})
    EXPECT_EQ(checks.at(right)->status, CheckStatus::kPass) << right;
  EXPECT_EQ(r.mismatching(), 6);
  ASSERT_FALSE(r.hypotheses.empty());
  EXPECT_EQ(r.hypotheses.front().fault, "sigmoid_derivative_on_wrong_tensor");
  EXPECT_EQ(r.hypotheses.front().layer, "sig1");
  EXPECT_TRUE(r.hypotheses.front().complete);
  EXPECT_TRUE(r.localisation.found);
  EXPECT_EQ(r.localisation.tensor, "fc1:output");
}

TEST_P(Collapsed, CleanSeedPassesWithoutUnresolvedParams) {
  const GradcheckResult r = gradcheck_checkpoint(checkpoint_of("net.toml", GetParam()), {});
  EXPECT_EQ(r.mismatching(), 0);
  for (const TensorCheck& c : r.checks) {
    EXPECT_NE(c.status, CheckStatus::kMismatch) << c.tensor;
    if (c.tensor.find(':') == std::string::npos) {
      EXPECT_NE(c.status, CheckStatus::kUnresolved) << c.tensor;
    }
  }
}

TEST_P(Collapsed, SampledProbeModeAgrees) {
  GradcheckSettings s;
  s.mode = GradcheckMode::kSampled;
  const GradcheckResult buggy =
      gradcheck_checkpoint(checkpoint_of("buggy-backward.toml", GetParam()), s);
  const auto checks = by_tensor(buggy);
  for (const char* wrong : {"fc1.weight", "conv1.weight", "conv1.bias"})
    EXPECT_EQ(checks.at(wrong)->status, CheckStatus::kMismatch) << wrong;
  EXPECT_EQ(gradcheck_checkpoint(checkpoint_of("net.toml", GetParam()), s).mismatching(), 0);
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, Collapsed, ::testing::Values(0, 50, 1000, 10000));

TEST(Collapsed, ChainReferenceIsUsedOnlyWhereTheDirectOneIsInconclusive) {
  // by_tensor() points into the result: keep each result alive while its map is used.
  const GradcheckResult init_result = gradcheck_checkpoint(checkpoint_of("net.toml", 0), {});
  const auto at_init = by_tensor(init_result);
  for (const auto& [tensor, c] : at_init) EXPECT_EQ(c->reference, "direct") << tensor;
  const GradcheckResult collapsed_result =
      gradcheck_checkpoint(checkpoint_of("net.toml", 10000), {});
  const auto collapsed = by_tensor(collapsed_result);
  EXPECT_EQ(collapsed.at("fc2.weight")->reference, "direct");
  for (const char* tiny : {"fc1.weight", "conv1.weight", "conv1.bias", "conv1:output"}) {
    EXPECT_EQ(collapsed.at(tiny)->reference, "chain") << tiny;
    EXPECT_EQ(collapsed.at(tiny)->status, CheckStatus::kPass) << tiny;
  }
}

}  // namespace
}  // namespace cnndiag
