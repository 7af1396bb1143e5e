// Bug hypotheses: which catalogued backward bug reproduces the gradients that were observed?
//
// A faulty model has a correct forward and a wrong backward, so the gradients a bug WOULD produce
// at the same params are those of a copy of the clean model with that one fault injected. A
// hypothesis reproduces the observation when, for every compared tensor, its gradient equals the
// observed one within tolerance: the mismatching tensors are explained, and the matching ones are
// left unchanged. Pure factors are tried too (the observed gradient = s × the reference, with
// s = N the classic "summed instead of averaged"), alone and on top of each fault, since a user's
// gradients can carry both a bug and a different batch reduction.
#include <algorithm>
#include <cmath>

#include "cnndiag/faults.hpp"
#include "gradcheck/internal.hpp"

namespace cnndiag::gradcheck_detail {
namespace {

GradientSet gradients_for(const std::vector<LayerConfig>& layers, const LossConfig& loss,
                          const Model<double>& params_of, const Tensor<double>& inputs,
                          const Targets<double>& targets) {
  Model<double> model(layers, params_of.input_shape());
  copy_values(params_of, model);
  return model_gradients(model, loss, inputs, targets);
}

Tensor<double> scaled(const Tensor<double>& t, double s) {
  Tensor<double> out = t;
  for (Index i = 0; i < out.size(); ++i) out[i] *= s;
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool same(const GradientSet& a, const GradientSet& b, const std::vector<std::string>& order) {
  for (const std::string& t : order) {
    const Tensor<double>& x = a.at(t);
    const Tensor<double>& y = b.at(t);
    if (!std::equal(x.data(), x.data() + x.size(), y.data())) return false;
  }
  return true;
}

std::string factor_text(double s) {
  char text[48];
  std::snprintf(text, sizeof text, "%.6g", s);
  return text;
}

}  // namespace

std::vector<Hypothesis> find_hypotheses(const std::vector<LayerConfig>& layers,
                                        const LossConfig& loss, const Model<double>& params_of,
                                        const Tensor<double>& inputs,
                                        const Targets<double>& targets,
                                        const GradientSet& observed,
                                        const std::vector<std::string>& order,
                                        const std::vector<std::string>& mismatching, double atol,
                                        double rtol) {
  const Index n = inputs.dim(0);
  const std::vector<LayerConfig> clean_layers = without_faults(layers);
  const LossConfig clean_loss = without_fault(loss);
  const GradientSet reference = gradients_for(clean_layers, clean_loss, params_of, inputs, targets);

  // Pure scales: mismatching tensors whose observed gradient is s × the reference.
  std::vector<std::pair<std::string, double>> pure;
  for (const std::string& t : mismatching) {
    const TensorDiff d = compare_tensors(observed.at(t), reference.at(t), atol, rtol);
    if (d.norm_r == 0) continue;
    if (compare_tensors(observed.at(t), scaled(reference.at(t), d.scale), atol, rtol).pass)
      pure.emplace_back(t, d.scale);
  }
  // The factor most of them share (the same within 1e-6).
  double common = 1;
  std::size_t best_count = 0;
  for (const auto& [t, s] : pure) {
    const auto count = static_cast<std::size_t>(std::count_if(pure.begin(), pure.end(), [&](const auto& p) {
      return std::abs(p.second - s) <= 1e-6 * std::abs(s);
    }));
    if (count > best_count) {
      best_count = count;
      common = s;
    }
  }
  const bool has_common = best_count > 0 && std::abs(common - 1) > 1e-6;
  auto name_of_scale = [&](double s) {
    const std::string name = scale_name(s, n);
    return name.empty() ? "gradient scaled by " + factor_text(s) : name;
  };

  std::vector<Hypothesis> found;
  // Scores a candidate's gradients, with and without the common factor; keeps the better.
  auto consider = [&](const GradientSet& grads, Hypothesis h) {
    std::vector<double> factors{1.0};
    if (has_common) factors.push_back(common);
    Hypothesis best;
    bool have = false;
    for (double s : factors) {
      Hypothesis trial = h;
      trial.scale = s;
      if (s != 1.0) trial.scale_name = name_of_scale(s);
      bool breaks = false;
      for (const std::string& t : order) {
        const Tensor<double> g = s == 1.0 ? grads.at(t) : scaled(grads.at(t), s);
        const TensorDiff d = compare_tensors(g, observed.at(t), atol, rtol);
        const double rel = d.max_ref > 0 ? d.max_abs / d.max_ref : d.max_abs;
        trial.max_rel_error = std::max(trial.max_rel_error, rel);
        if (contains(mismatching, t))
          (d.pass ? trial.explains : trial.unexplained).push_back(t);
        else if (!d.pass)
          breaks = true;
      }
      if (breaks || trial.explains.empty()) continue;
      trial.complete = trial.unexplained.empty();
      if (!have || trial.explains.size() > best.explains.size()) {
        best = trial;
        have = true;
      }
    }
    if (have) found.push_back(std::move(best));
  };

  for (std::size_t i = 0; i < clean_layers.size(); ++i) {
    const LayerConfig& layer = clean_layers[i];
    for (const FaultInfo& info : fault_catalogue()) {
      if (!fault_applies_to(info.fault, layer.type)) continue;
      // The seed's bug lives in the linear layer before the sigmoid; without one it cannot occur.
      if (info.fault == Fault::kSigmoidDerivativeOnWrongTensor &&
          (i == 0 || clean_layers[i - 1].type != "linear"))
        continue;
      std::vector<LayerConfig> with = clean_layers;
      with[i].fault = std::string(info.id);
      const GradientSet grads = gradients_for(with, clean_loss, params_of, inputs, targets);
      if (same(grads, reference, order)) continue;  // no effect here (e.g. dx of the first layer)
      consider(grads, {std::string(info.id), layer.name, std::string(info.description), {}, {}, 0, 1,
                       "", false});
    }
  }
  if (clean_loss.reduction == "mean") {
    LossConfig with = clean_loss;
    with.fault = "missing_batch_mean";
    const GradientSet grads = gradients_for(clean_layers, with, params_of, inputs, targets);
    const FaultInfo& info = *std::find_if(fault_catalogue().begin(), fault_catalogue().end(),
                                          [](const FaultInfo& f) { return f.fault == Fault::kMissingBatchMean; });
    consider(grads, {std::string(info.id), "loss", std::string(info.description), {}, {}, 0, 1, "",
                     false});
  }
  if (has_common) {
    Hypothesis h;
    h.fault = "scale";
    h.scale = common;
    h.scale_name = name_of_scale(common);
    h.description = "the gradients are " + factor_text(common) + " × the correct ones (" +
                    h.scale_name + (h.scale_name == "missing batch mean"
                                        ? ": summed over the " + std::to_string(n) +
                                              " samples instead of averaged"
                                        : "") +
                    ")";
    for (const auto& [t, s] : pure)
      if (std::abs(s - common) <= 1e-6 * std::abs(common)) h.explains.push_back(t);
    for (const std::string& t : mismatching)
      if (!contains(h.explains, t)) h.unexplained.push_back(t);
    h.complete = h.unexplained.empty();
    for (const std::string& t : h.explains) {
      const TensorDiff d =
          compare_tensors(scaled(reference.at(t), common), observed.at(t), atol, rtol);
      h.max_rel_error = std::max(h.max_rel_error, d.max_ref > 0 ? d.max_abs / d.max_ref : d.max_abs);
    }
    found.push_back(std::move(h));
  }

  std::stable_sort(found.begin(), found.end(), [](const Hypothesis& a, const Hypothesis& b) {
    if (a.complete != b.complete) return a.complete;
    if (a.explains.size() != b.explains.size()) return a.explains.size() > b.explains.size();
    if ((a.fault == "scale") != (b.fault == "scale")) return b.fault == "scale";
    if ((a.scale == 1.0) != (b.scale == 1.0)) return a.scale == 1.0;
    return a.max_rel_error < b.max_rel_error;
  });
  // A hypothesis that explains nothing beyond a better-ranked one only adds noise.
  std::vector<Hypothesis> kept;
  for (Hypothesis& h : found) {
    const bool dominated = std::any_of(kept.begin(), kept.end(), [&](const Hypothesis& k) {
      return std::all_of(h.explains.begin(), h.explains.end(),
                         [&](const std::string& t) { return contains(k.explains, t); });
    });
    if (!dominated) kept.push_back(std::move(h));
  }
  found = std::move(kept);
  if (found.size() > 6) found.resize(6);
  if (found.empty() || !found.front().complete) {
    Hypothesis h;
    h.fault = "unexplained";
    h.description =
        found.empty() ? "no catalogued fault and no pure scale reproduces the wrong gradients"
                      : "no single catalogued fault reproduces every wrong gradient";
    std::vector<std::string> explained;
    for (const Hypothesis& f : found)
      for (const std::string& t : f.explains) explained.push_back(t);
    for (const std::string& t : mismatching)
      if (!contains(explained, t)) h.unexplained.push_back(t);
    found.push_back(std::move(h));
  }
  return found;
}

}  // namespace cnndiag::gradcheck_detail
