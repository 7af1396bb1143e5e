#include "cnndiag/faults.hpp"

#include <algorithm>

namespace cnndiag {
namespace {

// The internal half of the seed's bug: never in the catalogue, never parsed from a config, but it
// has an id so messages and reports can name it.
constexpr std::string_view kLinearInputSigmoidMaskId = "linear_input_sigmoid_mask";

}  // namespace

const std::vector<FaultInfo>& fault_catalogue() {
  // Order and ids follow DESIGN.md §7.2.
  static const std::vector<FaultInfo> catalogue = {
      {Fault::kSigmoidDerivativeOnWrongTensor,
       "sigmoid_derivative_on_wrong_tensor",
       {"sigmoid"},
       "the seed's bug: the sigmoid passes dy through and the linear layer before it multiplies its "
       "input gradient by x*(1-x) of its own input: dx = (W^T dy) * x * (1-x)"},
      {Fault::kDerivativeOmitted,
       "derivative_omitted",
       {"sigmoid", "tanh", "relu", "leaky_relu"},
       "the activation's derivative is left out: dx = dy"},
      {Fault::kDerivativeOnInput,
       "derivative_on_input",
       {"sigmoid", "tanh"},
       "the output-form derivative is fed the input: sigmoid dx = dy*x*(1-x), tanh dx = dy*(1-x^2)"},
      {Fault::kDerivativeReapplied,
       "derivative_reapplied",
       {"sigmoid", "tanh"},
       "the derivative is taken of the output again: sigmoid dx = dy*s(y)*(1-s(y)), "
       "tanh dx = dy*(1-tanh(y)^2)"},
      {Fault::kReluMaskFromGrad,
       "relu_mask_from_grad",
       {"relu", "leaky_relu"},
       "the ReLU mask is taken from dy > 0 instead of x > 0"},
      {Fault::kMissingBatchMean,
       "missing_batch_mean",
       {"loss"},
       "the loss gradient is not divided by the batch size N"},
      {Fault::kKernelNotFlipped,
       "kernel_not_flipped",
       {"conv2d"},
       "backward-data correlates dy with the kernel as stored instead of the 180-degree-rotated "
       "kernel"},
      {Fault::kBiasGradFirstSample,
       "bias_grad_first_sample",
       {"conv2d", "linear"},
       "the bias gradient is taken from sample 0 only instead of summed over the batch"},
      {Fault::kMaxpoolRouteFirst,
       "maxpool_route_first",
       {"maxpool"},
       "the gradient is routed to each window's first element instead of its argmax"},
  };
  return catalogue;
}

std::optional<Fault> parse_fault(std::string_view id) {
  for (const FaultInfo& info : fault_catalogue())
    if (info.id == id) return info.fault;
  return std::nullopt;
}

std::string_view fault_id(Fault fault) {
  if (fault == Fault::kNone) return "none";
  if (fault == Fault::kLinearInputSigmoidMask) return kLinearInputSigmoidMaskId;
  for (const FaultInfo& info : fault_catalogue())
    if (info.fault == fault) return info.id;
  return "unknown";
}

bool fault_applies_to(Fault fault, std::string_view layer_type) {
  if (fault == Fault::kNone) return true;
  // Internal: set by the model on the linear layer feeding a sigmoid_derivative_on_wrong_tensor.
  if (fault == Fault::kLinearInputSigmoidMask) return layer_type == "linear";
  for (const FaultInfo& info : fault_catalogue()) {
    if (info.fault != fault) continue;
    return std::find(info.layer_types.begin(), info.layer_types.end(), layer_type) !=
           info.layer_types.end();
  }
  return false;
}

}  // namespace cnndiag
