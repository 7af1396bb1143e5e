#pragma once
/// Parameter initialisation (DESIGN.md §3): normal, uniform, constant, he, xavier, and PyTorch's
/// default. Values are drawn in double from the run's Rng and rounded to T, so float and double
/// models built from one seed start from the same numbers (up to rounding).

#include "cnndiag/config.hpp"
#include "cnndiag/layers/layer.hpp"
#include "cnndiag/rng.hpp"

namespace cnndiag {

/// Fills param.value from `spec`, drawing in row-major element order. kDefault means PyTorch's
/// default: weights U(±1/√fan_in), biases (is_bias) 0.
template <typename T>
void init_param(Param<T>& param, const InitSpec& spec, Rng& rng);

}  // namespace cnndiag
