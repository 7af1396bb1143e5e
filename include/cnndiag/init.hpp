#pragma once
/// Parameter initialisation (DESIGN.md §3): normal, uniform, constant, he, xavier, and PyTorch's
/// default. Values are drawn in double from the run's Rng and rounded to T, so float and double
/// models built from one seed start from the same numbers (up to rounding).

#include "cnndiag/config.hpp"
#include "cnndiag/layers/layer.hpp"
#include "cnndiag/rng.hpp"

namespace cnndiag {

/// Fills param.value from `spec`, drawing one double per element in row-major element order.
///  - normal(mean, std), uniform[low, high), constant(value);
///  - he: normal std = √(2/fan_in), or (uniform_variant) U(±√(6/fan_in));
///  - xavier: normal std = √(2/(fan_in+fan_out)), or U(±√(6/(fan_in+fan_out)));
///  - default: what param.default_init says. kByRole (conv2d, linear): weights U(±1/√fan_in) like
///    PyTorch, biases (is_bias) 0; batchnorm sets kOnes on its weight γ and kZeros on its bias β.
///    Constant defaults draw no random numbers.
/// Throws ConfigError for he/xavier/default-uniform on a parameter without fan-in (fan_in = 0,
/// e.g. batchnorm γ), for std < 0 and for low > high.
template <typename T>
void init_param(Param<T>& param, const InitSpec& spec, Rng& rng);

}  // namespace cnndiag
