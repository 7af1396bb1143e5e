#pragma once
/// Settings and padding semantics shared by maxpool and avgpool.
///
/// Geometry: window size_h×size_w, stride, symmetric pad; output size
///   OH = floor((H + 2·pad_h − size_h) / stride_h) + 1   (window2d.hpp; PyTorch's ceil_mode=False)
/// Each channel is pooled on its own: x (N, C, H, W) → y (N, C, OH, OW).
/// pad must be smaller than the window (pad_h < size_h, pad_w < size_w), which guarantees that
/// every window covers at least one real input element; PyTorch is stricter (pad ≤ size/2),
/// MatConvNet asks for the same rule as here ("the size of the pooling filter has to exceed the
/// padding").
///
/// What the padding holds:
///  - maxpool pads with −∞: a padded cell never wins, so y is the max over the window's real
///    elements. PyTorch (MaxPool2d) and MatConvNet (vl_nnpool 'max', which skips cells outside
///    the input) agree.
///  - avgpool pads with 0 and divides by the full window size_h·size_w, also where the window
///    hangs over the border: PyTorch's AvgPool2d default count_include_pad=True.
///    MatConvNet differs here: its CPU and GPU kernels divide by the number of real elements in
///    the clipped window (PyTorch's count_include_pad=False), so border outputs of a padded
///    avgpool differ from MatConvNet's by the factor size_h·size_w / (real elements). Without
///    padding both agree.
///  - MatConvNet also accepts asymmetric padding [top bottom left right]; cnndiag's pad is
///    symmetric.

#include "cnndiag/layers/layer.hpp"
#include "cnndiag/layers/window2d.hpp"

namespace cnndiag {

struct PoolOptions {
  Index size_h = 0, size_w = 0;
  Index stride_h = 1, stride_w = 1;
  Index pad_h = 0, pad_w = 0;
};

/// Validates pooling settings for a per-sample input; throws like make_window_geometry, plus
/// ConfigError when pad ≥ size.
WindowGeometry make_pool_geometry(const std::string& who, const Shape& input,
                                  const PoolOptions& options);

}  // namespace cnndiag
