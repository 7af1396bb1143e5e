#pragma once
/// A feed-forward network: the layers of a config in order, with one activation buffer per layer
/// output and one gradient buffer per layer output, sized once for the batch (reserve) and reused.
///
/// Data flow: forward(x) runs every layer and keeps every output (activation(i)); backward(dout)
/// runs the layers in reverse and keeps every output gradient (output_grad(i) = ∂E/∂activation(i))
/// while the layers accumulate their parameter gradients. Probes observe both through an
/// observer; they never change layers.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cnndiag/config.hpp"
#include "cnndiag/layers/layer.hpp"
#include "cnndiag/tensor.hpp"

namespace cnndiag {

/// Called by Model as data flows; probes implement it. Default methods do nothing.
template <typename T>
class ModelObserver {
 public:
  virtual ~ModelObserver() = default;
  /// After layer `index` wrote its output y.
  virtual void on_forward(std::size_t /*index*/, const Layer<T>& /*layer*/, const Tensor<T>& /*y*/) {}
  /// After layer `index` received dy = ∂E/∂y and ran its backward (param grads accumulated).
  virtual void on_backward(std::size_t /*index*/, const Layer<T>& /*layer*/, const Tensor<T>& /*dy*/) {}
};

/// One row of a network summary (`cnndiag inspect net.toml`).
struct LayerSummary {
  std::string name;
  std::string type;
  Shape output_shape;   ///< per sample
  Index params = 0;     ///< trainable scalars
  std::string fault;    ///< injected fault id, or empty
};

/// Tells a parameter tensor apart: "conv1.weight".
std::string param_key(const std::string& layer, const std::string& param);

template <typename T>
class Model {
 public:
  /// Builds the layers for a per-sample input shape (from the data). Parameters are allocated and
  /// zero; call init() for a fresh run or load them from a checkpoint. Faults are injected: a
  /// sigmoid with `sigmoid_derivative_on_wrong_tensor` also marks the linear layer before it.
  /// Throws ShapeError naming the layer that does not fit and the layer whose output it receives.
  Model(const std::vector<LayerConfig>& layers, const Shape& input_shape);

  /// Draws every parameter from its layer's init spec; the stream for each tensor derives from
  /// (seed, "init/<layer>.<param>"), so configs that add a layer keep the others' numbers.
  void init(const std::vector<LayerConfig>& layers, std::uint64_t seed);

  std::size_t size() const { return layers_.size(); }
  Layer<T>& layer(std::size_t i) { return *layers_[i]; }
  const Layer<T>& layer(std::size_t i) const { return *layers_[i]; }
  /// Index of the layer with this name; -1 if none.
  int find(const std::string& name) const;

  const Shape& input_shape() const { return input_shape_; }
  Shape output_shape() const;
  Index param_count() const;
  std::vector<LayerSummary> summary() const;

  /// Sizes activations and gradient buffers (and the layers' scratch) for batches up to n.
  void reserve(Index n);

  /// Runs every layer on x (N, input_shape...) and returns the last output (N, output_shape...).
  /// The reference to x is kept for backward: x must outlive the matching backward call.
  const Tensor<T>& forward(const Tensor<T>& x, bool training);

  /// Backpropagates dout = ∂E/∂output through every layer; parameter gradients ACCUMULATE (call
  /// zero_grads() first for a fresh gradient). With `input_grad`, also computes ∂E/∂x into
  /// input_grad(); otherwise the first layer skips its dx.
  void backward(const Tensor<T>& dout, bool input_grad = false);

  void zero_grads();

  const Tensor<T>& activation(std::size_t i) const { return activations_[i]; }
  const Tensor<T>& output_grad(std::size_t i) const { return output_grads_[i]; }
  const Tensor<T>& input_grad() const { return input_grad_; }
  const Tensor<T>* last_input() const { return input_; }

  void set_observer(ModelObserver<T>* observer) { observer_ = observer; }

  /// Every parameter as (key "layer.param", Param*), in layer order.
  std::vector<std::pair<std::string, Param<T>*>> named_params();
  std::vector<std::pair<std::string, const Param<T>*>> named_params() const;
  /// Every buffer as ("layer.buffer", Buffer*).
  std::vector<std::pair<std::string, Buffer<T>*>> named_buffers();

  /// The non-trainable buffers' values (batchnorm running statistics), and putting them back: a
  /// training-mode forward made only to look (checkpoint gradients, probes) must not move them.
  std::vector<Tensor<T>> buffer_values();
  void set_buffer_values(const std::vector<Tensor<T>>& values);

  /// Copies values (and buffers) from a model of the same architecture, converting the scalar type.
  template <typename U>
  void copy_params_from(Model<U>& other);

 private:
  std::vector<std::unique_ptr<Layer<T>>> layers_;
  Shape input_shape_;
  std::vector<Tensor<T>> activations_;    // output of layer i, (N, out_i...)
  std::vector<Tensor<T>> output_grads_;   // ∂E/∂ output of layer i
  Tensor<T> input_grad_;
  const Tensor<T>* input_ = nullptr;
  ModelObserver<T>* observer_ = nullptr;
};

template <typename T>
template <typename U>
void Model<T>::copy_params_from(Model<U>& other) {
  CNNDIAG_ASSERT(other.size() == size(), "architectures differ");
  for (std::size_t i = 0; i < size(); ++i) {
    auto dst = layers_[i]->params();
    auto src = other.layer(i).params();
    CNNDIAG_ASSERT(dst.size() == src.size(), "parameter lists differ");
    for (std::size_t p = 0; p < dst.size(); ++p) dst[p].value = src[p].value.template cast<T>();
    auto dbuf = layers_[i]->buffers();
    auto sbuf = other.layer(i).buffers();
    for (std::size_t b = 0; b < dbuf.size() && b < sbuf.size(); ++b)
      dbuf[b].value = sbuf[b].value.template cast<T>();
  }
}

}  // namespace cnndiag
