// cnndiag_bench: times training steps of the benchmark networks B1–B3 (BENCH.md) in-process and
// prints one JSON line per (network, thread count).
//
//   cnndiag_bench [--bench b1,b2,b3,b4,probe] [--threads 1,2] [--repeats 5] [--quiet-wait 30]
//                 [--configs DIR] [--denormals flush|keep] [--steps N]
//
// Timing rules (BENCH.md): the network is built from data/examples/bench/<net>.toml, 16 distinct
// batches are drawn before timing (B1 uniform [0,1) inputs and targets, B2/B3 N(0,1) inputs and
// uniform labels), a warm-up of 10 % of the steps (≥ 5) runs first, and every repeat restarts
// from the same initial parameters and optimizer state and runs the full step count between two
// steady_clock reads. Before each repeat the program waits (untimed, up to --quiet-wait s) for
// other processes to go idle and records others_load (cores busy elsewhere) during the repeat.
//
// One step is exactly the trainer's: zero_grads, forward, loss and ∂E/∂y, backward, optimizer
// update (src/core/trainer.cpp TrainingRun::run), with float32 and the trainer's float mode.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cnndiag/config.hpp"
#include "cnndiag/gradcheck.hpp"
#include "cnndiag/probes/run.hpp"
#include "cnndiag/loss.hpp"
#include "cnndiag/model.hpp"
#include "cnndiag/optim.hpp"
#include "cnndiag/parallel.hpp"
#include "cnndiag/rng.hpp"
#include "cnndiag/trainer.hpp"
#include "machine_load.hpp"

namespace cnndiag::bench {
namespace {

struct Net {
  std::string id;         // "b1"
  std::string name;       // "seed"
  Index batch;            // samples per step
  std::int64_t steps;     // per repeat
  double train_flop;      // per step, BENCH.md's "3 × forward" convention
  bool uniform_inputs;    // B1: uniform [0,1); B2/B3: N(0,1)
};

const std::vector<Net>& nets() {
  static const std::vector<Net> all = {
      {"b1", "seed", 32, 10000, 1001472.0, true},
      {"b2", "lenet", 64, 300, 159943680.0, false},
      {"b3", "convnet", 64, 40, 2167406592.0, false},
  };
  return all;
}

struct Options {
  std::vector<std::string> benches = {"b1", "b2", "b3"};
  std::vector<int> threads = {1, 2};
  int repeats = 5;
  double quiet_wait = 30.0;
  std::filesystem::path configs;
  bool flush_denormals = true;
  std::int64_t steps = 0;  // 0: the network's own count
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "cnndiag_bench: " << why
            << "\nusage: cnndiag_bench [--bench b1,b2,b3,b4,probe] [--threads 1,2] [--repeats N]"
               " [--quiet-wait S] [--configs DIR] [--denormals flush|keep] [--steps N]\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  o.configs = std::filesystem::path(CNNDIAG_BENCH_CONFIGS);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--bench") {
      o.benches = split(value());
    } else if (a == "--threads") {
      o.threads.clear();
      for (const auto& t : split(value())) o.threads.push_back(std::stoi(t));
    } else if (a == "--repeats") {
      o.repeats = std::max(1, std::stoi(value()));
    } else if (a == "--quiet-wait") {
      o.quiet_wait = std::stod(value());
    } else if (a == "--configs") {
      o.configs = value();
    } else if (a == "--denormals") {
      const std::string v = value();
      if (v != "flush" && v != "keep") usage("--denormals: expected flush or keep, got " + v);
      o.flush_denormals = v == "flush";
    } else if (a == "--steps") {
      o.steps = std::stoll(value());
    } else {
      usage("unknown argument " + a);
    }
  }
  return o;
}

// The 16 pre-generated batches, cycled through the steps.
struct Batches {
  std::vector<Tensor<float>> inputs;
  std::vector<Targets<float>> targets;
};

Batches make_batches(const Net& net, const Model<float>& model, bool classification) {
  constexpr int kBatches = 16;
  Rng rng(12345);
  Batches b;
  const Index outputs = model.output_shape().numel();
  for (int i = 0; i < kBatches; ++i) {
    Tensor<float> x(model.input_shape().with_batch(net.batch));
    for (Index j = 0; j < x.size(); ++j)
      x[j] = static_cast<float>(net.uniform_inputs ? rng.uniform() : rng.normal());
    Targets<float> t;
    if (classification) {
      for (Index j = 0; j < net.batch; ++j)
        t.labels.push_back(static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(outputs))));
    } else {
      t.values = Tensor<float>(Shape{net.batch, outputs});
      for (Index j = 0; j < t.values.size(); ++j) t.values[j] = static_cast<float>(rng.uniform());
    }
    b.inputs.push_back(std::move(x));
    b.targets.push_back(std::move(t));
  }
  return b;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string json_list(const std::vector<double>& v) {
  std::ostringstream s;
  s.precision(6);
  s << "[";
  for (std::size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
  s << "]";
  return s.str();
}

long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

void run_net(const Net& net, int threads, const Options& o) {
  const Config config = load_config(o.configs / (net.id + ".toml"));
  set_num_threads(threads);
  const FloatModeGuard float_mode(o.flush_denormals);
  Workbench<float> wb = open_workbench<float>(config);
  Model<float>& model = *wb.model;
  model.init(config.layers, config.train.seed);
  model.reserve(net.batch);
  Loss<float> loss(config.loss);
  const Batches batches = make_batches(net, model, loss.classification());
  Tensor<float> dy(model.output_shape().with_batch(net.batch));

  // The state every repeat restarts from.
  std::vector<Tensor<float>> initial;
  for (auto& [key, p] : model.named_params()) initial.push_back(p->value);
  auto restore = [&]() {
    std::size_t i = 0;
    for (auto& [key, p] : model.named_params()) p->value = initial[i++];
  };

  const std::int64_t steps = o.steps > 0 ? o.steps : net.steps;
  double last_loss = 0;
  auto train = [&](Optimizer<float>& opt, std::int64_t n) {
    for (std::int64_t t = 0; t < n; ++t) {
      const std::size_t b = static_cast<std::size_t>(t % 16);
      model.zero_grads();
      const Tensor<float>& y = model.forward(batches.inputs[b], true);
      last_loss = loss.evaluate(y, batches.targets[b], &dy);
      model.backward(dy);
      opt.step();
    }
  };

  {
    Optimizer<float> warm(config.optimizer, model);
    train(warm, std::max<std::int64_t>(5, steps / 10));
  }
  std::vector<double> seconds, loads, waits;
  for (int r = 0; r < o.repeats; ++r) {
    restore();
    Optimizer<float> opt(config.optimizer, model);  // fresh state (zero velocity)
    waits.push_back(wait_until_quiet(o.quiet_wait));
    const CpuSample before = cpu_sample();
    const auto start = std::chrono::steady_clock::now();
    train(opt, steps);
    const auto stop = std::chrono::steady_clock::now();
    const CpuSample after = cpu_sample();
    seconds.push_back(std::chrono::duration<double>(stop - start).count());
    loads.push_back(others_load(before, after));
  }

  const double med = median(seconds);
  const double lo = *std::min_element(seconds.begin(), seconds.end());
  const double hi = *std::max_element(seconds.begin(), seconds.end());
  const double steps_d = static_cast<double>(steps);
  std::ostringstream line;
  line.precision(6);
  line << "{\"tool\":\"cnndiag\",\"bench\":\"" << net.id << "\",\"name\":\"" << net.name
       << "\",\"threads\":" << threads << ",\"batch\":" << net.batch << ",\"steps\":" << steps
       << ",\"denormals\":\"" << (o.flush_denormals ? "flush" : "keep") << "\""
       << ",\"seconds\":" << json_list(seconds) << ",\"min_s\":" << lo << ",\"median_s\":" << med
       << ",\"max_s\":" << hi << ",\"it_per_s\":" << steps_d / med
       << ",\"samples_per_s\":" << steps_d * static_cast<double>(net.batch) / med
       << ",\"gflop_per_s\":" << net.train_flop * steps_d / med * 1e-9
       << ",\"others_load\":" << json_list(loads) << ",\"quiet_wait_s\":" << json_list(waits)
       << ",\"peak_rss_kib\":" << peak_rss_kib() << ",\"final_loss\":" << last_loss << "}";
  std::cout << line.str() << std::endl;
}

// One timed diagnostic task, repeated like the training benchmarks (quiet wait, others_load),
// printed as a JSON line {"tool":"cnndiag","bench":bench,"name":name,…}.
template <typename Task>
void time_task(const std::string& bench, const std::string& name, int threads, const Options& o,
               Task&& task) {
  set_num_threads(threads);
  task();  // warm-up (page faults, caches)
  std::vector<double> seconds, loads, waits;
  for (int r = 0; r < o.repeats; ++r) {
    waits.push_back(wait_until_quiet(o.quiet_wait));
    const CpuSample before = cpu_sample();
    const auto start = std::chrono::steady_clock::now();
    task();
    const auto stop = std::chrono::steady_clock::now();
    const CpuSample after = cpu_sample();
    seconds.push_back(std::chrono::duration<double>(stop - start).count());
    loads.push_back(others_load(before, after));
  }
  std::ostringstream line;
  line.precision(6);
  line << "{\"tool\":\"cnndiag\",\"bench\":\"" << bench << "\",\"name\":\"" << name
       << "\",\"threads\":" << threads << ",\"seconds\":" << json_list(seconds)
       << ",\"median_s\":" << median(seconds) << ",\"others_load\":" << json_list(loads)
       << ",\"quiet_wait_s\":" << json_list(waits) << ",\"peak_rss_kib\":" << peak_rss_kib()
       << "}";
  std::cout << line.str() << std::endl;
}

// B4: the exhaustive float64 gradient check of every B1 parameter (1634), as torch's full
// gradcheck does it: parameters only, at the config's initial params on its batch. Also the
// sampled check of B2 (issue 5: under 2 s) and the probe of one trained seed checkpoint
// (issue 4: well under a second).
void run_diagnostics(const std::string& id, int threads, const Options& o) {
  if (id == "b4") {
    const Config b1 = load_config(o.configs / "b1.toml");
    GradcheckSettings exhaustive;
    exhaustive.mode = GradcheckMode::kExhaustive;
    exhaustive.output_grads = false;
    time_task("b4", "gradcheck-exhaustive", threads, o, [&] {
      const GradcheckResult r = gradcheck_config(b1, exhaustive);
      if (r.mismatching() != 0) throw std::runtime_error("B1 gradcheck found a mismatch");
    });
    const Config b2 = load_config(o.configs / "b2.toml");
    GradcheckSettings sampled;
    sampled.mode = GradcheckMode::kSampled;
    sampled.output_grads = false;
    time_task("b4", "b2-sampled", threads, o, [&] { gradcheck_config(b2, sampled); });
    return;
  }
  // "probe": train the seed example into a scratch folder (untimed), then time the probe of its
  // last checkpoint: observe (forward and backward in float64) and every probe.
  Config seed = load_config(o.configs / "../seed/net.toml");
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "cnndiag-bench-probe";
  std::filesystem::remove_all(dir);
  TrainOptions train_options;
  train_options.out_dir = dir;
  const TrainResult run = train(seed, train_options);
  time_task("probe", "seed-checkpoint", threads, o, [&] {
    Observation obs = observe_checkpoint(run.checkpoints.back());
    probe_report(obs, {});
  });
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cnndiag::bench

int main(int argc, char** argv) {
  using namespace cnndiag::bench;
  const Options o = parse(argc, argv);
  try {
    for (const std::string& id : o.benches) {
      if (id == "b4" || id == "probe") {
        for (int t : o.threads) run_diagnostics(id, t, o);
        continue;
      }
      const auto it = std::find_if(nets().begin(), nets().end(),
                                   [&](const Net& n) { return n.id == id; });
      if (it == nets().end()) usage("unknown benchmark " + id + " (b1, b2, b3, b4, probe)");
      for (int t : o.threads) run_net(*it, t, o);
    }
  } catch (const std::exception& e) {
    std::cerr << "cnndiag_bench: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
