#include "cnndiag/model.hpp"

#include "cnndiag/errors.hpp"
#include "cnndiag/init.hpp"
#include "cnndiag/layers/factory.hpp"
#include "cnndiag/rng.hpp"

#include <utility>

namespace cnndiag {

std::string param_key(const std::string& layer, const std::string& param) {
  return layer + "." + param;
}

template <typename T>
Model<T>::Model(const std::vector<LayerConfig>& layers, const Shape& input_shape)
    : input_shape_(input_shape) {
  if (layers.empty()) throw ConfigError("the network has no layers: add at least one [[layer]]");
  Shape shape = input_shape;
  std::string previous = "the input";
  for (const LayerConfig& config : layers) {
    try {
      layers_.push_back(make_layer<T>(config, shape));
    } catch (const ShapeError& e) {
      // The layer names itself and the shape; add where the shape came from.
      throw ShapeError(std::string(e.what()) + " (received from " + previous + ", output " +
                       shape.str() + ")");
    }
    shape = layers_.back()->output_shape();
    previous = "layer '" + config.name + "' (" + config.type + ")";
  }

  // The seed's bug spans two layers: the sigmoid stops applying its derivative, and the linear
  // layer before it applies x⊙(1−x) of its own input instead (faults.hpp).
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (layers_[i]->fault() != Fault::kSigmoidDerivativeOnWrongTensor) continue;
    if (i == 0 || layers_[i - 1]->type() != "linear")
      throw ConfigError(layers[i].where.str() + ": layer '" + layers[i].name +
                        "': fault 'sigmoid_derivative_on_wrong_tensor' needs a linear layer "
                        "right before the sigmoid (the bug lives in that layer's backward)");
    layers_[i - 1]->set_fault(Fault::kLinearInputSigmoidMask);
  }
  activations_.resize(layers_.size());
  output_grads_.resize(layers_.size());
}

template <typename T>
void Model<T>::init(const std::vector<LayerConfig>& layers, std::uint64_t seed) {
  CNNDIAG_ASSERT(layers.size() == layers_.size(), "config does not match the model");
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    for (Param<T>& p : layers_[i]->params()) {
      const auto it = layers[i].init.find(p.name);
      const InitSpec spec = it == layers[i].init.end() ? InitSpec{} : it->second;
      Rng rng = Rng::stream(seed, "init/" + param_key(layers_[i]->name(), p.name));
      init_param(p, spec, rng);
    }
  }
}

template <typename T>
int Model<T>::find(const std::string& name) const {
  for (std::size_t i = 0; i < layers_.size(); ++i)
    if (layers_[i]->name() == name) return static_cast<int>(i);
  return -1;
}

template <typename T>
Shape Model<T>::output_shape() const {
  return layers_.back()->output_shape();
}

template <typename T>
Index Model<T>::param_count() const {
  Index n = 0;
  for (const auto& l : layers_)
    for (const Param<T>& p : l->params()) n += p.value.size();
  return n;
}

template <typename T>
std::vector<LayerSummary> Model<T>::summary() const {
  std::vector<LayerSummary> rows;
  for (const auto& l : layers_) {
    LayerSummary row{l->name(), std::string(l->type()), l->output_shape(), 0, ""};
    for (const Param<T>& p : l->params()) row.params += p.value.size();
    if (l->fault() != Fault::kNone && l->fault() != Fault::kLinearInputSigmoidMask)
      row.fault = std::string(fault_id(l->fault()));
    rows.push_back(std::move(row));
  }
  return rows;
}

template <typename T>
void Model<T>::reserve(Index n) {
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const Shape out = layers_[i]->output_shape().with_batch(n);
    activations_[i].resize(out);
    output_grads_[i].resize(out);
    layers_[i]->reserve(n);
  }
  input_grad_.resize(input_shape_.with_batch(n));
}

template <typename T>
const Tensor<T>& Model<T>::forward(const Tensor<T>& x, bool training) {
  CNNDIAG_ASSERT(x.shape().drop_first() == input_shape_,
                 "input " + x.shape().str() + " does not match the model's " + input_shape_.str());
  const Index n = x.dim(0);
  input_ = &x;
  const Tensor<T>* in = &x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    activations_[i].resize(layers_[i]->output_shape().with_batch(n));
    layers_[i]->forward(*in, activations_[i], training);
    if (observer_) observer_->on_forward(i, *layers_[i], activations_[i]);
    in = &activations_[i];
  }
  return activations_.back();
}

template <typename T>
void Model<T>::backward(const Tensor<T>& dout, bool input_grad) {
  CNNDIAG_ASSERT(input_ != nullptr, "backward before forward");
  const std::size_t last = layers_.size() - 1;
  CNNDIAG_ASSERT(dout.shape() == activations_[last].shape(), "dout shape " + dout.shape().str());
  std::copy(dout.data(), dout.data() + dout.size(), output_grads_[last].data());
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const Tensor<T>& x = i == 0 ? *input_ : activations_[i - 1];
    Tensor<T>* dx = nullptr;
    if (i > 0) {
      output_grads_[i - 1].resize(activations_[i - 1].shape());
      dx = &output_grads_[i - 1];
    } else if (input_grad) {
      input_grad_.resize(input_->shape());
      dx = &input_grad_;
    }
    layers_[i]->backward(x, activations_[i], output_grads_[i], dx);
    if (observer_) observer_->on_backward(i, *layers_[i], output_grads_[i]);
  }
}

template <typename T>
void Model<T>::zero_grads() {
  for (auto& l : layers_)
    for (Param<T>& p : l->params()) p.grad.zero();
}

template <typename T>
std::vector<std::pair<std::string, Param<T>*>> Model<T>::named_params() {
  std::vector<std::pair<std::string, Param<T>*>> out;
  for (auto& l : layers_)
    for (Param<T>& p : l->params()) out.emplace_back(param_key(l->name(), p.name), &p);
  return out;
}

template <typename T>
std::vector<std::pair<std::string, const Param<T>*>> Model<T>::named_params() const {
  std::vector<std::pair<std::string, const Param<T>*>> out;
  for (const auto& l : layers_)
    for (const Param<T>& p : std::as_const(*l).params())
      out.emplace_back(param_key(l->name(), p.name), &p);
  return out;
}

template <typename T>
std::vector<std::pair<std::string, Buffer<T>*>> Model<T>::named_buffers() {
  std::vector<std::pair<std::string, Buffer<T>*>> out;
  for (auto& l : layers_)
    for (Buffer<T>& b : l->buffers()) out.emplace_back(param_key(l->name(), b.name), &b);
  return out;
}

template <typename T>
std::vector<Tensor<T>> Model<T>::buffer_values() {
  std::vector<Tensor<T>> values;
  for (auto& [key, buffer] : named_buffers()) values.push_back(buffer->value);
  return values;
}

template <typename T>
void Model<T>::set_buffer_values(const std::vector<Tensor<T>>& values) {
  std::size_t i = 0;
  for (auto& [key, buffer] : named_buffers()) {
    CNNDIAG_ASSERT(i < values.size(), "fewer buffer values than buffers");
    buffer->value = values[i++];
  }
}

template class Model<float>;
template class Model<double>;

}  // namespace cnndiag
