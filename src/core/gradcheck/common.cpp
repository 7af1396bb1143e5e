#include <algorithm>
#include <numeric>

#include "cnndiag/errors.hpp"
#include "gradcheck/internal.hpp"

namespace cnndiag {

std::string_view to_string(GradcheckMode mode) {
  switch (mode) {
    case GradcheckMode::kAuto: return "auto";
    case GradcheckMode::kExhaustive: return "exhaustive";
    case GradcheckMode::kSampled: return "sampled";
    case GradcheckMode::kDirectional: return "directional";
  }
  return "auto";
}

GradcheckMode parse_gradcheck_mode(std::string_view text) {
  for (GradcheckMode m : {GradcheckMode::kAuto, GradcheckMode::kExhaustive,
                          GradcheckMode::kSampled, GradcheckMode::kDirectional})
    if (to_string(m) == text) return m;
  throw UsageError("--mode: expected auto, exhaustive, sampled or directional, got '" +
                   std::string(text) + "'");
}

std::string_view to_string(CheckStatus status) {
  switch (status) {
    case CheckStatus::kPass: return "pass";
    case CheckStatus::kTolerance: return "tolerance";
    case CheckStatus::kMismatch: return "mismatch";
    case CheckStatus::kUnresolved: return "unresolved";
  }
  return "pass";
}

GradcheckSettings GradcheckSettings::from_config(const Config& config, GradcheckSettings base) {
  base.atol = config.threshold("gradcheck_atol");
  base.rtol = config.threshold("gradcheck_rtol");
  base.samples = static_cast<Index>(config.threshold("gradcheck_samples"));
  base.exhaustive_max = static_cast<Index>(config.threshold("gradcheck_exhaustive_max"));
  return base;
}

GradcheckSettings GradcheckSettings::from_config(const Config& config) {
  return from_config(config, GradcheckSettings{});
}

Index GradcheckResult::mismatching() const {
  return std::count_if(checks.begin(), checks.end(),
                       [](const TensorCheck& c) { return c.status == CheckStatus::kMismatch; });
}

Index GradcheckResult::tolerance_only() const {
  return std::count_if(checks.begin(), checks.end(),
                       [](const TensorCheck& c) { return c.status == CheckStatus::kTolerance; });
}

Index GradcheckResult::unresolved() const {
  return std::count_if(checks.begin(), checks.end(),
                       [](const TensorCheck& c) { return c.status == CheckStatus::kUnresolved; });
}

namespace gradcheck_detail {

GradcheckMode resolve_mode(GradcheckMode mode, Index size, const GradcheckSettings& settings) {
  if (mode != GradcheckMode::kAuto) return mode;
  return size <= settings.exhaustive_max ? GradcheckMode::kExhaustive : GradcheckMode::kSampled;
}

std::vector<Index> pick_coordinates(GradcheckMode mode, Index size, const std::string& tensor,
                                    const GradcheckSettings& settings) {
  std::vector<Index> all(static_cast<std::size_t>(size));
  std::iota(all.begin(), all.end(), Index{0});
  if (mode != GradcheckMode::kSampled || size <= settings.samples) return all;
  // A partial Fisher–Yates shuffle: the first K entries are K distinct coordinates, each K-subset
  // equally likely, and the same seed and tensor name always give the same ones.
  Rng rng = Rng::stream(settings.seed, "gradcheck/" + tensor);
  const auto k = static_cast<std::size_t>(settings.samples);
  for (std::size_t i = 0; i < k; ++i) {
    const std::size_t j = i + static_cast<std::size_t>(rng.below(all.size() - i));
    std::swap(all[i], all[j]);
  }
  all.resize(k);
  std::sort(all.begin(), all.end());
  return all;
}

void direction(Rng& rng, std::vector<double>& v, Index size) {
  v.resize(static_cast<std::size_t>(size));
  for (double& x : v) x = (rng.next_u64() >> 63) != 0 ? 1.0 : -1.0;
}

void Accumulator::add(const Sample& s) {
  ++check_.checked;
  const double err = std::abs(s.analytic - s.numeric);
  aa_ += s.analytic * s.analytic;
  nn_ += s.numeric * s.numeric;
  an_ += s.analytic * s.numeric;
  check_.analytic_max = std::max(check_.analytic_max, std::abs(s.analytic));
  check_.reference_max = std::max(check_.reference_max, std::abs(s.numeric));
  const bool fail = !(err <= s.allowed);
  if (fail) {
    ++check_.mismatches;
    failing_.push_back(s);
  }
  if (std::isnan(err)) {
    check_.max_abs_error = check_.max_rel_error = std::numeric_limits<double>::quiet_NaN();
  } else if (!std::isnan(check_.max_abs_error)) {
    check_.max_abs_error = std::max(check_.max_abs_error, err);
    check_.max_rel_error =
        std::max(check_.max_rel_error, err / std::max(std::abs(s.numeric), atol_));
  }
  const double excess = std::isnan(err) ? std::numeric_limits<double>::infinity() : err - s.allowed;
  if (excess > worst_excess_) {
    worst_excess_ = excess;
    worst_ = s;
    has_worst_ = true;
  }
}

std::vector<Sample> Accumulator::failures(std::size_t cap) const {
  std::vector<Sample> out;
  if (failing_.empty()) {
    if (has_worst_) out.push_back(worst_);
    return out;
  }
  // Evenly spread over the failures, plus the worst one.
  const std::size_t stride = std::max<std::size_t>(1, failing_.size() / std::max<std::size_t>(cap, 1));
  for (std::size_t i = 0; i < failing_.size() && out.size() + 1 < cap; i += stride)
    out.push_back(failing_[i]);
  if (std::none_of(out.begin(), out.end(), [&](const Sample& s) { return s.index == worst_.index; }))
    out.push_back(worst_);
  return out;
}

void Accumulator::finish() {
  check_.analytic_norm = std::sqrt(aa_);
  check_.reference_norm = std::sqrt(nn_);
  check_.cosine = aa_ > 0 && nn_ > 0 ? an_ / std::sqrt(aa_ * nn_) : (aa_ == nn_ ? 1.0 : 0.0);
  check_.scale = nn_ > 0 ? an_ / nn_ : (aa_ == 0 ? 1.0 : std::numeric_limits<double>::infinity());
  if (has_worst_) {
    check_.worst = worst_.index;
    check_.analytic_at_worst = worst_.analytic;
    check_.numeric_at_worst = worst_.numeric;
    check_.rounding = worst_.rounding;
    const auto it = truncation_.find(worst_.index);
    check_.truncation = it == truncation_.end() ? 0.0 : it->second;
  }
  if (failing_.empty()) {
    check_.status = CheckStatus::kPass;
    return;
  }
  // A failure is FD noise only if its error is within kBudgetFactor × (truncation + rounding).
  // Failures whose truncation was not estimated count as bugs unless another estimated one was
  // already judged: judging by the estimated sample is enough (cap in failures()).
  check_.status = CheckStatus::kTolerance;
  for (const Sample& s : failing_) {
    const auto it = truncation_.find(s.index);
    if (it == truncation_.end()) continue;
    const double err = std::abs(s.analytic - s.numeric);
    if (!(err <= kBudgetFactor * (it->second + s.rounding))) check_.status = CheckStatus::kMismatch;
  }
}

TensorDiff compare_tensors(const Tensor<double>& u, const Tensor<double>& r, double atol,
                           double rtol) {
  TensorDiff d;
  double uu = 0, rr = 0, ur = 0, dd = 0;
  for (Index i = 0; i < u.size(); ++i) {
    const double a = u[i], b = r[i];
    d.max_abs = std::max(d.max_abs, std::abs(a - b));
    if (std::isnan(a - b)) d.max_abs = std::numeric_limits<double>::quiet_NaN();
    d.max_ref = std::max(d.max_ref, std::abs(b));
    d.max_abs_u = std::max(d.max_abs_u, std::abs(a));
    uu += a * a;
    rr += b * b;
    ur += a * b;
    dd += (a - b) * (a - b);
  }
  const double allowed = atol + rtol * d.max_ref;
  for (Index i = 0; i < u.size(); ++i) d.coordinates_off += std::abs(u[i] - r[i]) > allowed ? 1 : 0;
  d.norm_u = std::sqrt(uu);
  d.norm_r = std::sqrt(rr);
  d.rel = rr > 0 ? std::sqrt(dd) / std::sqrt(rr) : (dd > 0 ? std::numeric_limits<double>::infinity() : 0.0);
  d.cosine = uu > 0 && rr > 0 ? ur / std::sqrt(uu * rr) : (uu == rr ? 1.0 : 0.0);
  d.scale = rr > 0 ? ur / rr : 1.0;
  d.pass = d.max_abs <= allowed;
  return d;
}

std::string scale_name(double scale, Index n) {
  const auto near = [](double a, double b) { return std::abs(a - b) <= 1e-3 * std::abs(b); };
  const double dn = static_cast<double>(n);
  if (n > 1 && near(scale, dn)) return "missing batch mean";
  if (n > 1 && near(scale, 1.0 / dn)) return "divided by N twice";
  if (near(scale, -1.0)) return "sign flip";
  if (n > 1 && near(scale, -dn)) return "sign flip and missing batch mean";
  return "";
}

std::vector<TensorRef> backward_order(const Model<double>& model, const std::string& only_layer,
                                      bool outputs) {
  std::vector<TensorRef> refs;
  for (std::size_t i = model.size(); i-- > 0;) {
    const Layer<double>& layer = model.layer(i);
    if (!only_layer.empty() && layer.name() != only_layer) continue;
    if (outputs) refs.push_back({i, layer.name() + ":output", "", true});
    for (const Param<double>& p : layer.params())
      refs.push_back({i, param_key(layer.name(), p.name), p.name, false});
  }
  return refs;
}

void copy_values(const Model<double>& from, Model<double>& to) {
  CNNDIAG_ASSERT(from.size() == to.size(), "architectures differ");
  for (std::size_t i = 0; i < from.size(); ++i) {
    auto src = from.layer(i).params();
    auto dst = to.layer(i).params();
    CNNDIAG_ASSERT(src.size() == dst.size(), "parameter lists differ");
    for (std::size_t p = 0; p < src.size(); ++p) dst[p].value = src[p].value;
    auto sb = const_cast<Layer<double>&>(from.layer(i)).buffers();
    auto db = to.layer(i).buffers();
    for (std::size_t b = 0; b < sb.size() && b < db.size(); ++b) db[b].value = sb[b].value;
  }
}

std::vector<LayerConfig> without_faults(std::vector<LayerConfig> layers) {
  for (LayerConfig& l : layers) l.fault.clear();
  return layers;
}

LossConfig without_fault(LossConfig loss) {
  loss.fault.clear();
  return loss;
}

GradientSet model_gradients(Model<double>& model, const LossConfig& loss_config,
                            const Tensor<double>& inputs, const Targets<double>& targets) {
  std::vector<Tensor<double>> saved;
  for (auto& [key, b] : model.named_buffers()) saved.push_back(b->value);
  model.reserve(inputs.dim(0));
  model.zero_grads();
  const Tensor<double>& y = model.forward(inputs, true);
  const Loss<double> loss(loss_config);
  Tensor<double> dy(y.shape());
  loss.evaluate(y, targets, &dy);
  model.backward(dy);
  std::size_t k = 0;
  for (auto& [key, b] : model.named_buffers()) b->value = saved[k++];
  GradientSet set;
  for (std::size_t i = 0; i < model.size(); ++i) {
    const Layer<double>& layer = model.layer(i);
    set[layer.name() + ":output"] = model.output_grad(i);
    for (const Param<double>& p : layer.params()) set[param_key(layer.name(), p.name)] = p.grad;
  }
  return set;
}

Localisation localise(const std::vector<TensorCheck>& checks) {
  Localisation loc;
  std::vector<std::string> fine;
  for (const TensorCheck& c : checks) {
    if (c.scope == "isolated") continue;
    if (c.status != CheckStatus::kMismatch) {
      fine.push_back(c.tensor);
      continue;
    }
    loc.found = true;
    loc.tensor = c.tensor;
    loc.layer = c.computed_by;
    const bool output = c.tensor.find(':') != std::string::npos;
    const std::string what = output ? "the gradient w.r.t. the output of " + c.layer
                                    : "the gradient of " + c.tensor;
    loc.message = "walking back from the loss, the first wrong gradient is " + what +
                  " (computed by " +
                  (c.computed_by == "loss" ? std::string("the loss") : "the backward of " + c.computed_by) +
                  ")" +
                  (fine.empty() ? std::string()
                                : "; every gradient before it (" + std::to_string(fine.size()) +
                                      " tensors, from the loss back) is right");
    return loc;
  }
  return loc;
}

}  // namespace gradcheck_detail
}  // namespace cnndiag
