#include <gtest/gtest.h>

#include "cnndiag/probes/probes.hpp"
#include "probe_fixture.hpp"

namespace cnndiag {
namespace {

// conv (2 channels of 4×4) → relu → linear 6 → sigmoid → linear 3 → tanh.
std::string layers(const std::string& conv_bias = "") {
  return R"(
[[layer]]
name = "conv1"
type = "conv2d"
out_channels = 2
kernel = 3
pad = 1
init.weight = "he"
)" + conv_bias + R"(
[[layer]]
name = "relu1"
type = "relu"
[[layer]]
name = "fc1"
type = "linear"
out = 6
init.weight = "xavier"
[[layer]]
name = "sig1"
type = "sigmoid"
[[layer]]
name = "fc2"
type = "linear"
out = 3
init.weight = "xavier"
[[layer]]
name = "tanh1"
type = "tanh"
)";
}

constexpr Index kN = 10;

Observation observe(const std::string& name, const std::string& conv_bias = "") {
  test::ProbeData d;
  d.x = test::uniform_inputs(Shape{kN, 1, 4, 4}, 31);
  d.y = test::noise_targets(kN, 3, 32);
  return test::train_and_observe(name, test::net_config(layers(conv_bias), "lr = 0.01", 0), d);
}

std::size_t index_of(const Observation& o, const std::string& layer) {
  for (std::size_t i = 0; i < o.layers.size(); ++i)
    if (o.layers[i].name == layer) return i;
  throw InternalError("no layer " + layer);
}

TEST(UnitsProbe, DeadUnitsAndChannelsCountedByHand) {
  Observation o = observe("units_dead");
  Tensor<double>& z = o.layers[index_of(o, "relu1")].input;  // (N, 2, 4, 4)
  ASSERT_EQ(z.shape(), (Shape{kN, 2, 4, 4}));
  // Channel 0: every position ≤ 0 on every sample. Channel 1: positions 0..3 ≤ 0 on every
  // sample; position 4 is positive on one sample only (alive); the rest positive.
  for (Index i = 0; i < kN; ++i)
    for (Index u = 0; u < 32; ++u) z[i * 32 + u] = u < 16 + 4 ? -1.0 - static_cast<double>(u) : 1.0;
  for (Index i = 0; i < kN; ++i) z[i * 32 + 20] = i == 3 ? 0.5 : 0.0;
  ProbeResult r = probe_units(o);
  const nlohmann::json& m = r.measurements["relu1"];
  EXPECT_EQ(m["dead_units"], 20);
  EXPECT_DOUBLE_EQ(m["dead_fraction"].get<double>(), 20.0 / 32.0);
  EXPECT_EQ(m["dead_channels"], 1);
  const auto f = test::findings_with(r, "units.dead", "relu1");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kWarning);

  // 16 of 32 dead is not more than half: no warning.
  for (Index i = 0; i < kN; ++i)
    for (Index u = 16; u < 20; ++u) z[i * 32 + u] = i == 0 ? 1.0 : -1.0;
  r = probe_units(o);
  EXPECT_EQ(r.measurements["relu1"]["dead_units"], 16);
  EXPECT_TRUE(test::findings_with(r, "units.dead").empty());
}

TEST(UnitsProbe, NegativeBiasKillsEveryRelu) {
  const Observation o = observe("units_dead_bias", "init.bias = { constant = -100.0 }");
  const ProbeResult r = probe_units(o);
  EXPECT_DOUBLE_EQ(r.measurements["relu1"]["dead_fraction"].get<double>(), 1.0);
  EXPECT_EQ(test::findings_with(r, "units.dead", "relu1").size(), 1u);
  // A He-initialised relu layer on [0,1) inputs with zero bias is alive.
  EXPECT_TRUE(test::findings_with(probe_units(observe("units_alive")), "units.dead").empty());
}

TEST(UnitsProbe, SaturationPerEntryAndPerUnit) {
  Observation o = observe("units_saturated");
  Tensor<double>& z = o.layers[index_of(o, "sig1")].input;  // (N, 6)
  // Units 0..3 at |z| = 10 on every sample (saturated), unit 4 on half the samples, unit 5 at 1.
  for (Index i = 0; i < kN; ++i)
    for (Index u = 0; u < 6; ++u)
      z[i * 6 + u] = u < 4 ? (i % 2 ? 10.0 : -10.0) : u == 4 ? (i < kN / 2 ? 8.0 : 0.3) : 1.0;
  const ProbeResult r = probe_units(o);
  const nlohmann::json& m = r.measurements["sig1"];
  EXPECT_DOUBLE_EQ(m["saturated_fraction"].get<double>(), (4.0 * kN + kN / 2) / (6.0 * kN));
  EXPECT_DOUBLE_EQ(m["saturated_unit_fraction"].get<double>(), 4.0 / 6.0);
  EXPECT_EQ(test::findings_with(r, "units.saturated", "sig1").size(), 1u);

  // tanh saturates earlier: |z| = 5 is saturated for tanh (> 3.8), not for a sigmoid (≤ 6.9).
  Tensor<double>& t = o.layers[index_of(o, "tanh1")].input;  // (N, 3)
  t.fill(5.0);
  z.fill(5.0);
  const ProbeResult r2 = probe_units(o);
  EXPECT_EQ(test::findings_with(r2, "units.saturated", "tanh1").size(), 1u);
  EXPECT_TRUE(test::findings_with(r2, "units.saturated", "sig1").empty());
}

TEST(UnitsProbe, LinearRegimeIsInfo) {
  Observation o = observe("units_linear");
  Tensor<double>& z = o.layers[index_of(o, "sig1")].input;
  for (Index i = 0; i < z.size(); ++i) z[i] = 0.01 * (static_cast<double>(i % 3) - 1.0);
  ProbeResult r = probe_units(o);
  const auto f = test::findings_with(r, "units.linear_regime", "sig1");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kInfo);
  EXPECT_DOUBLE_EQ(r.measurements["sig1"]["linear_regime_fraction"].get<double>(), 1.0);
  // One sample leaving the band takes the unit out of the linear regime.
  for (Index u = 0; u < 6; ++u) z[u] = 1.0;
  r = probe_units(o);
  EXPECT_DOUBLE_EQ(r.measurements["sig1"]["linear_regime_fraction"].get<double>(), 0.0);
  EXPECT_TRUE(test::findings_with(r, "units.linear_regime").empty());
}

}  // namespace
}  // namespace cnndiag
