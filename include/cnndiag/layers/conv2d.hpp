#pragma once
/// conv2d: multi-channel 2-D cross-correlation (what every framework calls convolution), with
/// stride, symmetric zero padding and an optional bias.
///
///   y[n, oc, oh, ow] = b[oc] + Σ_{c, kh, kw} w[oc, c, kh, kw] · x[n, c, oh·SH − PH + kh, ow·SW − PW + kw]
///
/// with x = 0 outside the input. Shapes: x (N, C, H, W), w (OC, C, KH, KW), b (OC),
/// y (N, OC, OH, OW) with OH, OW as in window2d.hpp. Params, in order: "weight" (fan_in = C·KH·KW,
/// fan_out = OC·KH·KW), then "bias" if enabled.
///
/// Implementation: layers with stride 1 and at most 8 (input, output) channel pairs convolve
/// directly, plane by plane (src/core/layers/conv2d_direct.hpp); the others use im2col + GEMM. Per sample, cols (K, P) with K = C·KH·KW, P = OH·OW holds every
/// window as a column, so y_n = W·cols_n (+ b) with W viewed as (OC, K). The batch is split over
/// the thread pool (parallel_for) with one cols buffer per chunk.
///
/// Contract (layer.hpp):
///  - forward overwrites y; caches nothing (backward recomputes cols from x, which is cheaper than
///    keeping N·K·P values alive between the passes).
///  - backward assigns dx (when given) and accumulates weight.grad and bias.grad:
///      dW += Σ_n dy_n·cols_nᵀ,   db += Σ_n Σ_p dy_n,   dx_n = col2im(Wᵀ·dy_n).
///    Each chunk accumulates its weight/bias gradient privately (chunk 0 directly into the
///    grads) and the partials are added in chunk order, so the bits depend only on the thread
///    count, never on timing.
///  - reserve(n) sizes the per-chunk scratch for the current thread count; afterwards forward and
///    backward do not allocate (if the thread count grows later, the scratch grows once).
///  - Faults: bias_grad_first_sample (db += Σ_p dy_0 only); kernel_not_flipped (see conv2d.cpp:
///    backward-data runs with every KH×KW kernel rotated by 180°, i.e. it correlates dy with the
///    kernel as stored instead of the flipped one the adjoint needs).

#include <vector>

#include "cnndiag/layers/layer.hpp"
#include "cnndiag/layers/window2d.hpp"

namespace cnndiag {

struct Conv2dOptions {
  Index out_channels = 0;
  Index kernel_h = 0, kernel_w = 0;
  Index stride_h = 1, stride_w = 1;
  Index pad_h = 0, pad_w = 0;
  bool bias = true;
};

template <typename T>
class Conv2d final : public Layer<T> {
 public:
  /// Throws ShapeError / ConfigError as make_window_geometry does, and ShapeError for
  /// out_channels < 1.
  Conv2d(std::string name, Shape input_shape, const Conv2dOptions& options);

  std::string_view type() const override { return "conv2d"; }
  Shape output_shape() const override;
  std::span<Param<T>> params() override { return params_; }
  const WindowGeometry& geometry() const { return geometry_; }
  const Conv2dOptions& options() const { return options_; }

  void reserve(Index n) override;
  void forward(const Tensor<T>& x, Tensor<T>& y, bool training) override;
  void backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy,
                Tensor<T>* dx) override;

 private:
  Index patch_size() const;  // K = C·KH·KW
  bool direct() const;       // few channels, stride 1: direct convolution instead of im2col+GEMM
  void ensure_scratch(int chunks);

  Conv2dOptions options_;
  WindowGeometry geometry_;
  std::vector<Param<T>> params_;   // weight (OC, C, KH, KW), then bias (OC) if any
  Index min_samples_per_chunk_ = 1;
  int scratch_chunks_ = 0;
  Index cols_stride_ = 0;          // elements per chunk in cols_ / dcols_
  std::vector<T> cols_;            // chunks × (K, P) + slack (or the direct path's planes)
  std::vector<T> dcols_;           // chunks × (K, P) + slack
  Index gemm_workspace_ = 0;       // elements of GEMM packing scratch per chunk (gemm.hpp)
  std::vector<T> gemm_scratch_;    // chunks × gemm_workspace_
  std::vector<T> packed_weight_;    // W packed for the forward GEMM (empty if not packed)
  std::vector<T> packed_weight_t_;  // Wᵀ packed for the data-gradient GEMM (likewise)
  std::vector<T> partial_grads_;   // (chunks − 1) × [(OC, K) weight, (OC) bias]
  std::vector<T> rotated_weight_;  // (OC, C, KH, KW), only used by kernel_not_flipped
};

}  // namespace cnndiag
