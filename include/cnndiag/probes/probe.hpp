#pragma once
/// Probes (DESIGN.md §6): each reads what one checkpoint (or a series) shows on the probe batch and
/// returns measurements and findings. Probes never print and never change the model: the
/// observation is made once (observe()) by running the model forward and backward in float64 on
/// the checkpoint's own batch with an observer, and every probe reads it.

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cnndiag/checkpoint.hpp"
#include "cnndiag/config.hpp"
#include "cnndiag/loss.hpp"
#include "cnndiag/model.hpp"
#include "cnndiag/optim.hpp"

namespace cnndiag {

enum class Severity { kInfo, kWarning, kError };
std::string_view to_string(Severity severity);
/// "error" | "warning" | "info"; throws UsageError for anything else.
Severity parse_severity(std::string_view text);

/// One thing a probe found (DESIGN.md §6): stable id, severity, where, what, evidence, fix.
struct Finding {
  std::string id;              ///< "collapse.identical_outputs"
  Severity severity = Severity::kInfo;
  std::string layer;           ///< layer name, or empty for model-wide findings
  std::string tensor;          ///< "conv1.weight", "conv1:output", or empty
  std::string message;         ///< one sentence for people
  nlohmann::json evidence = nlohmann::json::object();  ///< the numbers behind it
  std::string fix;             ///< what to change, with numbers where possible
};

/// What the model does on the probe batch at one checkpoint, in float64.
struct LayerObservation {
  std::string name;
  std::string type;
  Shape output_shape;          ///< per sample
  Tensor<double> input;        ///< (N, in...): what the layer received
  Tensor<double> output;       ///< (N, out...)
  Tensor<double> output_grad;  ///< ∂E/∂output (N, out...)
};

struct Observation {
  std::filesystem::path source;     ///< the checkpoint (or weights file)
  Config config;                    ///< parsed from the checkpoint's /config (or the --config)
  std::int64_t iteration = 0;
  std::vector<std::int64_t> history_iteration;
  std::vector<double> history_loss;
  std::unique_ptr<Model<double>> model;      ///< params loaded; grads = data gradient on the batch
  std::unique_ptr<Model<double>> initial;    ///< the same config's params at iteration 0 (re-drawn from the seed)
  Tensor<double> inputs;            ///< the probe batch
  Targets<double> targets;
  double loss = 0.0;                ///< E on the probe batch at these params
  std::vector<double> per_sample_loss;
  std::vector<LayerObservation> layers;
  std::vector<ParamRule> rules;     ///< how the optimizer treats each tensor (decay, lr)
  std::string decay_convention;     ///< "coupled" | "decoupled"
  /// The optimizer's state as the checkpoint stores it (keys "conv1.weight/velocity", ".../m",
  /// ".../v") and the steps it had taken (Adam's t), so probes can compute the exact next step.
  /// Empty and 0 for weights trained elsewhere (observe_params): probes then assume a fresh state.
  std::vector<NamedTensor> optimizer_slots;
  std::int64_t optimizer_step = 0;
};

/// Loads a checkpoint and observes it. Throws CheckpointError/ConfigError for bad input.
/// `probe_set`: sample indices to use (empty: all).
Observation observe_checkpoint(const std::filesystem::path& checkpoint,
                               const std::vector<Index>& probe_set = {});

/// Observes the model of `config` with the given parameter values (weights trained elsewhere,
/// mapped through [import]) on the config's own data.
Observation observe_params(const Config& config, const std::vector<NamedTensor>& params,
                           const std::filesystem::path& source,
                           const std::vector<Index>& probe_set = {});

/// The output of one probe on one observation.
struct ProbeResult {
  std::string probe;                 ///< "collapse"
  nlohmann::json measurements = nlohmann::json::object();  ///< keyed by layer or tensor name
  std::vector<Finding> findings;
};

}  // namespace cnndiag
