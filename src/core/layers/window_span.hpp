#pragma once
// The part of a pooling window that lies inside the input plane.

#include <algorithm>

#include "cnndiag/layers/window2d.hpp"

namespace cnndiag::detail {

/// Input rows [h_begin, h_end) and columns [w_begin, w_end) that output (oh, ow) covers.
struct WindowSpan {
  Index h_begin, h_end, w_begin, w_end;
};

inline WindowSpan window_span(const WindowGeometry& g, Index oh, Index ow) {
  const Index h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
  return {std::max<Index>(h0, 0), std::min(h0 + g.kernel_h, g.in_h), std::max<Index>(w0, 0),
          std::min(w0 + g.kernel_w, g.in_w)};
}

}  // namespace cnndiag::detail
