// The gradient checker end to end: no false alarms on correct networks (every layer type, both
// losses, B1–B3, every mode), every catalogued fault caught exactly where it corrupts and named,
// kinks skipped, tolerance problems told apart from bugs, localisation, and the seed's bug.

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "cnndiag/config.hpp"
#include "cnndiag/faults.hpp"
#include "cnndiag/gradcheck.hpp"
#include "cnndiag/report.hpp"
#include "gradcheck/internal.hpp"
#include "support/test_util.hpp"
#include "unit/gradcheck/nets.hpp"

namespace cnndiag {
namespace {

using testing::Net;

GradcheckResult check(Net& net, GradcheckMode mode, bool isolated = false) {
  GradcheckSettings s;
  s.mode = mode;
  s.isolated = isolated;
  return gradcheck_model(net.layers, net.loss, *net.model, net.inputs, net.targets, s);
}

std::string describe(const GradcheckResult& r) {
  std::string s;
  for (const TensorCheck& c : r.checks)
    s += "\n  " + c.scope + " " + c.tensor + " " + std::string(to_string(c.status)) + " " +
         std::to_string(c.mismatches) + "/" + std::to_string(c.checked) + " skipped " +
         std::to_string(c.skipped_kinks) + " max abs " + std::to_string(c.max_abs_error) +
         " budget " + std::to_string(c.budget());
  return s;
}

std::set<std::string> mismatching(const GradcheckResult& r) {
  std::set<std::string> out;
  for (const TensorCheck& c : r.checks)
    if (c.status == CheckStatus::kMismatch && c.scope == "end_to_end") out.insert(c.tensor);
  return out;
}

void expect_clean(Net& net, GradcheckMode mode, bool isolated = false) {
  const GradcheckResult r = check(net, mode, isolated);
  EXPECT_EQ(r.mismatching(), 0) << to_string(mode) << describe(r);
  EXPECT_EQ(r.tolerance_only(), 0) << to_string(mode) << describe(r);
  EXPECT_FALSE(r.localisation.found);
  EXPECT_TRUE(r.hypotheses.empty());
  for (const TensorCheck& c : r.checks) {
    EXPECT_GT(c.checked, 0) << c.tensor << describe(r);
    EXPECT_LE(c.skipped_kinks, c.checked) << c.tensor << " is mostly kinks" << describe(r);
  }
  // Every parameter and every layer output was checked end to end.
  std::size_t expected = net.model->size();
  for (std::size_t i = 0; i < net.model->size(); ++i) expected += net.model->layer(i).params().size();
  const auto e2e = std::count_if(r.checks.begin(), r.checks.end(),
                                 [](const TensorCheck& c) { return c.scope == "end_to_end"; });
  EXPECT_EQ(static_cast<std::size_t>(e2e), expected);
}

constexpr GradcheckMode kModes[] = {GradcheckMode::kExhaustive, GradcheckMode::kSampled,
                                    GradcheckMode::kDirectional};

TEST(Gradcheck, EveryLayerTypeMseNoFalseAlarmInAnyMode) {
  Net net = testing::zoo_net();
  net.build();
  for (GradcheckMode m : kModes) expect_clean(net, m, /*isolated=*/true);
}

TEST(Gradcheck, EveryLayerTypeCrossEntropySumNoFalseAlarm) {
  Net net = testing::zoo_net(testing::ce_loss("sum"));
  net.build(11);
  for (GradcheckMode m : kModes) expect_clean(net, m);
}

TEST(Gradcheck, B1SeedNoFalseAlarmInAnyMode) {
  Net net = testing::b1_net();
  net.build(3, 0.05);
  for (GradcheckMode m : kModes) expect_clean(net, m, true);
}

TEST(Gradcheck, B2LenetNoFalseAlarm) {
  Net net = testing::b2_net(3);
  net.build(5, 0.0);
  expect_clean(net, GradcheckMode::kSampled);
  expect_clean(net, GradcheckMode::kDirectional);
}

TEST(Gradcheck, B3ConvnetNoFalseAlarm) {
  Net net = testing::b3_net(2);
  net.build(5, 0.0);
  expect_clean(net, GradcheckMode::kSampled);
  expect_clean(net, GradcheckMode::kDirectional);
}

TEST(Gradcheck, AutoModeIsExhaustiveForSmallTensorsAndSampledForLarge) {
  Net net = testing::b1_net();
  net.build(3, 0.05);
  GradcheckSettings s;
  s.exhaustive_max = 1000;
  s.samples = 20;
  const GradcheckResult r =
      gradcheck_model(net.layers, net.loss, *net.model, net.inputs, net.targets, s);
  for (const TensorCheck& c : r.checks) {
    EXPECT_EQ(c.mode, c.size <= 1000 ? GradcheckMode::kExhaustive : GradcheckMode::kSampled) << c.tensor;
    EXPECT_EQ(c.checked + c.skipped_kinks, std::min<Index>(c.size, c.size <= 1000 ? c.size : 20));
  }
}

TEST(Gradcheck, LeavesParamsGradsAndBuffersAsTheyWere) {
  Net net = testing::zoo_net();
  net.build();
  std::vector<Tensor<double>> before;
  for (auto& [k, p] : net.model->named_params()) before.push_back(p->value);
  for (auto& [k, b] : net.model->named_buffers()) before.push_back(b->value);
  check(net, GradcheckMode::kDirectional, true);
  std::size_t i = 0;
  for (auto& [k, p] : net.model->named_params()) EXPECT_EQ(p->value.storage(), before[i++].storage()) << k;
  for (auto& [k, b] : net.model->named_buffers()) EXPECT_EQ(b->value.storage(), before[i++].storage()) << k;
}

// ---------------------------------------------------------------------------------------------
// Faults: each flagged exactly where it corrupts, and named at the right layer.
// ---------------------------------------------------------------------------------------------

struct FaultCase {
  std::string fault;
  std::string layer;  // "loss" for the loss
};

/// Tensors whose gradient the fault changes: the faulty model's backward against the clean one's.
std::set<std::string> corrupted(Net& faulty, const std::vector<LayerConfig>& clean_layers,
                                const LossConfig& clean_loss) {
  using namespace gradcheck_detail;
  Model<double> a(faulty.layers, faulty.input), b(clean_layers, faulty.input);
  copy_values(*faulty.model, a);
  copy_values(*faulty.model, b);
  const GradientSet ga = model_gradients(a, faulty.loss, faulty.inputs, faulty.targets);
  const GradientSet gb = model_gradients(b, clean_loss, faulty.inputs, faulty.targets);
  std::set<std::string> out;
  for (const auto& [key, t] : ga)
    if (!compare_tensors(t, gb.at(key), 1e-8, 1e-5).pass) out.insert(key);
  return out;
}

void expect_fault_caught(const FaultCase& fc, Net net, GradcheckMode mode) {
  const std::vector<LayerConfig> clean_layers = net.layers;
  const LossConfig clean_loss = net.loss;
  if (fc.layer == "loss")
    net.loss.fault = fc.fault;
  else
    net.layer(fc.layer).fault = fc.fault;
  net.build();
  const std::set<std::string> expected = corrupted(net, clean_layers, clean_loss);
  ASSERT_FALSE(expected.empty()) << fc.fault << " at " << fc.layer << " changes nothing here";
  const GradcheckResult r = check(net, mode);
  const std::string what = fc.fault + " at " + fc.layer + " (" + std::string(to_string(mode)) + ")";
  if (mode == GradcheckMode::kExhaustive) {
    EXPECT_EQ(mismatching(r), expected) << what << describe(r);
  } else {
    // Sampled and directional modes see a subset: never a clean tensor, and the fault is caught.
    for (const std::string& t : mismatching(r)) EXPECT_TRUE(expected.count(t)) << what << ": " << t;
    EXPECT_FALSE(mismatching(r).empty()) << what << describe(r);
  }
  ASSERT_FALSE(r.hypotheses.empty()) << what;
  EXPECT_EQ(r.hypotheses.front().fault, fc.fault) << what;
  EXPECT_EQ(r.hypotheses.front().layer, fc.layer) << what;
  EXPECT_TRUE(r.hypotheses.front().complete) << what;
  EXPECT_EQ(r.hypotheses.front().scale, 1.0) << what;
  ASSERT_TRUE(r.localisation.found) << what;
}

std::vector<FaultCase> zoo_fault_cases() {
  return {{"derivative_omitted", "s1"},   {"derivative_omitted", "t1"},
          {"derivative_omitted", "r1"},   {"derivative_omitted", "lr1"},
          {"derivative_on_input", "s1"},  {"derivative_on_input", "t1"},
          {"derivative_reapplied", "s1"}, {"derivative_reapplied", "t1"},
          {"relu_mask_from_grad", "r1"},  {"relu_mask_from_grad", "lr1"},
          {"missing_batch_mean", "loss"}, {"kernel_not_flipped", "c2"},
          {"bias_grad_first_sample", "c1"}, {"bias_grad_first_sample", "fc2"},
          {"maxpool_route_first", "mp1"}};
}

TEST(GradcheckFaults, EveryCatalogueFaultIsCovered) {
  std::set<std::string> covered{"sigmoid_derivative_on_wrong_tensor"};  // SeedBug tests below
  for (const FaultCase& fc : zoo_fault_cases()) covered.insert(fc.fault);
  for (const FaultInfo& info : fault_catalogue()) EXPECT_TRUE(covered.count(std::string(info.id))) << info.id;
}

TEST(GradcheckFaults, EachFaultFlagsExactlyItsTensorsExhaustive) {
  for (const FaultCase& fc : zoo_fault_cases())
    expect_fault_caught(fc, testing::zoo_net(), GradcheckMode::kExhaustive);
}

TEST(GradcheckFaults, EachFaultCaughtSampledAndDirectional) {
  for (const FaultCase& fc : zoo_fault_cases()) {
    expect_fault_caught(fc, testing::zoo_net(), GradcheckMode::kSampled);
    expect_fault_caught(fc, testing::zoo_net(), GradcheckMode::kDirectional);
  }
}

TEST(GradcheckFaults, SeedBugOnB1) {
  for (GradcheckMode m : kModes) {
    expect_fault_caught({"sigmoid_derivative_on_wrong_tensor", "sig1"}, testing::b1_net(8), m);
  }
}

TEST(GradcheckFaults, IsolatedChecksFlagTheFaultyLayer) {
  Net net = testing::zoo_net();
  net.layer("t1").fault = "derivative_on_input";
  net.build();
  const GradcheckResult r = check(net, GradcheckMode::kExhaustive, true);
  for (const TensorCheck& c : r.checks) {
    if (c.scope != "isolated") continue;
    EXPECT_EQ(c.status == CheckStatus::kMismatch, c.tensor == "t1:input") << c.tensor << describe(r);
  }
}

// ---------------------------------------------------------------------------------------------
// The seed: buggy-backward.toml at its initial params.
// ---------------------------------------------------------------------------------------------

TEST(GradcheckSeed, BuggyBackwardConfigNamesThePostsBug) {
  const Config config =
      load_config(test::source_dir() / "data/examples/seed/buggy-backward.toml");
  GradcheckSettings s;
  const GradcheckResult r = gradcheck_config(config, s);
  const std::set<std::string> expected{"fc1:output", "fc1.weight", "fc1.bias",
                                       "conv1:output", "conv1.weight", "conv1.bias"};
  EXPECT_EQ(mismatching(r), expected) << describe(r);
  for (const char* t : {"fc2.weight", "fc2.bias", "fc2:output", "sig1:output"}) {
    const auto it = std::find_if(r.checks.begin(), r.checks.end(),
                                 [&](const TensorCheck& c) { return c.tensor == t; });
    ASSERT_NE(it, r.checks.end()) << t;
    EXPECT_EQ(it->status, CheckStatus::kPass) << t;
  }
  ASSERT_FALSE(r.hypotheses.empty());
  EXPECT_EQ(r.hypotheses.front().fault, "sigmoid_derivative_on_wrong_tensor");
  EXPECT_EQ(r.hypotheses.front().layer, "sig1");
  EXPECT_TRUE(r.hypotheses.front().complete);
  // Walking back from the loss, ∂E/∂(fc1 output) is the first wrong gradient: sig1 computed it.
  EXPECT_EQ(r.localisation.tensor, "fc1:output");
  EXPECT_EQ(r.localisation.layer, "sig1");
  // Findings: one error per wrong tensor, with the fix of the top hypothesis.
  const std::vector<Finding> f = gradcheck_findings(r);
  ASSERT_EQ(f.size(), expected.size());
  for (const Finding& x : f) {
    EXPECT_EQ(x.id, "gradcheck.mismatch");
    EXPECT_EQ(x.severity, Severity::kError);
    EXPECT_EQ(x.evidence["hypothesis"]["fault"], "sigmoid_derivative_on_wrong_tensor");
    EXPECT_NE(x.fix.find("y⊙(1−y)"), std::string::npos) << x.fix;
  }
}

TEST(GradcheckSeed, NetTomlPasses) {
  const Config config = load_config(test::source_dir() / "data/examples/seed/net.toml");
  GradcheckSettings s;
  s.mode = GradcheckMode::kExhaustive;
  const GradcheckResult r = gradcheck_config(config, s);
  EXPECT_EQ(r.mismatching(), 0) << describe(r);
  EXPECT_EQ(r.tolerance_only(), 0) << describe(r);
  EXPECT_TRUE(gradcheck_findings(r).empty());
}

// ---------------------------------------------------------------------------------------------
// Kinks, error budget, localisation details
// ---------------------------------------------------------------------------------------------

TEST(Gradcheck, CoordinatesWhoseStepCrossesAReluKinkAreSkippedAndCounted) {
  // linear(2→3) → relu → linear(1); unit 0 of sample 0 sits 1e-13 from the kink, inside even
  // the smallest step the checker shrinks to (1e-4 × 6e-6), so the difference quotients of its
  // weights and bias would straddle the kink: skipped and counted, never compared.
  Net net;
  net.input = Shape{2};
  net.batch = 2;
  net.layers = {testing::linear_config("fc1", 3), testing::layer_config("r1", "relu"),
                testing::linear_config("fc2", 1)};
  net.loss = testing::mse_loss();
  net.build();
  Param<double>& b = net.model->layer(0).params()[1];
  const Param<double>& w = net.model->layer(0).params()[0];
  b.value[0] = 1e-13 - (w.value[0] * net.inputs[0] + w.value[1] * net.inputs[1]);
  const GradcheckResult r = check(net, GradcheckMode::kExhaustive);
  EXPECT_EQ(r.mismatching(), 0) << describe(r);
  Index skipped = 0;
  for (const TensorCheck& c : r.checks) skipped += c.skipped_kinks;
  EXPECT_GT(skipped, 0) << describe(r);
  const auto fc1w = std::find_if(r.checks.begin(), r.checks.end(),
                                 [](const TensorCheck& c) { return c.tensor == "fc1.weight"; });
  EXPECT_EQ(fc1w->skipped_kinks, 2);  // w[0][0], w[0][1] move unit 0 of sample 0 across 0
  const auto fc1b = std::find_if(r.checks.begin(), r.checks.end(),
                                 [](const TensorCheck& c) { return c.tensor == "fc1.bias"; });
  EXPECT_EQ(fc1b->skipped_kinks, 1);
}

TEST(Gradcheck, ATolerranceTooTightIsAToleranceProblemNotABug) {
  Net net = testing::b1_net(8);
  net.build(3, 0.05);
  GradcheckSettings s;
  s.mode = GradcheckMode::kExhaustive;
  s.atol = 0;
  s.rtol = 1e-14;  // below what any float64 difference quotient can resolve
  const GradcheckResult r =
      gradcheck_model(net.layers, net.loss, *net.model, net.inputs, net.targets, s);
  EXPECT_EQ(r.mismatching(), 0) << describe(r);
  EXPECT_GT(r.tolerance_only(), 0) << describe(r);
  for (const TensorCheck& c : r.checks)
    if (c.status == CheckStatus::kTolerance) {
      EXPECT_GT(c.budget(), 0);
      EXPECT_LE(c.max_abs_error, kBudgetFactor * c.budget() * 10) << c.tensor;
    }
  const std::vector<Finding> f = gradcheck_findings(r);
  ASSERT_FALSE(f.empty());
  for (const Finding& x : f) EXPECT_EQ(x.id, "gradcheck.tolerance");
}

TEST(Gradcheck, ErrorBudgetIsReportedBesideTheError) {
  Net net = testing::b1_net(8);
  net.build(3, 0.05);
  const GradcheckResult r = check(net, GradcheckMode::kExhaustive);
  for (const TensorCheck& c : r.checks) {
    EXPECT_GT(c.rounding, 0) << c.tensor;
    EXPECT_GE(c.truncation, 0) << c.tensor;
    // A correct gradient's error is of the budget's size, far below the tolerance.
    EXPECT_LE(c.max_abs_error, 1e3 * c.budget() + 1e-12) << c.tensor;
  }
}

TEST(Gradcheck, LayerFilterChecksOnlyThatLayer) {
  Net net = testing::zoo_net();
  net.build();
  GradcheckSettings s;
  s.layer = "c2";
  const GradcheckResult r =
      gradcheck_model(net.layers, net.loss, *net.model, net.inputs, net.targets, s);
  ASSERT_EQ(r.checks.size(), 3u);
  for (const TensorCheck& c : r.checks) EXPECT_EQ(c.layer, "c2");
  s.layer = "nope";
  EXPECT_THROW(gradcheck_model(net.layers, net.loss, *net.model, net.inputs, net.targets, s),
               UsageError);
}

TEST(Gradcheck, SampledCoordinatesDependOnSeedAndTensorOnly) {
  GradcheckSettings s;
  s.samples = 5;
  using gradcheck_detail::pick_coordinates;
  const auto a = pick_coordinates(GradcheckMode::kSampled, 100, "fc1.weight", s);
  EXPECT_EQ(a, pick_coordinates(GradcheckMode::kSampled, 100, "fc1.weight", s));
  EXPECT_NE(a, pick_coordinates(GradcheckMode::kSampled, 100, "fc2.weight", s));
  EXPECT_EQ(std::set<Index>(a.begin(), a.end()).size(), 5u);
  EXPECT_EQ(pick_coordinates(GradcheckMode::kSampled, 3, "x", s).size(), 3u);
}

TEST(Gradcheck, JsonCarriesEveryDocumentedField) {
  const Config config =
      load_config(test::source_dir() / "data/examples/seed/buggy-backward.toml");
  const GradcheckResult r = gradcheck_config(config, GradcheckSettings{});
  const nlohmann::json c = to_json(r.checks.front());
  for (const char* key : {"tensor", "layer", "computed_by", "scope", "mode", "size", "checked",
                          "skipped_kinks", "mismatches", "max_abs_error", "max_rel_error",
                          "budget", "worst", "cosine", "scale", "status"})
    EXPECT_TRUE(c.contains(key)) << key;
  const nlohmann::json h = to_json(r.hypotheses.front());
  for (const char* key : {"fault", "layer", "description", "explains", "unexplained",
                          "max_rel_error", "scale", "complete"})
    EXPECT_TRUE(h.contains(key)) << key;
  EXPECT_EQ(h["fault"], "sigmoid_derivative_on_wrong_tensor");
  const nlohmann::json f = to_json(gradcheck_findings(r).front());
  for (const char* key : {"id", "severity", "layer", "tensor", "message", "evidence", "fix"})
    EXPECT_TRUE(f.contains(key)) << key;
  EXPECT_EQ(f["severity"], "error");
}

}  // namespace
}  // namespace cnndiag
