#pragma once
/// Parameters and gradients made elsewhere (MATLAB, NumPy, PyTorch), mapped onto a model through
/// the config's `[import]` table (DESIGN.md §4, §7.3). Used by `cnndiag gradcheck --against` and
/// `cnndiag probe --config F --weights FILE`.
///
/// Layouts. "nchw" arrays are already in cnndiag's order: conv weight (OC, C, KH, KW), linear
/// weight (out, in) with `in` the row-major flatten of (C, H, W), biases (out), a layer output
/// (N, out...). "matlab" arrays are column-major with MATLAB's size():
///   conv weight   KH×KW×C×OC (MatConvNet), element (kh,kw,c,oc) → (oc,c,kh,kw)
///   linear weight out×in, multiplying reshape(x, [], 1): MATLAB's column j of an input (H,W,C)
///                 is the column-major flatten j = h + H·(w + W·c), cnndiag's is the row-major
///                 i = (c·H + h)·W + w, so columns are permuted (identity for a flat input)
///   bias          any vector (out×1, 1×out)
///   layer output  H×W×C×N per sample block (a flat output: D×N or D×1×N)
/// MATLAB drops trailing singleton dimensions (a 3×3×1×1 filter is 3×3), so shapes are compared
/// modulo trailing 1s; a vector matches any shape with one non-1 dimension. An HDF5 file read with
/// layout "matlab" (a v7.3 file through HDF5, or MATLAB's h5write) has its dims reversed first;
/// "nchw" on a .mat file reverses MATLAB's dims likewise (same memory, data.hpp).
///
/// Errors (exit 2 in the CLI), each naming the config, the model tensor, the variable and the file:
/// no [import] table; a model parameter with no [import.params] entry (unmapped tensor); a
/// variable the file does not have (listing the ones it has); a shape that does not fit (the
/// variable, the shape found and the shape expected, in the file's own terms).

#include <filesystem>
#include <string>
#include <vector>

#include "cnndiag/array_file.hpp"
#include "cnndiag/checkpoint.hpp"
#include "cnndiag/config.hpp"
#include "cnndiag/model.hpp"
#include "cnndiag/tensor.hpp"

namespace cnndiag {

/// One tensor read from the file and converted to cnndiag's layout.
struct ImportedTensor {
  std::string key;        ///< "conv1.weight" or "conv1:output"
  std::string variable;   ///< the variable/dataset it came from
  std::string dtype;      ///< the file's element type ("float32", "float64", …)
  Tensor<double> value;   ///< cnndiag layout
};

/// What a linear/conv/vector tensor is, for the layout conversion.
enum class TensorKind {
  kConvWeight,    ///< (OC, C, KH, KW)
  kLinearWeight,  ///< (out, in); `input_shape` is the layer's per-sample input
  kVector,        ///< biases, batchnorm γ/β
  kLayerOutput,   ///< (N, out...) with per-sample shape `input_shape` (the layer's output shape)
};

/// Converts a raw array (array_file.hpp) to cnndiag's layout for a tensor of `expected` shape
/// (for kLayerOutput: the per-sample output shape; N is inferred). `layout` must be kNchw or
/// kMatlab. Throws ShapeError "'<variable>' (<key>) has size 4×399, expected 4×400 …".
Tensor<double> import_tensor(const RawArray& raw, Layout layout, TensorKind kind,
                             const Shape& expected, const Shape& input_shape,
                             const std::string& key);

/// The inverse (cnndiag → the file's array), for tests and for writing MATLAB-layout files:
/// values in the file's element order and the dims MATLAB (column-major) or h5py (nchw) shows.
RawArray export_tensor(const Tensor<double>& value, Layout layout, TensorKind kind,
                       const Shape& input_shape);

/// Every parameter of the config's model, read from `file` through [import.params]: one entry per
/// model parameter, in model order. `model` gives the shapes (any scalar type's model of the
/// same config).
std::vector<ImportedTensor> load_imported(const Config& config, const std::filesystem::path& file,
                                          const Model<double>& model, bool grads);

/// load_imported(params) as NamedTensors, for observe_params(): builds the model from the config
/// (reading only the data file's metadata for the input shape).
std::vector<NamedTensor> load_imported_params(const Config& config,
                                              const std::filesystem::path& file);

}  // namespace cnndiag
