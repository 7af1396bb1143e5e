// The init probe: did the weights start at a scale that lets signals and gradients through?
//
// For a weight tensor with fan_in inputs and fan_out outputs per unit, a layer keeps the variance
// of what passes through it (forward and backward) when Var(w) ≈ 2/(fan_in + fan_out) (Glorot &
// Bengio 2010, for symmetric activations such as tanh and the linear part of a sigmoid) or
// Var(w) ≈ 2/fan_in when a relu follows, which zeroes half the signal (He et al. 2015). The probe
// compares the weights' scale — their root mean square √E[w²], the std for a zero-mean init; a
// non-zero mean carries signal just as well — with the reference of the activation that follows
// (He before relu/leaky_relu, past any pooling; Glorot otherwise), at iteration 0 (re-drawn from
// the seed) and now. It also runs the iteration-0 model on the probe batch and reports each
// layer's pre-activation std, the quantity the reference is meant to keep near the input's.
// A layer followed by batchnorm is measured but not flagged: batchnorm removes the scale.
#include <algorithm>
#include <cmath>

#include "cnndiag/probes/probes.hpp"
#include "probes/probe_util.hpp"

namespace cnndiag {
namespace {

using probe_detail::format;

struct Moments {
  double mean = 0, std = 0, rms = 0;
};

Moments moments(const Tensor<double>& t) {
  Moments m;
  if (t.empty()) return m;
  double sum = 0, sum_sq = 0;
  for (double v : t.span()) {
    sum += v;
    sum_sq += v * v;
  }
  const double n = static_cast<double>(t.size());
  m.mean = sum / n;
  m.rms = std::sqrt(sum_sq / n);
  m.std = std::sqrt(std::max(0.0, sum_sq / n - m.mean * m.mean));
  return m;
}

// The type of the activation that consumes layer i's output, looking past pooling; "" if none.
std::string next_activation(const Model<double>& model, std::size_t i) {
  for (std::size_t j = i + 1; j < model.size(); ++j) {
    const std::string_view type = model.layer(j).type();
    if (type == "maxpool" || type == "avgpool") continue;
    if (type == "relu" || type == "leaky_relu" || type == "sigmoid" || type == "tanh" ||
        type == "batchnorm")
      return std::string(type);
    return "";
  }
  return "";
}

// Runs the iteration-0 parameters forward on the probe batch, in a model of its own so that the
// observation stays untouched (probes may run concurrently on one Observation).
std::vector<double> initial_output_std(const Observation& o) {
  const Model<double>& initial = *o.initial;
  Model<double> model(o.config.layers, initial.input_shape());
  const auto src = initial.named_params();
  auto dst = model.named_params();
  for (std::size_t k = 0; k < dst.size() && k < src.size(); ++k)
    dst[k].second->value = src[k].second->value;
  model.reserve(o.inputs.dim(0));
  model.forward(o.inputs, true);  // training mode, as the first step ran (batchnorm batch stats)
  std::vector<double> out;
  for (std::size_t i = 0; i < model.size(); ++i) out.push_back(moments(model.activation(i)).std);
  return out;
}

}  // namespace

ProbeResult probe_init(const Observation& o) {
  ProbeResult r;
  r.probe = "init";
  const double ratio_limit = o.config.threshold("init_std_ratio");
  const std::vector<double> preact_std0 = initial_output_std(o);
  r.measurements["input"] = {{"std", moments(o.inputs).std}};

  const Model<double>& model = *o.model;
  const Model<double>& initial = *o.initial;
  for (std::size_t i = 0; i < model.size(); ++i) {
    const auto params = model.layer(i).params();
    const auto params0 = initial.layer(i).params();
    for (std::size_t k = 0; k < params.size(); ++k) {
      const Param<double>& p = params[k];
      if (p.is_bias || p.fan_in <= 0) continue;
      const Param<double>& p0 = params0[k];
      const std::string& layer = model.layer(i).name();
      const std::string key = param_key(layer, p.name);
      const std::string activation = next_activation(model, i);
      const bool he = activation == "relu" || activation == "leaky_relu";
      const double fan_in = static_cast<double>(p.fan_in);
      const double fan_out = static_cast<double>(p.fan_out);
      const double he_std = std::sqrt(2.0 / fan_in);
      const double glorot_std = std::sqrt(2.0 / (fan_in + fan_out));
      const double reference = he ? he_std : glorot_std;
      const Moments now = moments(p.value);
      const Moments start = moments(p0.value);
      const double ratio = start.rms / reference;
      const double preact_now = i < o.layers.size() ? moments(o.layers[i].output).std : 0.0;
      nlohmann::json meas = {{"fan_in", p.fan_in},
                             {"fan_out", p.fan_out},
                             {"followed_by", activation.empty() ? "none" : activation},
                             {"reference", he ? "he" : "glorot"},
                             {"reference_std", reference},
                             {"he_std", he_std},
                             {"glorot_std", glorot_std},
                             {"std_initial", start.std},
                             {"mean_initial", start.mean},
                             {"rms_initial", start.rms},
                             {"ratio_initial", ratio},
                             {"std", now.std},
                             {"mean", now.mean},
                             {"rms", now.rms},
                             {"ratio", now.rms / reference},
                             {"preact_std_initial", preact_std0[i]},
                             {"preact_std", preact_now}};
      r.measurements[key] = meas;
      if (activation == "batchnorm") continue;
      if (ratio < 1.0 / ratio_limit || ratio > ratio_limit) {
        Finding f;
        f.id = "init.scale";
        f.severity = Severity::kWarning;
        f.layer = layer;
        f.tensor = key;
        f.message = format(
            "%s starts with scale %.3g (std %.3g, mean %.3g), %.3gx the %s reference %s = %.3g "
            "(fan_in %lld, fan_out %lld; '%s' is followed by %s): signals and gradients %s "
            "through it (pre-activation std at iteration 0: %.3g)",
            key.c_str(), start.rms, start.std, start.mean, ratio, he ? "He" : "Glorot",
            he ? "sqrt(2/fan_in)" : "sqrt(2/(fan_in+fan_out))", reference,
            static_cast<long long>(p.fan_in), static_cast<long long>(p.fan_out), layer.c_str(),
            activation.empty() ? "no activation" : activation.c_str(),
            ratio < 1 ? "shrink" : "grow", preact_std0[i]);
        f.evidence = meas;
        f.fix = format("%s init: init.%s = \"%s\" (std %.3g)", he ? "he" : "xavier",
                       p.name.c_str(), he ? "he" : "xavier", reference);
        r.findings.push_back(std::move(f));
      }
    }
  }
  return r;
}

}  // namespace cnndiag
