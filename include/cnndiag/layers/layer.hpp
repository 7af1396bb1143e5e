#pragma once
/// The layer interface. A layer is a template on its scalar type: float trains, double checks
/// gradients; both are explicitly instantiated.
///
/// Shapes. A layer is built for a fixed per-sample input shape (C, H, W) or (D); tensors it sees
/// carry the batch dimension first: x is (N, in...), y is (N, out...). N may change between calls.
///
/// Contract of forward/backward (the dlib layers_abstract.h idea, written down once here):
///  - forward(x, y) OVERWRITES y, which the caller has already sized to (N, output_shape()).
///    It may cache what backward needs (argmax indices, batch statistics) inside the layer.
///  - backward(x, y, dy, dx) is called after forward on the same x, with y that forward wrote and
///    dy = ∂E/∂y. It ASSIGNS dx = ∂E/∂x (when dx is not null; the caller sizes it like x) and
///    ACCUMULATES every parameter gradient: param.grad += ∂E/∂param. Callers zero parameter
///    gradients before a step (Model::zero_grads). Tests pre-fill dx with a sentinel and grads with
///    a known offset to catch assign-vs-accumulate bugs.
///  - Neither allocates once reserve(n) has been called for the largest batch it will see.
///  - A fault (faults.hpp) changes backward only.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cnndiag/faults.hpp"
#include "cnndiag/tensor.hpp"

namespace cnndiag {

/// What InitSpec::Kind::kDefault means for one parameter (init.hpp). A layer sets it when its
/// default is not the one implied by `is_bias` (batchnorm's weight γ is a "bias" for decay
/// purposes, yet defaults to 1).
enum class DefaultInit {
  kByRole,  ///< PyTorch-like: U(±1/√fan_in) when !is_bias, 0 when is_bias
  kZeros,   ///< 0 (batchnorm β)
  kOnes,    ///< 1 (batchnorm γ)
};

/// A trainable tensor and its gradient.
template <typename T>
struct Param {
  std::string name;       ///< "weight", "bias", "gamma", "beta"
  Tensor<T> value;
  Tensor<T> grad;         ///< same shape as value; accumulated by backward
  bool is_bias = false;   ///< biases (and batchnorm gamma/beta) are not decayed unless bias_decay
  Index fan_in = 0;       ///< for init schemes (he, xavier, default)
  Index fan_out = 0;
  DefaultInit default_init = DefaultInit::kByRole;  ///< what init kind "default" means here
};

/// A non-trainable tensor a layer keeps and a checkpoint saves (batchnorm running statistics).
template <typename T>
struct Buffer {
  std::string name;       ///< "running_mean", "running_var"
  Tensor<T> value;
};

template <typename T>
class Layer {
 public:
  Layer(std::string name, Shape input_shape)
      : name_(std::move(name)), input_shape_(input_shape) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const std::string& name() const { return name_; }
  /// The config's type name: "conv2d", "maxpool", "sigmoid", …
  virtual std::string_view type() const = 0;
  const Shape& input_shape() const { return input_shape_; }   ///< per sample
  virtual Shape output_shape() const = 0;                     ///< per sample

  /// Trainable parameters, in a fixed order ("weight" before "bias").
  virtual std::span<Param<T>> params() { return {}; }
  std::span<const Param<T>> params() const {
    auto p = const_cast<Layer*>(this)->params();
    return {p.data(), p.size()};
  }
  virtual std::span<Buffer<T>> buffers() { return {}; }

  /// Sizes internal scratch for batches up to n samples (im2col columns, argmax indices, …).
  virtual void reserve(Index /*n*/) {}

  /// `training` matters for batchnorm only (batch statistics and running-stat updates).
  virtual void forward(const Tensor<T>& x, Tensor<T>& y, bool training) = 0;
  virtual void backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy,
                        Tensor<T>* dx) = 0;

  /// For the gradient checker: how far x[i] is from the nearest kink of this layer's function
  /// (ReLU at 0, a max-pool tie), in x's units; +inf for smooth layers. Filled for the whole batch
  /// into `distance` (sized like x). Finite differences with a step larger than this are skipped.
  virtual void kink_distance(const Tensor<T>& x, Tensor<T>& distance) const;

  Fault fault() const { return fault_; }
  /// Injects a backward bug. Throws ConfigError if this layer type does not have it
  /// (fault_applies_to(fault, type()) is false); Fault::kNone removes any fault.
  virtual void set_fault(Fault fault);

 protected:
  /// "layer 'conv1' (conv2d)": how messages name this layer.
  std::string describe() const;

  std::string name_;
  Shape input_shape_;
  Fault fault_ = Fault::kNone;
};

}  // namespace cnndiag
