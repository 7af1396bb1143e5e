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

// ---------------------------------------------------------------------------------------------
// The documented schema (README "Reports"), checked on a real report: train the seed a little,
// probe a checkpoint and a folder, and check every documented field and its JSON type.
// ---------------------------------------------------------------------------------------------
}  // namespace
}  // namespace cnndiag

#include "cnndiag/config.hpp"
#include "cnndiag/probes/run.hpp"
#include "cnndiag/trainer.hpp"
#include "support/test_util.hpp"

namespace cnndiag {
namespace {

void expect_type(const nlohmann::json& j, const char* key, bool (nlohmann::json::*is)() const,
                 bool nullable = false) {
  ASSERT_TRUE(j.contains(key)) << "missing field " << key << " in " << j.dump().substr(0, 200);
  EXPECT_TRUE((j[key].*is)() || (nullable && j[key].is_null())) << key << " = " << j[key].dump();
}

void validate_report(const nlohmann::json& j) {
  expect_type(j, "schema", &nlohmann::json::is_string);
  EXPECT_EQ(j["schema"], "cnndiag.report/1");
  expect_type(j, "tool", &nlohmann::json::is_object);
  expect_type(j["tool"], "name", &nlohmann::json::is_string);
  expect_type(j["tool"], "version", &nlohmann::json::is_string);
  expect_type(j, "command", &nlohmann::json::is_string);
  expect_type(j, "inputs", &nlohmann::json::is_array);
  expect_type(j, "layers", &nlohmann::json::is_array);
  for (const auto& row : j["layers"]) {
    expect_type(row, "name", &nlohmann::json::is_string);
    expect_type(row, "type", &nlohmann::json::is_string);
    expect_type(row, "output_shape", &nlohmann::json::is_array);
    for (const char* key : {"rho", "effective_rank", "dead_fraction", "saturated_fraction",
                            "weight_norm", "grad_norm", "decay_dominance"})
      expect_type(row, key, &nlohmann::json::is_number, true);
  }
  expect_type(j, "findings", &nlohmann::json::is_array);
  for (const auto& f : j["findings"]) {
    expect_type(f, "id", &nlohmann::json::is_string);
    expect_type(f, "severity", &nlohmann::json::is_string);
    EXPECT_TRUE(f["severity"] == "error" || f["severity"] == "warning" || f["severity"] == "info");
    expect_type(f, "layer", &nlohmann::json::is_string, true);
    expect_type(f, "tensor", &nlohmann::json::is_string, true);
    expect_type(f, "message", &nlohmann::json::is_string);
    expect_type(f, "evidence", &nlohmann::json::is_object);
    expect_type(f, "fix", &nlohmann::json::is_string);
  }
  expect_type(j, "verdict", &nlohmann::json::is_object);
  expect_type(j["verdict"], "collapsed", &nlohmann::json::is_boolean);
  expect_type(j["verdict"], "first_collapsed_layer", &nlohmann::json::is_string, true);
  expect_type(j["verdict"], "causes", &nlohmann::json::is_array);
  expect_type(j["verdict"], "fixes", &nlohmann::json::is_array);
  expect_type(j["verdict"], "summary", &nlohmann::json::is_string);
  expect_type(j, "exit_code", &nlohmann::json::is_number_integer);
}

TEST(ReportSchema, RealProbeReportsHaveEveryDocumentedField) {
  Config config = load_config(test::source_dir() / "data/examples/seed/net.toml");
  TrainOptions options;
  options.iterations = 60;
  options.out_dir = test::scratch_dir("report_schema");
  const TrainResult run = train(config, options);
  Observation o = observe_checkpoint(run.checkpoints.back());
  const nlohmann::json single = to_json(probe_report(o, {}));
  validate_report(single);
  EXPECT_TRUE(single["verdict"]["collapsed"].get<bool>());  // by iteration 60 it has collapsed

  const nlohmann::json series = to_json(probe_series(run.checkpoints, {}));
  validate_report(series);
  ASSERT_TRUE(series.contains("time_map"));
  const auto& tm = series["time_map"];
  EXPECT_EQ(tm["iterations"].size(), run.checkpoints.size());
  for (const char* key : {"iterations", "input", "layer_order", "collapse_order"})
    EXPECT_TRUE(tm[key].is_array()) << key;
  EXPECT_TRUE(tm["layers"].is_object());
  EXPECT_TRUE(tm["first_collapse"].is_object());
  // The sigmoid's output is constant before the conv's (the tiny init, then the decay).
  EXPECT_LT(tm["first_collapse"]["sig1"].get<int>(), tm["first_collapse"]["conv1"].get<int>());
}

}  // namespace
}  // namespace cnndiag
