// `cnndiag probe`: diagnoses checkpoints. One checkpoint → per-layer table, findings, verdict; a
// folder (or several checkpoints) → the same on the last one plus the time × layer map of when
// each layer's outputs became identical across samples.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli.hpp"
#include "cnndiag/checkpoint.hpp"
#include "cnndiag/errors.hpp"
#include "cnndiag/import.hpp"
#include "cnndiag/probes/run.hpp"
#include "report_text.hpp"

namespace cnndiag::cli {
namespace {

struct ProbeArgs {
  std::vector<std::string> targets;
  std::string config;
  std::string weights;
  std::string probe_set;
  std::string format = "text";
  std::string output;
  std::string junit;
  std::string fail_on = "error";
  std::vector<std::string> only;
  std::vector<std::string> thresholds;
};

// "0-7,12,15" → {0,…,7,12,15}
std::vector<Index> parse_probe_set(const std::string& text) {
  std::vector<Index> ids;
  if (text.empty()) return ids;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    try {
      const auto dash = part.find('-');
      if (dash == std::string::npos) {
        ids.push_back(std::stoll(part));
      } else {
        const Index a = std::stoll(part.substr(0, dash)), b = std::stoll(part.substr(dash + 1));
        if (b < a) throw std::invalid_argument("range");
        for (Index i = a; i <= b; ++i) ids.push_back(i);
      }
    } catch (const std::exception&) {
      throw UsageError("--probe-set: expected sample indices like 0-7,12, got '" + part + "'");
    }
  }
  return ids;
}

std::map<std::string, double> parse_thresholds(const std::vector<std::string>& items) {
  std::map<std::string, double> out;
  for (const auto& item : items) {
    const auto eq = item.find('=');
    try {
      if (eq == std::string::npos) throw std::invalid_argument("no =");
      out[item.substr(0, eq)] = std::stod(item.substr(eq + 1));
    } catch (const std::exception&) {
      throw UsageError("--threshold: expected KEY=NUMBER (a [probe] key), got '" + item + "'");
    }
  }
  return out;
}

std::vector<std::filesystem::path> expand_targets(const std::vector<std::string>& targets) {
  std::vector<std::filesystem::path> paths;
  for (const auto& t : targets) {
    const std::filesystem::path p(t);
    if (std::filesystem::is_directory(p)) {
      auto found = list_checkpoints(p);
      if (found.empty())
        throw IoError(t + ": no checkpoints (ckpt-<iteration>.h5) in this folder");
      paths.insert(paths.end(), found.begin(), found.end());
    } else if (std::filesystem::exists(p)) {
      paths.push_back(p);
    } else {
      throw IoError(t + ": no such checkpoint file or folder");
    }
  }
  return paths;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw IoError(path + ": cannot write the report");
}

int run_probe(const ProbeArgs& args, const GlobalOptions& global) {
  ProbeOptions options;
  options.only = args.only;
  options.thresholds = parse_thresholds(args.thresholds);
  options.probe_set = parse_probe_set(args.probe_set);
  Report report;
  if (!args.weights.empty() || !args.config.empty()) {
    // Weights trained elsewhere, mapped through the config's [import.params], probed on the
    // config's own data.
    if (args.weights.empty() || args.config.empty())
      throw UsageError("--config and --weights go together: the config says what the network is "
                       "and how the file's variables map onto it ([import.params])");
    if (!args.targets.empty())
      throw UsageError("give either checkpoints or --config with --weights, not both");
    const Config config = load_config(args.config);
    Observation o = observe_params(config, load_imported_params(config, args.weights),
                                   args.weights, options.probe_set);
    report = probe_report(o, options);
    report.inputs = {args.config, args.weights};
    report.extra["iteration"] = nullptr;  // weights from elsewhere: no training history here
  } else if (args.targets.empty()) {
    throw UsageError("nothing to probe: give a checkpoint, a folder of checkpoints, or --config "
                     "with --weights");
  }
  const auto paths = report.inputs.empty() ? expand_targets(args.targets)
                                           : std::vector<std::filesystem::path>{};
  if (paths.size() == 1) {
    Observation o = observe_checkpoint(paths.front(), options.probe_set);
    report = probe_report(o, options);
  } else if (paths.size() > 1) {
    const bool tty = stderr_is_tty() && !global.quiet;
    report = probe_series(paths, options, [&](std::size_t i, std::size_t n) {
      if (tty) std::fprintf(stderr, "\rprobing checkpoint %zu/%zu", i + 1, n);
    });
    if (tty) std::fprintf(stderr, "\r\033[K");
  }
  const std::optional<Severity> fail_on =
      args.fail_on == "never" ? std::nullopt : std::optional(parse_severity(args.fail_on));
  report.exit_code = exit_code_for(report.findings, fail_on);

  const std::string rendered = args.format == "json"
                                   ? to_json(report).dump(2) + "\n"
                                   : render_probe_text(report, args.output.empty() && use_color(global), global.verbose > 0);
  if (args.output.empty()) {
    std::fputs(rendered.c_str(), stdout);
  } else {
    write_file(args.output, rendered);
    spdlog::info("report written to {}", args.output);
  }
  if (!args.junit.empty()) write_file(args.junit, to_junit(report));
  return report.exit_code;
}

}  // namespace

Command make_probe_command(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<ProbeArgs>();
  CLI::App* sub = app.add_subcommand(
      "probe",
      "Diagnose checkpoints: why do the outputs not depend on the input?\n\n"
      "For each layer it measures the spread rho of the outputs across samples (0 = identical),\n"
      "names the first layer where they become identical, and looks for the causes: weight decay\n"
      "that drives weights to zero, dead or saturated units, vanishing or exploding gradients, a\n"
      "poor init, targets that carry no signal, a loss curve that stalls or diverges. It ends in\n"
      "a verdict with evidence and a fix.\n\n"
      "TARGET is a checkpoint, several checkpoints, or a folder of them: with more than one it\n"
      "also prints the time x layer map of rho and when each layer first collapsed. Weights\n"
      "trained elsewhere (MATLAB, PyTorch via h5py): --config net.toml --weights w.mat, with\n"
      "the variables mapped in the config's [import.params].\n\n"
      "Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 bad input.\n\n"
      "Examples:\n"
      "  cnndiag probe data/examples/seed/runs/net/ckpt-00010000.h5\n"
      "  cnndiag probe data/examples/seed/runs/net --format json --output report.json\n"
      "  cnndiag probe runs/x/ckpt-00000300.h5 --fail-on error --junit probe.xml   # in CI");
  split_help(*sub);
  sub->add_option("target", args->targets, "Checkpoint(s) or a folder of checkpoints");
  sub->add_option("--config", args->config,
                  "With --weights: the network, its data and the [import] mapping");
  sub->add_option("--weights", args->weights,
                  "Weights trained elsewhere (MATLAB .mat or HDF5), mapped by [import.params]");
  sub->add_option("--probe-set", args->probe_set, "Only these samples of the probe batch, e.g. 0-7,12");
  sub->add_option("--format", args->format, "text or json")->check(CLI::IsMember({"text", "json"}));
  sub->add_option("-o,--output", args->output, "Write the report here instead of stdout");
  sub->add_option("--junit", args->junit, "Also write the findings as JUnit XML here");
  sub->add_option("--fail-on", args->fail_on,
                  "Exit 1 when a finding is at or above: error (default), warning, info, never")
      ->check(CLI::IsMember({"error", "warning", "info", "never"}));
  sub->add_option("--only", args->only,
                  "Run only these probes (collapse, weight_decay, gradient_flow, units, init, "
                  "targets, loss_curve, gradcheck)");
  sub->add_option("--threshold", args->thresholds,
                  "Override a [probe] threshold, e.g. --threshold collapse_identical_rho=1e-6");
  add_global_options(*sub, global);
  return {sub, [args, &global] { return run_probe(*args, global); }};
}

}  // namespace cnndiag::cli
