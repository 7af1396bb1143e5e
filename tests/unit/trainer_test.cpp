#include "cnndiag/trainer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "cnndiag/checkpoint.hpp"
#include "cnndiag/h5file.hpp"
#include "cnndiag/rng.hpp"
#include "support/test_util.hpp"

namespace cnndiag {
namespace {

// A small regression set (N samples of 1×6×6, 3 targets) and a classification set (4 classes).
void write_data(const std::filesystem::path& path, Index n) {
  Rng rng(11);
  Tensor<float> x({n, 1, 6, 6}), y({n, 3}), labels({n});
  for (Index i = 0; i < x.size(); ++i) x[i] = static_cast<float>(rng.uniform());
  for (Index i = 0; i < y.size(); ++i) y[i] = static_cast<float>(rng.uniform());
  for (Index i = 0; i < n; ++i) labels[i] = static_cast<float>(i % 4);
  H5File f(path, H5File::Mode::kCreate);
  f.write_tensor("/X", x);
  f.write_tensor("/y", y);
  f.write_tensor("/labels", labels);
  f.close();
}

std::string regression_config(const std::string& extra_train = "", const std::string& optim = "") {
  return R"(
[data]
file = "data.h5"
inputs = "X"
targets = "y"
[[layer]]
name = "conv1"
type = "conv2d"
out_channels = 2
kernel = 3
pad = 1
[[layer]]
name = "act1"
type = "tanh"
[[layer]]
name = "fc1"
type = "linear"
out = 3
[loss]
type = "mse"
[optimizer]
type = "sgd"
lr = 0.05
momentum = 0.9
)" + optim + R"(
[train]
iterations = 20
seed = 3
threads = 1
)" + extra_train + R"(
[checkpoint]
every = 10
)";
}

struct TrainCase {
  std::filesystem::path dir;
  Config config;
};

TrainCase make_run(const std::string& name, const std::string& text, Index n = 8) {
  TrainCase r;
  r.dir = test::scratch_dir(name);
  write_data(r.dir / "data.h5", n);
  r.config = parse_config(text, r.dir / "net.toml");
  return r;
}

std::vector<std::uint32_t> float_bits(const CheckpointData& d) {
  std::vector<std::uint32_t> bits;
  for (const auto& p : d.params)
    for (Index i = 0; i < p.value.size(); ++i) {
      const float f = static_cast<float>(p.value[i]);
      std::uint32_t b;
      std::memcpy(&b, &f, sizeof b);
      bits.push_back(b);
    }
  return bits;
}

TEST(Trainer, WritesCheckpointsAtZeroEveryAndLast) {
  TrainCase r = make_run("train_cadence", regression_config());
  r.config.train.iterations = 25;
  const TrainResult result = train(r.config, {});
  EXPECT_EQ(result.stop, TrainResult::Stop::kFinished);
  ASSERT_EQ(result.checkpoints.size(), 4u);  // 0, 10, 20, 25
  EXPECT_EQ(result.checkpoints.back().filename(), "ckpt-00000025.h5");
  const CheckpointData last = read_checkpoint(result.checkpoints.back());
  EXPECT_EQ(last.iteration, 25);
  EXPECT_EQ(last.history_loss.size(), 25u);
  EXPECT_EQ(last.history_iteration.front(), 1);
  EXPECT_LT(last.history_loss.back(), last.history_loss.front());  // it learns something
  EXPECT_EQ(last.probe_inputs.shape(), (Shape{8, 1, 6, 6}));
  // The stored config is complete: it parses again, with this run's values.
  const Config again = parse_config(last.config_text, r.dir / "again.toml");
  EXPECT_EQ(again.train.iterations, 25);
}

TEST(Trainer, SameSeedAndThreadsGiveBitIdenticalParams) {
  for (int threads : {1, 2}) {
    TrainCase a = make_run("train_det_a", regression_config());
    TrainCase b = make_run("train_det_b", regression_config());
    TrainOptions o;
    o.threads = threads;
    const auto ra = train(a.config, o), rb = train(b.config, o);
    EXPECT_EQ(float_bits(read_checkpoint(ra.checkpoints.back())),
              float_bits(read_checkpoint(rb.checkpoints.back())))
        << threads << " threads";
  }
}

TEST(Trainer, DifferentSeedsGiveDifferentParams) {
  TrainCase a = make_run("train_seed_a", regression_config());
  TrainOptions o;
  const auto ra = train(a.config, o);
  o.seed = 99;
  o.out_dir = a.dir / "other";
  const auto rb = train(a.config, o);
  EXPECT_NE(float_bits(read_checkpoint(ra.checkpoints.back())),
            float_bits(read_checkpoint(rb.checkpoints.back())));
}

TEST(Trainer, ResumeContinuesBitIdentically) {
  // Mini-batches (shuffling state), momentum (optimizer state): everything must be restored.
  const std::string text = regression_config("batch_size = 3\n");
  TrainCase full = make_run("train_resume_full", text);
  const auto r_full = train(full.config, {});
  TrainCase part = make_run("train_resume_part", text);
  TrainOptions first;
  first.iterations = 10;
  train(part.config, first);
  TrainOptions rest;
  rest.resume = part.config.checkpoint.dir / checkpoint_file_name(10);
  rest.out_dir = part.dir / "resumed";
  const auto r_rest = train(part.config, rest);
  ASSERT_EQ(r_rest.checkpoints.back().filename(), "ckpt-00000020.h5");
  const CheckpointData a = read_checkpoint(r_full.checkpoints.back());
  const CheckpointData b = read_checkpoint(r_rest.checkpoints.back());
  EXPECT_EQ(float_bits(a), float_bits(b));
  EXPECT_EQ(a.history_loss, b.history_loss);
  EXPECT_EQ(a.rng_state, b.rng_state);
}

TEST(Trainer, ResumeRefusesAnotherArchitecture) {
  TrainCase r = make_run("train_resume_arch", regression_config());
  const auto res = train(r.config, {});
  Config other = r.config;
  other.layers[0].out_channels = 3;
  TrainOptions o;
  o.resume = res.checkpoints.front();
  try {
    train(other, o);
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("/params/conv1/weight"), std::string::npos) << e.what();
  }
}

TEST(Trainer, InterruptWritesTheLastFinishedStep) {
  TrainCase r = make_run("train_interrupt", regression_config());
  std::atomic<bool> stop{false};
  TrainOptions o;
  o.interrupt = &stop;
  o.on_progress = [&](const TrainProgress& p) {
    if (p.iteration == 7) stop = true;
  };
  const auto res = train(r.config, o);
  EXPECT_EQ(res.stop, TrainResult::Stop::kInterrupted);
  EXPECT_EQ(res.iteration, 7);
  EXPECT_EQ(res.checkpoints.back().filename(), "ckpt-00000007.h5");
  EXPECT_EQ(read_checkpoint(res.checkpoints.back()).iteration, 7);
}

TEST(Trainer, NonFiniteLossStopsAndNamesTheTensor) {
  std::string text = regression_config();
  text.replace(text.find("lr = 0.05"), 9, "lr = 1e30");
  TrainCase r = make_run("train_nonfinite", text);
  const auto res = train(r.config, {});
  EXPECT_EQ(res.stop, TrainResult::Stop::kNonFinite);
  EXPECT_NE(res.message.find("first non-finite tensor"), std::string::npos) << res.message;
  EXPECT_NE(res.message.find("iteration"), std::string::npos);
  const CheckpointData d = read_checkpoint(res.checkpoints.back());
  EXPECT_EQ(d.iteration, res.iteration);
}

TEST(Trainer, ClassificationWithPoolingAndCrossEntropyLearns) {
  const std::string text = R"(
[data]
file = "data.h5"
inputs = "X"
targets = "labels"
[[layer]]
type = "conv2d"
out_channels = 4
kernel = 3
[[layer]]
type = "relu"
[[layer]]
type = "maxpool"
size = 2
[[layer]]
type = "linear"
out = 4
[loss]
type = "softmax_cross_entropy"
[optimizer]
type = "adam"
lr = 0.01
[train]
iterations = 60
)";
  TrainCase r = make_run("train_cls", text, 16);
  const auto res = train(r.config, {});
  const CheckpointData d = read_checkpoint(res.checkpoints.back());
  EXPECT_EQ(d.probe_labels.size(), 16u);
  EXPECT_LT(d.history_loss.back(), 0.5 * d.history_loss.front());
}

TEST(Trainer, Float64TrainingStoresFloat64) {
  TrainCase r = make_run("train_f64", regression_config("dtype = \"float64\"\n"));
  const auto res = train(r.config, {});
  EXPECT_EQ(read_checkpoint(res.checkpoints.back()).dtype, "float64");
}

}  // namespace
}  // namespace cnndiag
