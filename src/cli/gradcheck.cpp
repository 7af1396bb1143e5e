// `cnndiag gradcheck`: finite-difference vs analytic gradients, per tensor, with the first wrong
// gradient localised and the catalogued bug that explains it (DESIGN.md §7). Thin: parse, call
// the library (gradcheck.hpp), format text or JSON, exit 0/1/2.
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli.hpp"
#include "cnndiag/config.hpp"
#include "cnndiag/errors.hpp"
#include "cnndiag/gradcheck.hpp"
#include "cnndiag/report.hpp"
#include "table.hpp"

namespace cnndiag::cli {
namespace {

using nlohmann::json;

struct GradcheckArgs {
  std::string checkpoint;
  std::string config;
  std::string against;
  std::string mode = "auto";
  std::string format = "text";
  std::string output;
  std::string fail_on = "error";
  std::string layer;
  bool isolated = false;
  std::int64_t seed = 1;
};

std::string scope_label(const std::string& scope) {
  return scope == "end_to_end" ? "e2e" : scope;
}

std::string title(const Hypothesis& h) {
  if (h.fault == "scale")
    return h.scale_name.rfind("gradient scaled", 0) == 0
               ? h.scale_name
               : h.scale_name + " (gradients ×" + format_number(h.scale) + ")";
  if (h.fault == "unexplained") return "unexplained";
  std::string t = h.fault + (h.layer.empty() ? "" : " at " + h.layer);
  if (h.scale != 1.0) t += ", with " + h.scale_name + " (gradients ×" + format_number(h.scale) + ")";
  return t;
}

std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ", ") + i;
  return s;
}

/// The one-line verdict and its JSON form.
struct Verdict {
  bool passed = true;
  std::string line;
  json data;
};

Verdict make_verdict(const GradcheckResult& r) {
  Verdict v;
  const Index bad = r.mismatching();
  const Index loose = r.tolerance_only();
  const Index open = r.unresolved();
  v.passed = bad == 0;
  const Hypothesis* top = !r.hypotheses.empty() && r.hypotheses.front().fault != "unexplained"
                              ? &r.hypotheses.front()
                              : nullptr;
  if (bad == 0) {
    v.line = open ? "PASS: " + std::to_string(r.checks.size() - static_cast<std::size_t>(open)) +
                        " of " + std::to_string(r.checks.size()) + " gradients match, " +
                        std::to_string(open) + " unresolved"
                  : "PASS: all " + std::to_string(r.checks.size()) + " gradients match";
    if (loose)
      v.line += " (" + std::to_string(loose) + " only within the finite-difference error budget)";
  } else {
    v.line = "FAIL: " + std::to_string(bad) + " of " + std::to_string(r.checks.size()) +
             " gradients are wrong";
    if (r.localisation.found)
      v.line += "; first wrong walking back from the loss: " + r.localisation.tensor +
                " (computed by " + r.localisation.layer + ")";
    if (top) v.line += "; most likely " + title(*top);
  }
  v.data = {{"passed", v.passed},
            {"checked_tensors", r.checks.size()},
            {"mismatching", bad},
            {"tolerance_only", loose},
            {"unresolved", open},
            {"first_wrong", r.localisation.found
                                ? json{{"tensor", r.localisation.tensor},
                                       {"computed_by", r.localisation.layer}}
                                : json()},
            {"top_hypothesis", top ? to_json(*top) : json()},
            {"summary", v.line}};
  return v;
}

std::string render_text(const GradcheckResult& r, const std::vector<Finding>& findings,
                        const Verdict& verdict, bool color) {
  std::string out;
  char head[512];
  std::snprintf(head, sizeof head, "Gradient check of %s\n  parameters: %s; %lld samples; E = %.6g; %.3f s\n\n",
                r.source.c_str(), r.params_from.c_str(), static_cast<long long>(r.samples), r.loss,
                r.seconds);
  out += paint("Gradient check", "bold", color) + std::string(head).substr(14);
  const bool against = !r.checks.empty() && r.checks.front().scope == "against";
  Table table(against ? std::vector<std::string>{"tensor", "computed by", "max abs err", "rel err",
                                                 "cosine", "scale", "status"}
                      : std::vector<std::string>{"tensor", "scope", "ref", "mode", "checked", "kinks",
                                                 "max abs err", "max rel err", "budget", "status"});
  for (const TensorCheck& c : r.checks) {
    const std::string status = std::string(to_string(c.status));
    const std::string shown =
        c.status == CheckStatus::kMismatch ? paint("MISMATCH", "red", color)
        : c.status == CheckStatus::kTolerance ? paint("tolerance", "yellow", color)
        : c.status == CheckStatus::kUnresolved ? paint("unresolved", "yellow", color)
                                              : paint("pass", "green", color);
    if (against)
      table.add({c.tensor, c.computed_by, format_number(c.max_abs_error),
                 format_number(c.max_rel_error), format_number(c.cosine), format_number(c.scale),
                 shown});
    else
      table.add({c.tensor, scope_label(c.scope), c.reference, std::string(to_string(c.mode)),
                 std::to_string(c.checked) + "/" + std::to_string(c.size),
                 std::to_string(c.skipped_kinks), format_number(c.max_abs_error),
                 format_number(c.max_rel_error), format_number(c.budget()), shown});
  }
  out += table.render(2);
  out += "\n" + paint("Localisation", "bold", color) + ": " +
         (r.localisation.found ? r.localisation.message
                               : std::string("none — every checked gradient matches")) +
         "\n";
  if (!r.hypotheses.empty()) {
    out += "\n" + paint("Hypotheses", "bold", color) + " (best first)\n";
    int k = 1;
    for (const Hypothesis& h : r.hypotheses) {
      char line[160];
      std::snprintf(line, sizeof line, "  %d. %s", k++, title(h).c_str());
      out += line;
      if (h.fault != "unexplained")
        out += std::string(h.complete ? " — explains every wrong gradient" : " — explains some") +
               " (max rel error " + format_number(h.max_rel_error) + ")";
      out += "\n     " + h.description + "\n";
      if (!h.explains.empty()) out += "     explains: " + join(h.explains) + "\n";
      if (!h.unexplained.empty()) out += "     not explained: " + join(h.unexplained) + "\n";
    }
  }
  if (!findings.empty()) {
    out += "\n" + paint("Findings", "bold", color) + "\n";
    for (const Finding& f : findings) {
      const bool error = f.severity == Severity::kError;
      out += "  " + paint(std::string(to_string(f.severity)), error ? "red" : "yellow", color) +
             " " + f.id + ": " + f.message + "\n";
      if (!f.fix.empty()) out += "    fix: " + f.fix + "\n";
    }
  }
  out += "\n" + paint(verdict.line, verdict.passed ? "green" : "red", color) + "\n";
  return out;
}

int run_gradcheck(const GradcheckArgs& args, const GlobalOptions& global) {
  if (args.checkpoint.empty() == args.config.empty())
    throw UsageError(args.checkpoint.empty()
                         ? "gradcheck: give a checkpoint (cnndiag gradcheck CKPT) or a config "
                           "(cnndiag gradcheck --config F)"
                         : "gradcheck: give either a checkpoint or --config, not both");
  if (!args.against.empty() && args.config.empty())
    throw UsageError("gradcheck: --against FILE needs --config F (its [import] table maps the "
                     "file's variables onto the model)");
  const Severity fail_on_severity =
      args.fail_on == "never" ? Severity::kInfo : parse_severity(args.fail_on);
  GradcheckSettings settings;
  settings.mode = parse_gradcheck_mode(args.mode);
  settings.layer = args.layer;
  settings.isolated = args.isolated;
  settings.seed = static_cast<std::uint64_t>(args.seed);

  GradcheckResult result;
  json inputs = json::array();
  if (!args.checkpoint.empty()) {
    result = gradcheck_checkpoint(args.checkpoint, settings);
    inputs.push_back({{"kind", "checkpoint"}, {"path", args.checkpoint}});
  } else {
    const Config config = load_config(args.config);
    inputs.push_back({{"kind", "config"}, {"path", config.path.string()}});
    if (!args.against.empty()) {
      result = gradcheck_against(config, args.against, settings);
      inputs.push_back({{"kind", "against"}, {"path", args.against}});
    } else {
      result = gradcheck_config(config, settings);
    }
  }
  const std::vector<Finding> findings = gradcheck_findings(result);
  const Verdict verdict = make_verdict(result);
  int exit_code = 0;
  if (args.fail_on != "never")
    for (const Finding& f : findings)
      if (f.severity >= fail_on_severity) exit_code = 1;

  std::string text;
  if (args.format == "json") {
    json checks = json::array(), hypotheses = json::array(), found = json::array();
    for (const TensorCheck& c : result.checks) checks.push_back(to_json(c));
    for (const Hypothesis& h : result.hypotheses) hypotheses.push_back(to_json(h));
    for (const Finding& f : findings) found.push_back(to_json(f));
    // Keys in the documented order (schema first), not nlohmann's default alphabetical one.
    const nlohmann::ordered_json report = {
        {"schema", "cnndiag.report/1"},
        {"tool", {{"name", "cnndiag"}, {"version", CNNDIAG_VERSION}}},
        {"command", "gradcheck"},
        {"inputs", inputs},
        {"settings",
         {{"mode", args.mode}, {"seed", args.seed}, {"layer", args.layer.empty() ? json() : json(args.layer)},
          {"isolated", args.isolated}}},
        {"samples", result.samples},
        {"loss", result.loss},
        {"seconds", result.seconds},
        {"checks", checks},
        {"localisation",
         result.localisation.found
             ? json{{"tensor", result.localisation.tensor},
                    {"computed_by", result.localisation.layer},
                    {"message", result.localisation.message}}
             : json()},
        {"hypotheses", hypotheses},
        {"findings", found},
        {"verdict", verdict.data},
        {"exit_code", exit_code}};
    text = report.dump(2) + "\n";
  } else {
    text = render_text(result, findings, verdict, args.output.empty() && use_color(global));
  }
  if (args.output.empty()) {
    if (!global.quiet || args.format == "json") std::fputs(text.c_str(), stdout);
  } else {
    std::ofstream out(args.output, std::ios::binary);
    out << text;
    if (!out) throw IoError("cannot write the report to '" + args.output + "'");
  }
  return exit_code;
}

}  // namespace

Command make_gradcheck_command(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<GradcheckArgs>();
  CLI::App* sub = app.add_subcommand(
      "gradcheck",
      "Check a network's backward pass against finite differences of its forward, name the\n"
      "first wrong gradient and the bug that explains it.\n\n"
      "Every parameter gradient and every layer-output gradient (conv1:output = dE/d output of\n"
      "conv1) is compared, in float64, with central differences of the loss (step\n"
      "h = eps^(1/3)*max(|x|,1)); a coordinate passes when |a-n| <= atol + rtol*|n| ([probe]\n"
      "gradcheck_atol 1e-8, gradcheck_rtol 1e-5). Beside each error the finite-difference error\n"
      "budget (truncation + rounding) is printed: a miss within the budget is a tolerance\n"
      "problem (warning), not a bug (error). Coordinates whose step crosses a ReLU or max-pool\n"
      "kink are skipped and counted. Walking back from the loss, the first wrong gradient is\n"
      "localised; then every catalogued fault (DESIGN.md 7.2) is injected at every layer it fits,\n"
      "and those that reproduce the wrong gradients are listed, best first.\n\n"
      "Modes: exhaustive (every coordinate), sampled ([probe] gradcheck_samples per tensor),\n"
      "directional (random +-1 projections v'g, several so sparse errors are not hidden), auto\n"
      "(exhaustive up to [probe] gradcheck_exhaustive_max elements, else sampled).\n\n"
      "Inputs: a checkpoint (its params and probe batch); --config F (the config's initial\n"
      "params on its data); --config F --against FILE (parameters and gradients computed\n"
      "elsewhere, e.g. in MATLAB, mapped through the config's [import] table).\n\n"
      "Exit codes: 0 all gradients match, 1 findings at or above --fail-on, 2 bad input.\n\n"
      "Examples:\n"
      "  cnndiag gradcheck --config data/examples/seed/buggy-backward.toml\n"
      "  cnndiag gradcheck runs/net/ckpt-00001000.h5 --mode directional --format json\n"
      "  cnndiag gradcheck --config data/examples/seed/against.toml \\\n"
      "                    --against data/examples/seed/seed-grads.mat");
  split_help(*sub);
  sub->add_option("checkpoint", args->checkpoint, "A checkpoint (.h5) to check")
      ->check(CLI::ExistingFile);
  sub->add_option("-c,--config", args->config, "Check this config's network at its initial params")
      ->check(CLI::ExistingFile);
  sub->add_option("--against", args->against,
                  "Compare with gradients computed elsewhere (.mat v4/v5/v7.3 or .h5), mapped "
                  "through [import]")
      ->check(CLI::ExistingFile);
  sub->add_option("--mode", args->mode, "exhaustive | sampled | directional | auto")
      ->check(CLI::IsMember({"auto", "exhaustive", "sampled", "directional"}))
      ->default_str("auto");
  sub->add_option("--format", args->format, "text | json")
      ->check(CLI::IsMember({"text", "json"}))
      ->default_str("text");
  sub->add_option("-o,--output", args->output, "Write the report to this file instead of stdout");
  sub->add_option("--fail-on", args->fail_on, "error | warning | never: what makes the exit code 1")
      ->check(CLI::IsMember({"error", "warning", "never"}))
      ->default_str("error");
  sub->add_option("--layer", args->layer, "Check only this layer's tensors");
  sub->add_flag("--isolated", args->isolated,
                "Also check each layer alone on a random input and upstream gradient (dx and "
                "every parameter gradient, like MATLAB's checkLayer)");
  sub->add_option("--seed", args->seed, "Seed for sampled coordinates, directions and random inputs")
      ->check(CLI::NonNegativeNumber)
      ->default_str("1");
  add_global_options(*sub, global);
  return {sub, [args, &global] { return run_gradcheck(*args, global); }};
}

}  // namespace cnndiag::cli
