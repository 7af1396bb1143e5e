#pragma once
/// The run configuration: a TOML file parsed into typed structs (DESIGN.md §3).
///
/// Every key has a documented default (the initialisers below are those defaults; the README's
/// config reference lists them). Parsing is strict: unknown keys and layer types are ConfigErrors
/// carrying `file:line:col` and a "did you mean" suggestion; wrong types and out-of-range values
/// name the key, what was expected and what was found. Relative paths resolve against the config
/// file's folder.
///
/// Every struct compares with `==` member by member, source locations included (a round trip
/// through to_toml() is equal once the `where` members are cleared).

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cnndiag/tensor.hpp"

namespace cnndiag {

/// Where a value came from in a config file, for messages: "net.toml:12:7".
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  /// "file:line:col", or just "file" when the position is unknown.
  std::string str() const;
  friend bool operator==(const SourceLocation&, const SourceLocation&) = default;
};

/// How arrays are laid out in a data or weight file (DESIGN.md §4).
enum class Layout {
  kAuto,    ///< "auto": nchw for HDF5 files, matlab for .mat files
  kNchw,    ///< "nchw": row-major N×C×H×W (numpy, h5py, PyTorch)
  kMatlab,  ///< "matlab": column-major H×W×C×N (a 2-D input is D×N; targets K×1×N or K×N)
};

enum class Normalize {
  kNone,             ///< "none"
  kMinmaxPerSample,  ///< "minmax-per-sample": each sample scaled to [0,1] (MATLAB mapminmax(X',0,1))
  kStandardize,      ///< "standardize": each feature to zero mean, unit std over the samples
};

/// `[data] targets`: a dataset name, or synthetic `{ random = "uniform"|"normal", seed = 7 }`.
struct TargetsSpec {
  std::string dataset = "y";        ///< dataset/variable name when read from the file
  bool random = false;              ///< synthetic targets instead of a dataset
  std::string distribution = "uniform";  ///< "uniform" (U[0,1), MATLAB rand) | "normal" (randn)
  std::uint64_t seed = 0;           ///< synthetic targets' own seed
  friend bool operator==(const TargetsSpec&, const TargetsSpec&) = default;
};

struct DataConfig {
  std::filesystem::path file;       ///< required; resolved against the config's folder
  std::string inputs = "X";         ///< dataset/variable name; HDF5 paths ("/group/X") allowed
  TargetsSpec targets;
  Layout layout = Layout::kAuto;
  Normalize normalize = Normalize::kNone;
  /// `shape = [C, H, W]`: per-sample input shape, for inputs stored flat (N×D or MATLAB D×N).
  std::optional<Shape> shape;
  /// `label_base`: the smallest class label in the file (MATLAB labels usually start at 1).
  /// Default: 1 for the matlab layout, 0 otherwise.
  std::optional<std::int64_t> label_base;
  SourceLocation where;             ///< the [data] table
  friend bool operator==(const DataConfig&, const DataConfig&) = default;
};

/// One initialiser: `init.weight = { normal = { mean = 0, std = 0.01 } }`, `"he"`, `{ constant = 0 }`.
struct InitSpec {
  enum class Kind {
    kDefault,   ///< PyTorch's default: weight U(±1/√fan_in), bias 0
    kNormal,    ///< mean, std
    kUniform,   ///< low, high
    kConstant,  ///< value
    kHe,        ///< Kaiming: std = gain/√fan_in with gain √2 (normal) or U(±√(6/fan_in)) (uniform)
    kXavier,    ///< Glorot: std = √(2/(fan_in+fan_out)), or U(±√(6/(fan_in+fan_out)))
  };
  Kind kind = Kind::kDefault;
  double mean = 0.0, std = 1.0;     ///< normal
  double low = 0.0, high = 1.0;     ///< uniform
  double value = 0.0;               ///< constant
  bool uniform_variant = false;     ///< he/xavier: `distribution = "uniform"` (default "normal")
  friend bool operator==(const InitSpec&, const InitSpec&) = default;
};

struct LayerConfig {
  /// Unique; letters, digits, '_' and '-' (it names an HDF5 group and [import] keys). Default:
  /// "<type><k>" for the k-th layer of that type, counting every layer of the type from 1, named
  /// or not: conv2d1, relu1, linear1, linear2.
  std::string name;
  std::string type;                 ///< conv2d maxpool avgpool relu leaky_relu sigmoid tanh linear batchnorm
  // conv2d
  std::int64_t out_channels = 0;    ///< required for conv2d
  std::int64_t kernel_h = 0, kernel_w = 0;  ///< `kernel = 3` or `[3, 5]`; required for conv2d
  // conv2d and pooling
  std::int64_t stride_h = 1, stride_w = 1;  ///< `stride`; pooling defaults to its size
  std::int64_t pad_h = 0, pad_w = 0;        ///< `pad = 1` or `[1, 2]` (symmetric)
  // pooling
  std::int64_t size_h = 0, size_w = 0;      ///< `size = 2` or `[2, 2]`; required for pooling
  // linear
  std::int64_t out = 0;             ///< required for linear
  bool bias = true;                 ///< conv2d, linear (batchnorm always has its beta)
  // leaky_relu
  double negative_slope = 0.01;
  // batchnorm
  double eps = 1e-5;
  double bn_momentum = 0.1;         ///< key `momentum`: running = (1−m)·running + m·batch
  /// Initialisers by parameter name ("weight", "bias"; batchnorm's gamma and beta are "weight"
  /// and "bias"). After parsing, every parameter of the layer has an entry (Kind::kDefault for
  /// those not given; none for "bias" when bias = false).
  std::map<std::string, InitSpec> init;
  std::string fault;                ///< fault id (DESIGN.md §7.2); empty for none
  SourceLocation where;             ///< the [[layer]] table
  friend bool operator==(const LayerConfig&, const LayerConfig&) = default;
};

struct LossConfig {
  std::string type = "mse";         ///< "mse" | "softmax_cross_entropy"
  std::string reduction = "mean";   ///< "mean" over samples | "sum"
  double scale = 1.0;               ///< E = scale · reduction_i loss_i  (the seed: mse, mean, 0.5)
  std::string fault;                ///< "missing_batch_mean" or empty
  SourceLocation where;
  friend bool operator==(const LossConfig&, const LossConfig&) = default;
};

struct OptimizerConfig {
  std::string type = "sgd";         ///< "sgd" | "adam" | "adamw"
  double lr = 0.01;                 ///< > 0
  double momentum = 0.0;            ///< sgd: v ← μ·v + g; w ← w − lr·v (PyTorch's form)
  bool nesterov = false;            ///< sgd
  double weight_decay = 0.0;        ///< sgd/adam: coupled L2 g ← g + λw; adamw: decoupled w ← w − lr·λ·w
  bool bias_decay = false;          ///< decay biases (and batchnorm parameters) too
  double bias_lr_scale = 1.0;       ///< biases step at bias_lr_scale·lr (the seed: 0.1)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  ///< adam, adamw
  SourceLocation where;
  friend bool operator==(const OptimizerConfig&, const OptimizerConfig&) = default;
};

struct TrainConfig {
  std::int64_t iterations = 1000;   ///< optimizer steps
  std::uint64_t seed = 1;           ///< every random draw derives from it
  std::string dtype = "float32";    ///< "float32" | "float64"
  std::int64_t batch_size = 0;      ///< 0: full batch; < N: shuffled mini-batches
  std::int64_t threads = 0;         ///< 0: all cores
  std::int64_t log_every = 0;       ///< loss logged to /history every k steps; 0: every step
  SourceLocation where;
  friend bool operator==(const TrainConfig&, const TrainConfig&) = default;
};

struct CheckpointConfig {
  std::filesystem::path dir;        ///< default "runs/<config stem>" beside the config; resolved
  std::int64_t every = 1000;        ///< plus iteration 0 and the last iteration
  /// `at = [1, 2, 5, 10]`: extra iterations to checkpoint (e.g. log-spaced early ones, so a probe
  /// of the folder sees when each layer collapsed). Sorted, unique, each ≥ 1.
  std::vector<std::int64_t> at;
  SourceLocation where;
  friend bool operator==(const CheckpointConfig&, const CheckpointConfig&) = default;
};

/// `[probe]`: probe thresholds by name. After parsing, holds every key of
/// probe_threshold_defaults(), with the config's overrides applied.
struct ProbeConfig {
  std::map<std::string, double> thresholds;
  SourceLocation where;
  friend bool operator==(const ProbeConfig&, const ProbeConfig&) = default;
};

struct ProbeThresholdInfo {
  std::string_view key;
  double default_value;
  std::string_view doc;
};
/// The table of every `[probe]` key with its default and meaning (DESIGN.md §6).
const std::vector<ProbeThresholdInfo>& probe_threshold_defaults();

/// `[import]`: how a weight/gradient file made elsewhere maps onto the model (DESIGN.md §7.3).
struct ImportConfig {
  Layout layout = Layout::kAuto;
  std::string grad_reduction = "sum";  ///< "sum" | "mean": how the user's gradients reduce over samples
  /// model tensor ("conv1.weight", or "conv1:output" for grads) → variable name, in file order.
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::pair<std::string, std::string>> grads;
  SourceLocation where;
  friend bool operator==(const ImportConfig&, const ImportConfig&) = default;
};

struct Config {
  std::filesystem::path path;       ///< the file it was read from (absolute)
  std::string source_text;          ///< the TOML text as read
  DataConfig data;
  std::vector<LayerConfig> layers;
  LossConfig loss;
  OptimizerConfig optimizer;
  TrainConfig train;
  CheckpointConfig checkpoint;
  ProbeConfig probe;
  std::optional<ImportConfig> import;

  /// A probe threshold: the config's value, or the default. Throws InternalError for unknown keys.
  double threshold(std::string_view key) const;
  friend bool operator==(const Config&, const Config&) = default;
};

/// Reads and validates a config file. Throws IoError (cannot read) or ConfigError.
Config load_config(const std::filesystem::path& path);

/// Parses TOML text as if read from `path` (used for messages and to resolve relative paths).
Config parse_config(std::string_view text, const std::filesystem::path& path);

/// The config as TOML with every key explicit and paths absolute: what a checkpoint stores in
/// /config, and what `cnndiag inspect net.toml` prints as "resolved config". parse_config() of
/// the result gives back an equal Config (up to source locations).
std::string to_toml(const Config& config);

std::string_view to_string(Layout layout);
std::string_view to_string(Normalize normalize);

}  // namespace cnndiag
