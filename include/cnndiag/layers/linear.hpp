#pragma once
/// linear (fully connected): y = x·Wᵀ + b over the batch.
///
/// Shapes: the per-sample input may have any rank; it is flattened implicitly to D = C·H·W in
/// row-major order (PyTorch's flatten; DESIGN.md §4). Output (out). Params, in order:
/// "weight" (out, D) with fan_in = D, fan_out = out; "bias" (out) when the config has bias = true.
///
/// Contract (layer.hpp):
///  - forward overwrites y (N, out) with one GEMM over the whole batch (float layers with at most
///    16 outputs on AVX-512 CPUs: unpacked register-tiled kernels, src/core/layers/small_gemm.hpp);
///    caches nothing.
///  - backward assigns dx = dy·W (N, D) and accumulates weight.grad += dyᵀ·x and
///    bias.grad += Σ_n dy_n.
///  - Faults: bias_grad_first_sample (bias.grad += dy_0 only); kLinearInputSigmoidMask, the
///    linear half of sigmoid_derivative_on_wrong_tensor (dx = (dy·W) ⊙ x ⊙ (1−x) with x this
///    layer's own input; weight and bias gradients unchanged).
///  - No allocation: all work happens in the caller's tensors and the parameters' own buffers.

#include <vector>

#include "cnndiag/layers/layer.hpp"

namespace cnndiag {

template <typename T>
class Linear final : public Layer<T> {
 public:
  /// Throws ShapeError when out ≤ 0 or the input is empty.
  Linear(std::string name, Shape input_shape, Index out, bool bias);

  std::string_view type() const override { return "linear"; }
  Shape output_shape() const override { return Shape{out_}; }
  std::span<Param<T>> params() override { return params_; }
  Index in_features() const { return in_; }
  Index out_features() const { return out_; }
  bool has_bias() const { return params_.size() > 1; }

  /// Sizes the GEMM packing scratch for batches up to n (forward/backward then do not allocate).
  void reserve(Index n) override;
  void forward(const Tensor<T>& x, Tensor<T>& y, bool training) override;
  void backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy,
                Tensor<T>* dx) override;

 private:
  Index in_ = 0, out_ = 0;
  std::vector<Param<T>> params_;  // weight, then bias if any
  std::vector<T> gemm_scratch_;   // GEMM packing scratch for the largest batch seen (gemm.hpp)
};

}  // namespace cnndiag
