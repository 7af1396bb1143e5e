// Every optimizer step against an independent re-implementation written here from the update
// rules as PyTorch documents them (torch.optim.SGD with momentum/nesterov and dampening 0,
// torch.optim.Adam with coupled weight_decay, torch.optim.AdamW) plus DESIGN.md §3's per-tensor
// rules: weight decay only on weights unless bias_decay, biases (and batchnorm's γ and β) at
// bias_lr_scale·lr. Each configuration runs several steps with fresh random gradients and is
// compared after every step, element by element, parameters and optimizer state alike.
//
// Tolerances. float64: the engine computes Adam's step as (lr/c1)·m / (√v·(1/√c2) + ε) while the
// reference writes lr·m̂/(√v̂ + ε); the two orders differ by a few ulps per step, so
// |engine − reference| ≤ 1e-12·max(1, |reference|). float32: the engine rounds every operation to
// float (ε = 1.2e-7) and the reference runs in double from the same float start, so after six
// steps the gap is a few float ulps: 2e-6·max(1, |reference|). A wrong rule (decay on a bias,
// lr instead of lr·scale, a missing bias correction) is off by ≥ 1e-4 here.

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "cnndiag/optim.hpp"
#include "cnndiag/rng.hpp"

namespace cnndiag {
namespace {

// The reference: plain double arithmetic, one state per parameter tensor.
struct ReferenceState {
  bool bias_like = false;  // a bias or a batchnorm parameter
  std::vector<double> w, velocity, m, v;
};

class ReferenceOptimizer {
 public:
  explicit ReferenceOptimizer(const OptimizerConfig& c) : c_(c) {}

  void add(const std::string& key, bool bias_like, const std::vector<double>& w) {
    ReferenceState s;
    s.bias_like = bias_like;
    s.w = w;
    s.velocity.assign(w.size(), 0.0);
    s.m.assign(w.size(), 0.0);
    s.v.assign(w.size(), 0.0);
    states_[key] = std::move(s);
  }

  double lr_of(const ReferenceState& s) const { return s.bias_like ? c_.lr * c_.bias_lr_scale : c_.lr; }
  double decay_of(const ReferenceState& s) const {
    return !s.bias_like || c_.bias_decay ? c_.weight_decay : 0.0;
  }

  void step(const std::map<std::string, std::vector<double>>& grads) {
    ++t_;
    for (auto& [key, s] : states_) {
      const std::vector<double>& grad = grads.at(key);
      const double lr = lr_of(s), lambda = decay_of(s);
      for (std::size_t i = 0; i < s.w.size(); ++i) {
        if (c_.type == "sgd") {
          double g = grad[i] + lambda * s.w[i];
          if (c_.momentum != 0.0) {
            s.velocity[i] = c_.momentum * s.velocity[i] + g;
            g = c_.nesterov ? g + c_.momentum * s.velocity[i] : s.velocity[i];
          }
          s.w[i] = s.w[i] - lr * g;
          continue;
        }
        double g = grad[i];
        if (c_.type == "adamw")
          s.w[i] = s.w[i] - lr * lambda * s.w[i];
        else
          g += lambda * s.w[i];
        s.m[i] = c_.beta1 * s.m[i] + (1 - c_.beta1) * g;
        s.v[i] = c_.beta2 * s.v[i] + (1 - c_.beta2) * g * g;
        const double m_hat = s.m[i] / (1 - std::pow(c_.beta1, t_));
        const double v_hat = s.v[i] / (1 - std::pow(c_.beta2, t_));
        s.w[i] = s.w[i] - lr * m_hat / (std::sqrt(v_hat) + c_.eps);
      }
    }
  }

  const ReferenceState& state(const std::string& key) const { return states_.at(key); }

 private:
  OptimizerConfig c_;
  std::map<std::string, ReferenceState> states_;
  int t_ = 0;
};

// conv (weight, bias) → batchnorm (γ, β) → linear (weight, bias) → linear without bias.
std::vector<LayerConfig> layers() {
  LayerConfig conv;
  conv.name = "conv";
  conv.type = "conv2d";
  conv.out_channels = 2;
  conv.kernel_h = conv.kernel_w = 3;
  LayerConfig bn;
  bn.name = "bn";
  bn.type = "batchnorm";
  LayerConfig fc;
  fc.name = "fc";
  fc.type = "linear";
  fc.out = 3;
  LayerConfig head;
  head.name = "head";
  head.type = "linear";
  head.out = 2;
  head.bias = false;
  return {conv, bn, fc, head};
}

template <typename T>
double tolerance();
template <>
double tolerance<double>() { return 1e-12; }
template <>
double tolerance<float>() { return 2e-6; }

template <typename T>
void expect_close(const Tensor<T>& engine, const std::vector<double>& reference,
                  const std::string& what) {
  ASSERT_EQ(static_cast<std::size_t>(engine.size()), reference.size()) << what;
  for (std::size_t i = 0; i < reference.size(); ++i) {
    const double e = static_cast<double>(engine[static_cast<Index>(i)]);
    const double allowed = tolerance<T>() * std::max(1.0, std::abs(reference[i]));
    ASSERT_LE(std::abs(e - reference[i]), allowed)
        << what << "[" << i << "]: engine " << e << ", reference " << reference[i];
  }
}

template <typename T>
void check_against_reference(const OptimizerConfig& config, int steps = 6) {
  Model<T> model(layers(), Shape{1, 5, 5});
  model.init(layers(), 4);
  ReferenceOptimizer reference(config);
  Rng rng(21);
  for (auto& [key, param] : model.named_params()) {
    // Non-trivial starting values everywhere (batchnorm γ starts at 1, β and biases at 0).
    for (Index i = 0; i < param->value.size(); ++i)
      param->value[i] = static_cast<T>(param->value[i] + 0.5 * rng.normal());
    const bool bias_like = param->name == "bias" || key.starts_with("bn.");
    const auto values = param->value.template cast<double>();
    reference.add(key, bias_like, {values.span().begin(), values.span().end()});
  }
  Optimizer<T> optimizer(config, model);

  // The rules the engine reports are the ones the reference applies.
  for (const ParamRule& rule : optimizer.rules()) {
    const ReferenceState& s = reference.state(rule.key);
    EXPECT_EQ(rule.decayed, reference.decay_of(s) > 0) << rule.key;
    EXPECT_DOUBLE_EQ(rule.decay, reference.decay_of(s)) << rule.key;
    EXPECT_DOUBLE_EQ(rule.lr, reference.lr_of(s)) << rule.key;
  }

  for (int step = 1; step <= steps; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    std::map<std::string, std::vector<double>> grads;
    for (auto& [key, param] : model.named_params()) {
      std::vector<double>& g = grads[key];
      for (Index i = 0; i < param->grad.size(); ++i) {
        param->grad[i] = static_cast<T>(rng.normal());
        g.push_back(static_cast<double>(param->grad[i]));
      }
    }
    optimizer.step();
    reference.step(grads);
    EXPECT_EQ(optimizer.steps(), step);
    for (auto& [key, param] : model.named_params())
      expect_close(param->value, reference.state(key).w, key);
    for (const OptimizerSlot<T>& slot : optimizer.slots()) {
      const ReferenceState& s = reference.state(slot.param_key);
      const std::vector<double>& ref = slot.name == "velocity" ? s.velocity
                                       : slot.name == "m"      ? s.m
                                                               : s.v;
      expect_close(*slot.value, ref, slot.param_key + "/" + slot.name);
    }
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// Every optimizer form × decay on/off × bias_decay × bias_lr_scale.
template <typename T>
void check_every_configuration() {
  struct Form {
    const char* type;
    double momentum;
    bool nesterov;
  };
  const Form forms[] = {{"sgd", 0.0, false}, {"sgd", 0.9, false}, {"sgd", 0.8, true},
                        {"adam", 0.0, false}, {"adamw", 0.0, false}};
  int configurations = 0;
  for (const Form& form : forms)
    for (const double decay : {0.0, 0.05})
      for (const bool bias_decay : {false, true})
        for (const double bias_lr_scale : {1.0, 0.1}) {
          OptimizerConfig c;
          c.type = form.type;
          c.lr = form.type[0] == 's' ? 0.05 : 0.01;
          c.momentum = form.momentum;
          c.nesterov = form.nesterov;
          c.weight_decay = decay;
          c.bias_decay = bias_decay;
          c.bias_lr_scale = bias_lr_scale;
          c.beta1 = 0.8;   // not the defaults: the engine must use what the config says
          c.beta2 = 0.95;
          c.eps = 1e-6;
          SCOPED_TRACE(std::string(form.type) + " momentum " + std::to_string(form.momentum) +
                       (form.nesterov ? " nesterov" : "") + " decay " + std::to_string(decay) +
                       (bias_decay ? " bias_decay" : "") + " bias_lr_scale " +
                       std::to_string(bias_lr_scale));
          check_against_reference<T>(c);
          ++configurations;
        }
  EXPECT_EQ(configurations, 40);
}

TEST(OptimizerReference, EveryConfigurationFloat64) { check_every_configuration<double>(); }
TEST(OptimizerReference, EveryConfigurationFloat32) { check_every_configuration<float>(); }

// The seed's own rule (lr·λ = 1.5), in float32 as it trains: each weight maps to −0.5·w − lr·g.
TEST(OptimizerReference, SeedRuleFlipsAndHalvesWeights) {
  OptimizerConfig c;
  c.lr = 0.003;
  c.weight_decay = 500.0;
  c.bias_lr_scale = 0.1;
  check_against_reference<float>(c, 20);
}

// The reference is strict enough to notice a rule applied to the wrong tensor: a reference that
// also decays biases disagrees with the engine when bias_decay is off.
TEST(OptimizerReference, ReferenceDetectsAWrongRule) {
  OptimizerConfig c;
  c.lr = 0.05;
  c.weight_decay = 0.05;
  Model<double> model(layers(), Shape{1, 5, 5});
  model.init(layers(), 4);
  ReferenceOptimizer wrong(c);
  for (auto& [key, param] : model.named_params())
    wrong.add(key, /*bias_like=*/false, {param->value.span().begin(), param->value.span().end()});
  Optimizer<double> optimizer(c, model);
  std::map<std::string, std::vector<double>> grads;
  for (auto& [key, param] : model.named_params()) {
    param->grad.fill(0.25);
    grads[key].assign(static_cast<std::size_t>(param->grad.size()), 0.25);
  }
  optimizer.step();
  wrong.step(grads);
  double worst = 0;
  for (auto& [key, param] : model.named_params())
    for (Index i = 0; i < param->value.size(); ++i)
      worst = std::max(worst, std::abs(param->value[i] - wrong.state(key).w[static_cast<std::size_t>(i)]));
  EXPECT_GT(worst, 1e-4);  // the wrong reference shrinks bn's γ = 1 by lr·λ·γ = 2.5e-3
}

}  // namespace
}  // namespace cnndiag
