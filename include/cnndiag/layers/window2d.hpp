#pragma once
/// The sliding-window geometry shared by conv2d, maxpool and avgpool.
///
/// A window of KH×KW moves over the input zero-/−inf-padded by pad_h rows at top and bottom and
/// pad_w columns left and right (symmetric), in steps of stride. The output has
///   OH = floor((H + 2·pad_h − KH) / stride_h) + 1,   OW likewise
/// (PyTorch's floor mode, which is also MatConvNet's formula); windows that would hang over the
/// bottom/right edge are dropped. Output (oh, ow) covers padded rows oh·stride_h … +KH−1, i.e.
/// input rows oh·stride_h − pad_h + kh for kh in [0, KH).

#include <string>

#include "cnndiag/tensor.hpp"

namespace cnndiag {

struct WindowGeometry {
  Index channels = 0, in_h = 0, in_w = 0;  ///< C, H, W of one sample
  Index kernel_h = 0, kernel_w = 0;        ///< KH, KW (pooling: the window size)
  Index stride_h = 1, stride_w = 1;
  Index pad_h = 0, pad_w = 0;
  Index out_h = 0, out_w = 0;              ///< OH, OW

  Index in_plane() const { return in_h * in_w; }
  Index out_plane() const { return out_h * out_w; }
};

/// Validates a window over a per-sample input and computes OH, OW. `who` names the layer in
/// messages ("layer 'conv1' (conv2d)"), `what` the window ("kernel" or "window").
/// Throws ShapeError when the input is not (C,H,W) with positive sizes or the window does not fit
/// the padded input; ConfigError for a window, stride < 1 or pad < 0.
WindowGeometry make_window_geometry(const std::string& who, const char* what, const Shape& input,
                                    Index kernel_h, Index kernel_w, Index stride_h,
                                    Index stride_w, Index pad_h, Index pad_w);

}  // namespace cnndiag
