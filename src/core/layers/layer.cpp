#include "cnndiag/layers/layer.hpp"

#include <limits>
#include <string>

#include "cnndiag/errors.hpp"

namespace cnndiag {

// Smooth layers (linear, conv2d, sigmoid, tanh, avgpool, batchnorm) have no kinks.
template <typename T>
void Layer<T>::kink_distance(const Tensor<T>& x, Tensor<T>& distance) const {
  distance.resize(x.shape());
  distance.fill(std::numeric_limits<T>::infinity());
}

template <typename T>
void Layer<T>::set_fault(Fault fault) {
  if (fault != Fault::kNone && !fault_applies_to(fault, type())) {
    std::string where;
    for (const FaultInfo& info : fault_catalogue()) {
      if (info.fault != fault) continue;
      for (std::string_view t : info.layer_types) where += (where.empty() ? "" : ", ") + std::string(t);
    }
    throw ConfigError(describe() + ": fault '" + std::string(fault_id(fault)) +
                      "' cannot be injected into a " + std::string(type()) + " layer" +
                      (where.empty() ? std::string() : " (it applies to: " + where + ")"));
  }
  fault_ = fault;
}

template <typename T>
std::string Layer<T>::describe() const {
  return "layer '" + name_ + "' (" + std::string(type()) + ")";
}

template class Layer<float>;
template class Layer<double>;

}  // namespace cnndiag
