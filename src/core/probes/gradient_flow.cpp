// The gradient-flow probe: do gradients reach every layer at a useful size, and do the steps the
// optimizer takes move the weights by a sensible fraction?
//
// Per tensor: ‖g‖ and mean|g| of the data gradient on the probe batch, and the update ratio
// ‖Δw‖/‖w‖ where Δw is the step the run's optimizer takes next from this checkpoint (probe_util's
// next_step: sgd with its velocity, Adam with its m, v and t, decay included). lr‖g‖/‖w‖ would
// mislead under Adam, whose step is about lr per coordinate whatever ‖g‖ is.
// Per layer (all its tensors together): ‖g_layer‖ and mean|g|; the first/last ratio
// ‖g_first‖/‖g_last‖ compares the first and last layers that have parameters (AUTOTRAINER).
//
// Gating (PROBES.md, AUTOTRAINER): small gradients and small updates are what a network that fits
// should show, so `vanishing` and a too-small update ratio are reported only while the loss is
// unsatisfactory (probe_util's loss_progress: the loss has not fallen 100× below its first logged
// value and is not ≈ 0). Exploding gradients and too-large updates are reported always.
// The update ratio is judged on weights only: biases start at 0 and stay small, and any step is
// large next to them without harming training; their ratios are still measured.
#include <algorithm>
#include <cmath>
#include <limits>

#include "cnndiag/probes/probes.hpp"
#include "probes/probe_util.hpp"

namespace cnndiag {
namespace {

using probe_detail::format;

struct LayerGrad {
  std::string name;
  double sum_sq = 0;     // Σ g² over the layer's tensors
  double sum_abs = 0;    // Σ |g|
  Index count = 0;
  double norm() const { return std::sqrt(sum_sq); }
  double mean_abs() const { return count ? sum_abs / static_cast<double>(count) : 0.0; }
};

double nan() { return std::numeric_limits<double>::quiet_NaN(); }

}  // namespace

ProbeResult probe_gradient_flow(const Observation& o) {
  ProbeResult r;
  r.probe = "gradient_flow";
  const double vanishing_ratio = o.config.threshold("vanishing_ratio");
  const double vanishing_first_mean = o.config.threshold("vanishing_first_mean");
  const double vanishing_mean = o.config.threshold("vanishing_mean");
  const double exploding_ratio = o.config.threshold("exploding_ratio");
  const double exploding_mean = o.config.threshold("exploding_mean");
  const double update_low = o.config.threshold("update_ratio_low");
  const double update_high = o.config.threshold("update_ratio_high");
  const probe_detail::LossProgress progress = probe_detail::loss_progress(o);

  auto add = [&](std::string id, Severity severity, std::string layer, std::string tensor,
                 std::string message, nlohmann::json evidence, std::string fix) {
    Finding f;
    f.id = std::move(id);
    f.severity = severity;
    f.layer = std::move(layer);
    f.tensor = std::move(tensor);
    f.message = std::move(message);
    f.evidence = std::move(evidence);
    f.fix = std::move(fix);
    r.findings.push_back(std::move(f));
  };

  std::vector<LayerGrad> layers;
  for (const ParamRule& rule : o.rules) {
    const Param<double>* p = probe_detail::find_param(*o.model, rule.key);
    if (!p) continue;
    const std::string layer = rule.key.substr(0, rule.key.find('.'));
    if (layers.empty() || layers.back().name != layer) layers.push_back({layer});
    LayerGrad& lg = layers.back();
    for (double g : p->grad.span()) {
      lg.sum_sq += g * g;
      lg.sum_abs += std::abs(g);
    }
    lg.count += p->grad.size();

    const double g_norm = probe_detail::norm(p->grad);
    const double g_mean = probe_detail::mean_abs(p->grad);
    const double w_norm = probe_detail::norm(p->value);
    const probe_detail::NextStep step = probe_detail::next_step(o, rule, *p);
    const double step_norm = probe_detail::norm(step.delta);
    const double update_ratio = w_norm > 0 ? step_norm / w_norm : nan();
    nlohmann::json meas = {{"grad_norm", g_norm},      {"grad_mean_abs", g_mean},
                           {"weight_norm", w_norm},    {"step_norm", step_norm},
                           {"update_ratio", update_ratio}, {"lr", rule.lr},
                           {"step_basis", step.basis}};
    r.measurements[rule.key] = meas;

    if (!std::isfinite(g_norm) || g_mean > exploding_mean) {
      add("gradient_flow.exploding", Severity::kError, layer, rule.key,
          format("the gradient of %s is %s (mean |g| = %.3g, above %.3g)", rule.key.c_str(),
                 std::isfinite(g_norm) ? "huge" : "not finite", g_mean, exploding_mean),
          meas, "lower the learning rate (e.g. 10x), clip gradients, or normalise activations");
    } else if (!progress.fitted && g_mean < vanishing_mean) {
      add("gradient_flow.vanishing", Severity::kWarning, layer, rule.key,
          format("the gradient of %s has vanished (mean |g| = %.3g, below %.3g) while the loss "
                 "(%.4g) is still unsatisfactory",
                 rule.key.c_str(), g_mean, vanishing_mean, progress.current),
          meas,
          "look upstream of this tensor for saturated or dead units and for weights decayed "
          "to ~0; he/xavier init and relu keep gradients alive");
    }
    if (!p->is_bias && std::isfinite(update_ratio)) {
      if (update_ratio > update_high) {
        add("gradient_flow.update_ratio", Severity::kWarning, layer, rule.key,
            format("the next step changes %s by %.3g of its norm (above %.3g): steps this large "
                   "make training unstable",
                   rule.key.c_str(), update_ratio, update_high),
            meas, format("lower the learning rate (now %.3g) so that |dw|/|w| is ~1e-3", rule.lr));
      } else if (!progress.fitted && update_ratio < update_low) {
        add("gradient_flow.update_ratio", Severity::kWarning, layer, rule.key,
            format("the next step changes %s by only %.3g of its norm (below %.3g) while the "
                   "loss (%.4g) is still unsatisfactory: the weights have stopped moving",
                   rule.key.c_str(), update_ratio, update_low, progress.current),
            meas,
            format("find why the step is small (a vanished gradient, or decay cancelling it) or "
                   "raise the learning rate (now %.3g) so that |dw|/|w| is ~1e-3",
                   rule.lr));
      }
    }
  }

  for (const LayerGrad& lg : layers)
    r.measurements["layers"][lg.name] = {{"grad_norm", lg.norm()}, {"grad_mean_abs", lg.mean_abs()}};

  // First/last ratio: meaningful only with two layers that have parameters.
  if (layers.size() >= 2) {
    const LayerGrad& first = layers.front();
    const LayerGrad& last = layers.back();
    const double ratio = last.norm() > 0 ? first.norm() / last.norm()
                         : first.norm() > 0 ? std::numeric_limits<double>::infinity()
                                            : nan();
    const nlohmann::json evidence = {{"ratio", ratio},
                                     {"first", first.name},
                                     {"last", last.name},
                                     {"first_grad_norm", first.norm()},
                                     {"last_grad_norm", last.norm()},
                                     {"first_grad_mean_abs", first.mean_abs()},
                                     {"loss", progress.current}};
    r.measurements["first_last"] = evidence;
    if (std::isfinite(ratio) && ratio > exploding_ratio) {
      add("gradient_flow.exploding", Severity::kError, first.name, "",
          format("gradients grow %.3gx from '%s' back to '%s' (above %.3g): they explode towards "
                 "the input",
                 ratio, last.name.c_str(), first.name.c_str(), exploding_ratio),
          evidence, "lower the learning rate, use he/xavier init, or add normalisation");
    } else if (!progress.fitted && ratio < vanishing_ratio && first.mean_abs() < vanishing_first_mean) {
      add("gradient_flow.vanishing", Severity::kWarning, first.name, "",
          format("gradients vanish towards the input: |g| of '%s' is %.3g of that of '%s' and "
                 "its mean |g| is %.3g (below %.3g and %.3g) while the loss (%.4g) is still "
                 "unsatisfactory",
                 first.name.c_str(), ratio, last.name.c_str(), first.mean_abs(), vanishing_ratio,
                 vanishing_first_mean, progress.current),
          evidence,
          "look for saturated sigmoid/tanh or dead relu units and for decayed weights between "
          "the two layers; he/xavier init, relu or normalisation keep gradients alive");
    }
  }
  return r;
}

}  // namespace cnndiag
