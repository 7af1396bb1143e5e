#include "cnndiag/init.hpp"

#include <cmath>
#include <string>

#include "cnndiag/errors.hpp"

namespace cnndiag {
namespace {

// Every scheme draws one double per element, in row-major order, then rounds to T: a float and a
// double model built from the same stream start from the same numbers up to rounding.
template <typename T, typename Draw>
void fill_with(Param<T>& param, Draw&& draw) {
  T* v = param.value.data();
  for (Index i = 0; i < param.value.size(); ++i) v[i] = static_cast<T>(draw());
}

template <typename T>
Index require_fan(const Param<T>& param, Index fan, std::string_view scheme) {
  if (fan <= 0)
    throw ConfigError("init '" + std::string(scheme) + "' of parameter '" + param.name +
                      "' needs a fan-in/fan-out, which this parameter does not have; use "
                      "normal, uniform or constant");
  return fan;
}

}  // namespace

template <typename T>
void init_param(Param<T>& param, const InitSpec& spec, Rng& rng) {
  using Kind = InitSpec::Kind;
  switch (spec.kind) {
    case Kind::kNormal: {
      if (!(spec.std >= 0.0))
        throw ConfigError("init normal of parameter '" + param.name + "': std must be >= 0");
      fill_with(param, [&] { return spec.mean + spec.std * rng.normal(); });
      return;
    }
    case Kind::kUniform: {
      if (!(spec.low <= spec.high))
        throw ConfigError("init uniform of parameter '" + param.name + "': low must be <= high");
      fill_with(param, [&] { return rng.uniform(spec.low, spec.high); });
      return;
    }
    case Kind::kConstant:
      fill_with(param, [&] { return spec.value; });
      return;
    case Kind::kHe: {
      // Kaiming (He et al. 2015) for ReLU nets, fan-in mode: Var(w) = 2/fan_in.
      // normal: std = √(2/fan_in); uniform U(±a) has variance a²/3, so a = √(6/fan_in).
      const double fan_in = static_cast<double>(require_fan(param, param.fan_in, "he"));
      if (spec.uniform_variant) {
        const double a = std::sqrt(6.0 / fan_in);
        fill_with(param, [&] { return rng.uniform(-a, a); });
      } else {
        const double std = std::sqrt(2.0 / fan_in);
        fill_with(param, [&] { return std * rng.normal(); });
      }
      return;
    }
    case Kind::kXavier: {
      // Glorot & Bengio 2010: Var(w) = 2/(fan_in + fan_out); uniform bound a = √(6/(fan_in+fan_out)).
      const double fans = static_cast<double>(require_fan(param, param.fan_in, "xavier") +
                                              require_fan(param, param.fan_out, "xavier"));
      if (spec.uniform_variant) {
        const double a = std::sqrt(6.0 / fans);
        fill_with(param, [&] { return rng.uniform(-a, a); });
      } else {
        const double std = std::sqrt(2.0 / fans);
        fill_with(param, [&] { return std * rng.normal(); });
      }
      return;
    }
    case Kind::kDefault: {
      // The layer decides what its parameter's default is (Param::default_init); by role, weights
      // get PyTorch's U(±1/√fan_in) (kaiming_uniform with a = √5 reduces to exactly that bound)
      // and biases start at 0. No random numbers are drawn for constant defaults.
      DefaultInit kind = param.default_init;
      if (kind == DefaultInit::kByRole) {
        if (param.is_bias) kind = DefaultInit::kZeros;
      }
      if (kind == DefaultInit::kZeros) {
        param.value.fill(T(0));
      } else if (kind == DefaultInit::kOnes) {
        param.value.fill(T(1));
      } else {
        const double a = 1.0 / std::sqrt(static_cast<double>(
                                   require_fan(param, param.fan_in, "default")));
        fill_with(param, [&] { return rng.uniform(-a, a); });
      }
      return;
    }
  }
  CNNDIAG_ASSERT(false, "unhandled InitSpec::Kind");
}

template void init_param<float>(Param<float>&, const InitSpec&, Rng&);
template void init_param<double>(Param<double>&, const InitSpec&, Rng&);

}  // namespace cnndiag
