#include <gtest/gtest.h>

#include <cmath>

#include "cnndiag/probes/probes.hpp"
#include "probe_fixture.hpp"

namespace cnndiag {
namespace {

Observation observe(const std::string& name, const std::string& layers) {
  test::ProbeData d;
  d.x = test::uniform_inputs(Shape{16, 1, 6, 6}, 41);
  d.y = test::noise_targets(16, 2, 42);
  return test::train_and_observe(name, test::net_config(layers, "lr = 0.01", 0), d);
}

std::string net(const std::string& fc1_init, const std::string& activation,
                const std::string& between = "") {
  return R"(
[[layer]]
name = "fc1"
type = "linear"
out = 64
init.weight = )" + fc1_init + "\n" + between + R"(
[[layer]]
name = "act"
type = ")" + activation + R"("
[[layer]]
name = "fc2"
type = "linear"
out = 2
init.weight = "xavier"
)";
}

TEST(InitProbe, HeInitBeforeReluMatchesItsReference) {
  const ProbeResult r = probe_init(observe("init_he", net("\"he\"", "relu")));
  const nlohmann::json& m = r.measurements["fc1.weight"];
  EXPECT_EQ(m["reference"], "he");
  EXPECT_EQ(m["fan_in"], 36);
  EXPECT_DOUBLE_EQ(m["reference_std"].get<double>(), std::sqrt(2.0 / 36.0));
  EXPECT_NEAR(m["ratio_initial"].get<double>(), 1.0, 0.05);  // 2304 draws
  EXPECT_TRUE(r.findings.empty()) << r.findings.front().message;
}

TEST(InitProbe, TinyInitIsFlaggedAgainstTheRightReference) {
  const std::string tiny = "{ normal = { mean = 0.0, std = 1e-4 } }";
  {
    const ProbeResult r = probe_init(observe("init_tiny_relu", net(tiny, "relu")));
    const auto f = test::findings_with(r, "init.scale", "fc1.weight");
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].severity, Severity::kWarning);
    EXPECT_EQ(f[0].evidence["reference"], "he");
    EXPECT_NEAR(f[0].evidence["std_initial"].get<double>(), 1e-4, 1e-5);
    EXPECT_NE(f[0].fix.find("he"), std::string::npos);
    EXPECT_NE(f[0].message.find("shrink"), std::string::npos);
  }
  {
    const ProbeResult r = probe_init(observe("init_tiny_sigmoid", net(tiny, "sigmoid")));
    const auto f = test::findings_with(r, "init.scale", "fc1.weight");
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].evidence["reference"], "glorot");
    EXPECT_DOUBLE_EQ(f[0].evidence["reference_std"].get<double>(), std::sqrt(2.0 / (36 + 64)));
    EXPECT_NE(f[0].fix.find("xavier"), std::string::npos);
  }
  {  // Pooling between the layer and its relu does not change the reference.
    const std::string conv = R"(
[[layer]]
name = "conv1"
type = "conv2d"
out_channels = 4
kernel = 3
init.weight = { normal = { mean = 0.0, std = 1e-4 } }
[[layer]]
name = "pool"
type = "maxpool"
size = 2
[[layer]]
name = "act"
type = "relu"
[[layer]]
name = "fc2"
type = "linear"
out = 2
)";
    const ProbeResult r = probe_init(observe("init_tiny_pool", conv));
    const auto f = test::findings_with(r, "init.scale", "conv1.weight");
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].evidence["reference"], "he");
    EXPECT_EQ(f[0].evidence["fan_in"], 9);
  }
}

TEST(InitProbe, HugeInitIsFlaggedAndBatchnormExcuses) {
  const std::string huge = "{ normal = { mean = 0.0, std = 100.0 } }";
  const auto f = test::findings_with(probe_init(observe("init_huge", net(huge, "tanh"))), "init.scale");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_GT(f[0].evidence["ratio_initial"].get<double>(), 10);
  EXPECT_NE(f[0].message.find("grow"), std::string::npos);
  const std::string bn = "[[layer]]\nname = \"bn\"\ntype = \"batchnorm\"\n";
  EXPECT_TRUE(test::findings_with(probe_init(observe("init_huge_bn", net(huge, "relu", bn))),
                                  "init.scale")
                  .empty());
}

TEST(InitProbe, PreActivationStdAtIterationZeroByHand) {
  // fc1 = 0.5·Σx (one output, bias 0): its std across samples is 0.5·std_i(Σ_j x_ij).
  const std::string layers = R"(
[[layer]]
name = "fc1"
type = "linear"
out = 1
init.weight = { constant = 0.5 }
init.bias = { constant = 0.0 }
[[layer]]
name = "fc2"
type = "linear"
out = 2
)";
  const Observation o = observe("init_preact", layers);
  const Tensor<double> output_before = o.layers[0].output;
  const ProbeResult r = probe_init(o);
  double mean = 0, sq = 0;
  const Index n = o.inputs.dim(0), d = o.inputs.size() / n;
  for (Index i = 0; i < n; ++i) {
    double s = 0;
    for (Index j = 0; j < d; ++j) s += o.inputs[i * d + j];
    mean += 0.5 * s;
    sq += 0.25 * s * s;
  }
  mean /= static_cast<double>(n);
  const double expected = std::sqrt(sq / static_cast<double>(n) - mean * mean);
  EXPECT_NEAR(r.measurements["fc1.weight"]["preact_std_initial"].get<double>(), expected, 1e-12);
  // The observation is left as it was.
  EXPECT_EQ(o.layers[0].output.storage(), output_before.storage());
  // A constant weight has std 0 yet scale 0.5: judged by its root mean square.
  EXPECT_DOUBLE_EQ(r.measurements["fc1.weight"]["rms_initial"].get<double>(), 0.5);
}

}  // namespace
}  // namespace cnndiag
