#pragma once
/// HDF5 checkpoints (DESIGN.md §5), readable by h5py, h5dump and MATLAB's h5read:
///
///   /                          attrs format="cnndiag-checkpoint", format_version=1,
///                              cnndiag_version, iteration, seed, created_utc, dtype
///   /config                    string: the full TOML the run used (paths resolved)
///   /params/<layer>/<param>    e.g. /params/conv1/weight (OC,C,KH,KW), in the training dtype
///   /buffers/<layer>/<name>    non-trainable state (batchnorm running_mean, running_var)
///   /optimizer/<layer>/<param>/<slot>   velocity, m, v; attrs on /optimizer: type, lr, step
///   /grads/<layer>/<param>     data gradient (without decay) at these params on the probe batch
///   /history/iteration, /history/loss   1-D: step t (1-based) and the loss computed in step t,
///                                       i.e. at the params after t−1 updates
///   /probe/inputs              the normalised batch the run trained on, (N, C, H, W) or (N, D)
///   /probe/targets | /probe/labels      (N, K) float64 targets, or (N) int64 class labels
///   /rng                       uint64 generator state (mini-batch shuffling), for --resume
///   /train/order, /train/cursor         the current epoch's sample order and position
///
/// Writes are atomic: the file is written as `<name>.tmp`, flushed, fsync'ed and renamed over the
/// final name, so a crash at any point leaves the previous checkpoint intact. Reading checks
/// `format` and `format_version` and every object's presence and shape, and throws
/// CheckpointError naming the file and the object.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cnndiag/tensor.hpp"

namespace cnndiag {

inline constexpr const char* kCheckpointFormat = "cnndiag-checkpoint";
inline constexpr std::int64_t kCheckpointVersion = 1;

struct NamedTensor {
  std::string key;       ///< "conv1.weight" (or "conv1.weight/velocity" for optimizer slots)
  Tensor<double> value;
};

/// Everything a checkpoint holds, with tensors in double (float32 values convert exactly).
struct CheckpointData {
  std::string cnndiag_version;
  std::int64_t iteration = 0;
  std::uint64_t seed = 0;
  std::string created_utc;
  std::string dtype = "float32";       ///< the training dtype; params are stored in it
  std::string config_text;
  std::vector<NamedTensor> params;     ///< model order
  std::vector<NamedTensor> buffers;
  std::vector<NamedTensor> grads;      ///< same keys as params
  std::string optimizer_type;
  double optimizer_lr = 0.0;
  std::int64_t optimizer_step = 0;
  std::vector<NamedTensor> optimizer_slots;  ///< key "conv1.weight/velocity"
  std::vector<std::int64_t> history_iteration;
  std::vector<double> history_loss;
  Tensor<double> probe_inputs;
  Tensor<double> probe_targets;              ///< regression; empty otherwise
  std::vector<std::int64_t> probe_labels;    ///< classification; empty otherwise
  std::vector<std::uint64_t> rng_state;
  std::vector<std::int64_t> train_order;
  std::int64_t train_cursor = 0;

  const NamedTensor* find_param(const std::string& key) const;
  const NamedTensor* find_grad(const std::string& key) const;
};

/// "ckpt-00001000.h5"
std::string checkpoint_file_name(std::int64_t iteration);

/// Writes atomically (tmp + fsync + rename). Throws IoError naming the file.
void write_checkpoint(const std::filesystem::path& path, const CheckpointData& data);

/// Reads and validates. Throws CheckpointError (wrong format/version, missing or malformed object:
/// "ckpt.h5: /params/fc1/weight: missing") or IoError (not HDF5, truncated).
CheckpointData read_checkpoint(const std::filesystem::path& path);

/// The checkpoints in a folder, sorted by iteration (by the number in the name).
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& dir);

}  // namespace cnndiag
