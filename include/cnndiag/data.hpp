#pragma once
/// The minibatch a run trains and probes on: inputs as (N, C, H, W) or (N, D), regression targets
/// as (N, K) or class labels, converted from the file's layout and normalised (DESIGN.md §4).
///
/// Layouts name how the array sits in memory, whatever the file format:
///   "nchw"    row-major. Inputs (N,C,H,W); (N,H,W) means C = 1; (N,D) stays flat unless
///             `[data] shape` gives the per-sample shape. Targets (N,K), (N,K,1,1) or (N) (K = 1).
///   "matlab"  column-major, dims as MATLAB's size() shows them. Inputs H×W×C×N; H×W×N means
///             C = 1 (MATLAB shows a batch of H×W×1×N as H×W×1×N, since N follows, but an
///             H×W×N array is common too); D×N is one column per sample, flat unless `shape`
///             is given. With `shape`, N = numel / prod(shape) and each sample's block is read as
///             column-major H×W×C — which also covers a single sample, whose trailing 1 MATLAB
///             drops (H×W×C). Targets K×N or K×1×N (more 1s between are allowed).
///             The last dim is always N; rank ≤ 4.
/// A file's dims are reversed when its order differs from the layout's: "matlab" on an HDF5
/// file (MATLAB's h5write, or a v7.3 file read as plain HDF5, shows (N,C,W,H) to h5py) reads
/// it as column-major H×W×C×N; "nchw" on a .mat file reads MATLAB's W×H×C×N as row-major NCHW.

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
/// read targets must have K (regression) or labels must lie in [0, K) (classification);
/// outputs ≤ 0 skips the regression width check (synthetic targets then need outputs > 0).
/// Throws IoError / DataError naming the file, the dataset, what was expected and what was found:
/// missing dataset (listing those that exist), wrong rank or element count, non-numeric type,
/// NaN/Inf in inputs or targets (count and first index), label out of range.
///
/// Synthetic targets `{ random, seed }`: Rng(seed) draws uniform [0,1) (MATLAB rand) or normal
/// (randn) values in MATLAB's column-major K×N order, k fastest — the order of rand(K,1,N). For
/// class labels, Rng(seed).below(K) per sample.
/// Class labels: one integer-valued number per sample in any vector shape; label_base (default 1
/// for the matlab layout, 0 otherwise) is subtracted and the result must lie in [0, K).
/// NaN/Inf are checked before normalisation.
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
///   kMinmaxPerSample: MATLAB's mapminmax(X', 0, 1) with X the D×N matrix, i.e. each sample's D
///     values by y = (x − min)·(1/(max − min)). Like mapminmax, a sample it cannot scale
///     (max == min, or 1/(max − min) > 1e14) is left unchanged — not mapped to 0.
///   kStandardize: per feature over the N samples, (x − mean)/std with the population std
///     (÷N, as sklearn's StandardScaler; MATLAB's zscore uses N−1); zero std → only centred.
void normalize_inputs(Tensor<double>& inputs, Normalize mode);

/// kAuto → kMatlab for .mat files, kNchw otherwise.
Layout resolve_layout(Layout layout, ArrayFile::Format format);

}  // namespace cnndiag
