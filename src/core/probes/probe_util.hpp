#pragma once
// Arithmetic the probes share (internal to src/core/probes): tensor norms, finding text, the step
// the run's optimizer would take next, the best constant predictor, and the "training has fitted"
// gate that keeps converged networks from being flagged.

#include <string>

#include "cnndiag/probes/probe.hpp"

namespace cnndiag::probe_detail {

/// ‖t‖₂ over every element.
double norm(const Tensor<double>& t);
/// mean |t_i|; 0 for an empty tensor.
double mean_abs(const Tensor<double>& t);

/// printf into a std::string (messages carry numbers with %.3g).
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

/// The parameter "layer.param" of a model; nullptr when it has none.
const Param<double>* find_param(const Model<double>& model, const std::string& key);

/// The update Δw = w_next − w that the run's optimizer (optim.hpp) takes from this checkpoint for
/// one tensor, given the data gradient at the checkpoint's params (p.grad) and the optimizer state
/// stored in the checkpoint (Observation::optimizer_slots, optimizer_step).
struct NextStep {
  Tensor<double> delta;        ///< the whole step, decay included
  /// adam/adamw only: the Adam part −lr·m̂/(√v̂ + ε) of the step (for adamw the part driven by
  /// the data gradient alone); empty for sgd.
  Tensor<double> adam_step;
  /// "exact" when the checkpoint holds the state the step needs (or none is needed: sgd without
  /// momentum); "fresh_state" when the slots are missing (weights trained elsewhere) and the step
  /// is the one a freshly started optimizer would take (velocity, m, v = 0; t = 1).
  std::string basis;
};
NextStep next_step(const Observation& o, const ParamRule& rule, const Param<double>& p);

/// The loss on the probe batch of the best output that is the same for every sample, under the
/// run's loss (scale and reduction included): the per-component target mean for mse, the logits
/// log(class frequency) for softmax cross-entropy.
double best_constant_loss(const Observation& o);

/// Has training reached a satisfactory loss? AUTOTRAINER's gate (PROBES.md): gradient symptoms
/// (small updates, vanishing gradients, decay outweighing a vanished data gradient, a flat loss)
/// are normal once a network fits, so probes only report them while the loss is unsatisfactory.
/// Fitted means: the loss on the probe batch is ≤ 1/kFitDrop of the first logged loss, or it is
/// below kNearZeroLoss.
struct LossProgress {
  double first = 0.0;     ///< first finite logged loss; NaN when there is no history
  double current = 0.0;   ///< Observation::loss
  bool fitted = false;
};
inline constexpr double kFitDrop = 100.0;
inline constexpr double kNearZeroLoss = 1e-10;
LossProgress loss_progress(const Observation& o);

}  // namespace cnndiag::probe_detail
