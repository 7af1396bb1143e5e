// Entry points on a checkpoint or a config, findings with fixes, JSON, and the probe.
#include <algorithm>
#include <cstdio>

#include "cnndiag/checkpoint.hpp"
#include "cnndiag/errors.hpp"
#include "cnndiag/trainer.hpp"
#include "gradcheck/internal.hpp"

namespace cnndiag {

using namespace gradcheck_detail;
using nlohmann::json;

GradcheckResult gradcheck_checkpoint(const std::filesystem::path& checkpoint,
                                     const GradcheckSettings& base) {
  const CheckpointData d = read_checkpoint(checkpoint);
  Config config;
  try {
    config = parse_config(d.config_text, checkpoint.parent_path() / "checkpoint-config.toml");
  } catch (const ConfigError& e) {
    throw CheckpointError(checkpoint.string() + ": /config: the stored config does not parse: " +
                          e.what());
  }
  Model<double> model(config.layers, d.probe_inputs.shape().drop_first());
  for (auto& [key, param] : model.named_params()) {
    const NamedTensor* t = d.find_param(key);
    if (!t) throw CheckpointError(checkpoint.string() + ": /params: no values for " + key);
    if (!(t->value.shape() == param->value.shape()))
      throw CheckpointError(checkpoint.string() + ": /params/" + key + ": shape " +
                            t->value.shape().str() + ", the model expects " +
                            param->value.shape().str());
    param->value = t->value;
  }
  for (auto& [key, buffer] : model.named_buffers())
    for (const auto& b : d.buffers)
      if (b.key == key) buffer->value = b.value;
  Targets<double> targets{d.probe_targets, d.probe_labels};
  GradcheckResult result =
      gradcheck_model(config.layers, config.loss, model, d.probe_inputs, targets,
                      GradcheckSettings::from_config(config, base));
  result.source = checkpoint.string();
  result.params_from = "checkpoint at iteration " + std::to_string(d.iteration);
  return result;
}

GradcheckResult gradcheck_config(const Config& config, const GradcheckSettings& base) {
  Workbench<double> wb = open_workbench<double>(config);
  if (config.train.dtype == "float32") {
    // The params a float32 run starts from: drawn, then rounded to float.
    Model<float> f(config.layers, wb.model->input_shape());
    f.init(config.layers, config.train.seed);
    wb.model->copy_params_from(f);
  } else {
    wb.model->init(config.layers, config.train.seed);
  }
  GradcheckResult result =
      gradcheck_model(config.layers, config.loss, *wb.model, wb.batch.inputs, wb.batch.targets,
                      GradcheckSettings::from_config(config, base));
  result.source = config.path.string();
  result.params_from = "the config's initial parameters (seed " +
                       std::to_string(config.train.seed) + ")";
  return result;
}

namespace {

std::string num(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", v);
  return text;
}

/// What to change for a hypothesis, in the words of its fault.
std::string fix_for(const Hypothesis& h, Index n) {
  std::string fix;
  const std::string at = h.layer.empty() ? "" : " of " + h.layer;
  if (h.fault == "sigmoid_derivative_on_wrong_tensor")
    fix = "in the backward" + at + ", multiply the incoming gradient by y⊙(1−y) of the sigmoid's "
          "own output y (dz = dy⊙y⊙(1−y)) and let the linear layer before it use dz for dW, db "
          "and dx — not x⊙(1−x) of that linear layer's input";
  else if (h.fault == "derivative_omitted")
    fix = "multiply dy by the activation's derivative in the backward" + at;
  else if (h.fault == "derivative_on_input")
    fix = "evaluate the output-form derivative on the layer's output y (sigmoid: y(1−y), tanh: "
          "1−y²), not on its input, in the backward" + at;
  else if (h.fault == "derivative_reapplied")
    fix = "use y(1−y) (tanh: 1−y²) of the output y directly in the backward" + at +
          "; do not apply the activation to y again";
  else if (h.fault == "relu_mask_from_grad")
    fix = "mask dy with x > 0 (the forward input), not with dy > 0, in the backward" + at;
  else if (h.fault == "missing_batch_mean")
    fix = "divide the loss gradient by the batch size N = " + std::to_string(n) +
          " (the loss is a mean over samples)";
  else if (h.fault == "kernel_not_flipped")
    fix = "backward-data" + at + " must correlate dy with the 180°-rotated kernel (a full "
          "convolution)";
  else if (h.fault == "bias_grad_first_sample")
    fix = "sum the bias gradient" + at + " over every sample of the batch";
  else if (h.fault == "maxpool_route_first")
    fix = "route each window's gradient" + at + " to its argmax (cache the argmax in forward)";
  else if (h.fault == "scale")
    fix = h.scale_name == "missing batch mean"
              ? "divide the gradients by N = " + std::to_string(n) +
                    " (they are sums over the batch, the loss is a mean) — or, if they are meant "
                    "as sums, say so: [import] grad_reduction = \"sum\""
              : "multiply the gradients by " + num(1.0 / h.scale);
  if (h.scale != 1.0 && h.fault != "scale")
    fix += "; and the gradients are " + num(h.scale) + "× too large (" + h.scale_name +
           "): divide them by " + num(h.scale);
  return fix;
}

std::string hypothesis_title(const Hypothesis& h) {
  if (h.fault == "scale") return h.scale_name;
  std::string t = h.fault + (h.layer.empty() ? "" : " at " + h.layer);
  if (h.scale != 1.0) t += " with " + h.scale_name + " (×" + num(h.scale) + ")";
  return t;
}

}  // namespace

std::vector<Finding> gradcheck_findings(const GradcheckResult& result) {
  std::vector<Finding> findings;
  const Hypothesis* top =
      !result.hypotheses.empty() && result.hypotheses.front().fault != "unexplained"
          ? &result.hypotheses.front()
          : nullptr;
  for (const TensorCheck& c : result.checks) {
    if (c.status == CheckStatus::kPass) continue;
    Finding f;
    f.layer = c.layer;
    f.tensor = c.tensor;
    f.evidence = {{"scope", c.scope},
                  {"mode", to_string(c.mode)},
                  {"checked", c.checked},
                  {"mismatches", c.mismatches},
                  {"max_abs_error", c.max_abs_error},
                  {"max_rel_error", c.max_rel_error},
                  {"budget", c.budget()},
                  {"cosine", c.cosine},
                  {"scale", c.scale},
                  {"computed_by", c.computed_by}};
    if (c.status == CheckStatus::kUnresolved) {
      f.id = "gradcheck.unresolved";
      f.severity = Severity::kWarning;
      f.message = c.tensor + ": neither finite differences of the loss nor the chain-rule " +
                  "reference resolve this gradient (reference max " + num(c.reference_max) +
                  ", analytic max " + num(c.analytic_max) + ", error budget " + num(c.budget()) +
                  "): the check cannot tell a right gradient from a wrong one here";
      f.fix = "check at parameters where this gradient is larger (an earlier checkpoint, or the "
              "config's init), or with --isolated for the layer alone";
      findings.push_back(std::move(f));
      continue;
    }
    if (c.status == CheckStatus::kTolerance) {
      f.id = "gradcheck.tolerance";
      f.severity = Severity::kWarning;
      f.message = c.tensor + " misses the tolerance (max abs error " + num(c.max_abs_error) +
                  "), but within " + num(kBudgetFactor) + "× the finite-difference error budget (" +
                  num(c.budget()) + "): a tolerance problem, not a wrong gradient";
      f.fix = "raise [probe] gradcheck_atol/gradcheck_rtol for this network, or check at "
              "parameters of a larger scale";
      findings.push_back(std::move(f));
      continue;
    }
    f.id = "gradcheck.mismatch";
    f.severity = Severity::kError;
    const std::string against = c.scope == "against"    ? "cnndiag's reference gradient"
                               : c.reference == "chain" ? "the chain-rule reference"
                                                        : "finite differences";
    f.message = c.tensor + ": the gradient (computed by " +
                (c.computed_by == "loss" ? std::string("the loss") : c.computed_by) +
                ") differs from " + against + ": " +
                (c.scope == "against" ? "relative error " + num(c.max_rel_error)
                                      : "max rel error " + num(c.max_rel_error) + ", " +
                                            std::to_string(c.mismatches) + "/" +
                                            std::to_string(c.checked) + " coordinates off") +
                ", cosine " + num(c.cosine) +
                (c.scope == "against" ? std::string()
                                      : ", error " + num(c.max_abs_error) + " vs budget " +
                                            num(c.budget()));
    const Hypothesis* h = nullptr;
    for (const Hypothesis& cand : result.hypotheses)
      if (std::find(cand.explains.begin(), cand.explains.end(), c.tensor) != cand.explains.end()) {
        h = &cand;
        break;
      }
    if (top && h == top) {
      f.evidence["hypothesis"] = to_json(*h);
      f.message += "; explained by " + hypothesis_title(*h);
      f.fix = fix_for(*h, result.samples);
    } else if (h) {
      f.evidence["hypothesis"] = to_json(*h);
      f.message += "; consistent with " + hypothesis_title(*h);
      f.fix = fix_for(*h, result.samples);
    } else {
      f.fix = "no catalogued bug explains it: compare the backward of " +
              (c.computed_by == "loss" ? std::string("the loss") : c.computed_by) +
              " with its forward by hand, starting at " + c.tensor;
    }
    findings.push_back(std::move(f));
  }
  return findings;
}

json to_json(const TensorCheck& c) {
  return {{"tensor", c.tensor},
          {"layer", c.layer},
          {"computed_by", c.computed_by},
          {"scope", c.scope},
          {"reference", c.reference},
          {"mode", to_string(c.mode)},
          {"size", c.size},
          {"checked", c.checked},
          {"skipped_kinks", c.skipped_kinks},
          {"mismatches", c.mismatches},
          {"max_abs_error", c.max_abs_error},
          {"max_rel_error", c.max_rel_error},
          {"budget", {{"truncation", c.truncation}, {"rounding", c.rounding}, {"total", c.budget()}}},
          {"worst", {{"index", c.worst}, {"analytic", c.analytic_at_worst}, {"reference", c.numeric_at_worst}}},
          {"cosine", c.cosine},
          {"scale", c.scale},
          {"analytic_norm", c.analytic_norm},
          {"reference_norm", c.reference_norm},
          {"analytic_max", c.analytic_max},
          {"reference_max", c.reference_max},
          {"status", to_string(c.status)}};
}

json to_json(const Hypothesis& h) {
  return {{"fault", h.fault},
          {"layer", h.layer.empty() ? json() : json(h.layer)},
          {"description", h.description},
          {"explains", h.explains},
          {"unexplained", h.unexplained},
          {"max_rel_error", h.max_rel_error},
          {"scale", h.scale},
          {"scale_name", h.scale_name.empty() ? json() : json(h.scale_name)},
          {"complete", h.complete}};
}

ProbeResult probe_gradcheck(const Observation& o) {
  GradcheckSettings base;
  base.mode = GradcheckMode::kSampled;
  const GradcheckSettings settings = GradcheckSettings::from_config(o.config, base);
  Model<double> model(o.config.layers, o.model->input_shape());
  copy_values(*o.model, model);
  const GradcheckResult r =
      gradcheck_model(o.config.layers, o.config.loss, model, o.inputs, o.targets, settings);
  ProbeResult out;
  out.probe = "gradcheck";
  for (const TensorCheck& c : r.checks) out.measurements[c.tensor] = to_json(c);
  if (r.localisation.found)
    out.measurements["localisation"] = {{"tensor", r.localisation.tensor},
                                        {"layer", r.localisation.layer}};
  out.findings = gradcheck_findings(r);
  return out;
}

}  // namespace cnndiag
