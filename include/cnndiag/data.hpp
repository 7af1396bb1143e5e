#pragma once
/// The minibatch a run trains and probes on: inputs as (N, C, H, W) or (N, D), regression targets
/// as (N, K) or class labels, converted from the file's layout and normalised (DESIGN.md §4).

#include <cstdint>
#include <vector>

#include "cnndiag/array_file.hpp"
#include "cnndiag/config.hpp"
#include "cnndiag/tensor.hpp"

namespace cnndiag {

enum class TargetKind {
  kRegression,   ///< real-valued targets (N, K), e.g. for mse
  kClassLabels,  ///< integer labels in [0, K), e.g. for softmax_cross_entropy
};

struct Dataset {
  Tensor<double> inputs;             ///< (N, C, H, W) or (N, D), after normalisation
  Tensor<double> targets;            ///< (N, K) for kRegression; empty otherwise
  std::vector<std::int64_t> labels;  ///< N labels in [0, K) for kClassLabels; empty otherwise
  Index samples() const { return inputs.dim(0); }
  Shape sample_shape() const { return inputs.shape().drop_first(); }
};

/// Loads `[data]`. `outputs` is K, the model's output width: synthetic targets get K components,
/// read targets must have K (regression) or labels must lie in [0, K) (classification).
/// Throws IoError / DataError naming the file, the dataset, what was expected and what was found:
/// missing dataset (listing those that exist), wrong rank or element count, non-numeric type,
/// NaN/Inf in inputs or targets (count and first index), label out of range.
Dataset load_dataset(const DataConfig& config, TargetKind kind, Index outputs);

/// The per-sample input shape load_dataset() will produce, read from the file's metadata only
/// (no values): what the model is built for before the data are loaded.
Shape input_sample_shape(const DataConfig& config);

/// Converts a raw array of inputs to (N, C, H, W) / (N, D) for `layout` (kAuto already resolved).
/// `shape`, when given, is the per-sample shape for flat inputs. Exposed for tests and [import].
Tensor<double> inputs_to_nchw(const RawArray& raw, Layout layout, const std::optional<Shape>& shape);

/// Converts a raw targets array to (N, K): nchw (N,K) or (N,K,1,1)…; matlab K×N or K×1×N.
Tensor<double> targets_to_nk(const RawArray& raw, Layout layout);

/// In-place normalisation of (N, …) inputs.
void normalize_inputs(Tensor<double>& inputs, Normalize mode);

/// kAuto → kMatlab for .mat files, kNchw otherwise.
Layout resolve_layout(Layout layout, ArrayFile::Format format);

}  // namespace cnndiag
