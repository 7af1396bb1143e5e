// The chain-rule reference's layer-local stage (gradcheck.hpp, "Chain-rule reference").
//
// For a layer L with input x, output y = L(x; θ) and a numeric reference g ≈ ∂E/∂y, the chain
// rule gives ∂E/∂θ = J_θᵀ g and ∂E/∂x = J_xᵀ g. Both are derivatives of the scalar
//   φ(θ, x) = Σ L(x; θ) ⊙ g
// with g held fixed, so a central difference of φ through L alone yields them. Unlike a
// difference of E, φ has no large constant part to drown the perturbation (E ≈ 0.47 while the
// perturbation of a weight-decayed weight moves it by 1e-25), and for layers affine in what is
// perturbed the difference has no truncation error at all, so the step can grow (choose_step)
// until the perturbation stands well above the rounding of y.
#include <algorithm>
#include <cmath>

#include "gradcheck/internal.hpp"

namespace cnndiag::gradcheck_detail {

double NumericTensor::max_budget() const {
  double m = 0;
  for (double b : budget) m = std::max(m, b);
  return m;
}

LocalChain::LocalChain(Layer<double>& layer, const Tensor<double>& x, const NumericTensor& g,
                       const std::string& name, std::uint64_t seed)
    : layer_(layer), x_(x), g_(g.value), name_(name), seed_(seed) {
  y_.resize(layer_.output_shape().with_batch(x_.dim(0)));
  one_x_.resize(layer_.input_shape().with_batch(1));
  one_y_.resize(layer_.output_shape().with_batch(1));
  // The propagated error of g: Jᵀ(b ⊙ s) for random signs s has the size of the error that g's
  // own errors (of unknown sign, of size ≤ b) cause in Jᵀg, without needing |J|.
  Rng rng = Rng::stream(seed_, "gradcheck/chain/signs/" + name_);
  std::vector<double> signs;
  direction(rng, signs, static_cast<Index>(g.budget.size()));
  b_ = g.budget;
  s_.resize(g.budget.size());
  for (std::size_t i = 0; i < s_.size(); ++i) s_[i] = signs[i] * g.budget[i];
}

LocalChain::Sum LocalChain::sum(const Tensor<double>& y, Index sample) const {
  // Sample ≥ 0: y is one sample's output, paired with that sample's slice of g.
  const Index offset = sample < 0 ? 0 : sample * y.size();
  Sum out;
  for (Index i = 0; i < y.size(); ++i) {
    const auto yi = static_cast<long double>(y[i]);
    const auto t = yi * g_[static_cast<std::size_t>(offset + i)];
    out.value += t;
    out.magnitude += t < 0 ? -t : t;
    out.error += yi * s_[static_cast<std::size_t>(offset + i)];
    out.systematic += yi * b_[static_cast<std::size_t>(offset + i)];
  }
  return out;
}

namespace {

/// One value of a chain stage from the sums at ±step over the representable distance `width`.
/// g's budget is propagated twice: with random signs (independent errors) and all positive
/// (errors of one sign, e.g. a shared truncation); the larger counts.
template <typename Sum>
void record(NumericTensor& out, const Sum& up, const Sum& down, double width, double step,
            double truncation) {
  const double value = static_cast<double>((up.value - down.value) / width);
  const double propagated =
      std::max(static_cast<double>(std::abs((up.error - down.error) / width)),
               static_cast<double>(std::abs((up.systematic - down.systematic) / width)));
  const long double up_m = up.magnitude, down_m = down.magnitude;
  const double rounding = kEps * static_cast<double>(std::max(up_m, down_m)) / step;
  out.value.push_back(value);
  out.budget.push_back(rounding + truncation + propagated);
}

}  // namespace

NumericTensor LocalChain::param(Param<double>& p, const std::vector<Index>& coords) {
  const std::vector<double> clean(p.value.data(), p.value.data() + p.value.size());
  double theta_max = 0;
  for (double v : clean) theta_max = std::max(theta_max, std::abs(v));
  // The step: scanned along a random ±1 direction over the whole tensor.
  Rng rng = Rng::stream(seed_, "gradcheck/chain/scan/" + name_);
  std::vector<double> u;
  direction(rng, u, p.value.size());
  auto phi = [&](double t) {
    for (std::size_t i = 0; i < clean.size(); ++i) p.value[static_cast<Index>(i)] = clean[i] + t * u[i];
    layer_.forward(x_, y_, true);
    const Sum s = sum(y_, -1);
    return std::pair<double, double>{static_cast<double>(s.value), static_cast<double>(s.magnitude)};
  };
  const StepChoice choice = choose_step(phi, step_for(theta_max));
  for (std::size_t i = 0; i < clean.size(); ++i) p.value[static_cast<Index>(i)] = clean[i];

  NumericTensor out;
  const double h = choice.step;
  for (Index i : coords) {
    const double saved = clean[static_cast<std::size_t>(i)];
    p.value[i] = saved + h;
    layer_.forward(x_, y_, true);
    const Sum up = sum(y_, -1);
    p.value[i] = saved - h;
    layer_.forward(x_, y_, true);
    const Sum down = sum(y_, -1);
    p.value[i] = saved;
    record(out, up, down,
           (saved + h) - (saved - h), h, choice.truncation);
  }
  layer_.forward(x_, y_, true);  // leave the forward caches as the clean params had them
  return out;
}

NumericTensor LocalChain::param_directions(Param<double>& p,
                                           const std::vector<std::vector<double>>& dirs) {
  const std::vector<double> clean(p.value.data(), p.value.data() + p.value.size());
  double theta_max = 0;
  for (double v : clean) theta_max = std::max(theta_max, std::abs(v));
  NumericTensor out;
  for (const std::vector<double>& v : dirs) {
    Sum last_up, last_down;
    auto phi = [&](double t) {
      for (std::size_t i = 0; i < clean.size(); ++i)
        p.value[static_cast<Index>(i)] = clean[i] + t * v[i];
      layer_.forward(x_, y_, true);
      const Sum s = sum(y_, -1);
      (t > 0 ? last_up : last_down) = s;
      return std::pair<double, double>{static_cast<double>(s.value),
                                       static_cast<double>(s.magnitude)};
    };
    const StepChoice choice = choose_step(phi, step_for(theta_max));
    phi(choice.step);
    phi(-choice.step);
    record(out, last_up, last_down, 2 * choice.step, choice.step, choice.truncation);
  }
  for (std::size_t i = 0; i < clean.size(); ++i) p.value[static_cast<Index>(i)] = clean[i];
  layer_.forward(x_, y_, true);
  return out;
}

NumericTensor LocalChain::input() {
  const Index n = x_.dim(0);
  const Index per = x_.size() / n;
  double x_max = 0;
  for (Index i = 0; i < x_.size(); ++i) x_max = std::max(x_max, std::abs(x_[i]));
  // The step: scanned along a ±1 direction over the whole batch (the layer does not mix samples,
  // so this is every sample's own direction at once).
  Tensor<double> moved(x_.shape());
  Rng rng = Rng::stream(seed_, "gradcheck/chain/scan/" + name_);
  std::vector<double> u;
  direction(rng, u, x_.size());
  auto phi = [&](double t) {
    for (Index i = 0; i < x_.size(); ++i) moved[i] = x_[i] + t * u[static_cast<std::size_t>(i)];
    layer_.forward(moved, y_, true);
    const Sum s = sum(y_, -1);
    return std::pair<double, double>{static_cast<double>(s.value), static_cast<double>(s.magnitude)};
  };
  const StepChoice choice = choose_step(phi, step_for(x_max));
  const double h = choice.step;

  NumericTensor out;
  out.value.reserve(static_cast<std::size_t>(x_.size()));
  out.budget.reserve(static_cast<std::size_t>(x_.size()));
  for (Index s = 0; s < n; ++s) {
    std::copy_n(x_.data() + s * per, per, one_x_.data());
    for (Index j = 0; j < per; ++j) {
      const double saved = one_x_[j];
      one_x_[j] = saved + h;
      layer_.forward(one_x_, one_y_, true);
      const Sum up = sum(one_y_, s);
      one_x_[j] = saved - h;
      layer_.forward(one_x_, one_y_, true);
      const Sum down = sum(one_y_, s);
      one_x_[j] = saved;
      record(out, up, down,
             (saved + h) - (saved - h), h, choice.truncation);
    }
  }
  // Leave the layer's forward caches as the clean full batch had them.
  layer_.forward(x_, y_, true);
  return out;
}

}  // namespace cnndiag::gradcheck_detail
