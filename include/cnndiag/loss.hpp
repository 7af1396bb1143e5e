#pragma once
/// Losses on the network's output y (N, K) (DESIGN.md §3 [loss]):
///   mse:                    E = scale · R_i Σ_k (y_ik − t_ik)²
///   softmax_cross_entropy:  E = scale · R_i (−log softmax(y_i)[label_i])
/// where R is the mean over samples (reduction = "mean") or the sum ("sum"). The seed's
/// E = 1/(2N)·Σ‖y−t‖² is mse with mean and scale 0.5.

#include <cstdint>
#include <vector>

#include "cnndiag/config.hpp"
#include "cnndiag/faults.hpp"
#include "cnndiag/tensor.hpp"

namespace cnndiag {

/// What the loss compares the output with: real targets (N, K) or class labels (N).
template <typename T>
struct Targets {
  Tensor<T> values;                  ///< (N, K) for mse
  std::vector<std::int64_t> labels;  ///< N labels in [0, K) for softmax_cross_entropy
};

template <typename T>
class Loss {
 public:
  /// Throws ConfigError for an unknown type/reduction or a fault other than missing_batch_mean.
  explicit Loss(const LossConfig& config);

  bool classification() const { return classification_; }

  /// E for output y; when dy is not null, ASSIGNS dy = ∂E/∂y (sized like y by the caller).
  /// The value is accumulated in double whatever T is. Softmax is computed stably (max shifted).
  double evaluate(const Tensor<T>& y, const Targets<T>& targets, Tensor<T>* dy) const;

  /// Per-sample loss ℓ_i (before scale and reduction), for probes.
  void per_sample(const Tensor<T>& y, const Targets<T>& targets, std::vector<double>& out) const;

  Fault fault() const { return fault_; }

 private:
  bool classification_ = false;
  bool mean_ = true;
  double scale_ = 1.0;
  Fault fault_ = Fault::kNone;
};

}  // namespace cnndiag
