// One layer in isolation (MATLAB's checkLayer, dlib's test_layer): for a random input x and a
// fixed random upstream gradient dy, the scalar
//   E(x, θ) = Σ f(x; θ) ⊙ dy
// has ∂E/∂x = the dx backward must assign and ∂E/∂θ = what backward must accumulate, so both are
// compared with central differences of E. x is drawn away from the layer's kinks; coordinates
// still within 2h of one are skipped and counted.
#include <algorithm>
#include <cmath>
#include <limits>

#include "gradcheck/internal.hpp"

namespace cnndiag {

using namespace gradcheck_detail;

std::vector<TensorCheck> gradcheck_isolated(Layer<double>& layer, const GradcheckSettings& settings,
                                            Index batch) {
  Rng rng = Rng::stream(settings.seed, "gradcheck/isolated/" + layer.name());
  Tensor<double> x(layer.input_shape().with_batch(batch));
  for (Index i = 0; i < x.size(); ++i) x[i] = rng.normal();
  Tensor<double> distance;
  for (int round = 0; round < 50; ++round) {  // a redraw can move another element's kink
    layer.kink_distance(x, distance);
    bool redrawn = false;
    for (Index i = 0; i < x.size(); ++i)
      if (distance[i] < 1e-3) {
        x[i] = rng.normal();
        redrawn = true;
      }
    if (!redrawn) break;
  }
  layer.kink_distance(x, distance);
  Tensor<double> dy(layer.output_shape().with_batch(batch));
  for (Index i = 0; i < dy.size(); ++i) dy[i] = rng.normal();
  Tensor<double> y(dy.shape());
  layer.reserve(batch);

  // Leave the layer as it was: parameter grads (the end-to-end ones) and running statistics.
  std::vector<Tensor<double>> saved_grads, saved_buffers;
  for (Param<double>& p : layer.params()) saved_grads.push_back(p.grad);
  for (Buffer<double>& b : layer.buffers()) saved_buffers.push_back(b.value);

  // Analytic first, on a clean forward: dx pre-filled with NaN so an entry backward forgets to
  // assign shows up as a mismatch.
  layer.forward(x, y, true);
  Tensor<double> dx(x.shape(), std::numeric_limits<double>::quiet_NaN());
  for (Param<double>& p : layer.params()) p.grad.zero();
  layer.backward(x, y, dy, &dx);
  std::vector<Tensor<double>> analytic;
  for (Param<double>& p : layer.params()) analytic.push_back(p.grad);

  // E in long double, so the sum adds no rounding of its own; Σ|y ⊙ dy| scales the rounding.
  double magnitude = 0;
  auto energy = [&](Index) {
    layer.forward(x, y, true);
    long double e = 0, m = 0;
    for (Index i = 0; i < y.size(); ++i) {
      const long double t = static_cast<long double>(y[i]) * dy[i];
      e += t;
      m += t < 0 ? -t : t;
    }
    magnitude = static_cast<double>(m);
    return Eval{static_cast<double>(e), false};
  };
  auto mag = [&](Index) { return magnitude; };

  std::vector<TensorCheck> checks;
  auto start = [&](const std::string& tensor, Index size) {
    TensorCheck c;
    c.tensor = tensor;
    c.layer = layer.name();
    c.computed_by = layer.name();
    c.scope = "isolated";
    c.mode = resolve_mode(settings.mode, size, settings);
    c.size = size;
    return c;
  };

  {
    TensorCheck c = start(layer.name() + ":input", x.size());
    const std::vector<double> clean(x.data(), x.data() + x.size());
    // A coordinate within 2h of a kink: its difference straddles the kink; a direction whose
    // step moves any element that far is skipped too.
    auto eval = [&](Index i) {
      Eval e = energy(i);
      const Index first = c.mode == GradcheckMode::kDirectional ? 0 : i;
      const Index last = c.mode == GradcheckMode::kDirectional ? x.size() : i + 1;
      for (Index j = first; j < last; ++j) {
        const double delta = std::abs(x[j] - clean[static_cast<std::size_t>(j)]);
        if (delta > 0) e.ratio = std::max(e.ratio, 2 * delta / distance[j]);
      }
      e.kink = e.ratio >= 1;
      return e;
    };
    run_checks(c, settings, dx, clean, [&](Index i, double v) { x[i] = v; }, eval, mag, &distance);
    checks.push_back(std::move(c));
  }
  std::size_t k = 0;
  for (Param<double>& p : layer.params()) {
    TensorCheck c = start(param_key(layer.name(), p.name), p.value.size());
    const std::vector<double> clean(p.value.data(), p.value.data() + p.value.size());
    run_checks(c, settings, analytic[k], clean, [&](Index i, double v) { p.value[i] = v; }, energy,
               mag);
    checks.push_back(std::move(c));
    ++k;
  }

  k = 0;
  for (Param<double>& p : layer.params()) p.grad = saved_grads[k++];
  k = 0;
  for (Buffer<double>& b : layer.buffers()) b.value = saved_buffers[k++];
  return checks;
}

}  // namespace cnndiag
