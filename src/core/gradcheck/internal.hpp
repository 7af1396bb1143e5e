#pragma once
// Pieces shared by the gradient checker's parts (end to end, isolated, against, hypotheses).

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "cnndiag/gradcheck.hpp"
#include "cnndiag/rng.hpp"

namespace cnndiag::gradcheck_detail {

inline constexpr double kEps = std::numeric_limits<double>::epsilon();

/// The central-difference step for a coordinate of value θ: ε^(1/3)·max(|θ|, 1). It balances
/// truncation (∝ h²) against rounding (∝ ε/h) (MATLAB's numericDiff5Point uses the same scale).
inline double step_for(double theta) { return std::cbrt(kEps) * std::max(std::abs(theta), 1.0); }

/// The mode a tensor of `size` elements is checked in.
GradcheckMode resolve_mode(GradcheckMode mode, Index size, const GradcheckSettings& settings);

/// The coordinates to check: all (exhaustive), or K distinct ones drawn from a stream named after
/// the tensor (sampled), sorted.
std::vector<Index> pick_coordinates(GradcheckMode mode, Index size, const std::string& tensor,
                                    const GradcheckSettings& settings);

/// A random ±1 direction over `size` elements (Rademacher: every coordinate contributes with the
/// same weight, so a wrong coordinate cannot hide behind a small component of v).
void direction(Rng& rng, std::vector<double>& v, Index size);

/// One compared coordinate (or direction): analytic a, numeric n, what the test allows, and the
/// rounding estimate of n.
struct Sample {
  Index index;
  double analytic, numeric, rounding, allowed;
  double step = 0;  ///< the step the numeric value was taken with
};

/// Accumulates samples into a TensorCheck: counts, max errors, the worst coordinate, and the
/// dot products for cosine and best scale.
class Accumulator {
 public:
  /// `atol` floors the denominator of the relative error max |a − n| / max(|n|, atol).
  Accumulator(TensorCheck& check, double atol) : check_(check), atol_(std::max(atol, 1e-300)) {}
  void skip() { ++check_.skipped_kinks; }
  void add(const Sample& s);
  /// Failing samples (at most `cap`, the worst always among them) whose truncation error is
  /// worth estimating.
  std::vector<Sample> failures(std::size_t cap) const;
  const Sample* worst() const { return has_worst_ ? &worst_ : nullptr; }
  /// Cosine and scale from the sums; status from the failures' budgets (set_budget first).
  void finish();
  /// The estimated truncation error of one failing sample's numeric value.
  void set_truncation(Index index, double truncation) { truncation_[index] = truncation; }

 private:
  TensorCheck& check_;
  double atol_;
  double aa_ = 0, nn_ = 0, an_ = 0;
  std::vector<Sample> failing_;
  Sample worst_{};
  double worst_excess_ = -std::numeric_limits<double>::infinity();
  bool has_worst_ = false;
  std::map<Index, double> truncation_;
};

/// Tensor-level comparison of two full gradients (against mode, hypotheses): pass when
/// max|u − r| ≤ atol + rtol·max|r|.
struct TensorDiff {
  double max_abs = 0, max_ref = 0, max_abs_u = 0, rel = 0, cosine = 1, scale = 1;
  Index coordinates_off = 0;
  double norm_u = 0, norm_r = 0;
  bool pass = true;
};
TensorDiff compare_tensors(const Tensor<double>& u, const Tensor<double>& r, double atol,
                           double rtol);

/// "missing batch mean" for a factor ≈ n, "divided by N twice" for ≈ 1/n, "sign flip" for ≈ −1,
/// "" otherwise.
std::string scale_name(double scale, Index n);

/// A full gradient per tensor key ("fc1.weight", "conv1:output").
using GradientSet = std::map<std::string, Tensor<double>>;

/// The gradients a model computes at its params on a batch: every parameter's and every layer
/// output's, with the given loss (its fault included). Restores batchnorm running statistics.
GradientSet model_gradients(Model<double>& model, const LossConfig& loss,
                            const Tensor<double>& inputs, const Targets<double>& targets);

/// Hypotheses (gradcheck.hpp): which catalogued fault at which layer (or which pure scale)
/// reproduces `observed` on the tensors in `order`, given which of them mismatch. `params_of`
/// gives the values to evaluate the candidates at.
std::vector<Hypothesis> find_hypotheses(const std::vector<LayerConfig>& layers,
                                        const LossConfig& loss, const Model<double>& params_of,
                                        const Tensor<double>& inputs,
                                        const Targets<double>& targets,
                                        const GradientSet& observed,
                                        const std::vector<std::string>& order,
                                        const std::vector<std::string>& mismatching, double atol,
                                        double rtol);

/// The first mismatching check in `checks` (backward order), as a Localisation.
Localisation localise(const std::vector<TensorCheck>& checks);

/// Checks ordered as backward computes them: for the last layer first, "L:output", then L's
/// params; then the layer before. `keys` are (layer index, tensor key, is_output) triples.
struct TensorRef {
  std::size_t layer;
  std::string key;
  std::string param;  ///< parameter name; empty for an output
  bool output;
};
std::vector<TensorRef> backward_order(const Model<double>& model, const std::string& only_layer,
                                      bool outputs);

/// Copies parameter values (and buffers) between two double models of the same config.
void copy_values(const Model<double>& from, Model<double>& to);

/// Layer configs with every fault removed (the reference is cnndiag's correct backward).
std::vector<LayerConfig> without_faults(std::vector<LayerConfig> layers);
LossConfig without_fault(LossConfig loss);


/// A perturbed loss, and whether the perturbation crossed a kink of a later layer.
struct Eval {
  double value = 0;
  bool kink = false;
  double ratio = 0;  ///< on a kink: how many times too large the step was (max 2|Δ|/distance)
};

/// A central difference: the numeric derivative and its rounding estimate, or a kink.
struct Central {
  double value = 0, rounding = 0, step = 0;
  bool kink = false;
  double ratio = 0;  ///< see Eval
};

/// Kinks: a step that carries some later layer's input across a kink (a ReLU input through 0, a
/// max-pool runner-up past the max) makes the difference quotient meaningless. In a big layer
/// some element is nearly always close to its kink, so before giving up the step is shrunk: an
/// input moves in proportion to the step, so the step that just clears the nearest kink is the
/// failed step divided by how far it overshot (Eval::ratio), halved for safety. Rounding grows
/// ∝ 1/h, which the budget reports; below kMinStepFraction of the first step the coordinate is
/// skipped and counted.
inline constexpr int kKinkRetries = 3;
inline constexpr double kMinStepFraction = 1e-4;
template <typename F>
Central avoiding_kinks(F&& central, double h) {
  const double smallest = h * kMinStepFraction;
  Central r;
  for (int attempt = 0; attempt <= kKinkRetries && h >= smallest; ++attempt) {
    r = central(h);
    r.step = h;
    if (!r.kink) break;
    h *= std::min(0.5, 0.5 / std::max(r.ratio, 1.0));
  }
  return r;
}

/// Runs the mode's comparisons for one tensor against `analytic`. set(i, v) writes coordinate i
/// (restored by writing clean[i] back), eval(i) evaluates E after a set at i (i = 0 after a
/// directional set of every coordinate), mag(i) is the rounding scale of that evaluation beyond
/// |E| (Σ|y ⊙ ∂E/∂y| of what it sums). `kink_distance`, when not null, is how far each coordinate
/// itself sits from a kink of the layer it feeds: coordinates at a tie (distance 0) are skipped,
/// and directions leave out the coordinates within their step of a kink (v_i = 0), since a ±1
/// direction over a tensor with ties (the zeros a ReLU feeds into a max-pool) always crosses one.
template <typename Set, typename EvalAt, typename Mag>
void run_checks(TensorCheck& c, const GradcheckSettings& s, const Tensor<double>& analytic,
                const std::vector<double>& clean, Set&& set, EvalAt&& eval, Mag&& mag,
                const Tensor<double>* kink_distance = nullptr) {
  Accumulator acc(c, s.atol);
  if (c.mode == GradcheckMode::kDirectional) {
    // vᵀa against (E(θ + hv) − E(θ − hv)) / 2h, with h the step of the largest |θ|.
    double theta_max = 0;
    for (double v : clean) theta_max = std::max(theta_max, std::abs(v));
    const double h = step_for(theta_max);
    Rng rng = Rng::stream(s.seed, "gradcheck/directions/" + c.tensor);
    std::vector<std::vector<double>> dirs(static_cast<std::size_t>(s.directions));
    auto central_dir = [&](const std::vector<double>& v, double step) {
      Central r;
      double e[2] = {0, 0};
      for (int side = 0; side < 2; ++side) {
        const double sign = side == 0 ? 1.0 : -1.0;
        for (std::size_t i = 0; i < clean.size(); ++i)
          set(static_cast<Index>(i), clean[i] + sign * step * v[i]);
        const Eval ev = eval(Index{0});
        e[side] = ev.value;
        r.kink = r.kink || ev.kink;
        r.ratio = std::max(r.ratio, ev.ratio);
      }
      for (std::size_t i = 0; i < clean.size(); ++i) set(static_cast<Index>(i), clean[i]);
      r.value = (e[0] - e[1]) / (2 * step);
      r.rounding = kEps * (std::max(std::abs(e[0]), std::abs(e[1])) + mag(Index{0})) / step;
      return r;
    };
    for (int d = 0; d < s.directions; ++d) {
      std::vector<double>& v = dirs[static_cast<std::size_t>(d)];
      direction(rng, v, c.size);
      if (kink_distance)
        for (Index i = 0; i < c.size; ++i)
          if ((*kink_distance)[i] <= 2 * h) v[static_cast<std::size_t>(i)] = 0;
      const Central num = avoiding_kinks([&](double step) { return central_dir(v, step); }, h);
      if (num.kink) {
        acc.skip();
        continue;
      }
      double a = 0, a_abs = 0;
      for (Index i = 0; i < c.size; ++i) {
        a += v[static_cast<std::size_t>(i)] * analytic[i];
        a_abs += std::abs(analytic[i]);
      }
      // A projection sums c.size terms: its absolute tolerance grows like √size (independent
      // per-coordinate errors of atol) and its relative one is taken against the terms'
      // magnitude, which the sum may cancel.
      const double allowed = s.atol * std::sqrt(static_cast<double>(c.size)) +
                             s.rtol * (std::abs(num.value) + a_abs);
      acc.add({d, a, num.value, num.rounding, allowed, num.step});
    }
    for (const Sample& f : acc.failures(16)) {
      const Central twice = central_dir(dirs[static_cast<std::size_t>(f.index)], 2 * f.step);
      acc.set_truncation(f.index, std::abs(twice.value - f.numeric) / 3);
    }
    acc.finish();
    return;
  }

  auto central = [&](Index i, double step) {
    Central r;
    const double saved = clean[static_cast<std::size_t>(i)];
    set(i, saved + step);
    const Eval up = eval(i);
    if (up.kink) {
      set(i, saved);
      r.kink = true;
      r.ratio = up.ratio;
      return r;
    }
    set(i, saved - step);
    const Eval down = eval(i);
    set(i, saved);
    r.kink = down.kink;
    r.ratio = down.ratio;
    r.value = (up.value - down.value) / ((saved + step) - (saved - step));
    r.rounding = kEps * (std::max(std::abs(up.value), std::abs(down.value)) + mag(i)) / step;
    return r;
  };
  for (Index i : pick_coordinates(c.mode, c.size, c.tensor, s)) {
    if (kink_distance && (*kink_distance)[i] <= 0) {
      acc.skip();
      continue;
    }
    const Central num = avoiding_kinks([&](double h) { return central(i, h); },
                                       step_for(clean[static_cast<std::size_t>(i)]));
    if (num.kink) {
      acc.skip();
      continue;
    }
    acc.add({i, analytic[i], num.value, num.rounding, s.atol + s.rtol * std::abs(num.value),
             num.step});
  }
  // Truncation ≈ |n(2h) − n(h)| / 3 (the error of a central difference grows as h²).
  for (const Sample& f : acc.failures(16)) {
    const Central twice = central(f.index, 2 * f.step);
    acc.set_truncation(f.index, std::abs(twice.value - f.numeric) / 3);
  }
  acc.finish();
}

/// A numeric reference for a whole tensor (or for listed coordinates): values and, per value, an
/// error budget.
struct NumericTensor {
  std::vector<double> value, budget;
  double max_budget() const;
};

/// Layer-local central differences for the chain-rule reference (gradcheck.hpp): with layer L's
/// clean input x and a reference g ≈ ∂E/∂y_L, numeric Jᵀg for L's parameters or its input, from
/// central differences of φ(t) = Σ L(x; θ + t·u) ⊙ g through L alone (long double sums). The
/// step comes from choose_step. The budget of each value: rounding ε·Σ|y ⊙ g|/h, the scan's
/// truncation estimate, and g's budget propagated through Jᵀ — the same differences taken of
/// Σ y ⊙ (b ⊙ s), s a random sign vector, and of Σ y ⊙ b, in the same forwards (the larger).
class LocalChain {
 public:
  /// `name` seeds the scan directions and the sign vector; the layer is left as it was.
  LocalChain(Layer<double>& layer, const Tensor<double>& x, const NumericTensor& g,
             const std::string& name, std::uint64_t seed);
  /// ∂E/∂p at `coords` (flat indices of p), one value and budget per listed coordinate.
  NumericTensor param(Param<double>& p, const std::vector<Index>& coords);
  /// vᵀ∂E/∂p along each direction in `dirs` (over p's elements).
  NumericTensor param_directions(Param<double>& p, const std::vector<std::vector<double>>& dirs);
  /// ∂E/∂x over every element of x, one sample at a time (the layer must not mix samples).
  NumericTensor input();

 private:
  struct Sum {
    long double value = 0, magnitude = 0, error = 0, systematic = 0;
  };
  Sum sum(const Tensor<double>& y, Index sample) const;
  Layer<double>& layer_;
  Tensor<double> x_, y_, one_x_, one_y_;
  std::vector<double> g_, s_, b_;  ///< g, b ⊙ (random signs), and b
  std::string name_;
  std::uint64_t seed_;
};

/// The step scan of the chain-rule reference: central differences of φ along one direction at
/// h = h0·2^k, k = 0, 1, …; the error of D(h_k) is estimated as |D(h_{k+1}) − D(h_k)|/3
/// (truncation: the central difference errs ∝ h²) plus rounding ε·max|Σ|y ⊙ g||/h_k. Returns the
/// step of least estimated error and its truncation estimate; the scan stops once the error is
/// below kScanTarget·|D|, after kScanPatience doublings without halving the best error, or at
/// kScanMaxDoublings. φ(t) returns (Σ y ⊙ g, Σ|y ⊙ g|).
inline constexpr double kScanTarget = 1e-9;
inline constexpr int kScanPatience = 6;
inline constexpr int kScanMaxDoublings = 110;
struct StepChoice {
  double step = 0, truncation = 0;
};
template <typename Phi>
StepChoice choose_step(Phi&& phi, double h0) {
  StepChoice best{h0, 0};
  double best_error = std::numeric_limits<double>::infinity();
  double d_prev = 0, r_prev = 0, h_prev = 0;
  int since = 0;
  for (int k = 0; k <= kScanMaxDoublings; ++k) {
    const double h = std::ldexp(h0, k);
    const auto [up, up_mag] = phi(h);
    const auto [down, down_mag] = phi(-h);
    const double d = (up - down) / (2 * h);
    const double r = kEps * std::max(up_mag, down_mag) / h;
    if (!std::isfinite(d) || !std::isfinite(r)) break;
    if (k > 0) {
      const double truncation = std::abs(d - d_prev) / 3;
      const double error = truncation + r_prev;
      if (error < 0.75 * best_error) since = 0;  // rounding alone halves per doubling
      else ++since;
      if (error < best_error) {
        best_error = error;
        best = {h_prev, truncation};
      }
      if (error <= kScanTarget * std::abs(d_prev) || since >= kScanPatience) break;
    }
    d_prev = d;
    r_prev = r;
    h_prev = h;
  }
  return best;
}

}  // namespace cnndiag::gradcheck_detail
