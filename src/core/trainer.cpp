#include "cnndiag/trainer.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <algorithm>
#include <numeric>
#include <type_traits>

#include "cnndiag/checkpoint.hpp"
#include "cnndiag/errors.hpp"
#include "cnndiag/optim.hpp"
#include "cnndiag/parallel.hpp"
#include "cnndiag/rng.hpp"

namespace cnndiag {

TargetKind target_kind(const LossConfig& loss) {
  return loss.type == "softmax_cross_entropy" ? TargetKind::kClassLabels : TargetKind::kRegression;
}

template <typename T>
Workbench<T> open_workbench(const Config& config) {
  Workbench<T> wb;
  wb.model = std::make_unique<Model<T>>(config.layers, input_sample_shape(config.data));
  const Index outputs = wb.model->output_shape().numel();
  wb.data = load_dataset(config.data, target_kind(config.loss), outputs);
  CNNDIAG_ASSERT(wb.data.sample_shape() == wb.model->input_shape(),
                 "data " + wb.data.sample_shape().str() + " vs model " +
                     wb.model->input_shape().str());
  wb.batch.inputs = wb.data.inputs.template cast<T>();
  wb.batch.targets.values = wb.data.targets.template cast<T>();
  wb.batch.targets.labels = wb.data.labels;
  return wb;
}

namespace {

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

template <typename T>
Index count_nonfinite(const Tensor<T>& t) {
  Index bad = 0;
  for (Index i = 0; i < t.size(); ++i) bad += std::isfinite(t[i]) ? 0 : 1;
  return bad;
}

// Names the first tensor, walking the network forward, that holds a NaN or Inf: a layer's
// parameters before its output, since bad parameters make a bad output.
template <typename T>
std::string first_nonfinite(Model<T>& model) {
  for (std::size_t i = 0; i < model.size(); ++i) {
    Layer<T>& layer = model.layer(i);
    for (const Param<T>& p : layer.params())
      if (const Index bad = count_nonfinite(p.value))
        return "parameter " + param_key(layer.name(), p.name) + " (" + std::to_string(bad) +
               " of " + std::to_string(p.value.size()) + " values)";
    if (const Index bad = count_nonfinite(model.activation(i)))
      return "output of layer '" + layer.name() + "' (" + std::string(layer.type()) + ", " +
             std::to_string(bad) + " of " + std::to_string(model.activation(i).size()) +
             " values)";
  }
  return "none found in parameters or activations (the loss itself overflowed)";
}

// The full training state that a checkpoint captures and --resume restores.
template <typename T>
class TrainingRun {
 public:
  TrainingRun(const Config& config, const TrainOptions& options)
      : options_(options),
        layers_(config.layers),
        wb_(open_workbench<T>(config)),
        model_(*wb_.model),
        loss_(config.loss),
        optimizer_(config.optimizer, model_) {
    n_ = wb_.data.samples();
    batch_ = config.train.batch_size > 0 && config.train.batch_size < n_ ? config.train.batch_size
                                                                          : n_;
    total_ = options.iterations.value_or(config.train.iterations);
    seed_ = options.seed.value_or(config.train.seed);
    every_ = config.checkpoint.every;
    at_ = config.checkpoint.at;
    log_every_ = config.train.log_every;
    dir_ = options.out_dir.value_or(config.checkpoint.dir);
    dtype_ = config.train.dtype;

    // The config a checkpoint records is the one this run used, overrides applied.
    Config used = config;
    used.train.iterations = total_;
    used.train.seed = seed_;
    used.checkpoint.dir = dir_;
    config_text_ = to_toml(used);

    shuffle_ = Rng::stream(seed_, "shuffle");
    order_.resize(static_cast<std::size_t>(n_));
    std::iota(order_.begin(), order_.end(), 0);
    cursor_ = batch_ < n_ ? n_ : 0;  // a mini-batch run shuffles before its first batch

    model_.reserve(n_);
    if (batch_ < n_) {
      xb_.resize(model_.input_shape().with_batch(batch_));
      if (!wb_.batch.targets.values.empty())
        tb_.values.resize(wb_.batch.targets.values.shape().drop_first().with_batch(batch_));
      tb_.labels.resize(static_cast<std::size_t>(batch_));
    }
    dy_.resize(model_.output_shape().with_batch(n_));
  }

  /// A fresh run: parameters drawn from their init specs.
  void initialise() { model_.init(layers_, seed_); }
  /// A resumed run: parameters, optimizer state, shuffling state and history from a checkpoint.

  void restore(const std::filesystem::path& path);
  TrainResult run();

 private:
  void next_batch(const Tensor<T>*& x, const Targets<T>*& t);
  std::filesystem::path write(std::int64_t iteration);
  std::vector<NamedTensor> data_gradients();
  void log(spdlog::level::level_enum level, const std::string& text) const {
    if (options_.logger) options_.logger->log(level, text);
  }

  TrainOptions options_;
  std::vector<LayerConfig> layers_;
  Workbench<T> wb_;
  Model<T>& model_;
  Loss<T> loss_;
  Optimizer<T> optimizer_;
  Index n_ = 0, batch_ = 0;
  std::int64_t total_ = 0, every_ = 1, log_every_ = 0, iteration_ = 0;
  std::vector<std::int64_t> at_;  // extra checkpoint iterations, sorted
  std::uint64_t seed_ = 0;
  std::filesystem::path dir_;
  std::string dtype_, config_text_;
  Rng shuffle_;
  std::vector<std::int64_t> order_;
  std::int64_t cursor_ = 0;
  std::vector<std::int64_t> history_iteration_;
  std::vector<double> history_loss_;
  Tensor<T> xb_, dy_;
  Targets<T> tb_;
};

// Mini-batches: each epoch is a fresh Fisher–Yates shuffle of the sample order; a batch takes the
// next `batch_` samples and the epoch's remainder (fewer than batch_) is dropped.
template <typename T>
void TrainingRun<T>::next_batch(const Tensor<T>*& x, const Targets<T>*& t) {
  if (batch_ == n_) {
    x = &wb_.batch.inputs;
    t = &wb_.batch.targets;
    return;
  }
  if (cursor_ + batch_ > n_) {
    for (std::size_t i = order_.size() - 1; i > 0; --i)
      std::swap(order_[i], order_[shuffle_.below(i + 1)]);
    cursor_ = 0;
  }
  const Index per_x = xb_.size() / batch_;
  const bool regression = !tb_.values.empty();
  const Index per_t = regression ? tb_.values.size() / batch_ : 0;
  for (Index b = 0; b < batch_; ++b) {
    const Index s = order_[static_cast<std::size_t>(cursor_ + b)];
    std::copy_n(wb_.batch.inputs.data() + s * per_x, per_x, xb_.data() + b * per_x);
    if (regression)
      std::copy_n(wb_.batch.targets.values.data() + s * per_t, per_t, tb_.values.data() + b * per_t);
    else
      tb_.labels[static_cast<std::size_t>(b)] = wb_.batch.targets.labels[static_cast<std::size_t>(s)];
  }
  cursor_ += batch_;
  x = &xb_;
  t = &tb_;
}

// ∂E/∂θ on the whole probe batch at the current params, without decay: what /grads records. The
// forward runs in training mode (batch statistics, as in training); batchnorm's running
// statistics are put back afterwards so that writing a checkpoint never changes the run.
template <typename T>
std::vector<NamedTensor> TrainingRun<T>::data_gradients() {
  const std::vector<Tensor<T>> saved = model_.buffer_values();
  model_.zero_grads();
  const Tensor<T>& y = model_.forward(wb_.batch.inputs, true);
  dy_.resize(y.shape());
  loss_.evaluate(y, wb_.batch.targets, &dy_);
  model_.backward(dy_);
  model_.set_buffer_values(saved);
  std::vector<NamedTensor> grads;
  for (auto& [key, param] : model_.named_params())
    grads.push_back({key, param->grad.template cast<double>()});
  return grads;
}

template <typename T>
std::filesystem::path TrainingRun<T>::write(std::int64_t iteration) {
  CheckpointData d;
  d.cnndiag_version = CNNDIAG_VERSION;
  d.iteration = iteration;
  d.seed = seed_;
  d.created_utc = utc_now();
  d.dtype = dtype_;
  d.config_text = config_text_;
  d.grads = data_gradients();
  for (auto& [key, param] : model_.named_params())
    d.params.push_back({key, param->value.template cast<double>()});
  for (auto& [key, buffer] : model_.named_buffers())
    d.buffers.push_back({key, buffer->value.template cast<double>()});
  d.optimizer_type = optimizer_.type();
  d.optimizer_lr = optimizer_.config().lr;
  d.optimizer_step = optimizer_.steps();
  for (const auto& slot : optimizer_.slots())
    d.optimizer_slots.push_back({slot.param_key + "/" + slot.name, slot.value->template cast<double>()});
  d.history_iteration = history_iteration_;
  d.history_loss = history_loss_;
  d.probe_inputs = wb_.data.inputs;
  d.probe_targets = wb_.data.targets;
  d.probe_labels = wb_.data.labels;
  d.rng_state = shuffle_.state();
  d.train_order = order_;
  d.train_cursor = cursor_;
  const std::filesystem::path path = dir_ / checkpoint_file_name(iteration);
  write_checkpoint(path, d);
  log(spdlog::level::debug, "wrote " + path.string());
  return path;
}

template <typename T>
void TrainingRun<T>::restore(const std::filesystem::path& path) {
  const CheckpointData d = read_checkpoint(path);
  auto mismatch = [&](const std::string& object, const std::string& what) {
    throw CheckpointError(path.string() + ": " + object + ": " + what);
  };
  for (auto& [key, param] : model_.named_params()) {
    const NamedTensor* t = d.find_param(key);
    const std::string object = "/params/" + key.substr(0, key.find('.')) + "/" + param->name;
    if (!t) mismatch(object, "missing, but the config's model has it");
    if (!(t->value.shape() == param->value.shape()))
      mismatch(object, "shape " + t->value.shape().str() + ", but the config's model has " +
                           param->value.shape().str());
    param->value = t->value.template cast<T>();
  }
  for (auto& [key, buffer] : model_.named_buffers())
    for (const auto& b : d.buffers)
      if (b.key == key) buffer->value = b.value.template cast<T>();
  if (d.optimizer_type != optimizer_.type())
    mismatch("/optimizer", "written by optimizer '" + d.optimizer_type + "', but the config uses '" +
                               optimizer_.type() + "'");
  for (const auto& slot : optimizer_.slots()) {
    const std::string key = slot.param_key + "/" + slot.name;
    const NamedTensor* found = nullptr;
    for (const auto& s : d.optimizer_slots)
      if (s.key == key) found = &s;
    if (!found || !(found->value.shape() == slot.value->shape()))
      mismatch("/optimizer/" + key, "missing or of another shape");
    *slot.value = found->value.template cast<T>();
  }
  optimizer_.set_steps(d.optimizer_step);
  if (static_cast<Index>(d.train_order.size()) != n_)
    mismatch("/train/order", "has " + std::to_string(d.train_order.size()) +
                                 " samples, but the config's data has " + std::to_string(n_));
  shuffle_.set_state(d.rng_state);
  order_ = d.train_order;
  cursor_ = d.train_cursor;
  iteration_ = d.iteration;
  for (std::size_t i = 0; i < d.history_iteration.size(); ++i) {
    if (d.history_iteration[i] > iteration_) break;
    history_iteration_.push_back(d.history_iteration[i]);
    history_loss_.push_back(d.history_loss[i]);
  }
  if (d.dtype != dtype_)
    log(spdlog::level::warn, path.string() + " was trained in " + d.dtype + ", resuming in " +
                                 dtype_ + ": the continuation will not be bit-identical");
  log(spdlog::level::info, "resuming from " + path.string() + " at iteration " +
                               std::to_string(iteration_));
}

template <typename T>
TrainResult TrainingRun<T>::run() {
  TrainResult result;
  result.iteration = iteration_;
  if (options_.on_start) options_.on_start(model_.summary(), model_.input_shape(), n_);
  if (iteration_ == 0 && !options_.resume) result.checkpoints.push_back(write(0));
  if (iteration_ > total_)
    throw UsageError("the checkpoint is at iteration " + std::to_string(iteration_) +
                     ", past the run's " + std::to_string(total_) + " iterations");
  // The history grows by at most one entry per step: reserve it so the step loop never
  // reallocates (and copies) it.
  const auto remaining = static_cast<std::size_t>(std::max<std::int64_t>(0, total_ - iteration_));
  history_iteration_.reserve(history_iteration_.size() + remaining);
  history_loss_.reserve(history_loss_.size() + remaining);
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t t = iteration_ + 1; t <= total_; ++t) {
    const Tensor<T>* x = nullptr;
    const Targets<T>* targets = nullptr;
    next_batch(x, targets);
    model_.zero_grads();
    const Tensor<T>& y = model_.forward(*x, true);
    dy_.resize(y.shape());
    const double e = loss_.evaluate(y, *targets, &dy_);
    result.loss = e;
    if (!std::isfinite(e)) {
      result.stop = TrainResult::Stop::kNonFinite;
      result.message = "iteration " + std::to_string(t) + ": the loss is " +
                       (std::isnan(e) ? "NaN" : "infinite") + "; first non-finite tensor: " +
                       first_nonfinite(model_);
      result.checkpoints.push_back(write(t - 1));
      result.iteration = t - 1;
      break;
    }
    model_.backward(dy_);
    if (log_every_ <= 1 || t % log_every_ == 0 || t == total_) {
      history_iteration_.push_back(t);
      history_loss_.push_back(e);
    }
    optimizer_.step();
    iteration_ = t;
    result.iteration = t;
    if (options_.on_progress) options_.on_progress({t, total_, e});
    const bool interrupted = options_.interrupt && options_.interrupt->load();
    const bool scheduled = t % every_ == 0 || t == total_ ||
                           std::binary_search(at_.begin(), at_.end(), t);
    if (scheduled || interrupted) result.checkpoints.push_back(write(t));
    if (interrupted) {
      result.stop = TrainResult::Stop::kInterrupted;
      break;
    }
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

template <typename T>
TrainResult train_as(const Config& config, const TrainOptions& options) {
  set_num_threads(options.threads > 0 ? options.threads : static_cast<int>(config.train.threads));
  // float32 runs flush subnormals to zero (parallel.hpp): the seed example's weight decay drives
  // its weights towards 0, and products of those tiny weights (1e-23 · 1e-17) land below
  // FLT_MIN = 1.2e-38, where every operation would take a slow microcode assist. Values that
  // small are 0 for any purpose here; results change only where such a value occurs.
  // float64 runs (gradient checks, dtype = "float64") keep IEEE semantics.
  const FloatModeGuard float_mode(std::is_same_v<T, float>);
  TrainingRun<T> run(config, options);
  if (options.resume)
    run.restore(*options.resume);
  else
    run.initialise();
  return run.run();
}

}  // namespace

TrainResult train(const Config& config, const TrainOptions& options) {
  if (config.train.dtype == "float64") return train_as<double>(config, options);
  return train_as<float>(config, options);
}

template Workbench<float> open_workbench<float>(const Config&);
template Workbench<double> open_workbench<double>(const Config&);

}  // namespace cnndiag
