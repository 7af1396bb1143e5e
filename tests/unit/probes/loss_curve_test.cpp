#include <gtest/gtest.h>

#include <cmath>

#include "cnndiag/probes/probes.hpp"
#include "probe_fixture.hpp"

namespace cnndiag {
namespace {

// Any small observation; each test writes the loss history it wants into it.
Observation base(const std::string& name) {
  test::ProbeData d;
  d.x = test::uniform_inputs(Shape{8, 3}, 101);
  d.y = test::noise_targets(8, 2, 102);
  return test::train_and_observe(
      name, test::net_config("[[layer]]\nname = \"fc1\"\ntype = \"linear\"\nout = 2\n", "lr = 0.01", 0), d);
}

void set_history(Observation& o, const std::vector<double>& loss) {
  o.history_loss = loss;
  o.history_iteration.clear();
  for (std::size_t i = 0; i < loss.size(); ++i) o.history_iteration.push_back(static_cast<std::int64_t>(i + 1));
}

template <typename F>
std::vector<double> curve(std::size_t n, F f) {
  std::vector<double> v;
  for (std::size_t t = 0; t < n; ++t) v.push_back(f(static_cast<double>(t)));
  return v;
}

std::vector<std::string> ids(const ProbeResult& r) {
  std::vector<std::string> out;
  for (const Finding& f : r.findings) out.push_back(f.id);
  return out;
}

TEST(LossCurveProbe, NonFiniteNamesTheFirstIteration) {
  Observation o = base("curve_nan");
  std::vector<double> loss = curve(50, [](double t) { return 1.0 / (1 + t); });
  loss[7] = std::numeric_limits<double>::quiet_NaN();
  loss[9] = std::numeric_limits<double>::infinity();
  set_history(o, loss);
  const auto f = test::findings_with(probe_loss_curve(o), "loss_curve.nonfinite");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kError);
  EXPECT_EQ(f[0].evidence["first_nonfinite_iteration"], 8);
  EXPECT_NE(f[0].message.find("NaN at iteration 8"), std::string::npos) << f[0].message;
}

TEST(LossCurveProbe, DivergingGrowth) {
  Observation o = base("curve_diverge");
  set_history(o, curve(60, [](double t) { return std::exp(0.1 * t); }));
  const auto f = test::findings_with(probe_loss_curve(o), "loss_curve.diverging");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kError);
  // Fell, then blew up again and still rising.
  set_history(o, curve(100, [](double t) { return t < 50 ? 10.0 / (1 + t) : 0.2 * std::exp(0.08 * (t - 50)); }));
  EXPECT_EQ(test::findings_with(probe_loss_curve(o), "loss_curve.diverging").size(), 1u);
}

TEST(LossCurveProbe, ConvergedCurveHasNoFindings) {
  Observation o = base("curve_converged");
  Rng rng(103);
  // Falls from 1 to a float-noise floor around 1e-9, where it jitters by 10× its minimum.
  set_history(o, curve(400, [&](double t) { return std::exp(-0.1 * t) + 1e-9 * (1 + 20 * rng.uniform()); }));
  const ProbeResult r = probe_loss_curve(o);
  EXPECT_TRUE(r.findings.empty()) << ids(r)[0];
  EXPECT_TRUE(r.measurements["loss"]["fitted"].get<bool>());
}

TEST(LossCurveProbe, PlateauWellAboveTheStart) {
  Observation o = base("curve_plateau");
  set_history(o, curve(200, [](double t) { return t < 20 ? 1.0 - 0.025 * t : 0.5; }));
  const auto f = test::findings_with(probe_loss_curve(o), "loss_curve.plateau");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kWarning);
  // Still falling steadily: no plateau.
  set_history(o, curve(200, [](double t) { return 1.0 - 0.0025 * t; }));
  EXPECT_TRUE(test::findings_with(probe_loss_curve(o), "loss_curve.plateau").empty());
  // Flat at the bottom after a 1000× fall: converged, not stuck.
  set_history(o, curve(200, [](double t) { return t < 20 ? std::pow(10.0, -3 * t / 20) : 1e-3; }));
  EXPECT_TRUE(test::findings_with(probe_loss_curve(o), "loss_curve.plateau").empty());
}

TEST(LossCurveProbe, PlateauAtTheConstantLevelSaysSo) {
  Observation o = base("curve_constant_level");
  const double level = probe_targets(o).measurements["targets"]["constant_loss"].get<double>();
  set_history(o, curve(100, [&](double t) { return t < 10 ? level * (2 - 0.1 * t) : level; }));
  const auto f = test::findings_with(probe_loss_curve(o), "loss_curve.plateau");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_TRUE(f[0].evidence["at_constant_level"].get<bool>());
}

TEST(LossCurveProbe, OscillationVersusNoise) {
  Observation o = base("curve_oscillate");
  set_history(o, curve(100, [](double t) { return 0.5 + 0.2 * (std::fmod(t, 2.0) == 0 ? 1 : -1); }));
  const auto f = test::findings_with(probe_loss_curve(o), "loss_curve.oscillating");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_DOUBLE_EQ(f[0].evidence["sign_change_fraction"].get<double>(), 1.0);
  // Mini-batch-like i.i.d. noise turns direction about 2/3 of the time: not an oscillation.
  Rng rng(104);
  set_history(o, curve(300, [&](double t) { return 1.0 / (1 + 0.01 * t) + 0.2 * rng.uniform(); }));
  EXPECT_TRUE(test::findings_with(probe_loss_curve(o), "loss_curve.oscillating").empty());
}

TEST(LossCurveProbe, ShortHistoryIsNotJudged) {
  Observation o = base("curve_short");
  set_history(o, {1.0, 2.0, 4.0, 8.0, 16.0});
  EXPECT_TRUE(probe_loss_curve(o).findings.empty());
}

}  // namespace
}  // namespace cnndiag
