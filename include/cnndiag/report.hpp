#pragma once
/// Reports (DESIGN.md §8): what a command found, as one structure that renders to text (the CLI),
/// JSON (schema "cnndiag.report/1", field names stable) and JUnit XML, plus the verdict that joins
/// findings into a cause chain, and the exit code CI gates on.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cnndiag/probes/probe.hpp"

namespace cnndiag {

inline constexpr const char* kReportSchema = "cnndiag.report/1";

/// The findings joined into a cause chain (DESIGN.md §6 "Verdict").
struct Verdict {
  bool collapsed = false;
  std::string first_collapsed_layer;   ///< empty when not collapsed
  std::vector<std::string> causes;     ///< finding ids, strongest cause first, each once
  std::vector<std::string> fixes;      ///< concrete changes, in the order of the causes
  std::string summary;                 ///< the chain in a few sentences, for people
};

struct Report {
  std::string command;                 ///< "probe", "gradcheck", "check"
  std::vector<std::string> inputs;     ///< checkpoints, configs, weight files
  nlohmann::json layers = nlohmann::json::array();   ///< per-layer rows (see probe_report)
  std::vector<Finding> findings;       ///< sorted: errors, warnings, info
  Verdict verdict;
  nlohmann::json extra = nlohmann::json::object();   ///< "time_map", "checks", "hypotheses", …
  int exit_code = 0;
};

/// Which findings fail the run: at or above `fail_on`; nullopt ("never") fails nothing.
int exit_code_for(const std::vector<Finding>& findings, std::optional<Severity> fail_on);

/// Orders findings by severity (errors first), keeping each probe's order within a severity.
void sort_findings(std::vector<Finding>& findings);

/// Builds the verdict from the findings: the first collapsed layer, causes ranked by how
/// directly they erase differences between samples (a wrong gradient, decayed weights, dead or
/// saturated units, exploding/vanishing gradients, init scale), the targets' signal as context,
/// and the fixes those findings carry.
Verdict make_verdict(const std::vector<Finding>& findings);

nlohmann::json to_json(const Finding& finding);
Finding finding_from_json(const nlohmann::json& j);
nlohmann::json to_json(const Verdict& verdict);
/// {"schema", "tool": {name, version}, "command", "inputs", "layers", "findings", "verdict",
///  "exit_code", …extra}
nlohmann::json to_json(const Report& report);
/// Reads a report written by to_json(); throws DataError naming `source` when the schema or a
/// required field is missing or of another version.
Report report_from_json(const nlohmann::json& j, const std::string& source);

/// JUnit XML: one <testsuite> per probe, one <testcase> per finding (errors and warnings become
/// <failure>s with their severity as the type) plus a passing case per probe with no findings.
std::string to_junit(const Report& report);

}  // namespace cnndiag
