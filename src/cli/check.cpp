// `cnndiag check REPORT --baseline BASE`: gates a model change in CI on "no regression".
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli.hpp"
#include "cnndiag/baseline.hpp"
#include "cnndiag/errors.hpp"
#include "report_text.hpp"

namespace cnndiag::cli {
namespace {

struct CheckArgs {
  std::string report;
  std::string baseline;
  std::vector<std::string> tolerances;
  std::string format = "text";
  std::string junit;
};

Report read_report(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot read the report");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw DataError(path + ": not valid JSON (" + e.what() + ")");
  }
  return report_from_json(j, path);
}

int run_check(const CheckArgs& args, const GlobalOptions& global) {
  const Report current = read_report(args.report);
  const Report baseline = read_report(args.baseline);
  auto tolerances = default_tolerances();
  for (const auto& t : args.tolerances) {
    const auto [metric, tol] = parse_tolerance(t);
    tolerances[metric] = tol;
  }
  Report result = compare_reports(current, baseline, tolerances);
  result.inputs = {args.report, args.baseline};
  result.exit_code = exit_code_for(result.findings, Severity::kError);
  if (args.format == "json")
    std::printf("%s\n", to_json(result).dump(2).c_str());
  else
    std::fputs(render_check_text(result, use_color(global)).c_str(), stdout);
  if (!args.junit.empty()) {
    std::ofstream out(args.junit, std::ios::binary);
    out << to_junit(result);
    if (!out) throw IoError(args.junit + ": cannot write");
  }
  return result.exit_code;
}

}  // namespace

Command make_check_command(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* sub = app.add_subcommand(
      "check",
      "Compare a probe report (JSON) with a stored baseline report and fail on regressions.\n\n"
      "Per layer it compares rho, effective rank, dead and saturated fractions, weight and\n"
      "gradient norms and decay dominance: a value moved when |now - base| > atol + rtol*|base|;\n"
      "a move the bad way (less spread, more dead units, more decay) is a regression. The outputs\n"
      "collapsing, layers changing and new error findings are regressions too. Exit 1 on any.\n\n"
      "Default tolerances (rtol, atol): rho 0.25,0.01  effective_rank 0.25,0.5\n"
      "  dead_fraction 0,0.1  saturated_fraction 0,0.1  weight_norm 0.5  grad_norm 1.0\n"
      "  decay_dominance 1.0,0.5\n\n"
      "Example (CI):\n"
      "  cnndiag probe runs/x/ckpt-00000300.h5 --format json --output report.json --fail-on never\n"
      "  cnndiag check report.json --baseline ci/baseline.json --tolerance rho=0.1");
  split_help(*sub);
  sub->add_option("report", args->report, "The report to check (cnndiag probe --format json)")
      ->required();
  sub->add_option("-b,--baseline", args->baseline, "The baseline report")->required();
  sub->add_option("--tolerance", args->tolerances, "METRIC=RTOL[,ATOL], e.g. rho=0.1,0.01");
  sub->add_option("--format", args->format, "text or json")->check(CLI::IsMember({"text", "json"}));
  sub->add_option("--junit", args->junit, "Also write the result as JUnit XML here");
  add_global_options(*sub, global);
  return {sub, [args, &global] { return run_check(*args, global); }};
}

}  // namespace cnndiag::cli
