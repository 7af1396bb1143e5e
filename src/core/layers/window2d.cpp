#include "cnndiag/layers/window2d.hpp"

#include "cnndiag/errors.hpp"

namespace cnndiag {
namespace {

std::string pair_str(Index a, Index b) { return std::to_string(a) + "×" + std::to_string(b); }

}  // namespace

WindowGeometry make_window_geometry(const std::string& who, const char* what, const Shape& input,
                                    Index kernel_h, Index kernel_w, Index stride_h,
                                    Index stride_w, Index pad_h, Index pad_w) {
  if (input.rank() != 3)
    throw ShapeError(who + " needs a (C,H,W) input, got " + input.str() +
                     " from the previous layer");
  if (input[0] <= 0 || input[1] <= 0 || input[2] <= 0)
    throw ShapeError(who + " needs a non-empty (C,H,W) input, got " + input.str());
  if (kernel_h < 1 || kernel_w < 1)
    throw ConfigError(who + ": " + what + " must be at least 1×1, got " +
                      pair_str(kernel_h, kernel_w));
  if (stride_h < 1 || stride_w < 1)
    throw ConfigError(who + ": stride must be at least 1, got " + pair_str(stride_h, stride_w));
  if (pad_h < 0 || pad_w < 0)
    throw ConfigError(who + ": pad must be >= 0, got " + pair_str(pad_h, pad_w));
  WindowGeometry g;
  g.channels = input[0];
  g.in_h = input[1];
  g.in_w = input[2];
  g.kernel_h = kernel_h;
  g.kernel_w = kernel_w;
  g.stride_h = stride_h;
  g.stride_w = stride_w;
  g.pad_h = pad_h;
  g.pad_w = pad_w;
  if (g.in_h + 2 * pad_h < kernel_h || g.in_w + 2 * pad_w < kernel_w)
    throw ShapeError(who + ": " + what + " " + pair_str(kernel_h, kernel_w) + " with pad " +
                     (pad_h == pad_w ? std::to_string(pad_h) : pair_str(pad_h, pad_w)) +
                     " does not fit input " + input.str() + " (padded " +
                     pair_str(g.in_h + 2 * pad_h, g.in_w + 2 * pad_w) + ")");
  g.out_h = (g.in_h + 2 * pad_h - kernel_h) / stride_h + 1;
  g.out_w = (g.in_w + 2 * pad_w - kernel_w) / stride_w + 1;
  return g;
}

}  // namespace cnndiag
