#pragma once
// The gradient-check harness applied to whole models through the loss, in float64 (DESIGN.md
// §7.1 "end to end through the loss"; CONVENTIONS.md: one harness for every layer and for whole
// models). It reuses the per-layer harness' report types, pass rule and tolerances.
//
// The scalar checked is the training objective itself,
//   E(θ, x) = loss(model(x; θ), targets)      (no weight decay: that is the optimizer's business)
// and the analytic gradients are what one training step computes: loss.evaluate() assigns
// dE/dy, Model::backward() accumulates dE/dθ into every Param::grad and assigns dE/dx. Every
// parameter coordinate (and a strided sample of input coordinates, when asked) is compared with the central
// difference n = (E(θ_i + h) − E(θ_i − h)) / ((θ_i + h) − (θ_i − h)), h = ε^(1/3)·max(|θ_i|, 1),
// and passes when |a − n| ≤ atol + rtol·|n| + 4·ε·|E|/h (the last term, the quotient's rounding
// error, is ~5e-11 at the nominal step and matters only where a kink forced a smaller one).
//
// Contracts checked besides the values:
//  - loss.evaluate() assigns dy: dy is pre-filled with NaN.
//  - parameter gradients accumulate: they are pre-filled with an offset, the analytic gradient is
//    read as grad − offset, and a second backward must add the same amount again;
//  - the input gradient and every intermediate output gradient are assigned: the second backward
//    must leave ∂E/∂x exactly as the first one did (a layer that adds into dx would double it).
//
// Kinks (ReLU at 0, max-pool ties) inside a whole network: before any difference, the harness
// records every layer's input at θ and its distance to the layer's nearest kink (kink_distance).
// A perturbed forward may have crossed a kink when it moved some layer input by at least half
// that input's kink distance (two elements of a max-pool window can move towards each other,
// hence the half). Then the step is shrunk to what the distances allow (at most 1000×) and the
// quotient retaken; a coordinate is skipped, and counted, only when no such step exists. A
// coordinate that is compared saw one smooth piece of E only, so its difference quotient is exact
// up to the usual truncation and rounding error.

#include "cnndiag/loss.hpp"
#include "cnndiag/model.hpp"
#include "gradcheck/harness.hpp"

namespace cnndiag::testing {

struct ModelGradcheckOptions {
  bool training = true;      ///< forward mode (batchnorm uses batch statistics when true)
  bool check_input = true;   ///< also compare ∂E/∂x (tensor "x")
  /// ∂E/∂x is compared on at most this many evenly strided coordinates (a whole batch of images
  /// would cost more than every parameter together; the assign check still covers all of dx).
  /// Parameters are always checked on every coordinate.
  Index max_input_coordinates = 512;
  double atol = kGradcheckAtol;
  double rtol = kGradcheckRtol;
};

/// Checks every parameter gradient of `model` (tensor names "layer.param", in model order) and,
/// with check_input, the input gradient ("x", first; strided, see max_input_coordinates) for E = loss(model(x), targets). Leaves
/// parameter values as they were; grads are overwritten.
GradcheckReport gradcheck_model(Model<double>& model, const Loss<double>& loss,
                                const Tensor<double>& x, const Targets<double>& targets,
                                const ModelGradcheckOptions& options = {});

}  // namespace cnndiag::testing
