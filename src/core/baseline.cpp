#include "cnndiag/baseline.hpp"

#include <cmath>
#include <cstdio>
#include <set>

#include "cnndiag/errors.hpp"

namespace cnndiag {
namespace {

// +1: a rise is bad; −1: a fall is bad; 0: either way is only a move.
int bad_direction(const std::string& metric) {
  if (metric == "rho" || metric == "effective_rank") return -1;
  if (metric == "dead_fraction" || metric == "saturated_fraction" || metric == "decay_dominance" ||
      metric == "loss")
    return +1;
  return 0;
}

std::string format(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", v);
  return text;
}

std::string finding_key(const Finding& f) { return f.id + "|" + f.layer + "|" + f.tensor; }

}  // namespace

std::map<std::string, Tolerance> default_tolerances() {
  return {{"rho", {0.25, 0.01}},          {"effective_rank", {0.25, 0.5}},
          {"dead_fraction", {0.0, 0.1}},  {"saturated_fraction", {0.0, 0.1}},
          {"weight_norm", {0.5, 1e-12}},  {"grad_norm", {1.0, 1e-12}},
          {"decay_dominance", {1.0, 0.5}}, {"loss", {0.25, 1e-9}}};
}

std::pair<std::string, Tolerance> parse_tolerance(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UsageError("--tolerance: expected METRIC=RTOL or METRIC=RTOL,ATOL, got '" + text + "'");
  const std::string metric = text.substr(0, eq);
  const auto defaults = default_tolerances();
  if (!defaults.count(metric)) {
    std::string known;
    for (const auto& [k, v] : defaults) known += (known.empty() ? "" : ", ") + k;
    throw UsageError("--tolerance: unknown metric '" + metric + "' (known: " + known + ")");
  }
  Tolerance t = defaults.at(metric);
  const std::string values = text.substr(eq + 1);
  try {
    const auto comma = values.find(',');
    std::size_t used = 0;
    t.rtol = std::stod(values.substr(0, comma), &used);
    if (comma != std::string::npos) t.atol = std::stod(values.substr(comma + 1));
  } catch (const std::exception&) {
    throw UsageError("--tolerance " + metric + ": expected numbers, got '" + values + "'");
  }
  if (t.rtol < 0 || t.atol < 0)
    throw UsageError("--tolerance " + metric + ": tolerances must be >= 0, got '" + values + "'");
  return {metric, t};
}

Report compare_reports(const Report& current, const Report& baseline,
                       const std::map<std::string, Tolerance>& tolerances) {
  Report out;
  out.command = "check";
  out.inputs = {current.inputs.empty() ? "" : current.inputs.front(),
                baseline.inputs.empty() ? "" : baseline.inputs.front()};
  auto regression = [&](const std::string& layer, const std::string& message,
                        nlohmann::json evidence, const std::string& fix) {
    out.findings.push_back({"check.regression", Severity::kError, layer, "", message,
                            std::move(evidence), fix});
  };

  std::map<std::string, nlohmann::json> base_rows;
  for (const auto& row : baseline.layers) base_rows[row.value("name", "")] = row;
  std::set<std::string> seen;
  for (const auto& row : current.layers) {
    const std::string name = row.value("name", "");
    seen.insert(name);
    nlohmann::json out_row = {{"name", name}};
    const auto it = base_rows.find(name);
    if (it == base_rows.end()) {
      regression(name, "layer '" + name + "' is not in the baseline", {{"layer", name}},
                 "regenerate the baseline if the architecture changed on purpose");
      out.layers.push_back(out_row);
      continue;
    }
    const nlohmann::json& base = it->second;
    for (const auto& [metric, tol] : tolerances) {
      if (!row.contains(metric) || !base.contains(metric)) continue;
      if (!row[metric].is_number() || !base[metric].is_number()) continue;
      const double now = row[metric].get<double>(), was = base[metric].get<double>();
      const double delta = now - was;
      const bool moved = std::fabs(delta) > tol.atol + tol.rtol * std::fabs(was);
      const int bad = bad_direction(metric);
      const bool worse = moved && bad != 0 && delta * bad > 0;
      out_row[metric] = {{"now", now}, {"baseline", was}, {"delta", delta},
                         {"status", worse ? "regressed" : moved ? "moved" : "ok"}};
      if (!moved) continue;
      const std::string text = "layer '" + name + "': " + metric + " " + format(was) + " → " +
                               format(now) + " (tolerance " + format(tol.rtol) + " rel + " +
                               format(tol.atol) + " abs)";
      nlohmann::json evidence = {{"metric", metric}, {"now", now}, {"baseline", was},
                                 {"rtol", tol.rtol}, {"atol", tol.atol}};
      if (worse)
        regression(name, text, evidence, "find what changed at '" + name + "' (probe both runs)");
      else
        out.findings.push_back({"check.moved", Severity::kInfo, name, "", text, evidence, ""});
    }
    out.layers.push_back(out_row);
  }
  for (const auto& [name, row] : base_rows)
    if (!seen.count(name))
      regression(name, "layer '" + name + "' of the baseline is gone", {{"layer", name}},
                 "regenerate the baseline if the architecture changed on purpose");

  if (current.verdict.collapsed && !baseline.verdict.collapsed)
    regression(current.verdict.first_collapsed_layer,
               "the outputs collapse now (from '" + current.verdict.first_collapsed_layer +
                   "'), and did not in the baseline",
               {{"first_collapsed_layer", current.verdict.first_collapsed_layer}},
               "probe the new run: " + current.verdict.summary);
  std::set<std::string> base_errors;
  for (const Finding& f : baseline.findings)
    if (f.severity == Severity::kError) base_errors.insert(finding_key(f));
  for (const Finding& f : current.findings)
    if (f.severity == Severity::kError && !base_errors.count(finding_key(f)))
      regression(f.layer, "new error: " + f.id + (f.tensor.empty() ? "" : " on " + f.tensor) +
                              ": " + f.message,
                 {{"finding", to_json(f)}}, f.fix);

  sort_findings(out.findings);
  std::size_t regressions = 0, moves = 0;
  for (const Finding& f : out.findings) (f.severity == Severity::kError ? regressions : moves)++;
  out.verdict.collapsed = current.verdict.collapsed;
  out.verdict.first_collapsed_layer = current.verdict.first_collapsed_layer;
  for (const Finding& f : out.findings)
    if (f.severity == Severity::kError) out.verdict.causes.push_back(f.id);
  out.verdict.summary =
      regressions == 0
          ? "No regression against the baseline (" + std::to_string(moves) + " measurements moved within the rules)."
          : std::to_string(regressions) + " regression(s) against the baseline" +
                (moves ? ", " + std::to_string(moves) + " other measurement(s) moved" : "") + ".";
  return out;
}

}  // namespace cnndiag
