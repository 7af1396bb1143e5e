#pragma once
/// Training a config's network on its minibatch, with checkpoints (DESIGN.md §2 train, §5).
///
/// One step t (1-based): forward the batch, E and ∂E/∂y from the loss, backward, record E in the
/// history as (t, E), optimizer update. Checkpoints hold the params after t steps: iteration 0
/// (the init), every `every` steps, and the last. Full-batch by default; `[train] batch_size` < N
/// draws shuffled mini-batches, epoch by epoch, from the run's Rng.
///
/// Determinism: every random draw derives from the seed; with the same seed and thread count two
/// runs write bit-identical params, and --resume from a checkpoint continues bit-identically.
/// The core never prints: progress goes to the on_progress callback, messages to the logger.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cnndiag/config.hpp"
#include "cnndiag/data.hpp"
#include "cnndiag/loss.hpp"
#include "cnndiag/model.hpp"

namespace spdlog {
class logger;
}

namespace cnndiag {

struct TrainProgress {
  std::int64_t iteration;  ///< steps done
  std::int64_t total;      ///< steps the run will do in all
  double loss;             ///< loss computed in the latest step
};

struct TrainOptions {
  std::optional<std::int64_t> iterations;          ///< overrides [train] iterations
  std::optional<std::filesystem::path> out_dir;    ///< overrides [checkpoint] dir
  std::optional<std::filesystem::path> resume;     ///< continue from this checkpoint
  std::optional<std::uint64_t> seed;               ///< overrides [train] seed
  int threads = 0;                                 ///< 0: the config's [train] threads
  const std::atomic<bool>* interrupt = nullptr;    ///< set (e.g. by SIGINT) to stop after a step
  std::function<void(const TrainProgress&)> on_progress;  ///< after every step
  /// Once the model is built and the data loaded, before the first step.
  std::function<void(const std::vector<LayerSummary>&, const Shape& input, Index samples)> on_start;
  std::shared_ptr<spdlog::logger> logger;          ///< null: silent
};

struct TrainResult {
  enum class Stop { kFinished, kNonFinite, kInterrupted };
  Stop stop = Stop::kFinished;
  std::int64_t iteration = 0;                      ///< steps done when it stopped
  double loss = 0.0;                               ///< last loss computed
  std::vector<std::filesystem::path> checkpoints;  ///< written by this run, in order
  std::string message;                             ///< why it stopped, for kNonFinite
  double seconds = 0.0;                            ///< wall time of the step loop
};

/// Trains in the config's dtype. Throws ConfigError/DataError/IoError/CheckpointError for bad
/// input (exit 2 in the CLI); a non-finite loss or an interrupt is a result, not an error.
TrainResult train(const Config& config, const TrainOptions& options);

/// The minibatch as the model consumes it: inputs and targets in the model's scalar type.
template <typename T>
struct Batch {
  Tensor<T> inputs;
  Targets<T> targets;
};

/// Loads a config's data, builds its model (not initialised), and converts the data to T.
/// Shared by train, inspect, probe and gradcheck.
template <typename T>
struct Workbench {
  Dataset data;
  std::unique_ptr<Model<T>> model;
  Batch<T> batch;
};
template <typename T>
Workbench<T> open_workbench(const Config& config);

/// Loss kind → the targets the data must provide.
TargetKind target_kind(const LossConfig& loss);

}  // namespace cnndiag
