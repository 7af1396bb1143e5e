#pragma once
// The float64 gradient-check harness for tests: one layer in isolation (and, later, whole models
// through the same pass rule). DESIGN.md §7.1.
//
// For a layer f with input x, parameters θ and a fixed random upstream gradient dy, the scalar
//   E(x, θ) = Σ f(x; θ) ⊙ dy
// has ∂E/∂x = the dx backward must assign and ∂E/∂θ = the gradient backward must accumulate.
// Every coordinate is compared with a central difference
//   n = (E(θ_i + h) − E(θ_i − h)) / ((θ_i + h) − (θ_i − h)),   h = ε^(1/3)·max(|θ_i|, 1)
// and passes when |a − n| ≤ atol + rtol·|n|.
//
// Assign-vs-accumulate (dlib's test_layer idea): dx is pre-filled with NaN, so an entry backward
// forgets to write fails; parameter grads are pre-filled with a known offset and the analytic
// gradient is read as grad − offset, then backward runs a second time and must have added the
// same amount again.
//
// Kinks: the input is drawn away from the layer's kinks (kink_distance), and any coordinate still
// within 2h of one is skipped and counted, never compared.

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "cnndiag/layers/layer.hpp"
#include "cnndiag/rng.hpp"

namespace cnndiag::testing {

// Why these numbers (float64, h = ε^(1/3) ≈ 6.1e-6 for |θ| ≤ 1):
//  - truncation error of a central difference is h²/6·|f'''| ≈ 6e-12·|f'''|, and
//  - rounding error is about ε·Σ|y⊙dy| / h ≈ 4e-11·Σ|y⊙dy|;
// for the O(1)-sized tensors used here both stay around 1e-10, two orders below atol = 1e-8,
// while every real backward bug is an O(1) relative error, far above rtol = 1e-5.
inline constexpr double kGradcheckAtol = 1e-8;
inline constexpr double kGradcheckRtol = 1e-5;

struct GradcheckOptions {
  Index batch = 3;
  std::uint64_t seed = 1;
  bool training = true;        ///< forward mode (batchnorm)
  double input_scale = 1.0;    ///< x ~ N(0, input_scale²)
  double atol = kGradcheckAtol;
  double rtol = kGradcheckRtol;
};

/// The comparison for one tensor: "x" (the input gradient dx) or a parameter's name.
struct TensorCheck {
  std::string tensor;
  Index checked = 0;          ///< coordinates compared
  Index skipped_kinks = 0;    ///< coordinates within 2h of a kink, not compared
  Index mismatches = 0;       ///< coordinates failing |a − n| ≤ atol + rtol·|n|
  double max_abs_error = 0;   ///< max |a − n|
  double max_rel_error = 0;   ///< max |a − n| / max(|n|, atol)
  Index worst = -1;           ///< flat index of the largest |a − n| − (atol + rtol·|n|)
  double analytic_at_worst = 0, numeric_at_worst = 0;
  double rounding_budget = 0; ///< estimated rounding error of n: ε·Σ|y⊙dy| / h
  std::string problem;        ///< contract violation: dx not assigned, grad not accumulated
  double worst_excess = -std::numeric_limits<double>::infinity();  ///< |a − n| − allowed at worst

  /// Scores coordinate i (the pass rule shared by the layer and model harnesses): counts it, a
  /// mismatch unless |a − n| ≤ allowed (NaN fails), updates the max errors (relative to
  /// max(|n|, atol)) and keeps the coordinate that exceeds its allowance most.
  void score(Index i, double a, double n, double allowed, double atol);

  bool ok() const { return mismatches == 0 && problem.empty(); }
  std::string str() const;
};

struct GradcheckReport {
  std::vector<TensorCheck> tensors;  ///< "x" first (if checked), then params in order

  bool ok() const;
  /// The check for one tensor; fails the test (ADD_FAILURE) and returns an empty check if absent.
  const TensorCheck& operator[](std::string_view tensor) const;
  /// One line per tensor, for failure messages.
  std::string str() const;
};

/// x ~ N(0, scale²) of shape (batch, layer.input_shape()), with elements closer than `margin` to
/// a kink redrawn (up to 50 rounds, since a redraw can move another element's kink distance).
Tensor<double> random_input_away_from_kinks(const Layer<double>& layer, Index batch, Rng& rng,
                                            double scale, double margin = 1e-3);

/// Checks dx and every parameter gradient of `layer` on a random x (away from kinks) and random
/// dy ~ N(0, 1). Leaves the layer's parameter values as they were (grads are overwritten).
GradcheckReport gradcheck_layer(Layer<double>& layer, const GradcheckOptions& options = {});

/// The same on a given input and upstream gradient.
GradcheckReport gradcheck_layer(Layer<double>& layer, const Tensor<double>& x,
                                const Tensor<double>& dy, const GradcheckOptions& options = {});

}  // namespace cnndiag::testing
