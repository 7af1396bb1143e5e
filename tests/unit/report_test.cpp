#include "cnndiag/report.hpp"

#include <gtest/gtest.h>

#include "cnndiag/baseline.hpp"
#include "cnndiag/errors.hpp"

namespace cnndiag {
namespace {

Finding finding(const std::string& id, Severity s, const std::string& layer,
                const std::string& message, const std::string& fix = "") {
  Finding f;
  f.id = id;
  f.severity = s;
  f.layer = layer;
  f.tensor = layer.empty() ? "" : layer + ".weight";
  f.message = message;
  f.fix = fix;
  return f;
}

std::vector<Finding> seed_like() {
  return {finding("targets.unpredictable", Severity::kWarning, "", "targets look independent of the inputs",
                  "check the targets"),
          finding("collapse.identical_outputs", Severity::kError, "conv1",
                  "outputs are identical across samples from 'conv1' onward"),
          finding("init.scale", Severity::kWarning, "fc1", "fc1.weight starts 50x too small", "use he init"),
          finding("weight_decay.overshoot", Severity::kError, "conv1", "lr·λ = 1.5 flips every weight",
                  "weight_decay ≤ 1e-3"),
          finding("weight_decay.overshoot", Severity::kError, "fc1", "lr·λ = 1.5 flips every weight",
                  "weight_decay ≤ 1e-3")};
}

TEST(Verdict, RanksDecayBeforeInitAndKeepsTargetsAsContext) {
  const Verdict v = make_verdict(seed_like());
  EXPECT_TRUE(v.collapsed);
  EXPECT_EQ(v.first_collapsed_layer, "conv1");
  ASSERT_EQ(v.causes.size(), 3u);
  EXPECT_EQ(v.causes[0], "weight_decay.overshoot");
  EXPECT_EQ(v.causes[1], "init.scale");
  EXPECT_EQ(v.causes[2], "targets.unpredictable");
  ASSERT_GE(v.fixes.size(), 2u);
  EXPECT_EQ(v.fixes[0], "weight_decay ≤ 1e-3");  // the same fix twice is listed once
  EXPECT_NE(v.summary.find("Cause: lr·λ = 1.5"), std::string::npos) << v.summary;
  EXPECT_NE(v.summary.find("Note: targets look independent"), std::string::npos) << v.summary;
}

TEST(Verdict, HealthyRunIsNotCollapsedAndHasNoCauses) {
  const Verdict v = make_verdict({finding("units.linear_regime", Severity::kInfo, "sig1", "linear")});
  EXPECT_FALSE(v.collapsed);
  EXPECT_TRUE(v.causes.empty());
  EXPECT_NE(v.summary.find("No collapse"), std::string::npos);
}

TEST(Report, ExitCodeFollowsFailOn) {
  const auto f = seed_like();
  EXPECT_EQ(exit_code_for(f, Severity::kError), 1);
  EXPECT_EQ(exit_code_for(f, std::nullopt), 0);
  const std::vector<Finding> warnings = {finding("init.scale", Severity::kWarning, "fc1", "x")};
  EXPECT_EQ(exit_code_for(warnings, Severity::kError), 0);
  EXPECT_EQ(exit_code_for(warnings, Severity::kWarning), 1);
}

TEST(Report, JsonRoundTripKeepsTheSchemaFields) {
  Report r;
  r.command = "probe";
  r.inputs = {"ckpt.h5"};
  r.layers = nlohmann::json::array({{{"name", "conv1"}, {"rho", 0.0}}});
  r.findings = seed_like();
  sort_findings(r.findings);
  EXPECT_EQ(r.findings.front().severity, Severity::kError);
  r.verdict = make_verdict(r.findings);
  r.extra["iteration"] = 10;
  r.exit_code = 1;
  const nlohmann::json j = to_json(r);
  for (const char* key : {"schema", "tool", "command", "inputs", "layers", "findings", "verdict", "exit_code"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["schema"], "cnndiag.report/1");
  EXPECT_EQ(j["verdict"]["first_collapsed_layer"], "conv1");
  for (const char* key : {"id", "severity", "layer", "tensor", "message", "evidence", "fix"})
    EXPECT_TRUE(j["findings"][0].contains(key)) << key;
  const Report back = report_from_json(j, "r.json");
  EXPECT_EQ(back.findings.size(), r.findings.size());
  EXPECT_EQ(back.verdict.causes, r.verdict.causes);
  EXPECT_EQ(back.extra["iteration"], 10);
}

TEST(Report, ReadingAnotherSchemaFailsClearly) {
  try {
    report_from_json({{"schema", "other/2"}}, "old.json");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("old.json: schema is \"other/2\""), std::string::npos);
  }
}

TEST(Report, JunitHasOneFailurePerErrorOrWarning) {
  Report r;
  r.command = "probe";
  r.findings = seed_like();
  r.extra["probes"] = {"collapse", "weight_decay", "units"};
  const std::string xml = to_junit(r);
  EXPECT_NE(xml.find("<testsuites name=\"cnndiag probe\" tests=\"6\" failures=\"5\">"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<testsuite name=\"cnndiag.units\" tests=\"1\" failures=\"0\">"), std::string::npos);
  EXPECT_NE(xml.find("lr·λ = 1.5"), std::string::npos);
}

Report probe_like(double rho, bool collapsed, std::vector<Finding> findings = {}) {
  Report r;
  r.command = "probe";
  r.inputs = {"x.h5"};
  r.layers = nlohmann::json::array({{{"name", "conv1"}, {"rho", rho}, {"dead_fraction", 0.0},
                                     {"weight_norm", 1.0}}});
  r.findings = std::move(findings);
  r.verdict.collapsed = collapsed;
  if (collapsed) r.verdict.first_collapsed_layer = "conv1";
  return r;
}

TEST(Baseline, UnchangedReportPasses) {
  const Report base = probe_like(0.5, false);
  const Report out = compare_reports(base, base, default_tolerances());
  EXPECT_EQ(exit_code_for(out.findings, Severity::kError), 0);
}

TEST(Baseline, LessSpreadCollapseAndNewErrorsRegress) {
  const Report base = probe_like(0.5, false);
  const Report now = probe_like(0.0, true, {finding("weight_decay.overshoot", Severity::kError, "conv1", "x")});
  const Report out = compare_reports(now, base, default_tolerances());
  EXPECT_EQ(exit_code_for(out.findings, Severity::kError), 1);
  int regressions = 0;
  for (const auto& f : out.findings) regressions += f.id == "check.regression";
  EXPECT_EQ(regressions, 3);  // rho fell, the outputs collapse now, a new error
  EXPECT_EQ(out.layers[0]["rho"]["status"], "regressed");
}

TEST(Baseline, MoreSpreadIsAMoveNotARegression) {
  const Report out = compare_reports(probe_like(0.9, false), probe_like(0.5, false), default_tolerances());
  EXPECT_EQ(exit_code_for(out.findings, Severity::kError), 0);
  EXPECT_EQ(out.layers[0]["rho"]["status"], "moved");
}

TEST(Baseline, ToleranceParsing) {
  EXPECT_EQ(parse_tolerance("rho=0.1").second.rtol, 0.1);
  EXPECT_EQ(parse_tolerance("rho=0.1,0.02").second.atol, 0.02);
  EXPECT_THROW(parse_tolerance("rhoo=0.1"), UsageError);
  EXPECT_THROW(parse_tolerance("rho=abc"), UsageError);
  EXPECT_THROW(parse_tolerance("rho=-1"), UsageError);
}

}  // namespace
}  // namespace cnndiag
