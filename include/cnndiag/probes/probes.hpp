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
/// (coupled: the decay term in the gradient; decoupled: the shrink step lr·λ‖w‖ against the Adam
/// step the data gradient drives, from the checkpoint's m, v, t), lr·λ, the multiplier 1 − lr·λ,
/// shrink time 1/(lr·λ) in steps, ‖w‖ now vs at iteration 0. Error `weight_decay.overshoot` when
/// lr·λ ≥ decay_lr_lambda_error (sgd, adamw: the decay step alone flips the weight's sign; not for
/// coupled adam, whose step is normalised), error `weight_decay.dominant` when D >
/// decay_dominance_error, warning when D > decay_dominance_warning (info once the loss has fitted),
/// and error `weight_decay.collapsed_norm` when ‖w‖ fell below 1e-3 of its initial value and the
/// decay alone could have done it in the steps run (once weights settle where λw ≈ −∇data, D ≈ 1
/// even though decay caused the collapse). Measurements and evidence, keyed by tensor: lambda, lr,
/// lr_lambda, multiplier (null for adam), shrink_steps, dominance (+inf when ∇data = 0; JSON
/// null), decay_term, data_term, norm, norm_initial, norm_ratio, grad_norm, convention, basis.
ProbeResult probe_weight_decay(const Observation& o);

/// Per parameter tensor ‖g‖, mean|g|, and the update ratio ‖Δw‖/‖w‖ of the step the optimizer
/// takes next from the checkpoint (its velocity / m, v, t included; a fresh optimizer's step when
/// the observation has no optimizer state, step_basis = "fresh_state"); per layer ‖g‖ and
/// mean|g|; the first/last ratio of the first and last layers with parameters.
/// Findings `gradient_flow.vanishing` (warning; per tensor, or the first layer by the ratio),
/// `gradient_flow.exploding` (error), `gradient_flow.update_ratio` (warning; weights only).
/// Vanishing and too-small updates are not reported once the loss has fitted (AUTOTRAINER's gate:
/// the loss fell ≥ 100× below its first logged value, or is ≈ 0).
ProbeResult probe_gradient_flow(const Observation& o);

/// Dead relu/leaky_relu units (z ≤ 0 on every sample; per unit and, for images, per channel),
/// sigmoid/tanh saturation (per entry and per unit), linear regime. Measurements per activation
/// layer: dead_fraction, or saturated_fraction and linear_regime_fraction. Findings `units.dead`,
/// `units.saturated` (warnings), `units.linear_regime` (info, > half the units).
ProbeResult probe_units(const Observation& o);

/// Weight scale (rms; std and mean in the evidence) vs He √(2/fan_in) when a relu follows (past
/// pooling), Glorot √(2/(fan_in+fan_out)) otherwise, at iteration 0 (re-drawn from the seed) and
/// now; pre-activation std at iteration 0. Finding `init.scale` (warning); layers followed by
/// batchnorm are measured, not flagged.
ProbeResult probe_init(const Observation& o);

/// Model loss vs the best constant predictor; cross-validated ridge R² of targets on inputs
/// (classification: CV accuracy of a one-vs-rest ridge classifier vs the majority class).
/// Warning `targets.unpredictable` when CV R² ≤ targets_r2 (or the accuracy is not above the
/// majority rate); warning `targets.constant` when every sample has the same targets;
/// `targets.constant_level` when the model's loss is no better than the best constant output's
/// (warning when the targets are predictable, info when they are not).
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
