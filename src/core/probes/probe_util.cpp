#include "probes/probe_util.hpp"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <limits>

namespace cnndiag::probe_detail {

double norm(const Tensor<double>& t) {
  // Scaled accumulation: weights that decayed to 1e-200 must not underflow to a zero norm.
  double scale = 0.0;
  for (double v : t.span()) scale = std::max(scale, std::abs(v));
  if (scale == 0.0 || !std::isfinite(scale)) return scale;
  double sum = 0.0;
  for (double v : t.span()) sum += (v / scale) * (v / scale);
  return scale * std::sqrt(sum);
}

double mean_abs(const Tensor<double>& t) {
  if (t.empty()) return 0.0;
  double sum = 0.0;
  for (double v : t.span()) sum += std::abs(v);
  return sum / static_cast<double>(t.size());
}

std::string format(const char* fmt, ...) {
  va_list args, again;
  va_start(args, fmt);
  va_copy(again, args);
  const int size = std::vsnprintf(nullptr, 0, fmt, args);
  va_end(args);
  std::string text(static_cast<std::size_t>(std::max(size, 0)) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), fmt, again);
  va_end(again);
  text.pop_back();  // the terminating NUL vsnprintf wrote
  return text;
}

const Param<double>* find_param(const Model<double>& model, const std::string& key) {
  for (const auto& [k, p] : model.named_params())
    if (k == key) return p;
  return nullptr;
}

namespace {

const Tensor<double>* find_slot(const Observation& o, const std::string& key, const char* slot,
                                const Shape& shape) {
  const std::string name = key + "/" + slot;
  for (const NamedTensor& t : o.optimizer_slots)
    if (t.key == name && t.value.shape() == shape) return &t.value;
  return nullptr;
}

}  // namespace

// Mirrors Optimizer<T>::step() (optim.cpp) for one tensor, in double, without touching the model:
//   sgd:   g' = g + λw;  v ← μv + g';  Δw = −lr·v   (nesterov: −lr·(g' + μv))
//   adam:  g' = g + λw (coupled) | g (adamw, after the shrink w ← (1 − lr·λ)w);
//          m ← β1·m + (1−β1)·g';  v ← β2·v + (1−β2)·g'²;  t ← t+1
//          Δw = −lr·(m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε)   (+ the shrink −lr·λ·w for adamw)
NextStep next_step(const Observation& o, const ParamRule& rule, const Param<double>& p) {
  const OptimizerConfig& c = o.config.optimizer;
  const Tensor<double>& w = p.value;
  const Tensor<double>& g = p.grad;
  const Index n = w.size();
  const double lr = rule.lr;
  const double lambda = rule.decay;
  NextStep s;
  s.delta = Tensor<double>(w.shape());
  s.basis = "exact";

  if (c.type == "sgd") {
    const Tensor<double>* velocity = nullptr;
    if (c.momentum > 0) {
      velocity = find_slot(o, rule.key, "velocity", w.shape());
      if (!velocity) s.basis = "fresh_state";
    }
    for (Index i = 0; i < n; ++i) {
      const double gi = g[i] + lambda * w[i];
      const double v = c.momentum * (velocity ? (*velocity)[i] : 0.0) + gi;
      s.delta[i] = -lr * (c.nesterov ? gi + c.momentum * v : v);
    }
    return s;
  }

  const Tensor<double>* m_slot = find_slot(o, rule.key, "m", w.shape());
  const Tensor<double>* v_slot = find_slot(o, rule.key, "v", w.shape());
  const bool have_state = m_slot && v_slot;
  if (!have_state) s.basis = "fresh_state";
  const double t = static_cast<double>((have_state ? o.optimizer_step : 0) + 1);
  const double c1 = 1.0 - std::pow(c.beta1, t);
  const double c2 = 1.0 - std::pow(c.beta2, t);
  const bool decoupled = c.type == "adamw";
  s.adam_step = Tensor<double>(w.shape());
  for (Index i = 0; i < n; ++i) {
    const double shrink = decoupled ? -lr * lambda * w[i] : 0.0;
    const double gi = decoupled ? g[i] : g[i] + lambda * w[i];
    const double m = c.beta1 * (have_state ? (*m_slot)[i] : 0.0) + (1 - c.beta1) * gi;
    const double v = c.beta2 * (have_state ? (*v_slot)[i] : 0.0) + (1 - c.beta2) * gi * gi;
    const double adam = -lr * (m / c1) / (std::sqrt(v / c2) + c.eps);
    s.adam_step[i] = adam;
    s.delta[i] = shrink + adam;
  }
  return s;
}

double best_constant_loss(const Observation& o) {
  const Loss<double> loss(o.config.loss);
  const Index n = o.inputs.dim(0);
  if (!loss.classification()) {
    // For squared error the best constant is the per-component mean.
    const Tensor<double>& t = o.targets.values;
    const Index k = t.size() / n;
    std::vector<double> mean(static_cast<std::size_t>(k), 0.0);
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < k; ++j) mean[static_cast<std::size_t>(j)] += t[i * k + j];
    Tensor<double> y(t.shape());
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < k; ++j) y[i * k + j] = mean[static_cast<std::size_t>(j)] / static_cast<double>(n);
    return loss.evaluate(y, o.targets, nullptr);
  }
  // For cross-entropy the best constant softmax output is the class frequencies p_k (it minimises
  // −Σ_k p_k log q_k over distributions q); logits log p_k give softmax = p. Absent classes get a
  // logit far below the rest: no sample carries them, so they only need a probability ≈ 0.
  const Index k = o.model->output_shape().numel();
  std::vector<double> count(static_cast<std::size_t>(k), 0.0);
  for (std::int64_t label : o.targets.labels)
    if (label >= 0 && label < k) count[static_cast<std::size_t>(label)] += 1;
  Tensor<double> y(Shape{n, k});
  for (Index j = 0; j < k; ++j) {
    const double p = count[static_cast<std::size_t>(j)] / static_cast<double>(n);
    const double logit = p > 0 ? std::log(p) : -1e3;
    for (Index i = 0; i < n; ++i) y[i * k + j] = logit;
  }
  return loss.evaluate(y, o.targets, nullptr);
}

LossProgress loss_progress(const Observation& o) {
  LossProgress p;
  p.first = std::numeric_limits<double>::quiet_NaN();
  for (double l : o.history_loss)
    if (std::isfinite(l)) {
      p.first = l;
      break;
    }
  p.current = o.loss;
  const bool dropped = std::isfinite(p.first) && p.current <= p.first / kFitDrop;
  p.fitted = std::isfinite(p.current) && (dropped || std::abs(p.current) < kNearZeroLoss);
  return p;
}

}  // namespace cnndiag::probe_detail
