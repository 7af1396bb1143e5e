#pragma once
// Observations for the probe tests: write a small data file, train a config on it in a scratch
// folder, and observe one of the checkpoints it wrote, as `cnndiag probe` would.

#include <functional>
#include <string>

#include "cnndiag/checkpoint.hpp"
#include "cnndiag/h5file.hpp"
#include "cnndiag/probes/probe.hpp"
#include "cnndiag/rng.hpp"
#include "cnndiag/trainer.hpp"
#include "support/test_util.hpp"

namespace cnndiag::test {

/// The data a test trains on: inputs (N, …) and regression targets (N, K) or labels (N).
struct ProbeData {
  Tensor<double> x;
  Tensor<double> y;      ///< stored as "/y"
  Tensor<double> labels; ///< stored as "/labels" when not empty
};

/// Inputs uniform in [0,1) of shape (n, dims…) from a fixed seed.
inline Tensor<double> uniform_inputs(const Shape& shape, std::uint64_t seed) {
  Rng rng(seed);
  Tensor<double> x(shape);
  for (Index i = 0; i < x.size(); ++i) x[i] = rng.uniform();
  return x;
}

/// Targets y = x·A + noise·ε with a fixed random A (D×K) and ε ~ U(−½, ½).
inline Tensor<double> linear_targets(const Tensor<double>& x, Index k, double noise,
                                     std::uint64_t seed) {
  Rng rng(seed);
  const Index n = x.dim(0), d = x.size() / n;
  std::vector<double> a(static_cast<std::size_t>(d * k));
  for (double& v : a) v = rng.uniform() - 0.5;
  Tensor<double> y(Shape{n, k});
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < k; ++j) {
      double s = 0;
      for (Index q = 0; q < d; ++q) s += x[i * d + q] * a[static_cast<std::size_t>(q * k + j)];
      y[i * k + j] = s + noise * (rng.uniform() - 0.5);
    }
  return y;
}

/// Targets independent of the inputs: U(0,1), like the seed's rand(4,1,32).
inline Tensor<double> noise_targets(Index n, Index k, std::uint64_t seed) {
  return uniform_inputs(Shape{n, k}, seed);
}

/// A config reading data.h5 (X, and y or labels), with the given [[layer]] tables and
/// [optimizer] body, training in float64 on one thread with a checkpoint every step for short
/// runs (≤ 10 steps) and only at the start and end of longer ones (checkpoints are fsync'ed).
inline std::string net_config(const std::string& layers, const std::string& optimizer,
                              std::int64_t iterations, const std::string& loss = "type = \"mse\"",
                              const std::string& targets = "targets = \"y\"") {
  return "[data]\nfile = \"data.h5\"\ninputs = \"X\"\n" + targets + "\n" + layers +
         "\n[loss]\n" + loss + "\n[optimizer]\n" + optimizer +
         "\n[train]\niterations = " + std::to_string(iterations) +
         "\nseed = 1\nthreads = 1\ndtype = \"float64\"\n[checkpoint]\nevery = " +
         std::to_string(iterations <= 10 ? 1 : iterations) + "\n";
}

struct ProbeRun {
  std::filesystem::path dir;
  Config config;
  TrainResult result;
};

/// Writes data.h5 and net.toml (config_text, whose [data] must read "data.h5") into a fresh
/// scratch folder named `name`, and trains.
inline ProbeRun train_run(const std::string& name, const std::string& config_text,
                          const ProbeData& data) {
  ProbeRun run;
  run.dir = scratch_dir(name);
  {
    H5File f(run.dir / "data.h5", H5File::Mode::kCreate);
    f.write_tensor("/X", data.x);
    if (!data.y.empty()) f.write_tensor("/y", data.y);
    if (!data.labels.empty()) f.write_tensor("/labels", data.labels);
    f.close();
  }
  write_text(run.dir / "net.toml", config_text);
  run.config = load_config(run.dir / "net.toml");
  run.result = train(run.config, {});
  return run;
}

/// Trains and observes the last checkpoint (or the `index`-th one written).
inline Observation train_and_observe(const std::string& name, const std::string& config_text,
                                     const ProbeData& data, int index = -1) {
  const ProbeRun run = train_run(name, config_text, data);
  const auto& ck = run.result.checkpoints;
  return observe_checkpoint(index < 0 ? ck.back() : ck.at(static_cast<std::size_t>(index)));
}

/// The findings of a result with this id (and tensor, when given).
inline std::vector<Finding> findings_with(const ProbeResult& r, const std::string& id,
                                          const std::string& tensor = "") {
  std::vector<Finding> out;
  for (const Finding& f : r.findings)
    if (f.id == id && (tensor.empty() || f.tensor == tensor || f.layer == tensor)) out.push_back(f);
  return out;
}

/// Mutable access to a parameter of an observed model ("fc1.weight").
inline Param<double>& param_of(Model<double>& model, const std::string& key) {
  for (auto& [k, p] : model.named_params())
    if (k == key) return *p;
  throw InternalError("no parameter " + key);
}

}  // namespace cnndiag::test
