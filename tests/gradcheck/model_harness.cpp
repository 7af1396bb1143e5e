#include "gradcheck/model_harness.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace cnndiag::testing {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr double kGradOffset = 0.75;  // what parameter grads hold before backward

double step_for(double theta) { return std::cbrt(kEps) * std::max(std::abs(theta), 1.0); }

// Every layer input of the model at the current parameters (layer 0's is x itself), with its
// distance to the layer's nearest kink. Smooth layers (all distances +inf) are left out.
struct KinkGuard {
  std::vector<std::size_t> layers;
  std::vector<Tensor<double>> inputs, distances;

  void record(const Model<double>& model, const Tensor<double>& x) {
    for (std::size_t i = 0; i < model.size(); ++i) {
      const Tensor<double>& in = i == 0 ? x : model.activation(i - 1);
      Tensor<double> distance;
      model.layer(i).kink_distance(in, distance);
      const bool kinked = std::any_of(distance.span().begin(), distance.span().end(),
                                      [](double d) { return std::isfinite(d); });
      if (!kinked) continue;
      layers.push_back(i);
      inputs.push_back(in);
      distances.push_back(std::move(distance));
    }
  }

  // Whether the last forward may have crossed a kink, and how far it could have gone along its
  // perturbation without that, as a fraction of the perturbation.
  //
  // An input that moved by at least half its kink distance d > 0 may have crossed (two elements
  // of a max-pool window can move towards each other, hence the half). An input that did not
  // move crosses nothing. An input that sat on a kink (d = 0) and moved crossed it unless it is
  // still on it: a ReLU input at exactly 0 that moved has left it, but a max-pool tie between
  // two equal inputs that moved together (identical image patches under one convolution) is
  // still a tie, and y and E stay smooth. So for those the layer's kink distance is taken again
  // at the perturbed input and must still be 0.
  // The fraction is min d / (2·|moved|) over moved inputs with d > 0; inputs at d = 0 (a zero
  // after a ReLU that an upstream crossing lifted) are left out of it, since the upstream ReLU's
  // own distance already bounds the step that avoids them.
  struct Crossing {
    bool crossed = false;
    double fraction = std::numeric_limits<double>::infinity();
  };
  Crossing check(const Model<double>& model, const Tensor<double>& x) const {
    Crossing c;
    Tensor<double> distance_now;
    for (std::size_t k = 0; k < layers.size(); ++k) {
      const std::size_t i = layers[k];
      const Tensor<double>& now = i == 0 ? x : model.activation(i - 1);
      bool moved_on_kink = false;
      for (Index j = 0; j < now.size(); ++j) {
        const double moved = std::abs(now[j] - inputs[k][j]);
        if (moved == 0) continue;
        const double d = distances[k][j];
        if (d == 0) {
          moved_on_kink = true;
          continue;
        }
        if (2 * moved >= d) c.crossed = true;
        c.fraction = std::min(c.fraction, d / (2 * moved));
      }
      if (!moved_on_kink) continue;
      model.layer(i).kink_distance(now, distance_now);
      for (Index j = 0; j < now.size(); ++j)
        if (distances[k][j] == 0 && now[j] != inputs[k][j] && distance_now[j] != 0)
          c.crossed = true;
    }
    return c;
  }
};

struct Objective {
  double value = 0;
  KinkGuard::Crossing crossing;
};

Objective objective(Model<double>& model, const Loss<double>& loss, const Tensor<double>& x,
                    const Targets<double>& targets, const KinkGuard& guard, bool training) {
  const Tensor<double>& y = model.forward(x, training);
  Objective o;
  o.value = loss.evaluate(y, targets, nullptr);
  o.crossing = guard.check(model, x);
  return o;
}

// One tensor's comparison, same rule and bookkeeping as the per-layer harness.
void compare(TensorCheck& check, const std::vector<double>& analytic,
             const std::vector<double>& numeric, const std::vector<char>& skip,
             const std::vector<double>& budget,
             const ModelGradcheckOptions& options) {
  for (std::size_t i = 0; i < analytic.size(); ++i) {
    if (skip[i]) {
      ++check.skipped_kinks;
      continue;
    }
    // The pass rule, widened by the quotient's own rounding error (4 × ε·|E|/h): ≈ 5e-11 at the
    // nominal step, far below atol, and up to ~4e-8 where a kink forced a 1000× smaller step;
    // a backward bug is an O(1) relative error either way.
    check.rounding_budget = std::max(check.rounding_budget, budget[i]);
    check.score(static_cast<Index>(i), analytic[i], numeric[i],
                options.atol + options.rtol * std::abs(numeric[i]) + 4 * budget[i], options.atol);
  }
}

// Central differences of E over every coordinate of `values` (a parameter or the input).
struct NumericGradient {
  std::vector<double> value;
  std::vector<char> skip;
  std::vector<double> budget;  // ε·|E|/h per coordinate: the rounding error of its quotient
};

// Kinks and the step. A parameter of an early layer moves thousands of ReLU pre-activations at
// once, and at h = ε^(1/3)·max(|θ|,1) one of them is often within reach of 0. Then the step is
// shrunk to half of what the kink distances allow (inputs move linearly in h to first order, so
// the measured movement at h predicts it), at most four times and never below h/kMaxShrink, and the
// quotient is retaken; the coordinate is skipped (and counted) only when that fails. A smaller
// step raises the quotient's rounding error ε·|E|/h by the same factor (to ~4e-8 at
// kMaxShrink = 1000 for the O(1) objectives here), which the pass rule adds to its allowance.
constexpr double kMaxShrink = 1000;

// Coordinates off the stride are left out (the caller compares only strided ones).
template <typename Evaluate>
NumericGradient differentiate(Tensor<double>& values, Index stride, Evaluate&& evaluate) {
  NumericGradient g;
  g.value.resize(static_cast<std::size_t>(values.size()));
  g.skip.resize(g.value.size());
  g.budget.resize(g.value.size());
  for (Index i = 0; i < values.size(); i += stride) {
    const auto ui = static_cast<std::size_t>(i);
    const double saved = values[i];
    const double nominal = step_for(saved);
    double h = nominal;
    bool smooth = false;
    Objective up, down;
    double up_at = 0, down_at = 0;
    for (int attempt = 0; attempt < 4 && !smooth && h >= nominal / kMaxShrink; ++attempt) {
      values[i] = saved + h;
      up_at = values[i];
      up = evaluate();
      values[i] = saved - h;
      down_at = values[i];
      down = evaluate();
      values[i] = saved;
      smooth = !up.crossing.crossed && !down.crossing.crossed;
      const double fraction = std::min(up.crossing.fraction, down.crossing.fraction);
      if (!smooth) h *= std::isfinite(fraction) ? std::min(0.5, 0.5 * fraction) : 0.0;
    }
    g.skip[ui] = smooth ? 0 : 1;
    g.value[ui] = (up.value - down.value) / (up_at - down_at);
    g.budget[ui] = kEps * std::max(std::abs(up.value), std::abs(down.value)) / std::abs(up_at - saved);
  }
  return g;
}

}  // namespace

GradcheckReport gradcheck_model(Model<double>& model, const Loss<double>& loss,
                                const Tensor<double>& x_in, const Targets<double>& targets,
                                const ModelGradcheckOptions& options) {
  Tensor<double> x = x_in;  // perturbed in place, restored after each coordinate
  model.reserve(x.dim(0));

  // 0. Where the kinks are, at the unperturbed point.
  KinkGuard guard;
  model.forward(x, options.training);
  guard.record(model, x);
  auto evaluate = [&] { return objective(model, loss, x, targets, guard, options.training); };

  // 1. Numeric gradients (every perturbed forward overwrites layer caches, so analytic comes last).
  NumericGradient numeric_x;
  const Index x_stride =
      std::max<Index>(1, (x.size() + options.max_input_coordinates - 1) / options.max_input_coordinates);
  if (options.check_input) numeric_x = differentiate(x, x_stride, evaluate);
  std::vector<NumericGradient> numeric_p;
  for (auto& [key, param] : model.named_params())
    numeric_p.push_back(differentiate(param->value, 1, evaluate));

  // 2. Analytic: a clean forward, dy pre-filled with NaN, grads with the offset.
  const Tensor<double>& y = model.forward(x, options.training);
  Tensor<double> dy(y.shape(), std::numeric_limits<double>::quiet_NaN());
  loss.evaluate(y, targets, &dy);
  for (auto& [key, param] : model.named_params()) param->grad.fill(kGradOffset);
  model.backward(dy, options.check_input);

  GradcheckReport report;
  Tensor<double> input_grad_once;
  if (options.check_input) {
    TensorCheck cx;
    cx.tensor = "x";
    input_grad_once = model.input_grad();
    // Only every x_stride-th input coordinate was differenced: compare those.
    std::vector<double> analytic, numeric;
    std::vector<double> budget;
    std::vector<char> skip;
    for (Index i = 0; i < input_grad_once.size(); i += x_stride) {
      analytic.push_back(input_grad_once[i]);
      budget.push_back(numeric_x.budget[static_cast<std::size_t>(i)]);
      numeric.push_back(numeric_x.value[static_cast<std::size_t>(i)]);
      skip.push_back(numeric_x.skip[static_cast<std::size_t>(i)]);
    }
    compare(cx, analytic, numeric, skip, budget, options);
    report.tensors.push_back(std::move(cx));
  }
  Index unassigned = 0;
  for (Index i = 0; i < dy.size(); ++i) unassigned += std::isnan(dy[i]) ? 1 : 0;
  std::vector<std::vector<double>> first_pass;
  std::size_t k = 0;
  for (auto& [key, param] : model.named_params()) {
    std::vector<double> analytic(static_cast<std::size_t>(param->grad.size()));
    for (Index i = 0; i < param->grad.size(); ++i)
      analytic[static_cast<std::size_t>(i)] = param->grad[i] - kGradOffset;
    TensorCheck cp;
    cp.tensor = key;
    compare(cp, analytic, numeric_p[k].value, numeric_p[k].skip, numeric_p[k].budget, options);
    if (unassigned > 0)
      cp.problem = "the loss left " + std::to_string(unassigned) + " entries of dE/dy unassigned";
    report.tensors.push_back(std::move(cp));
    first_pass.push_back(std::move(analytic));
    ++k;
  }

  // 3. A second backward on the same forward: parameter grads must have doubled (accumulate),
  //    the input gradient must be unchanged (assign, also through every intermediate buffer).
  model.backward(dy, options.check_input);
  const std::size_t first_param = options.check_input ? 1 : 0;
  if (options.check_input) {
    const Tensor<double>& again = model.input_grad();
    for (Index i = 0; i < again.size(); ++i) {
      if (!(again[i] == input_grad_once[i])) {
        report.tensors[0].problem = "a second backward changed dE/dx[" + std::to_string(i) +
                                    "] from " + std::to_string(input_grad_once[i]) + " to " +
                                    std::to_string(again[i]) + " (a layer adds into dx?)";
        break;
      }
    }
  }
  k = 0;
  for (auto& [key, param] : model.named_params()) {
    TensorCheck& cp = report.tensors[first_param + k];
    for (Index i = 0; i < param->grad.size(); ++i) {
      const double once = first_pass[k][static_cast<std::size_t>(i)];
      const double twice = param->grad[i] - kGradOffset;
      if (!(std::abs(twice - 2 * once) <= 1e-12 * (1 + std::abs(once)))) {
        cp.problem = "backward does not accumulate into grad (after two calls grad − offset = " +
                     std::to_string(twice) + ", expected 2 × " + std::to_string(once) + ")";
        break;
      }
    }
    ++k;
  }
  return report;
}

}  // namespace cnndiag::testing
