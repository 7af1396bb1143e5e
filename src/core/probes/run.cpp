#include "cnndiag/probes/run.hpp"

#include <algorithm>
#include <cmath>

#include "cnndiag/errors.hpp"
#include "cnndiag/gradcheck.hpp"
#include "cnndiag/probes/probes.hpp"

namespace cnndiag {
namespace {

using ProbeFn = ProbeResult (*)(const Observation&);

struct ProbeEntry {
  const char* name;
  ProbeFn run;
};

// Collapse first: the verdict names the first collapsed layer, the rest explain it.
const std::vector<ProbeEntry>& registry() {
  static const std::vector<ProbeEntry> probes = {
      {"collapse", probe_collapse},       {"weight_decay", probe_weight_decay},
      {"gradient_flow", probe_gradient_flow}, {"units", probe_units},
      {"init", probe_init},               {"targets", probe_targets},
      {"loss_curve", probe_loss_curve},   {"gradcheck", probe_gradcheck},
  };
  return probes;
}

double tensor_norm(const Tensor<double>& t) {
  double s = 0;
  for (Index i = 0; i < t.size(); ++i) s += t[i] * t[i];
  return std::sqrt(s);
}

nlohmann::json number_or_null(const nlohmann::json& m, const std::string& key) {
  return m.is_object() && m.contains(key) ? m[key] : nlohmann::json();
}

// One row per layer: what the text report's table shows, and what `check` compares.
nlohmann::json layer_rows(const Observation& o, const std::map<std::string, ProbeResult>& results) {
  nlohmann::json rows = nlohmann::json::array();
  const auto measurements = [&](const char* probe) -> const nlohmann::json& {
    static const nlohmann::json empty = nlohmann::json::object();
    const auto it = results.find(probe);
    return it == results.end() ? empty : it->second.measurements;
  };
  for (std::size_t i = 0; i < o.layers.size(); ++i) {
    const LayerObservation& l = o.layers[i];
    const Layer<double>& layer = o.model->layer(i);
    nlohmann::json row = {{"name", l.name},
                          {"type", l.type},
                          {"output_shape", std::vector<Index>(l.output_shape.begin(), l.output_shape.end())}};
    const nlohmann::json& c = measurements("collapse");
    row["rho"] = c.contains(l.name) ? c[l.name]["rho"] : nlohmann::json();
    row["effective_rank"] = c.contains(l.name) ? c[l.name]["effective_rank"] : nlohmann::json();
    const nlohmann::json& u = measurements("units");
    const nlohmann::json& um = u.contains(l.name) ? u[l.name] : nlohmann::json::object();
    row["dead_fraction"] = number_or_null(um, "dead_fraction");
    row["saturated_fraction"] = number_or_null(um, "saturated_fraction");
    row["weight_norm"] = nlohmann::json();
    row["grad_norm"] = nlohmann::json();
    row["decay_dominance"] = nlohmann::json();
    for (const Param<double>& p : layer.params()) {
      if (p.name != "weight") continue;
      row["weight_norm"] = tensor_norm(p.value);
      row["grad_norm"] = tensor_norm(p.grad);
      const nlohmann::json& wd = measurements("weight_decay");
      const std::string key = param_key(l.name, p.name);
      if (wd.contains(key)) row["decay_dominance"] = number_or_null(wd[key], "dominance");
    }
    rows.push_back(row);
  }
  return rows;
}

bool selected(const ProbeOptions& options, const std::string& name) {
  return options.only.empty() ||
         std::find(options.only.begin(), options.only.end(), name) != options.only.end();
}

}  // namespace

const std::vector<std::string>& probe_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& p : registry()) n.push_back(p.name);
    return n;
  }();
  return names;
}

Report probe_report(Observation& o, const ProbeOptions& options) {
  for (const auto& name : options.only)
    if (std::find(probe_names().begin(), probe_names().end(), name) == probe_names().end())
      throw UsageError("unknown probe '" + name + "'");
  for (const auto& [key, value] : options.thresholds) {
    if (!o.config.probe.thresholds.count(key))
      throw UsageError("unknown probe threshold '" + key + "'");
    o.config.probe.thresholds[key] = value;
  }
  Report report;
  report.command = "probe";
  report.inputs.push_back(o.source.string());
  std::map<std::string, ProbeResult> results;
  nlohmann::json ran = nlohmann::json::array();
  nlohmann::json measurements = nlohmann::json::object();
  for (const auto& entry : registry()) {
    if (!selected(options, entry.name)) continue;
    ProbeResult r = entry.run(o);
    ran.push_back(entry.name);
    measurements[entry.name] = r.measurements;
    report.findings.insert(report.findings.end(), r.findings.begin(), r.findings.end());
    results.emplace(entry.name, std::move(r));
  }
  sort_findings(report.findings);
  report.layers = layer_rows(o, results);
  report.verdict = make_verdict(report.findings);
  report.extra["probes"] = ran;
  report.extra["measurements"] = measurements;
  report.extra["iteration"] = o.iteration;
  report.extra["samples"] = o.inputs.dim(0);
  report.extra["loss"] = o.loss;
  return report;
}

Report probe_series(const std::vector<std::filesystem::path>& checkpoints,
                    const ProbeOptions& options,
                    const std::function<void(std::size_t, std::size_t)>& on_checkpoint) {
  CNNDIAG_ASSERT(!checkpoints.empty(), "no checkpoints");
  nlohmann::json iterations = nlohmann::json::array(), input = nlohmann::json::array();
  std::vector<std::string> names;
  std::vector<std::vector<double>> rho;
  Observation last;
  for (std::size_t c = 0; c < checkpoints.size(); ++c) {
    if (on_checkpoint) on_checkpoint(c, checkpoints.size());
    Observation o = observe_checkpoint(checkpoints[c], options.probe_set);
    if (c == 0) {
      for (const auto& l : o.layers) names.push_back(l.name);
      rho.resize(names.size());
    } else if (o.layers.size() != names.size()) {
      throw CheckpointError(checkpoints[c].string() + ": its network differs from " +
                            checkpoints[0].string() + "'s: a series must come from one run");
    }
    iterations.push_back(o.iteration);
    input.push_back(spread(o.inputs));
    for (std::size_t i = 0; i < o.layers.size(); ++i) rho[i].push_back(spread(o.layers[i].output));
    if (c + 1 == checkpoints.size()) last = std::move(o);
  }
  Report report = probe_report(last, options);
  report.inputs.clear();
  for (const auto& p : checkpoints) report.inputs.push_back(p.string());

  const double identical = last.config.threshold("collapse_identical_rho");
  nlohmann::json layers = nlohmann::json::object(), first = nlohmann::json::object();
  nlohmann::json order = nlohmann::json::array();
  for (std::size_t i = 0; i < names.size(); ++i) {
    layers[names[i]] = rho[i];
    first[names[i]] = nlohmann::json();
    for (std::size_t c = 0; c < rho[i].size(); ++c)
      if (rho[i][c] < identical) {
        first[names[i]] = iterations[c];
        break;
      }
  }
  // Layers in the order they collapsed (ties keep network order): the onset story.
  std::vector<std::size_t> idx(names.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
    const auto& fa = first[names[a]];
    const auto& fb = first[names[b]];
    if (fa.is_null() != fb.is_null()) return fb.is_null();
    return !fa.is_null() && fa.get<std::int64_t>() < fb.get<std::int64_t>();
  });
  for (std::size_t i : idx)
    if (!first[names[i]].is_null()) order.push_back(names[i]);
  report.extra["time_map"] = {{"iterations", iterations}, {"input", input}, {"layers", layers},
                              {"layer_order", names}, {"first_collapse", first},
                              {"collapse_order", order}, {"threshold", identical}};
  return report;
}

}  // namespace cnndiag
