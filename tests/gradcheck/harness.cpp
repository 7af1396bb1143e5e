#include "gradcheck/harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace cnndiag::testing {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr double kGradOffset = 0.75;  // what parameter grads hold before backward

double step_for(double theta) { return std::cbrt(kEps) * std::max(std::abs(theta), 1.0); }

// E = Σ y⊙dy after a forward at the layer's current parameters; also Σ|y⊙dy| for the budget.
struct Energy {
  double value = 0, magnitude = 0;
};
Energy energy(Layer<double>& layer, const Tensor<double>& x, const Tensor<double>& dy,
              Tensor<double>& y, bool training) {
  layer.forward(x, y, training);
  // Summed in long double so that the sum adds no rounding of its own to the difference quotient.
  long double value = 0, magnitude = 0;
  for (Index i = 0; i < y.size(); ++i) {
    const long double term = static_cast<long double>(y[i]) * dy[i];
    value += term;
    magnitude += term < 0 ? -term : term;
  }
  return {static_cast<double>(value), static_cast<double>(magnitude)};
}

// A numeric derivative for one coordinate, or a skip at a kink.
struct Numeric {
  double value = 0, budget = 0;
  bool skip = false;
};

// Compares analytic[i] with numeric_at(i) for every coordinate i.
template <typename NumericAt>
void compare(TensorCheck& check, std::span<const double> analytic, NumericAt&& numeric_at,
             const GradcheckOptions& options) {
  for (std::size_t i = 0; i < analytic.size(); ++i) {
    const Numeric num = numeric_at(i);
    if (num.skip) {
      ++check.skipped_kinks;
      continue;
    }
    check.rounding_budget = std::max(check.rounding_budget, num.budget);
    check.score(static_cast<Index>(i), analytic[i], num.value,
                options.atol + options.rtol * std::abs(num.value), options.atol);
  }
}

}  // namespace

void TensorCheck::score(Index i, double a, double n, double allowed, double atol) {
  ++checked;
  const double err = std::abs(a - n);
  if (!(err <= allowed)) ++mismatches;
  if (std::isnan(err)) {
    max_abs_error = max_rel_error = std::numeric_limits<double>::quiet_NaN();
  } else if (!std::isnan(max_abs_error)) {
    max_abs_error = std::max(max_abs_error, err);
    max_rel_error = std::max(max_rel_error, err / std::max(std::abs(n), atol));
  }
  const double excess = std::isnan(err) ? std::numeric_limits<double>::infinity() : err - allowed;
  if (excess > worst_excess) {
    worst_excess = excess;
    worst = i;
    analytic_at_worst = a;
    numeric_at_worst = n;
  }
}

std::string TensorCheck::str() const {
  std::ostringstream s;
  s.precision(4);
  s << tensor << ": " << (ok() ? "ok" : "MISMATCH") << ", " << mismatches << "/" << checked
    << " coordinates off, " << skipped_kinks << " skipped at kinks, max abs err " << max_abs_error
    << ", max rel err " << max_rel_error << ", rounding budget " << rounding_budget;
  if (worst >= 0)
    s << "; worst at [" << worst << "]: analytic " << analytic_at_worst << " vs numeric "
      << numeric_at_worst;
  if (!problem.empty()) s << "; " << problem;
  return s.str();
}

bool GradcheckReport::ok() const {
  return std::all_of(tensors.begin(), tensors.end(), [](const TensorCheck& t) { return t.ok(); });
}

const TensorCheck& GradcheckReport::operator[](std::string_view tensor) const {
  for (const TensorCheck& t : tensors)
    if (t.tensor == tensor) return t;
  ADD_FAILURE() << "no gradient check for tensor '" << tensor << "'";
  static const TensorCheck empty;
  return empty;
}

std::string GradcheckReport::str() const {
  std::string s;
  for (const TensorCheck& t : tensors) s += "\n  " + t.str();
  return s;
}

Tensor<double> random_input_away_from_kinks(const Layer<double>& layer, Index batch, Rng& rng,
                                            double scale, double margin) {
  Tensor<double> x(layer.input_shape().with_batch(batch));
  for (Index i = 0; i < x.size(); ++i) x[i] = scale * rng.normal();
  Tensor<double> distance;
  for (int round = 0; round < 50; ++round) {
    layer.kink_distance(x, distance);
    bool redrawn = false;
    for (Index i = 0; i < x.size(); ++i) {
      if (distance[i] < margin) {
        x[i] = scale * rng.normal();
        redrawn = true;
      }
    }
    if (!redrawn) break;
  }
  return x;
}

GradcheckReport gradcheck_layer(Layer<double>& layer, const GradcheckOptions& options) {
  Rng rng(options.seed);
  Tensor<double> x = random_input_away_from_kinks(layer, options.batch, rng, options.input_scale);
  Tensor<double> dy(layer.output_shape().with_batch(options.batch));
  for (Index i = 0; i < dy.size(); ++i) dy[i] = rng.normal();
  return gradcheck_layer(layer, x, dy, options);
}

GradcheckReport gradcheck_layer(Layer<double>& layer, const Tensor<double>& x_in,
                                const Tensor<double>& dy, const GradcheckOptions& options) {
  const Index batch = x_in.dim(0);
  Tensor<double> x = x_in;  // perturbed in place, restored after each coordinate
  Tensor<double> y(layer.output_shape().with_batch(batch));
  GradcheckReport report;

  // 1. Numeric gradients first: every perturbed forward overwrites the layer's caches (argmax,
  //    batch statistics), so the analytic pass must come last, on the clean input.
  Tensor<double> distance;
  layer.kink_distance(x, distance);
  std::vector<double> numeric_x(static_cast<std::size_t>(x.size()));
  std::vector<double> budget_x(numeric_x.size());
  std::vector<char> skip_x(numeric_x.size());
  for (Index i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    const double h = step_for(saved);
    const auto ui = static_cast<std::size_t>(i);
    if (distance[i] <= 2 * h) {
      skip_x[ui] = 1;
      continue;
    }
    x[i] = saved + h;
    const double up_at = x[i];
    const Energy up = energy(layer, x, dy, y, options.training);
    x[i] = saved - h;
    const double down_at = x[i];
    const Energy down = energy(layer, x, dy, y, options.training);
    x[i] = saved;
    numeric_x[ui] = (up.value - down.value) / (up_at - down_at);
    budget_x[ui] = kEps * std::max(up.magnitude, down.magnitude) / h;
  }
  std::vector<std::vector<double>> numeric_p, budget_p;
  for (Param<double>& p : layer.params()) {
    std::vector<double> n(static_cast<std::size_t>(p.value.size())), b(n.size());
    for (Index i = 0; i < p.value.size(); ++i) {
      const double saved = p.value[i];
      const double h = step_for(saved);
      p.value[i] = saved + h;
      const double up_at = p.value[i];
      const Energy up = energy(layer, x, dy, y, options.training);
      p.value[i] = saved - h;
      const double down_at = p.value[i];
      const Energy down = energy(layer, x, dy, y, options.training);
      p.value[i] = saved;
      n[static_cast<std::size_t>(i)] = (up.value - down.value) / (up_at - down_at);
      b[static_cast<std::size_t>(i)] = kEps * std::max(up.magnitude, down.magnitude) / h;
    }
    numeric_p.push_back(std::move(n));
    budget_p.push_back(std::move(b));
  }

  // 2. Analytic: one clean forward, backward with dx = NaN and grads = offset.
  layer.forward(x, y, options.training);
  Tensor<double> dx(x.shape(), std::numeric_limits<double>::quiet_NaN());
  for (Param<double>& p : layer.params()) p.grad.fill(kGradOffset);
  layer.backward(x, y, dy, &dx);

  TensorCheck cx;
  cx.tensor = "x";
  compare(
      cx, dx.span(),
      [&](std::size_t i) { return Numeric{numeric_x[i], budget_x[i], skip_x[i] != 0}; }, options);
  Index unassigned = 0;
  for (Index i = 0; i < dx.size(); ++i) unassigned += std::isnan(dx[i]) ? 1 : 0;
  if (unassigned > 0)
    cx.problem = "backward left " + std::to_string(unassigned) + " dx entries unassigned (NaN)";
  report.tensors.push_back(std::move(cx));

  std::vector<std::vector<double>> first_pass;
  std::size_t k = 0;
  for (Param<double>& p : layer.params()) {
    std::vector<double> analytic(static_cast<std::size_t>(p.grad.size()));
    for (Index i = 0; i < p.grad.size(); ++i)
      analytic[static_cast<std::size_t>(i)] = p.grad[i] - kGradOffset;
    TensorCheck cp;
    cp.tensor = p.name;
    compare(
        cp, analytic,
        [&](std::size_t i) { return Numeric{numeric_p[k][i], budget_p[k][i], false}; }, options);
    report.tensors.push_back(std::move(cp));
    first_pass.push_back(std::move(analytic));
    ++k;
  }

  // 3. A second backward must add the same gradient again (accumulate, not assign).
  layer.backward(x, y, dy, &dx);
  k = 0;
  for (Param<double>& p : layer.params()) {
    TensorCheck& cp = report.tensors[k + 1];
    for (Index i = 0; i < p.grad.size(); ++i) {
      const double once = first_pass[k][static_cast<std::size_t>(i)];
      const double twice = p.grad[i] - kGradOffset;
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
