// The weight-decay probe: does the decay term, rather than the data, decide where the weights go?
//
// Conventions (optim.hpp). Coupled decay (sgd, adam) adds λw to the data gradient g, so per tensor
// the dominance
//   D = λ‖w‖ / ‖g‖
// is the ratio of the two terms of the gradient the optimizer follows: D > 1 means the step points
// mostly towards zero. Momentum scales both terms alike and Adam normalises their sum, so the ratio
// keeps its meaning under both. The gradient g is ∂E/∂w of the run's own loss (scale and batch
// reduction included), which is what the optimizer adds λw to — so a "sum" loss and a "mean" loss
// give different D for the same λ, as they should (MatConvNet changed this convention in 2017).
// Decoupled decay (adamw) shrinks w ← (1 − lr·λ)w outside Adam; there D compares that shrink
// step lr·λ‖w‖ with the Adam step the data gradient drives, ‖lr·m̂/(√v̂ + ε)‖, computed from the
// checkpoint's m, v and t (probe_util's next_step; a fresh optimizer's first step when the
// checkpoint has no optimizer state, e.g. weights trained elsewhere).
//
// Over one step the decay alone multiplies w by (1 − lr·λ) (sgd without momentum, and adamw's
// shrink). At lr·λ ≥ 1 that multiplier is ≤ 0: the step overshoots zero and flips the weight's
// sign (the seed: lr·λ = 0.003·500 = 1.5, w ← −0.5·w − lr·g). Such a run settles where the two
// terms cancel, λw ≈ −g, i.e. at D ≈ 1, with ‖w‖ ~ ‖g‖/λ ≈ 0 — so D alone would miss the cause.
// The probe therefore also judges by lr·λ and by how far ‖w‖ fell from its value at iteration 0,
// provided the decay could have done it: |1 − lr·λ|^t ≤ 1e-3 after the t steps run (sgd, adamw),
// or lr·t ≥ max|w₀| for coupled Adam, whose decay-driven step moves each weight by about lr.
// 1/(lr·λ) is the decay's time scale in steps (e-folding of the shrink).
#include <algorithm>
#include <cmath>
#include <limits>

#include "cnndiag/probes/probes.hpp"
#include "probes/probe_util.hpp"

namespace cnndiag {
namespace {

using probe_detail::format;
using probe_detail::norm;

constexpr double kCollapsedNormRatio = 1e-3;  // DESIGN.md §6: ‖w‖ below 1e-3 of its initial norm
constexpr const char* kFix = "weight_decay ≤ 1e-3 (5e-4 is common)";

double max_abs(const Tensor<double>& t) {
  double m = 0;
  for (double v : t.span()) m = std::max(m, std::abs(v));
  return m;
}

}  // namespace

ProbeResult probe_weight_decay(const Observation& o) {
  ProbeResult r;
  r.probe = "weight_decay";
  const double lr_lambda_error = o.config.threshold("decay_lr_lambda_error");
  const double dominance_error = o.config.threshold("decay_dominance_error");
  const double dominance_warning = o.config.threshold("decay_dominance_warning");
  const std::string& type = o.config.optimizer.type;
  const bool decoupled = o.decay_convention == "decoupled";
  // Adam with coupled decay normalises the decay term with the rest of the gradient: the step is
  // not w·(1 − lr·λ), so lr·λ says nothing about overshooting there.
  const bool multiplicative = type != "adam";
  const probe_detail::LossProgress progress = probe_detail::loss_progress(o);
  const double steps = static_cast<double>(o.iteration);

  for (const ParamRule& rule : o.rules) {
    if (!rule.decayed || rule.decay <= 0) continue;
    const Param<double>* p = probe_detail::find_param(*o.model, rule.key);
    const Param<double>* p0 = probe_detail::find_param(*o.initial, rule.key);
    if (!p || !p0) continue;
    const std::string layer = rule.key.substr(0, rule.key.find('.'));
    const double lambda = rule.decay;
    const double lr = rule.lr;
    const double lr_lambda = lr * lambda;
    const double multiplier = 1.0 - lr_lambda;
    const double w_norm = norm(p->value);
    const double w0_norm = norm(p0->value);
    const double g_norm = norm(p->grad);
    const double norm_ratio = w0_norm > 0 ? w_norm / w0_norm : std::numeric_limits<double>::quiet_NaN();

    // The decay and data terms of the step, in the optimizer's own convention.
    double decay_term = 0, data_term = 0;
    std::string basis = "exact";
    if (decoupled) {
      const probe_detail::NextStep step = probe_detail::next_step(o, rule, *p);
      decay_term = lr_lambda * w_norm;
      data_term = norm(step.adam_step);
      basis = step.basis;
    } else {
      decay_term = lambda * w_norm;
      data_term = g_norm;
    }
    const double dominance = data_term > 0 ? decay_term / data_term
                             : decay_term > 0 ? std::numeric_limits<double>::infinity()
                                              : 0.0;
    // How much the decay alone could have shrunk w over the steps run so far.
    const double shrink_factor = multiplicative
                                     ? std::pow(std::abs(multiplier), steps)
                                     : std::numeric_limits<double>::quiet_NaN();
    const bool decay_can_explain = multiplicative ? (lr_lambda >= 1 || shrink_factor <= kCollapsedNormRatio)
                                                  : lr * steps >= max_abs(p0->value);
    const double shrink_steps = multiplicative ? 1.0 / lr_lambda : max_abs(p0->value) / lr;

    nlohmann::json evidence = {{"lambda", lambda},
                               {"lr", lr},
                               {"lr_lambda", lr_lambda},
                               {"multiplier", multiplicative ? nlohmann::json(multiplier) : nlohmann::json()},
                               {"shrink_steps", shrink_steps},
                               {"dominance", dominance},
                               {"decay_term", decay_term},
                               {"data_term", data_term},
                               {"norm", w_norm},
                               {"norm_initial", w0_norm},
                               {"norm_ratio", norm_ratio},
                               {"grad_norm", g_norm},
                               {"convention", o.decay_convention},
                               {"optimizer", type},
                               {"basis", basis},
                               {"iteration", o.iteration}};
    r.measurements[rule.key] = evidence;

    auto add = [&](std::string id, Severity severity, std::string message, std::string fix) {
      Finding f;
      f.id = std::move(id);
      f.severity = severity;
      f.layer = layer;
      f.tensor = rule.key;
      f.message = std::move(message);
      f.evidence = evidence;
      f.fix = std::move(fix);
      r.findings.push_back(std::move(f));
    };

    if (multiplicative && lr_lambda >= lr_lambda_error) {
      add("weight_decay.overshoot", Severity::kError,
          format("weight decay λ = %.4g at lr = %.4g gives lr·λ = %.4g: the decay step "
                 "alone multiplies %s by %.4g each step, so it %s instead of shrinking it "
                 "gradually",
                 lambda, lr, lr_lambda, rule.key.c_str(), multiplier,
                 multiplier < 0 ? "overshoots zero and flips its sign every step"
                                : "wipes the weight out in one step"),
          format("%s; lr·λ must be ≪ 1 (here %.4g)", kFix, lr_lambda));
    }
    if (decay_can_explain && w0_norm > 0 && w_norm < kCollapsedNormRatio * w0_norm) {
      add("weight_decay.collapsed_norm", Severity::kError,
          format("%s has decayed to %.3g of its initial norm (‖w‖ = %.3g, was %.3g at iteration "
                 "0): weight decay (λ = %.4g, lr·λ = %.4g) drove it to ~0; the weights now sit "
                 "where λw cancels the data gradient, so the dominance reads %.3g "
                 "although decay caused the collapse",
                 rule.key.c_str(), norm_ratio, w_norm, w0_norm, lambda, lr_lambda, dominance),
          kFix);
    }
    if (dominance > dominance_warning) {
      // Once the network fits, the data gradient vanishes and any decay outweighs it: that is
      // the regulariser working, not a fault (see probe_util's loss_progress).
      const Severity severity = progress.fitted                 ? Severity::kInfo
                                : dominance > dominance_error ? Severity::kError
                                                              : Severity::kWarning;
      add("weight_decay.dominant", severity,
          format("weight decay outweighs the data gradient on %s by %.3gx (%s = %.3g vs %s = "
                 "%.3g)%s",
                 rule.key.c_str(), dominance, decoupled ? "shrink step lr·λ‖w‖" : "λ‖w‖",
                 decay_term, decoupled ? "Adam's data step" : "‖∇data‖", data_term,
                 progress.fitted ? "; the loss has fitted, so this is the regulariser at work"
                                 : ": the weights are pulled to zero faster than the data moves them"),
          format("%s; aim for λ‖w‖ below ‖∇data‖ (dominance ≤ %.3g)", kFix,
                 dominance_warning));
    }
  }
  return r;
}

}  // namespace cnndiag
