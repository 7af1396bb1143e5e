// `cnndiag train`: trains the network of a config on its minibatch and writes HDF5 checkpoints.
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>

#include "cli.hpp"
#include "cnndiag/config.hpp"
#include "cnndiag/trainer.hpp"
#include "progress.hpp"

namespace cnndiag::cli {
namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_sigint(int) { g_interrupted.store(true); }

struct TrainArgs {
  std::string config;
  std::int64_t iterations = -1;
  std::string out;
  std::string resume;
  int threads = 0;
  std::int64_t seed = -1;
};

int run_train(const TrainArgs& args, const GlobalOptions& global) {
  const Config config = load_config(args.config);
  TrainOptions options;
  if (args.iterations >= 0) options.iterations = args.iterations;
  if (!args.out.empty()) options.out_dir = std::filesystem::absolute(args.out);
  if (!args.resume.empty()) options.resume = args.resume;
  if (args.seed >= 0) options.seed = static_cast<std::uint64_t>(args.seed);
  options.threads = args.threads;
  options.logger = spdlog::default_logger();
  options.interrupt = &g_interrupted;

  const std::int64_t total = options.iterations.value_or(config.train.iterations);
  Progress progress("train", 0, total, stderr_is_tty(), global.quiet);
  options.on_progress = [&](const TrainProgress& p) { progress.update(p.iteration, p.loss); };
  options.on_start = [&](const std::vector<LayerSummary>& rows, const Shape& input, Index samples) {
    if (global.quiet) return;
    print_network_summary(std::filesystem::path(args.config).filename().string(), rows, input,
                          use_color(global));
    std::printf("training %lld iterations on %lld samples\n", static_cast<long long>(total),
                static_cast<long long>(samples));
    std::fflush(stdout);
  };

  // Ctrl-C finishes the current step, writes a checkpoint of it and exits 130.
  std::signal(SIGINT, on_sigint);
  const TrainResult result = train(config, options);
  std::signal(SIGINT, SIG_DFL);
  progress.finish();

  const auto dir = result.checkpoints.empty() ? options.out_dir.value_or(config.checkpoint.dir)
                                              : result.checkpoints.back().parent_path();
  switch (result.stop) {
    case TrainResult::Stop::kNonFinite:
      spdlog::error("training stopped: {}", result.message);
      spdlog::error("last good state written to {}", result.checkpoints.back().string());
      return 1;
    case TrainResult::Stop::kInterrupted:
      spdlog::warn("interrupted after iteration {}; checkpoint written to {}", result.iteration,
                   result.checkpoints.back().string());
      return 130;
    case TrainResult::Stop::kFinished:
      break;
  }
  if (!global.quiet) {
    std::printf("trained %lld iterations in %s (%.0f it/s); final loss %.6g\n",
                static_cast<long long>(result.iteration), format_duration(result.seconds).c_str(),
                result.seconds > 0 ? static_cast<double>(result.iteration) / result.seconds : 0.0,
                result.loss);
    std::printf("%zu checkpoints in %s (last: %s)\n", result.checkpoints.size(),
                dir.string().c_str(),
                result.checkpoints.empty() ? "none"
                                           : result.checkpoints.back().filename().string().c_str());
  }
  return 0;
}

}  // namespace

Command make_train_command(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* sub = app.add_subcommand(
      "train",
      "Train the network of a TOML config on its minibatch and write HDF5 checkpoints.\n\n"
      "Checkpoints go to [checkpoint] dir (default runs/<config name>/ beside the config) as\n"
      "ckpt-<iteration>.h5: iteration 0, every [checkpoint] every iterations, and the last.\n"
      "Ctrl-C writes a checkpoint of the last finished step and exits 130; a non-finite loss\n"
      "stops training, writes a checkpoint and exits 1.\n\n"
      "Example:\n  cnndiag train --config data/examples/seed/net.toml --iterations 2000");
  split_help(*sub);
  sub->add_option("-c,--config", args->config, "The network and data, in TOML")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("-n,--iterations", args->iterations, "Optimizer steps (overrides [train] iterations)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("-o,--out", args->out, "Checkpoint folder (overrides [checkpoint] dir)");
  sub->add_option("--resume", args->resume,
                  "Continue from this checkpoint, bit-identically to an uninterrupted run")
      ->check(CLI::ExistingFile);
  sub->add_option("-j,--threads", args->threads,
                  "Worker threads (default: [train] threads; 0 there means all cores). Results "
                  "are bit-identical for the same seed and thread count")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--seed", args->seed, "Seed for every random draw (overrides [train] seed)")
      ->check(CLI::NonNegativeNumber);
  add_global_options(*sub, global);
  return {sub, [args, &global] { return run_train(*args, global); }};
}

}  // namespace cnndiag::cli
