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

/// Spread of a batch tensor (N, …): ρ as above; 0 for an all-zero tensor.
double spread(const Tensor<double>& a);

/// Effective rank (Roy & Vetterli 2007): exp of the entropy of the normalised singular values of
/// the centred N×D matrix; 0 when it is all zero.
double effective_rank(const Tensor<double>& a);

}  // namespace cnndiag
