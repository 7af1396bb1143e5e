#pragma once
/// The probes of DESIGN.md §6, one function each. Each reads an Observation (probe.hpp) and the
/// thresholds of its config ([probe] table, defaults in config.hpp), and returns measurements and
/// findings; none prints, none changes the model.

#include <vector>

#include "cnndiag/probes/probe.hpp"

namespace cnndiag {

/// Per layer output A (N samples × D units): spread ρ = ‖A − mean_samples(A)‖_F / ‖A‖_F, per-unit
/// std across samples, effective rank of the centred A, ρ relative to the input's ρ. Error
/// `collapse.identical_outputs` at the first layer with ρ < collapse_identical_rho; warning
/// `collapse.low_spread` where ρ < collapse_low_rho or ρ drops ≥ collapse_drop_ratio× in one layer.
ProbeResult probe_collapse(const Observation& o);

/// Per decayed tensor: dominance D = λ‖w‖ / ‖∇data‖ under the optimizer's real convention
/// (coupled: the decay term in the gradient; decoupled: the shrink step lr·λ·w against lr·update),
/// lr·λ, shrink time 1/(lr·λ) in steps, ‖w‖ now vs at iteration 0. Error `weight_decay.overshoot`
/// when lr·λ ≥ decay_lr_lambda_error (the decay step alone flips the weight's sign), error
/// `weight_decay.dominant` when D > decay_dominance_error, warning when D > decay_dominance_warning,
/// and error `weight_decay.collapsed_norm` when decay is on and ‖w‖ fell below 1e-3 of its initial
/// value (once weights settle where λw ≈ −∇data, D ≈ 1 even though decay caused the collapse).
ProbeResult probe_weight_decay(const Observation& o);

/// Per parameter tensor ‖g‖, mean|g|; first/last layer gradient ratio; update ratio ‖Δw‖/‖w‖ of
/// the optimizer's actual step. Findings `gradient_flow.vanishing`, `gradient_flow.exploding`,
/// `gradient_flow.update_ratio`.
ProbeResult probe_gradient_flow(const Observation& o);

/// Dead ReLU units, sigmoid/tanh saturation (per entry and per unit), linear regime.
/// Findings `units.dead`, `units.saturated`, `units.linear_regime` (info).
ProbeResult probe_units(const Observation& o);

/// Weight std vs He/Glorot for each layer's fan-in/out, at iteration 0 (re-drawn from the seed)
/// and now; pre-activation std at iteration 0. Finding `init.scale` (warning).
ProbeResult probe_init(const Observation& o);

/// Model loss vs the best constant predictor; cross-validated ridge R² of targets on inputs.
/// Warning `targets.unpredictable` when CV R² ≤ targets_r2.
ProbeResult probe_targets(const Observation& o);

/// Plateau, divergence, oscillation, non-finite values in the loss history.
/// Findings `loss_curve.nonfinite` (error), `loss_curve.diverging` (error),
/// `loss_curve.plateau`, `loss_curve.oscillating` (warnings).
ProbeResult probe_loss_curve(const Observation& o);

/// Spread of a batch tensor (N, …): ρ as above; 0 for an all-zero tensor.
double spread(const Tensor<double>& a);

/// Effective rank (Roy & Vetterli 2007): exp of the entropy of the normalised singular values of
/// the centred N×D matrix; 0 when it is all zero.
double effective_rank(const Tensor<double>& a);

}  // namespace cnndiag
