// End-to-end gradient check: central differences of the loss E(θ) against the model's backward,
// for every parameter tensor and every layer output.
//
// The one trick that makes it fast: perturbing a tensor of layer k changes nothing before layer k,
// so a perturbed evaluation runs layers k..L−1 only, reading layer k's input from the activations
// of the clean forward (which the model keeps: Model::activation). A perturbed output of one
// sample changes that sample's loss only, unless a later layer mixes samples (batchnorm in
// training), so it is run forward as a batch of one. All buffers are sized once.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "cnndiag/errors.hpp"
#include "gradcheck/internal.hpp"

namespace cnndiag {
namespace gradcheck_detail {
namespace {

class EndToEnd {
 public:
  EndToEnd(Model<double>& model, const LossConfig& loss_config, const Tensor<double>& x,
           const Targets<double>& targets, const GradcheckSettings& settings)
      : model_(model),
        loss_(loss_config),
        clean_loss_(without_fault(loss_config)),
        x_(x),
        targets_(targets),
        settings_(settings),
        n_(x.dim(0)) {
    const std::size_t count = model_.size();
    // The analytic pass: the model's own backward (faults and all), on a clean forward.
    model_.reserve(n_);
    model_.zero_grads();
    const Tensor<double>& y = model_.forward(x_, true);
    Tensor<double> dy(y.shape());
    loss_value_ = loss_.evaluate(y, targets_, &dy);
    model_.backward(dy);

    // Rounding scale of a loss evaluation: E's own magnitude and that of the output it is
    // computed from, weighted by how much the loss reacts to it (the true ∂E/∂y).
    Tensor<double> true_dy(y.shape());
    clean_loss_.evaluate(y, targets_, &true_dy);
    const Index per_out = y.size() / n_;
    reduce_ = loss_config.reduction == "mean" ? 1.0 / static_cast<double>(n_) : 1.0;
    sample_mag_.assign(static_cast<std::size_t>(n_), 0.0);
    for (Index s = 0; s < n_; ++s) {
      double m = 0;
      for (Index j = 0; j < per_out; ++j) m += std::abs(y[s * per_out + j] * true_dy[s * per_out + j]);
      sample_mag_[static_cast<std::size_t>(s)] = m;
      output_mag_ += m;
    }

    // Scratch for perturbed forwards, a full batch and a batch of one per layer.
    scratch_.resize(count);
    single_.resize(count);
    kink_.resize(count);
    mixes_after_.assign(count + 1, false);
    for (std::size_t i = 0; i < count; ++i) {
      const Layer<double>& layer = model_.layer(i);
      scratch_[i].resize(layer.output_shape().with_batch(n_));
      single_[i].resize(layer.output_shape().with_batch(1));
      // Kinked layers keep the kink distances of their clean input.
      Tensor<double> d;
      layer.kink_distance(input_of(i), d);
      const bool finite = std::any_of(d.data(), d.data() + d.size(),
                                      [](double v) { return std::isfinite(v); });
      if (finite) kink_[i] = std::move(d);
    }
    for (std::size_t i = count; i-- > 0;)
      mixes_after_[i] = mixes_after_[i + 1] || model_.layer(i).type() == "batchnorm";
    // Per-sample targets for single-sample forwards.
    targets_one_.resize(static_cast<std::size_t>(n_));
    for (Index s = 0; s < n_; ++s) {
      Targets<double>& t = targets_one_[static_cast<std::size_t>(s)];
      if (!targets_.values.empty()) {
        const Index k = targets_.values.size() / n_;
        t.values.resize(Shape{1, k});
        std::copy_n(targets_.values.data() + s * k, k, t.values.data());
      }
      if (!targets_.labels.empty()) t.labels = {targets_.labels[static_cast<std::size_t>(s)]};
    }
  }

  double loss() const { return loss_value_; }

  TensorCheck check_param(std::size_t k, Param<double>& p, const std::string& key,
                          GradcheckMode mode) {
    const Layer<double>& layer = model_.layer(k);
    TensorCheck c = start(key, layer.name(), layer.name(), mode, p.value.size());
    const std::vector<double> clean(p.value.data(), p.value.data() + p.value.size());
    const Tensor<double>& in = input_of(k);
    auto set = [&](Index i, double v) { p.value[i] = v; };
    auto eval = [&]() { return eval_from(k, in); };
    run_checks(c, settings_, p.grad, clean, set, [&](Index) { return eval(); },
               [&](Index) { return output_mag_; });
    return c;
  }

  TensorCheck check_output(std::size_t k, GradcheckMode mode) {
    const Layer<double>& layer = model_.layer(k);
    const std::string computed_by =
        k + 1 == model_.size() ? std::string("loss") : model_.layer(k + 1).name();
    const Tensor<double>& act = model_.activation(k);
    TensorCheck c = start(layer.name() + ":output", layer.name(), computed_by, mode, act.size());
    const std::vector<double> clean(act.data(), act.data() + act.size());
    const Index per = act.size() / n_;
    const bool per_sample = !mixes_after_[k + 1] && mode != GradcheckMode::kDirectional;

    if (per_sample) {
      // One sample's output, forward alone through layers k+1..: E changes by that sample's
      // share only, so the difference of its share is the difference of E.
      one_.resize(layer.output_shape().with_batch(1));
      Index loaded = -1;
      auto load = [&](Index i) {
        const Index s = i / per;
        if (s != loaded) {
          std::copy_n(clean.data() + s * per, per, one_.data());
          loaded = s;
        }
      };
      auto set = [&](Index i, double v) {
        load(i);
        one_[i % per] = v;
      };
      auto eval = [&](Index i) { return eval_sample_from(k + 1, one_, i / per); };
      auto mag = [&](Index i) { return sample_mag_[static_cast<std::size_t>(i / per)]; };
      run_checks(c, settings_, model_.output_grad(k), clean, set, eval, mag, next_kinks(k));
      return c;
    }
    pert_.resize(act.shape());
    std::copy(clean.begin(), clean.end(), pert_.data());
    auto set = [&](Index i, double v) { pert_[i] = v; };
    auto eval = [&](Index) { return eval_from(k + 1, pert_); };
    run_checks(c, settings_, model_.output_grad(k), clean, set, eval,
               [&](Index) { return output_mag_; }, next_kinks(k));
    return c;
  }

  /// A direct check is inconclusive when the analytic and the numeric values both stay within
  /// atol + kBudgetFactor × the difference's rounding (the floor ε·|E|/h that hides tiny
  /// gradients; the truncation estimate is left out, since a 2h step across a kink inflates it).
  /// Then the chain-rule reference replaces it (gradcheck.hpp); without one, a resolved direct
  /// reference is compared relatively (atol = rtol·‖n‖∞) and an unresolved one says so.
  /// `p` is the parameter of layer k the check is about, null for "k:output".
  void refine(TensorCheck& c, std::size_t k, Param<double>* p) {
    const double budget = c.rounding;
    if (std::max(c.analytic_max, c.reference_max) > settings_.atol + kBudgetFactor * budget) return;
    if (const NumericTensor* g = output_reference(k)) {
      c = p ? chain_param(c, k, *p, *g) : chain_output(c, k, *g);
      return;
    }
    if (c.reference_max > kBudgetFactor * budget && c.reference_max > 0) {
      const GradcheckSettings saved = settings_;
      settings_.atol = settings_.rtol * c.reference_max;
      c = p ? check_param(k, *p, c.tensor, c.mode) : check_output(k, c.mode);
      settings_ = saved;
      return;
    }
    c.status = CheckStatus::kUnresolved;
  }

 private:
  /// The numeric ∂E/∂(output of layer k) over every element, composed from the loss (see
  /// gradcheck.hpp): the last layer's by central differences of E, the others through the layer
  /// after them. Null when the composition stops (a kink, a layer mixing samples, a big output).
  const NumericTensor* output_reference(std::size_t k) {
    if (output_refs_.empty()) output_refs_.resize(model_.size());
    std::optional<NumericTensor>& slot = output_refs_[k];
    if (slot) return slot->value.empty() ? nullptr : &*slot;
    slot.emplace();
    const Tensor<double>& act = model_.activation(k);
    if (act.size() > kChainMaxCoordinates) return nullptr;
    if (k + 1 == model_.size()) {
      *slot = loss_output_reference();
      return &*slot;
    }
    Layer<double>& next = model_.layer(k + 1);
    if (!kink_[k + 1].empty() || mixes_after_[k + 1] ) return nullptr;
    const NumericTensor* above = output_reference(k + 1);
    if (!above) return nullptr;
    LocalChain chain(next, act, *above, model_.layer(k).name() + ":output", settings_.seed);
    *slot = chain.input();
    return &*slot;
  }

  /// ∂E/∂ (last layer's output) by central differences of one sample's share of E per element,
  /// with truncation |n(2h) − n(h)|/3 and rounding ε·(|E_s| + Σ|y ⊙ ∂E/∂y|_s)/h per element.
  NumericTensor loss_output_reference() {
    const std::size_t last = model_.size() - 1;
    const Tensor<double>& act = model_.activation(last);
    const Index per = act.size() / n_;
    one_.resize(model_.layer(last).output_shape().with_batch(1));
    NumericTensor out;
    for (Index s = 0; s < n_; ++s) {
      std::copy_n(act.data() + s * per, per, one_.data());
      for (Index j = 0; j < per; ++j) {
        const double saved = one_[j];
        auto central = [&](double h) {
          one_[j] = saved + h;
          const double up = eval_sample_from(last + 1, one_, s).value;
          one_[j] = saved - h;
          const double down = eval_sample_from(last + 1, one_, s).value;
          one_[j] = saved;
          const double rounding = kEps * (std::max(std::abs(up), std::abs(down)) +
                                          sample_mag_[static_cast<std::size_t>(s)]) / h;
          return std::pair<double, double>{(up - down) / ((saved + h) - (saved - h)), rounding};
        };
        const double h = step_for(saved);
        const auto [value, rounding] = central(h);
        const double twice = central(2 * h).first;
        out.value.push_back(value);
        out.budget.push_back(rounding + std::abs(twice - value) / 3);
      }
    }
    return out;
  }

  TensorCheck chain_output(const TensorCheck& direct, std::size_t k, const NumericTensor& g) {
    TensorCheck c = restart(direct);
    const Tensor<double>& a = model_.output_grad(k);
    if (c.mode == GradcheckMode::kDirectional) {
      std::vector<double> av, rv, bv, allowed;
      double scale = 0;
      for (double v : g.value) scale += std::abs(v);
      for (const std::vector<double>& v : directions(c)) {
        double ad = 0, rd = 0, bd = 0;
        for (std::size_t i = 0; i < v.size(); ++i) {
          ad += v[i] * a[static_cast<Index>(i)];
          rd += v[i] * g.value[i];
          bd += std::abs(v[i]) * g.budget[i];
        }
        av.push_back(ad);
        rv.push_back(rd);
        bv.push_back(bd);
        allowed.push_back(settings_.rtol * scale);
      }
      judge(c, av, rv, bv, allowed, scale);
      return c;
    }
    std::vector<double> av, rv, bv;
    const std::vector<Index> coords = pick_coordinates(c.mode, c.size, c.tensor, settings_);
    double scale = 0;
    for (Index i : coords) {
      av.push_back(a[i]);
      rv.push_back(g.value[static_cast<std::size_t>(i)]);
      bv.push_back(g.budget[static_cast<std::size_t>(i)]);
      scale = std::max(scale, std::abs(rv.back()));
    }
    judge(c, av, rv, bv, std::vector<double>(av.size(), settings_.rtol * scale), scale, &coords);
    return c;
  }

  TensorCheck chain_param(const TensorCheck& direct, std::size_t k, Param<double>& p,
                          const NumericTensor& g) {
    TensorCheck c = restart(direct);
    LocalChain chain(model_.layer(k), input_of(k), g, c.tensor, settings_.seed);
    if (c.mode == GradcheckMode::kDirectional) {
      const std::vector<std::vector<double>> dirs = directions(c);
      const NumericTensor r = chain.param_directions(p, dirs);
      std::vector<double> av, allowed;
      double a_abs = 0;
      for (Index i = 0; i < p.grad.size(); ++i) a_abs += std::abs(p.grad[i]);
      double scale = 0;
      for (std::size_t d = 0; d < dirs.size(); ++d) {
        double ad = 0;
        for (std::size_t i = 0; i < dirs[d].size(); ++i) ad += dirs[d][i] * p.grad[static_cast<Index>(i)];
        av.push_back(ad);
        allowed.push_back(settings_.rtol * (std::abs(r.value[d]) + a_abs));
        scale = std::max(scale, std::abs(r.value[d]));
      }
      judge(c, av, r.value, r.budget, allowed, scale);
      return c;
    }
    const std::vector<Index> coords = pick_coordinates(c.mode, c.size, c.tensor, settings_);
    const NumericTensor r = chain.param(p, coords);
    std::vector<double> av;
    double scale = 0;
    for (std::size_t j = 0; j < coords.size(); ++j) {
      av.push_back(p.grad[coords[j]]);
      scale = std::max(scale, std::abs(r.value[j]));
    }
    judge(c, av, r.value, r.budget, std::vector<double>(av.size(), settings_.rtol * scale), scale,
          &coords);
    return c;
  }

  /// A fresh check of the same tensor for the chain reference.
  TensorCheck restart(const TensorCheck& direct) const {
    TensorCheck c = start(direct.tensor, direct.layer, direct.computed_by, direct.mode, direct.size);
    c.reference = "chain";
    return c;
  }

  /// The ±1 directions of a directional chain check, from their own stream.
  std::vector<std::vector<double>> directions(const TensorCheck& c) const {
    Rng rng = Rng::stream(settings_.seed, "gradcheck/chain/directions/" + c.tensor);
    std::vector<std::vector<double>> dirs(static_cast<std::size_t>(settings_.directions));
    for (std::vector<double>& v : dirs) direction(rng, v, c.size);
    return dirs;
  }

  /// The chain comparison: pass when |a − r| ≤ allowed (rtol × the tensor's scale); a miss
  /// within kBudgetFactor × r's budget is a tolerance problem; a reference within its budget of
  /// 0, with a also within it, is unresolved.
  void judge(TensorCheck& c, const std::vector<double>& a, const std::vector<double>& r,
             const std::vector<double>& budget, const std::vector<double>& allowed, double scale,
             const std::vector<Index>* coords = nullptr) const {
    Accumulator acc(c, scale > 0 ? scale : settings_.atol);
    double worst_budget = 0;
    for (std::size_t j = 0; j < a.size(); ++j) {
      const Index index = coords ? (*coords)[j] : static_cast<Index>(j);
      acc.add({index, a[j], r[j], budget[j], allowed[j], 0});
      acc.set_truncation(index, 0);  // the budget is all in `rounding`
      worst_budget = std::max(worst_budget, budget[j]);
    }
    acc.finish();
    if (c.reference_max <= kBudgetFactor * worst_budget &&
        c.analytic_max <= kBudgetFactor * worst_budget)
      c.status = CheckStatus::kUnresolved;
  }

  /// Kink distances of the layer after k (whose input is k's output), or null.
  const Tensor<double>* next_kinks(std::size_t k) const {
    return k + 1 < kink_.size() && !kink_[k + 1].empty() ? &kink_[k + 1] : nullptr;
  }

  const Tensor<double>& input_of(std::size_t i) const {
    return i == 0 ? x_ : model_.activation(i - 1);
  }

  TensorCheck start(const std::string& tensor, const std::string& layer,
                    const std::string& computed_by, GradcheckMode mode, Index size) const {
    TensorCheck c;
    c.tensor = tensor;
    c.layer = layer;
    c.computed_by = computed_by;
    c.scope = "end_to_end";
    c.mode = mode;
    c.size = size;
    return c;
  }

  /// How far `in`, the perturbed input of kinked layer j, moved towards a kink: the largest
  /// 2|Δ_i|/distance_i (≥ 1: crossed; an element moved by δ can close a gap of 2δ, it and a rival
  /// moving towards each other); 0 for a layer without kinks.
  double kink_ratio(std::size_t j, const Tensor<double>& in, Index sample) const {
    const Tensor<double>& d = kink_[j];
    if (d.empty()) return 0;
    const Tensor<double>& clean = input_of(j);
    const Index per = clean.size() / n_;
    const Index offset = sample < 0 ? 0 : sample * per;
    double ratio = 0;
    for (Index i = 0; i < in.size(); ++i) {
      const double delta = std::abs(in[i] - clean[offset + i]);
      if (delta > 0) ratio = std::max(ratio, 2 * delta / d[offset + i]);
    }
    return ratio;
  }

  /// E with layer k's input `in` (the full batch): layers k..L−1 forward into scratch.
  Eval eval_from(std::size_t k, const Tensor<double>& in) {
    Eval e;
    const Tensor<double>* cur = &in;
    for (std::size_t j = k; j < model_.size(); ++j) {
      // Across a kink the value is of no use: stop before paying for the rest of the forward.
      if (const double r = kink_ratio(j, *cur, -1); r >= 1) return {0.0, true, r};
      model_.layer(j).forward(*cur, scratch_[j], true);
      cur = &scratch_[j];
    }
    e.value = loss_.evaluate(*cur, targets_, nullptr);
    return e;
  }

  /// Sample s's share of E with layer k's input `in` (a batch of one).
  Eval eval_sample_from(std::size_t k, const Tensor<double>& in, Index s) {
    Eval e;
    const Tensor<double>* cur = &in;
    for (std::size_t j = k; j < model_.size(); ++j) {
      if (const double r = kink_ratio(j, *cur, s); r >= 1) return {0.0, true, r};
      model_.layer(j).forward(*cur, single_[j], true);
      cur = &single_[j];
    }
    e.value = reduce_ * loss_.evaluate(*cur, targets_one_[static_cast<std::size_t>(s)], nullptr);
    return e;
  }

  Model<double>& model_;
  Loss<double> loss_, clean_loss_;
  const Tensor<double>& x_;
  const Targets<double>& targets_;
  GradcheckSettings settings_;
  Index n_;
  double loss_value_ = 0, reduce_ = 1, output_mag_ = 0;
  std::vector<double> sample_mag_;
  std::vector<Tensor<double>> scratch_, single_, kink_;
  std::vector<bool> mixes_after_;
  std::vector<Targets<double>> targets_one_;
  Tensor<double> one_, pert_;
  std::vector<std::optional<NumericTensor>> output_refs_;
};

}  // namespace
}  // namespace gradcheck_detail

GradcheckResult gradcheck_model(const std::vector<LayerConfig>& layers, const LossConfig& loss,
                                Model<double>& model, const Tensor<double>& inputs,
                                const Targets<double>& targets, const GradcheckSettings& settings) {
  using namespace gradcheck_detail;
  const auto start = std::chrono::steady_clock::now();
  if (!settings.layer.empty() && model.find(settings.layer) < 0) {
    std::vector<std::string> names;
    for (std::size_t i = 0; i < model.size(); ++i) names.push_back(model.layer(i).name());
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    throw UsageError("--layer: the model has no layer '" + settings.layer + "' (it has: " + list + ")");
  }
  GradcheckResult result;
  result.samples = inputs.dim(0);
  std::vector<Tensor<double>> saved;
  for (auto& [key, b] : model.named_buffers()) saved.push_back(b->value);

  std::vector<std::string> order, mismatching;
  GradientSet observed;
  if (settings.end_to_end) {
    EndToEnd e2e(model, loss, inputs, targets, settings);
    result.loss = e2e.loss();
    for (const TensorRef& ref : backward_order(model, settings.layer, settings.output_grads)) {
      TensorCheck c;
      if (ref.output) {
        c = e2e.check_output(ref.layer, resolve_mode(settings.mode, model.activation(ref.layer).size(), settings));
        e2e.refine(c, ref.layer, nullptr);
        observed[ref.key] = model.output_grad(ref.layer);
      } else {
        Param<double>* p = nullptr;
        for (Param<double>& q : model.layer(ref.layer).params())
          if (q.name == ref.param) p = &q;
        c = e2e.check_param(ref.layer, *p, ref.key, resolve_mode(settings.mode, p->value.size(), settings));
        e2e.refine(c, ref.layer, p);
        observed[ref.key] = p->grad;
      }
      // A tensor nobody can judge constrains no hypothesis either.
      if (c.status != CheckStatus::kUnresolved) order.push_back(c.tensor);
      if (c.status == CheckStatus::kMismatch) mismatching.push_back(c.tensor);
      result.checks.push_back(std::move(c));
    }
    result.localisation = localise(result.checks);
  }
  std::size_t k = 0;
  for (auto& [key, b] : model.named_buffers()) b->value = saved[k++];

  if (settings.hypotheses && !mismatching.empty())
    // Both sides are float64 gradients of the same params (no FD noise): compare them relative
    // to their own scale (atol 0), so tiny gradients of a collapsed network still discriminate.
    result.hypotheses = find_hypotheses(layers, loss, model, inputs, targets, observed, order,
                                        mismatching, 0.0, settings.rtol);

  if (settings.isolated) {
    for (std::size_t i = 0; i < model.size(); ++i) {
      Layer<double>& layer = model.layer(i);
      if (!settings.layer.empty() && layer.name() != settings.layer) continue;
      for (TensorCheck& c : gradcheck_isolated(layer, settings)) result.checks.push_back(std::move(c));
    }
    k = 0;
    for (auto& [key, b] : model.named_buffers()) b->value = saved[k++];
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace cnndiag
