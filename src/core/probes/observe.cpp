#include <algorithm>

#include "cnndiag/errors.hpp"
#include "cnndiag/probes/probe.hpp"
#include "cnndiag/trainer.hpp"

namespace cnndiag {

std::string_view to_string(Severity severity) {
  switch (severity) {
    case Severity::kError: return "error";
    case Severity::kWarning: return "warning";
    case Severity::kInfo: break;
  }
  return "info";
}

Severity parse_severity(std::string_view text) {
  if (text == "error") return Severity::kError;
  if (text == "warning") return Severity::kWarning;
  if (text == "info") return Severity::kInfo;
  throw UsageError("expected a severity (error, warning or info), got '" + std::string(text) + "'");
}

namespace {

// Copies what each layer receives, emits and gets back, as the data flow past it.
class Recorder : public ModelObserver<double> {
 public:
  explicit Recorder(std::vector<LayerObservation>& layers) : layers_(layers) {}
  void on_forward(std::size_t i, const Layer<double>& layer, const Tensor<double>& y) override {
    if (layers_.size() <= i) layers_.resize(i + 1);
    layers_[i].name = layer.name();
    layers_[i].type = std::string(layer.type());
    layers_[i].output_shape = layer.output_shape();
    layers_[i].output = y;
  }
  void on_backward(std::size_t i, const Layer<double>&, const Tensor<double>& dy) override {
    layers_[i].output_grad = dy;
  }

 private:
  std::vector<LayerObservation>& layers_;
};

Tensor<double> select_rows(const Tensor<double>& t, const std::vector<Index>& rows) {
  if (rows.empty() || t.empty()) return t;
  const Index per = t.size() / t.dim(0);
  Shape s = t.shape();
  s[0] = static_cast<Index>(rows.size());
  Tensor<double> out(s);
  for (std::size_t r = 0; r < rows.size(); ++r)
    std::copy_n(t.data() + rows[r] * per, per, out.data() + static_cast<Index>(r) * per);
  return out;
}

void check_probe_set(const std::vector<Index>& probe_set, Index n, const std::string& source) {
  for (Index i : probe_set)
    if (i < 0 || i >= n)
      throw UsageError("--probe-set: sample " + std::to_string(i) + " does not exist in " + source +
                       " (it has samples 0.." + std::to_string(n - 1) + ")");
}

// Runs the batch through the model once, forward and backward, recording every layer.
void run_observation(Observation& o) {
  Model<double>& model = *o.model;
  const Index n = o.inputs.dim(0);
  model.reserve(n);
  Recorder recorder(o.layers);
  model.set_observer(&recorder);
  // Training mode, as the gradient the run followed was computed; batchnorm's running
  // statistics are restored afterwards.
  const std::vector<Tensor<double>> saved = model.buffer_values();
  model.zero_grads();
  const Tensor<double>& y = model.forward(o.inputs, true);
  const Loss<double> loss(o.config.loss);
  Tensor<double> dy(y.shape());
  o.loss = loss.evaluate(y, o.targets, &dy);
  loss.per_sample(y, o.targets, o.per_sample_loss);
  model.backward(dy);
  model.set_observer(nullptr);
  model.set_buffer_values(saved);
  for (std::size_t i = 0; i < o.layers.size(); ++i)
    o.layers[i].input = i == 0 ? o.inputs : o.layers[i - 1].output;

  const Optimizer<double> optimizer(o.config.optimizer, model);
  o.rules = optimizer.rules();
  o.decay_convention = optimizer.decay_convention();
}

void load_params(Model<double>& model, const std::vector<NamedTensor>& params,
                 const std::string& source) {
  for (auto& [key, param] : model.named_params()) {
    const NamedTensor* found = nullptr;
    for (const auto& t : params)
      if (t.key == key) found = &t;
    if (!found) throw CheckpointError(source + ": no values for " + key);
    if (!(found->value.shape() == param->value.shape()))
      throw CheckpointError(source + ": " + key + " has shape " + found->value.shape().str() +
                            ", the model expects " + param->value.shape().str());
    param->value = found->value;
  }
}

}  // namespace

Observation observe_checkpoint(const std::filesystem::path& checkpoint,
                               const std::vector<Index>& probe_set) {
  const CheckpointData d = read_checkpoint(checkpoint);
  Observation o;
  o.source = checkpoint;
  try {
    o.config = parse_config(d.config_text, checkpoint.parent_path() / "checkpoint-config.toml");
  } catch (const ConfigError& e) {
    throw CheckpointError(checkpoint.string() + ": /config: the stored config does not parse: " +
                          e.what());
  }
  o.iteration = d.iteration;
  o.history_iteration = d.history_iteration;
  o.history_loss = d.history_loss;
  o.optimizer_slots = d.optimizer_slots;
  o.optimizer_step = d.optimizer_step;
  check_probe_set(probe_set, d.probe_inputs.dim(0), checkpoint.string());
  o.inputs = select_rows(d.probe_inputs, probe_set);
  o.targets.values = select_rows(d.probe_targets, probe_set);
  if (!d.probe_labels.empty()) {
    if (probe_set.empty())
      o.targets.labels = d.probe_labels;
    else
      for (Index i : probe_set) o.targets.labels.push_back(d.probe_labels[static_cast<std::size_t>(i)]);
  }
  const Shape sample = o.inputs.shape().drop_first();
  o.model = std::make_unique<Model<double>>(o.config.layers, sample);
  load_params(*o.model, d.params, checkpoint.string());
  for (auto& [key, buffer] : o.model->named_buffers())
    for (const auto& b : d.buffers)
      if (b.key == key) buffer->value = b.value;
  o.initial = std::make_unique<Model<double>>(o.config.layers, sample);
  o.initial->init(o.config.layers, d.seed);
  run_observation(o);
  return o;
}

Observation observe_params(const Config& config, const std::vector<NamedTensor>& params,
                           const std::filesystem::path& source,
                           const std::vector<Index>& probe_set) {
  Workbench<double> wb = open_workbench<double>(config);
  Observation o;
  o.source = source;
  o.config = config;
  check_probe_set(probe_set, wb.data.samples(), config.data.file.string());
  o.inputs = select_rows(wb.batch.inputs, probe_set);
  o.targets.values = select_rows(wb.batch.targets.values, probe_set);
  if (!wb.batch.targets.labels.empty()) {
    if (probe_set.empty())
      o.targets.labels = wb.batch.targets.labels;
    else
      for (Index i : probe_set) o.targets.labels.push_back(wb.batch.targets.labels[static_cast<std::size_t>(i)]);
  }
  o.model = std::move(wb.model);
  load_params(*o.model, params, source.string());
  o.initial = std::make_unique<Model<double>>(config.layers, o.model->input_shape());
  o.initial->init(config.layers, config.train.seed);
  run_observation(o);
  return o;
}

}  // namespace cnndiag
