// The loss-curve probe: what the logged training loss (/history/loss) says about the run.
//
// The curve is read in windows, so that single noisy steps (mini-batches) do not decide:
// w = max(3, n/10) points; "tail" is the mean of the last w, "previous" the w before it, "middle"
// the w around the half-way point; "start" is the first logged loss and "min" the lowest.
//  - nonfinite (error): the first step whose loss is NaN or ±inf; the rest reads the finite part.
//  - diverging (error): tail > kDivergeFactor·min, still a sizeable part of the start
//    (tail > kFloorFraction·start, so float noise on a loss that fell to 1e-9 is not read as
//    growth), and rising: above the previous window by kRiseFraction, or above the start.
//  - plateau (warning): |tail − middle| / |middle| < kPlateauChange over the last half, unless the
//    run has fitted (probe_util: tail ≤ start/100, or ≈ 0) — a converged network's flat tail is a
//    plateau at the bottom. Whether it is stuck is a judgement for the reader, so the finding
//    also says how the level compares with the best constant output's loss on the probe batch.
//  - oscillating (warning): in the last max(20, n/5) points, successive differences change sign
//    in ≥ kSignChangeFraction of the steps (i.i.d. noise changes sign 2/3 of the time; a step
//    size beyond the stable limit alternates every step), with a mean |difference| above
//    kAmplitude of the loss level.
// These constants are not [probe] keys; they are defaults from experience, written down here.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "cnndiag/probes/probes.hpp"
#include "probes/probe_util.hpp"

namespace cnndiag {
namespace {

using probe_detail::format;

constexpr std::size_t kMinPoints = 10;      // fewer logged steps: too short to judge a shape
constexpr std::size_t kMinWindow = 20;      // oscillation window, at least
constexpr double kDivergeFactor = 10.0;
constexpr double kFloorFraction = 1e-3;
constexpr double kRiseFraction = 0.05;
constexpr double kPlateauChange = 1e-3;
constexpr double kSignChangeFraction = 0.8;
constexpr double kAmplitude = 0.1;
constexpr double kConstantLevelTolerance = 0.05;

double mean_of(const std::vector<double>& v, std::size_t begin, std::size_t end) {
  if (end <= begin) return std::numeric_limits<double>::quiet_NaN();
  return std::accumulate(v.begin() + static_cast<std::ptrdiff_t>(begin),
                         v.begin() + static_cast<std::ptrdiff_t>(end), 0.0) /
         static_cast<double>(end - begin);
}

}  // namespace

ProbeResult probe_loss_curve(const Observation& o) {
  ProbeResult r;
  r.probe = "loss_curve";
  const std::vector<double>& h = o.history_loss;
  auto iteration_at = [&](std::size_t i) -> std::int64_t {
    return i < o.history_iteration.size() ? o.history_iteration[i] : static_cast<std::int64_t>(i + 1);
  };
  nlohmann::json meas = {{"points", h.size()}};
  auto add = [&](std::string id, Severity severity, std::string message, std::string fix) {
    Finding f;
    f.id = std::move(id);
    f.severity = severity;
    f.tensor = "history/loss";
    f.message = std::move(message);
    f.evidence = meas;
    f.fix = std::move(fix);
    r.findings.push_back(std::move(f));
  };

  std::size_t finite = h.size();
  for (std::size_t i = 0; i < h.size(); ++i)
    if (!std::isfinite(h[i])) {
      finite = i;
      break;
    }
  if (finite < h.size()) {
    meas["first_nonfinite_iteration"] = iteration_at(finite);
    meas["last_finite_loss"] = finite > 0 ? nlohmann::json(h[finite - 1]) : nlohmann::json();
    add("loss_curve.nonfinite", Severity::kError,
        format("the loss became %s at iteration %lld%s", std::isnan(h[finite]) ? "NaN" : "infinite",
               static_cast<long long>(iteration_at(finite)),
               finite > 0 ? format(" (last finite value %.4g)", h[finite - 1]).c_str() : ""),
        "lower the learning rate (e.g. 10x) and check the inputs for NaN/inf; gradient clipping "
        "stops single steps from blowing up");
  }
  const std::vector<double> f(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(finite));
  const std::size_t n = f.size();
  if (n < kMinPoints) {
    r.measurements["loss"] = meas;
    return r;
  }

  const std::size_t w = std::max<std::size_t>(3, n / 10);
  const double start = f.front();
  const auto min_it = std::min_element(f.begin(), f.end());
  const double min = *min_it;
  const double tail = mean_of(f, n - w, n);
  const double previous = mean_of(f, n >= 2 * w ? n - 2 * w : 0, n - w);
  const std::size_t mid = n / 2;
  const double middle = mean_of(f, mid - std::min(mid, w / 2), std::min(n, mid - std::min(mid, w / 2) + w));
  const double change = std::abs(tail - middle) / std::max(std::abs(middle), 1e-300);
  const bool fitted = tail <= start / probe_detail::kFitDrop || std::abs(tail) < probe_detail::kNearZeroLoss;
  const double constant_loss = probe_detail::best_constant_loss(o);
  meas["start"] = start;
  meas["min"] = min;
  meas["min_iteration"] = iteration_at(static_cast<std::size_t>(min_it - f.begin()));
  meas["tail_mean"] = tail;
  meas["previous_mean"] = previous;
  meas["middle_mean"] = middle;
  meas["relative_change_last_half"] = change;
  meas["fitted"] = fitted;
  meas["constant_loss"] = constant_loss;

  // Oscillation over the last window: sign changes of successive differences, and their size.
  const std::size_t len = std::min(n, std::max(kMinWindow, n / 5));
  std::size_t changes = 0, pairs = 0;
  double abs_diff = 0;
  int last_sign = 0;
  for (std::size_t i = n - len + 1; i < n; ++i) {
    const double d = f[i] - f[i - 1];
    abs_diff += std::abs(d);
    const int sign = (d > 0) - (d < 0);
    if (sign != 0) {
      if (last_sign != 0) {
        ++pairs;
        changes += sign != last_sign;
      }
      last_sign = sign;
    }
  }
  const double level = std::abs(mean_of(f, n - len, n));
  const double sign_fraction = pairs ? static_cast<double>(changes) / static_cast<double>(pairs) : 0.0;
  const double amplitude = level > 0 ? abs_diff / static_cast<double>(len - 1) / level : 0.0;
  meas["sign_change_fraction"] = sign_fraction;
  meas["relative_amplitude"] = amplitude;
  r.measurements["loss"] = meas;

  const bool rising = tail > (1 + kRiseFraction) * previous || tail > start;
  if (tail > kDivergeFactor * min && tail > kFloorFraction * start && rising) {
    add("loss_curve.diverging", Severity::kError,
        format("the loss is diverging: its last %zu steps average %.4g, %.3gx its minimum %.4g "
               "(iteration %lld), and it is rising",
               w, tail, tail / min, min, static_cast<long long>(meas["min_iteration"].get<std::int64_t>())),
        "lower the learning rate (e.g. 10x); with momentum or Adam also check the decay and "
        "the loss scale");
  } else if (!fitted && n >= 2 * kMinPoints && change < kPlateauChange) {
    const bool at_constant = constant_loss > 0 &&
                             std::abs(tail - constant_loss) <= kConstantLevelTolerance * constant_loss;
    meas["at_constant_level"] = at_constant;
    add("loss_curve.plateau", Severity::kWarning,
        format("the loss has been flat over the last half of the run (%.4g, relative change %.2g; "
               "it started at %.4g)%s",
               tail, change, start,
               at_constant
                   ? format(" at the level of the best constant output (%.4g): the network "
                            "predicts the same thing for every sample",
                            constant_loss).c_str()
                   : ""),
        at_constant ? "see the findings on collapse, weight decay and targets for why the output "
                      "does not depend on the input"
                    : "if the loss should go lower: raise the learning rate, or look at the "
                      "gradient-flow findings");
  }
  if (sign_fraction >= kSignChangeFraction && amplitude > kAmplitude &&
      std::abs(tail) >= probe_detail::kNearZeroLoss) {
    add("loss_curve.oscillating", Severity::kWarning,
        format("the loss oscillates: over the last %zu steps it turns direction on %.0f%% of the "
               "steps, moving by %.3g of its level each step",
               len, 100 * sign_fraction, amplitude),
        "lower the learning rate (e.g. 3-10x) or the momentum");
  }
  return r;
}

}  // namespace cnndiag
