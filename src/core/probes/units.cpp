// The units probe: which activation units have stopped passing gradient?
//
// A unit is one element of a layer's per-sample output, (c, h, w) for an image or j for a vector;
// an entry is one unit on one sample. Everything is judged from the pre-activation z, the input
// the activation layer received on the probe batch.
//  - relu / leaky_relu: a unit is dead when z ≤ 0 for every sample: relu passes no gradient there
//    on any sample, so nothing can revive it (leaky_relu passes slope·dy, barely alive). For image
//    outputs a channel is dead when all its positions are.
//  - sigmoid / tanh: an entry is saturated when the derivative is below 1e-3, i.e. |z| above
//    sigmoid_saturation_z (σ′(6.9) = 1.0e-3) or tanh_saturation_z (tanh′(3.8) = 2.0e-3, ≈1e-3);
//    a unit is saturated when it is saturated on every sample. A unit is in its linear regime
//    when |z| < linear_regime_z on every sample: there σ(z) ≈ 1/2 + z/4, so the layer acts as a
//    linear map and adds nothing a linear layer could not (the seed's tiny init does this).
#include <algorithm>
#include <cmath>

#include "cnndiag/probes/probes.hpp"
#include "probes/probe_util.hpp"

namespace cnndiag {
namespace {

using probe_detail::format;

// Fraction of a layer's units in the linear regime above which it is reported (info). Not a
// [probe] key: the finding is informational and never changes an exit code.
constexpr double kLinearRegimeFraction = 0.5;

struct UnitCounts {
  Index units = 0;
  Index entries = 0;
  Index all_samples = 0;      // units for which the predicate holds on every sample
  Index any_entries = 0;      // entries for which it holds
  Index channels = 0;         // image outputs: channels whose every unit holds on every sample
  Index channel_count = 0;
};

// Counts, for z (N, per-sample…), the entries and units where pred(z) holds.
template <typename Pred>
UnitCounts count_units(const Tensor<double>& z, Pred pred) {
  UnitCounts c;
  const Index n = z.dim(0);
  c.units = z.size() / n;
  c.entries = z.size();
  std::vector<char> all(static_cast<std::size_t>(c.units), 1);
  for (Index i = 0; i < n; ++i)
    for (Index u = 0; u < c.units; ++u) {
      const bool holds = pred(z[i * c.units + u]);
      c.any_entries += holds;
      if (!holds) all[static_cast<std::size_t>(u)] = 0;
    }
  for (char a : all) c.all_samples += a;
  if (z.rank() == 4) {  // (N, C, H, W): per channel
    c.channel_count = z.dim(1);
    const Index per_channel = c.units / c.channel_count;
    for (Index ch = 0; ch < c.channel_count; ++ch) {
      bool every = true;
      for (Index u = ch * per_channel; u < (ch + 1) * per_channel; ++u)
        every = every && all[static_cast<std::size_t>(u)];
      c.channels += every;
    }
  }
  return c;
}

double fraction(Index part, Index whole) {
  return whole > 0 ? static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

}  // namespace

ProbeResult probe_units(const Observation& o) {
  ProbeResult r;
  r.probe = "units";
  const double dead_threshold = o.config.threshold("dead_fraction");
  const double saturated_threshold = o.config.threshold("saturated_fraction");
  const double linear_z = o.config.threshold("linear_regime_z");

  auto add = [&](std::string id, Severity severity, const LayerObservation& l,
                 std::string message, nlohmann::json evidence, std::string fix) {
    Finding f;
    f.id = std::move(id);
    f.severity = severity;
    f.layer = l.name;
    f.tensor = l.name + ":input";
    f.message = std::move(message);
    f.evidence = std::move(evidence);
    f.fix = std::move(fix);
    r.findings.push_back(std::move(f));
  };

  for (const LayerObservation& l : o.layers) {
    const Tensor<double>& z = l.input;
    if (z.empty()) continue;
    if (l.type == "relu" || l.type == "leaky_relu") {
      const UnitCounts dead = count_units(z, [](double v) { return v <= 0.0; });
      nlohmann::json meas = {{"type", l.type},
                             {"units", dead.units},
                             {"dead_units", dead.all_samples},
                             {"dead_fraction", fraction(dead.all_samples, dead.units)},
                             {"inactive_entry_fraction", fraction(dead.any_entries, dead.entries)}};
      if (dead.channel_count > 0) {
        meas["channels"] = dead.channel_count;
        meas["dead_channels"] = dead.channels;
        meas["dead_channel_fraction"] = fraction(dead.channels, dead.channel_count);
      }
      r.measurements[l.name] = meas;
      const double dead_fraction = fraction(dead.all_samples, dead.units);
      if (dead_fraction > dead_threshold) {
        add("units.dead", Severity::kWarning, l,
            format("%.3g%% of the units of '%s' (%lld of %lld%s) receive z <= 0 on every sample: "
                   "%s",
                   100 * dead_fraction, l.name.c_str(), static_cast<long long>(dead.all_samples),
                   static_cast<long long>(dead.units),
                   dead.channel_count > 0
                       ? format("; %lld of %lld channels entirely", static_cast<long long>(dead.channels),
                                static_cast<long long>(dead.channel_count)).c_str()
                       : "",
                   l.type == "relu" ? "they are dead and pass no gradient on any sample"
                                    : "they pass only the leaky slope's share of the gradient"),
            meas,
            "lower the learning rate, use he init and a non-negative bias init (e.g. 0.01), or "
            "use leaky_relu");
      }
    } else if (l.type == "sigmoid" || l.type == "tanh") {
      const double z_sat = o.config.threshold(l.type == "sigmoid" ? "sigmoid_saturation_z"
                                                                  : "tanh_saturation_z");
      const UnitCounts sat = count_units(z, [z_sat](double v) { return std::abs(v) > z_sat; });
      const UnitCounts lin = count_units(z, [linear_z](double v) { return std::abs(v) < linear_z; });
      double z_max = 0;
      for (double v : z.span()) z_max = std::max(z_max, std::abs(v));
      const double saturated_fraction = fraction(sat.any_entries, sat.entries);
      const double linear_fraction = fraction(lin.all_samples, lin.units);
      nlohmann::json meas = {{"type", l.type},
                             {"units", sat.units},
                             {"saturated_fraction", saturated_fraction},
                             {"saturated_unit_fraction", fraction(sat.all_samples, sat.units)},
                             {"linear_regime_fraction", linear_fraction},
                             {"saturation_z", z_sat},
                             {"linear_regime_z", linear_z},
                             {"max_abs_z", z_max}};
      r.measurements[l.name] = meas;
      if (saturated_fraction > saturated_threshold) {
        add("units.saturated", Severity::kWarning, l,
            format("%.3g%% of the entries of '%s' are saturated (|z| > %.3g, derivative < 1e-3; "
                   "%.3g%% of units on every sample): gradients through it are ~0",
                   100 * saturated_fraction, l.name.c_str(), z_sat,
                   100 * fraction(sat.all_samples, sat.units)),
            meas,
            "shrink the pre-activations: xavier init on the layer before, normalised inputs, "
            "a lower learning rate, or batchnorm before the activation");
      }
      if (linear_fraction > kLinearRegimeFraction) {
        add("units.linear_regime", Severity::kInfo, l,
            format("%.3g%% of the units of '%s' see |z| < %.3g on every sample (max |z| = %.3g): "
                   "the %s acts as a linear map there",
                   100 * linear_fraction, l.name.c_str(), linear_z, z_max, l.type.c_str()),
            meas,
            "scale up the layer before: xavier init (std sqrt(2/(fan_in+fan_out))) instead of "
            "tiny weights");
      }
    }
  }
  return r;
}

}  // namespace cnndiag
