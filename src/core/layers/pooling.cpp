#include "cnndiag/layers/pooling.hpp"

#include "cnndiag/errors.hpp"

namespace cnndiag {

WindowGeometry make_pool_geometry(const std::string& who, const Shape& input,
                                  const PoolOptions& options) {
  WindowGeometry g =
      make_window_geometry(who, "window", input, options.size_h, options.size_w,
                           options.stride_h, options.stride_w, options.pad_h, options.pad_w);
  if (options.pad_h >= options.size_h || options.pad_w >= options.size_w)
    throw ConfigError(who + ": pad must be smaller than the window so that every window covers "
                            "an input element, got pad " +
                      std::to_string(options.pad_h) + "×" + std::to_string(options.pad_w) +
                      " for window " + std::to_string(options.size_h) + "×" +
                      std::to_string(options.size_w));
  return g;
}

}  // namespace cnndiag
