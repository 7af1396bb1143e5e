#pragma once
/// batchnorm (Ioffe & Szegedy 2015), PyTorch's BatchNorm1d/2d semantics.
///
/// Shapes: a (C, H, W) input is normalised per channel over (N, H, W); a (D) input per feature
/// over N. Output shape = input shape. With M the number of values per channel (N·H·W or N):
///   training:  μ = mean, σ² = biased variance (÷M) of the batch;  x̂ = (x − μ)/√(σ² + eps)
///   eval:      μ, σ² = running_mean, running_var
///   y = γ·x̂ + β
/// Params, in order: "weight" γ (C) (default init 1) and "bias" β (C) (default init 0); both are
/// is_bias = true, so weight decay skips them unless bias_decay. Buffers: "running_mean" (init 0)
/// and "running_var" (init 1), updated by each training forward as
///   running ← (1 − momentum)·running + momentum·batch, with the UNBIASED batch variance (÷(M−1)),
/// as PyTorch does.
///
/// Contract (layer.hpp):
///  - forward overwrites y; caches μ and 1/√(σ² + eps) per channel and whether it ran in training
///    mode; in training it also updates the running buffers. Throws ShapeError in training when
///    M = 1 (the variance of one value is undefined), like PyTorch.
///  - backward assigns dx through the statistics that forward used (through μ and σ² of the
///    batch in training, treating them as constants in eval) and accumulates
///    γ.grad += Σ dy⊙x̂, β.grad += Σ dy.
///  - Reductions run in double for both scalar types. No faults.

#include <vector>

#include "cnndiag/layers/layer.hpp"

namespace cnndiag {

template <typename T>
class BatchNorm final : public Layer<T> {
 public:
  /// Throws ShapeError for an input that is neither (C,H,W) nor (D), ConfigError for eps ≤ 0 or
  /// momentum outside [0, 1].
  BatchNorm(std::string name, Shape input_shape, double eps, double momentum);

  std::string_view type() const override { return "batchnorm"; }
  Shape output_shape() const override { return this->input_shape_; }
  std::span<Param<T>> params() override { return params_; }
  std::span<Buffer<T>> buffers() override { return buffers_; }
  Index channels() const { return channels_; }

  void forward(const Tensor<T>& x, Tensor<T>& y, bool training) override;
  void backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy,
                Tensor<T>* dx) override;

 private:
  Index min_channels_per_chunk(Index n) const;  // channels worth a thread for a batch of n

  double eps_, momentum_;
  Index channels_ = 0;  // C (or D)
  Index spatial_ = 1;   // H·W (or 1)
  std::vector<Param<T>> params_;    // weight γ, bias β
  std::vector<Buffer<T>> buffers_;  // running_mean, running_var
  std::vector<double> mean_, inv_std_;  // per channel, from the last forward
  bool last_training_ = false;
};

}  // namespace cnndiag
