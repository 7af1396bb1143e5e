#pragma once
/// The gradient checker (DESIGN.md §7): finite differences of a model's forward against its own
/// backward, in float64, end to end through the loss and per layer in isolation; localisation of
/// the first wrong gradient walking back from the loss; hypotheses naming the catalogued bug
/// (faults.hpp) that reproduces the wrong gradients; and `--against`, the same comparison for
/// gradients a user computed elsewhere (import.hpp).
///
/// Finite differences. For a parameter coordinate θ_i the numeric gradient is the central
/// difference
///     n_i = (E(θ + h·e_i) − E(θ − h·e_i)) / ((θ_i + h) − (θ_i − h)),  h = ε^(1/3)·max(|θ_i|, 1)
/// (dividing by the representable step, not 2h, removes the error of θ_i ± h itself). A
/// coordinate passes when |a_i − n_i| ≤ atol + rtol·|n_i| with (atol, rtol) from the config's
/// [probe] gradcheck_atol, gradcheck_rtol (defaults 1e-8, 1e-5).
///
/// Error budget. The central difference errs by truncation ≈ h²·|E'''|/6 and rounding ≈ ε·|E|/h.
/// Truncation is estimated from the data: the same difference with step 2h errs 4× as much, so
/// |n(2h) − n(h)|/3 ≈ the truncation error of n(h) (plus noise of the rounding's size). Rounding
/// is ε·(|E| + Σ|y ⊙ ∂E/∂y|)/h: the loss's own rounding and that of the output it is computed
/// from. A coordinate that fails the tolerance by less than kBudgetFactor × its budget is a
/// tolerance problem (status "tolerance", a warning), not a bug (status "mismatch", an error).
///
/// Chain-rule reference (end to end only). When a tensor's direct difference is inconclusive —
/// ‖a‖∞ and ‖n‖∞ both within atol + kBudgetFactor × its error budget, as for the tiny gradients of
/// weights that weight decay has driven to ~1e-20 — the loss's rounding (ε·|E|/h ≈ 3e-12) hides
/// them and atol passes anything. Then the reference is built by the chain rule from numerically
/// resolved factors: ∂E/∂y of the last layer by central differences of E (per coordinate), then,
/// layer by layer, ∂E/∂y_{k−1} = J_kᵀ·∂E/∂y_k and ∂E/∂P = J_Pᵀ·∂E/∂y_k, each Jᵀg taken by central
/// differences of Σ layer_k(x; P) ⊙ g through layer k ALONE. Rounding there is relative to
/// |layer output ⊙ g|, not to |E|, and the step is chosen per stage by a scan (doubling from
/// ε^(1/3)·max|θ| while the estimated error, truncation + rounding, keeps falling): layers affine
/// in what is perturbed (linear, conv in weights, bias, input) have no truncation, so the step grows
/// until the perturbation is resolved. Each reference coordinate carries a budget: rounding +
/// truncation of its stage + the previous stage's budget propagated through Jᵀ (estimated in the
/// same forwards with a random-sign vector). The comparison is relative to the tensor's scale:
/// pass when |a_i − r_i| ≤ rtol·‖r‖∞ (atol, a floor meant for O(1) gradients, is replaced by ‖r‖∞);
/// a miss within kBudgetFactor × budget is "tolerance"; a reference within its own budget of 0
/// (with a also within it) is "unresolved" (neither pass nor mismatch). The chain is composed only
/// through layers without kinks that do not mix samples and whose outputs have at most
/// kChainMaxCoordinates elements; otherwise the direct reference is kept (compared relatively when
/// it is resolved, "unresolved" when not).
///
/// Speed. One Model<double> and its buffers are reused; a perturbed forward starts at the
/// perturbed layer from cached activations of the earlier ones; a perturbed layer output of one
/// sample is run forward alone when no later layer mixes samples (batchnorm in training does).
/// Nothing allocates per evaluation.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cnndiag/config.hpp"
#include "cnndiag/loss.hpp"
#include "cnndiag/model.hpp"
#include "cnndiag/probes/probe.hpp"

namespace cnndiag {

enum class GradcheckMode {
  kAuto,         ///< exhaustive for tensors ≤ gradcheck_exhaustive_max elements, else sampled
  kExhaustive,   ///< every coordinate
  kSampled,      ///< gradcheck_samples coordinates per tensor, drawn from the seed
  kDirectional,  ///< several random directions v: vᵀa against (E(θ+hv) − E(θ−hv))/2h
};
std::string_view to_string(GradcheckMode mode);
/// "auto" | "exhaustive" | "sampled" | "directional"; throws UsageError otherwise.
GradcheckMode parse_gradcheck_mode(std::string_view text);

/// A failing coordinate whose error is below kBudgetFactor × its estimated FD error is a
/// tolerance problem, not a bug.
inline constexpr double kBudgetFactor = 10.0;
/// The chain-rule reference composes ∂E/∂y of a layer output only up to this many elements.
inline constexpr Index kChainMaxCoordinates = 65536;

struct GradcheckSettings {
  GradcheckMode mode = GradcheckMode::kAuto;
  double atol = 1e-8;
  double rtol = 1e-5;
  Index samples = 64;           ///< K in sampled mode
  Index exhaustive_max = 4096;  ///< auto: tensors up to this size are checked exhaustively
  int directions = 8;           ///< directional mode: random directions per tensor
  std::uint64_t seed = 1;       ///< sampled coordinates, directions, isolated inputs
  std::string layer;            ///< only this layer's tensors (empty: every layer)
  bool end_to_end = true;       ///< through the loss
  bool isolated = false;        ///< also each layer alone (random x and dy), like checkLayer
  bool output_grads = true;     ///< also ∂E/∂(layer output), "conv1:output"
  bool hypotheses = true;       ///< try catalogued faults on mismatches

  /// `base` with atol, rtol, samples and exhaustive_max replaced by the config's [probe]
  /// gradcheck_atol, gradcheck_rtol, gradcheck_samples and gradcheck_exhaustive_max.
  static GradcheckSettings from_config(const Config& config, GradcheckSettings base);
  static GradcheckSettings from_config(const Config& config);
};

enum class CheckStatus {
  kPass,       ///< every checked coordinate within atol + rtol·|n|
  kTolerance,  ///< some fail, but each within kBudgetFactor × its FD error budget
  kMismatch,   ///< some fail by more than FD error can explain: a wrong gradient
  kUnresolved,  ///< the reference is within its own error budget of 0: no verdict either way
};
std::string_view to_string(CheckStatus status);

/// The comparison for one tensor.
struct TensorCheck {
  std::string tensor;   ///< "fc1.weight", "conv1:output", or isolated "conv1:input" (dx)
  std::string layer;    ///< the layer the tensor belongs to
  /// The layer whose backward computed the tensor: the layer itself for parameter grads, the
  /// next layer for "L:output" (∂E/∂output of L is the input gradient of L's successor), the
  /// loss for the last layer's output.
  std::string computed_by;
  std::string scope;    ///< "end_to_end" | "isolated" | "against"
  /// "direct": finite differences of E (or, isolated, of Σ y ⊙ dy); "chain": the chain-rule
  /// reference (header comment), used when the direct one is inconclusive; "import" (against).
  std::string reference = "direct";
  GradcheckMode mode = GradcheckMode::kExhaustive;  ///< as run (auto resolved)
  Index size = 0;           ///< elements in the tensor
  Index checked = 0;        ///< coordinates (or directions) compared
  Index skipped_kinks = 0;  ///< coordinates (or directions) whose step crosses a kink
  Index mismatches = 0;     ///< compared ones failing atol + rtol·|n|
  double max_abs_error = 0;  ///< max |a − n|
  double max_rel_error = 0;  ///< max |a − n| / max(|n|, atol); against: ‖u − r‖/‖r‖
  double truncation = 0;     ///< estimated truncation error at the worst coordinate
  double rounding = 0;       ///< estimated rounding error at the worst coordinate
  Index worst = -1;          ///< flat index (or direction number) of the worst coordinate
  double analytic_at_worst = 0, numeric_at_worst = 0;
  /// Over the compared values: cosine of analytic vs reference, and the scale s minimising
  /// ‖a − s·n‖ (1 when they agree; N for a gradient summed instead of averaged).
  double cosine = 1, scale = 1;
  double analytic_norm = 0, reference_norm = 0;
  double analytic_max = 0, reference_max = 0;  ///< ‖·‖∞ over the compared values
  CheckStatus status = CheckStatus::kPass;

  double budget() const { return truncation + rounding; }
  bool passed() const { return status == CheckStatus::kPass; }
};

/// A catalogued bug (or a pure scale) that reproduces the observed wrong gradients.
struct Hypothesis {
  std::string fault;   ///< fault id, "scale" (a pure factor), or "unexplained"
  std::string layer;   ///< where it was injected ("loss" for missing_batch_mean); "" for scale
  std::string description;           ///< what the bug is, one line
  std::vector<std::string> explains;     ///< mismatching tensors it reproduces
  std::vector<std::string> unexplained;  ///< mismatching tensors it does not
  double max_rel_error = 0;  ///< max over compared tensors of ‖g_bug − g_obs‖∞ / ‖g_obs‖∞
  double scale = 1;          ///< a factor applied on top of the fault (1: none), e.g. N
  std::string scale_name;    ///< "missing batch mean" for N, "sign flip" for −1, …
  bool complete = false;     ///< explains every mismatching tensor, leaves the others unchanged
};

/// Where the gradients first go wrong, walking back from the loss.
struct Localisation {
  bool found = false;
  std::string tensor;       ///< the first mismatching tensor in backward order
  std::string layer;        ///< the layer whose backward computed it
  std::string message;      ///< "∂E/∂ output of fc1 (computed by sig1's backward) is wrong; …"
};

struct GradcheckResult {
  std::string source;       ///< checkpoint, config, or the --against file
  std::string params_from;  ///< "checkpoint iteration 10", "config init (seed 1)", "file"
  Index samples = 0;        ///< N of the batch the loss averages over
  double loss = 0;          ///< E at the checked params
  std::vector<TensorCheck> checks;  ///< backward order: last layer first; isolated ones after
  Localisation localisation;
  std::vector<Hypothesis> hypotheses;  ///< best first
  double seconds = 0;       ///< wall time of the checks

  Index mismatching() const;   ///< checks with status kMismatch
  Index tolerance_only() const;  ///< checks with status kTolerance
  Index unresolved() const;      ///< checks with status kUnresolved
};

/// End to end through the loss on `model`'s current params and `batch` (training-mode forward,
/// as the trainer computes gradients; batchnorm running statistics are left as they were), plus
/// isolated per-layer checks when settings.isolated. `layers`/`loss` are the config the model was
/// built from (hypotheses build fault-injected copies from them). The model's own backward —
/// faults included — is what gets checked.
GradcheckResult gradcheck_model(const std::vector<LayerConfig>& layers, const LossConfig& loss,
                                Model<double>& model, const Tensor<double>& inputs,
                                const Targets<double>& targets, const GradcheckSettings& settings);

/// A checkpoint's params and probe batch (float32 checkpoints are converted to float64).
/// The thresholds come from the checkpoint's stored config (from_config(config, settings)).
GradcheckResult gradcheck_checkpoint(const std::filesystem::path& checkpoint,
                                     const GradcheckSettings& settings);
/// A config's initial params (drawn from [train] seed) on its data; thresholds from the config.
GradcheckResult gradcheck_config(const Config& config, const GradcheckSettings& settings);

/// `--against FILE`: the user's params and gradients, read through [import] (import.hpp), compared
/// with cnndiag's reference gradients at those params on the config's data (faults in the config
/// are ignored: the reference is cnndiag's correct backward). With grad_reduction "sum" and a
/// mean-reduced loss the user's gradients are N·∂E/∂θ, so they are divided by N before the
/// comparison (and multiplied by N for a sum loss with grad_reduction "mean"); the report is in
/// the config's loss convention. Per tensor: relative error ‖u − r‖/‖r‖, cosine, best scale,
/// status (pass when max|u − r| ≤ atol + rtol·max|r|; rtol is at least 2e-3 when the user's
/// array is single precision); then hypotheses. Throws ConfigError/DataError/ShapeError for an
/// unmapped tensor, a missing variable or a shape that does not fit.
GradcheckResult gradcheck_against(const Config& config, const std::filesystem::path& file,
                                  const GradcheckSettings& settings);

/// Per-layer isolation check (MATLAB checkLayer): random input x ~ N(0,1) away from kinks, random
/// upstream gradient dy, E = Σ y ⊙ dy; checks dx ("<layer>:input") and every parameter gradient.
std::vector<TensorCheck> gradcheck_isolated(Layer<double>& layer, const GradcheckSettings& settings,
                                            Index batch = 3);

/// Findings for a result: `gradcheck.mismatch` (error) per mismatching tensor, with the top
/// hypothesis in evidence and fix; `gradcheck.tolerance` (warning) per tensor that fails only
/// within its error budget; `gradcheck.unresolved` (warning) per tensor whose reference is within
/// its own error budget of 0 (a check that cannot tell right from wrong).
std::vector<Finding> gradcheck_findings(const GradcheckResult& result);

/// For `cnndiag probe`: the sampled end-to-end check on the observation's model and batch.
ProbeResult probe_gradcheck(const Observation& o);

nlohmann::json to_json(const TensorCheck& check);
nlohmann::json to_json(const Hypothesis& hypothesis);

}  // namespace cnndiag
