#include "cnndiag/optim.hpp"

#include <cmath>

#include "cnndiag/errors.hpp"

namespace cnndiag {

template <typename T>
Optimizer<T>::Optimizer(const OptimizerConfig& config, Model<T>& model) : config_(config) {
  if (config.type != "sgd" && config.type != "adam" && config.type != "adamw")
    throw ConfigError(config.where.str() + ": optimizer.type: expected \"sgd\", \"adam\" or "
                      "\"adamw\", got \"" + config.type + "\"");
  for (auto& [key, param] : model.named_params()) {
    State s;
    s.param = param;
    s.rule.key = key;
    s.rule.decayed = config.weight_decay > 0 && (!param->is_bias || config.bias_decay);
    s.rule.decay = s.rule.decayed ? config.weight_decay : 0.0;
    s.rule.lr = config.lr * (param->is_bias ? config.bias_lr_scale : 1.0);
    if (config.type == "sgd" && config.momentum > 0) s.velocity = Tensor<T>(param->value.shape());
    if (config.type != "sgd") {
      s.m = Tensor<T>(param->value.shape());
      s.v = Tensor<T>(param->value.shape());
    }
    rules_.push_back(s.rule);
    states_.push_back(std::move(s));
  }
}

template <typename T>
std::string Optimizer<T>::decay_convention() const {
  return config_.type == "adamw" ? "decoupled" : "coupled";
}

template <typename T>
void Optimizer<T>::step() {
  ++steps_;
  const T mu = static_cast<T>(config_.momentum);
  const bool adam = config_.type != "sgd";
  const bool decoupled = config_.type == "adamw";
  // Bias corrections of Adam, computed in double once per step.
  const double c1 = 1.0 - std::pow(config_.beta1, static_cast<double>(steps_));
  const double c2 = 1.0 - std::pow(config_.beta2, static_cast<double>(steps_));
  const T b1 = static_cast<T>(config_.beta1), b2 = static_cast<T>(config_.beta2);
  const T eps = static_cast<T>(config_.eps);

  for (State& s : states_) {
    T* w = s.param->value.data();
    const T* g = s.param->grad.data();
    const Index n = s.param->value.size();
    const T lr = static_cast<T>(s.rule.lr);
    const T lambda = static_cast<T>(s.rule.decay);
    if (!adam) {
      if (mu == T(0)) {
        for (Index i = 0; i < n; ++i) w[i] -= lr * (g[i] + lambda * w[i]);
      } else {
        T* v = s.velocity.data();
        for (Index i = 0; i < n; ++i) {
          const T gi = g[i] + lambda * w[i];
          v[i] = mu * v[i] + gi;
          w[i] -= lr * (config_.nesterov ? gi + mu * v[i] : v[i]);
        }
      }
      continue;
    }
    T* m = s.m.data();
    T* v = s.v.data();
    const T step = static_cast<T>(s.rule.lr / c1);
    const T inv_sqrt_c2 = static_cast<T>(1.0 / std::sqrt(c2));
    if (decoupled && lambda != T(0)) {
      const T shrink = T(1) - lr * lambda;
      for (Index i = 0; i < n; ++i) w[i] *= shrink;
    }
    for (Index i = 0; i < n; ++i) {
      const T gi = decoupled ? g[i] : g[i] + lambda * w[i];
      m[i] = b1 * m[i] + (T(1) - b1) * gi;
      v[i] = b2 * v[i] + (T(1) - b2) * gi * gi;
      w[i] -= step * m[i] / (std::sqrt(v[i]) * inv_sqrt_c2 + eps);
    }
  }
}

template <typename T>
std::vector<OptimizerSlot<T>> Optimizer<T>::slots() {
  std::vector<OptimizerSlot<T>> out;
  for (State& s : states_) {
    if (!s.velocity.empty()) out.push_back({s.rule.key, "velocity", &s.velocity});
    if (!s.m.empty()) out.push_back({s.rule.key, "m", &s.m});
    if (!s.v.empty()) out.push_back({s.rule.key, "v", &s.v});
  }
  return out;
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace cnndiag
