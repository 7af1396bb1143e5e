#pragma once
/// Optimizers (DESIGN.md §3 [optimizer]). Which tensors are decayed, and at which learning rate
/// each tensor steps, is explicit per parameter (ParamRule) so probes can report it.
///
///   sgd:   g ← ∇data + λ·w (coupled L2, the seed's and MatConvNet's rule, if decayed)
///          v ← μ·v + g;  w ← w − lr_p·v       (PyTorch's form; μ = 0 gives w ← w − lr_p·g)
///          nesterov: w ← w − lr_p·(g + μ·v)
///   adam:  g ← ∇data + λ·w (coupled, like torch.optim.Adam's weight_decay)
///          m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  t ← t+1
///          w ← w − lr_p · (m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε)
///   adamw: w ← w·(1 − lr_p·λ) (decoupled, if decayed), then the adam step with g = ∇data
/// with lr_p = lr·bias_lr_scale for biases, lr otherwise.

#include <cstdint>
#include <string>
#include <vector>

#include "cnndiag/config.hpp"
#include "cnndiag/model.hpp"

namespace cnndiag {

/// How one parameter tensor is updated.
struct ParamRule {
  std::string key;       ///< "conv1.weight"
  bool decayed = false;  ///< weight decay applies to this tensor
  double lr = 0.0;       ///< the learning rate it steps at (bias_lr_scale applied)
  double decay = 0.0;    ///< λ if decayed, else 0
};

/// A named optimizer state tensor of one parameter ("velocity", "m", "v").
template <typename T>
struct OptimizerSlot {
  std::string param_key;
  std::string name;
  Tensor<T>* value;
};

template <typename T>
class Optimizer {
 public:
  /// Binds to the model's parameters (the model must outlive the optimizer) and allocates slots.
  Optimizer(const OptimizerConfig& config, Model<T>& model);

  /// One update of every parameter from its .grad (the data gradient).
  void step();

  const std::string& type() const { return config_.type; }
  const OptimizerConfig& config() const { return config_; }
  /// Steps taken so far (Adam's t).
  std::int64_t steps() const { return steps_; }
  void set_steps(std::int64_t steps) { steps_ = steps; }
  /// "coupled" (sgd, adam) or "decoupled" (adamw).
  std::string decay_convention() const;

  const std::vector<ParamRule>& rules() const { return rules_; }
  /// Every state tensor, in parameter order, for checkpoints.
  std::vector<OptimizerSlot<T>> slots();

 private:
  struct State {
    Param<T>* param;
    ParamRule rule;
    Tensor<T> velocity;  // sgd with momentum
    Tensor<T> m, v;      // adam, adamw
  };
  OptimizerConfig config_;
  std::vector<State> states_;
  std::vector<ParamRule> rules_;
  std::int64_t steps_ = 0;
};

}  // namespace cnndiag
