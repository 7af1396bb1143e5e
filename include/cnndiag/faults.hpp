#pragma once
/// The fault catalogue (DESIGN.md §7.2): real backward-pass bugs that can be injected into
/// cnndiag's own layers with `fault = "<id>"`, so the gradient checker proves it catches them and
/// users can watch what each bug does to training. A fault changes only backward(); forward is
/// always correct.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cnndiag {

enum class Fault {
  kNone,
  /// On a sigmoid that follows a linear layer — the seed's bug: the sigmoid passes dy through,
  /// and the linear layer before it multiplies its input gradient by x⊙(1−x) of its own input:
  /// dW = dy·xᵀ, db = Σdy, dx = (Wᵀ·dy) ⊙ x ⊙ (1−x).
  kSigmoidDerivativeOnWrongTensor,
  /// sigmoid, tanh, relu, leaky_relu: dx = dy.
  kDerivativeOmitted,
  /// sigmoid, tanh: the output-form derivative fed the input: sigmoid dx = dy⊙x⊙(1−x),
  /// tanh dx = dy⊙(1−x²).
  kDerivativeOnInput,
  /// sigmoid, tanh: the derivative taken of the output again: sigmoid dx = dy⊙σ(y)(1−σ(y)),
  /// tanh dx = dy⊙(1−tanh²(y)).
  kDerivativeReapplied,
  /// relu, leaky_relu: mask from dy > 0 instead of x > 0.
  kReluMaskFromGrad,
  /// loss: gradient not divided by N (only meaningful with reduction = "mean").
  kMissingBatchMean,
  /// conv2d: backward-data correlates with the unflipped (180°-rotated) kernel.
  kKernelNotFlipped,
  /// conv2d, linear: bias gradient from sample 0 only.
  kBiasGradFirstSample,
  /// maxpool: gradient routed to the window's first element, not its argmax.
  kMaxpoolRouteFirst,
  /// Internal half of kSigmoidDerivativeOnWrongTensor, set by the model on the linear layer
  /// before the faulty sigmoid: dx ← dx ⊙ x ⊙ (1−x). Not accepted in configs.
  kLinearInputSigmoidMask,
};

struct FaultInfo {
  Fault fault;
  std::string_view id;                        ///< "sigmoid_derivative_on_wrong_tensor"
  std::vector<std::string_view> layer_types;  ///< where it may be injected ("loss" for the loss)
  std::string_view description;               ///< what backward becomes, one line
};

/// Every user-facing fault (not kNone, not internal ones), in catalogue order.
const std::vector<FaultInfo>& fault_catalogue();
/// The fault with this id, if any.
std::optional<Fault> parse_fault(std::string_view id);
std::string_view fault_id(Fault fault);
/// Whether `fault` may be injected into a layer of `layer_type` ("loss" for the loss).
bool fault_applies_to(Fault fault, std::string_view layer_type);

}  // namespace cnndiag
