// The seed example, trained as the post trained it (data/examples/seed/net.toml: 10000 steps,
// float32), shows what the post saw: weight decay λ = 500 at lr 0.003 (lr·λ = 1.5) drives every
// weight tensor to ~0, so the network's output is its biases — the same four numbers for all 32
// samples — although the loss went down. (DESIGN.md §1; about 0.7 s in a release build.)

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cnndiag/checkpoint.hpp"
#include "cnndiag/config.hpp"
#include "cnndiag/trainer.hpp"
#include "support/test_util.hpp"

namespace cnndiag {
namespace {

double max_abs(const Tensor<double>& t) {
  double m = 0;
  for (Index i = 0; i < t.size(); ++i) m = std::max(m, std::abs(t[i]));
  return m;
}

// Spread across samples of a layer's output A (N × D): ρ = ‖A − mean_samples(A)‖_F / ‖A‖_F,
// DESIGN.md §6's collapse measure, computed here on its own (not through the probe).
template <typename T>
double spread(const Tensor<T>& a) {
  const Index n = a.dim(0), d = a.size() / n;
  double deviation = 0, total = 0;
  for (Index j = 0; j < d; ++j) {
    double mean = 0;
    for (Index i = 0; i < n; ++i) mean += static_cast<double>(a[i * d + j]);
    mean /= static_cast<double>(n);
    for (Index i = 0; i < n; ++i) {
      const double v = static_cast<double>(a[i * d + j]);
      deviation += (v - mean) * (v - mean);
      total += v * v;
    }
  }
  return total > 0 ? std::sqrt(deviation / total) : 0.0;
}

TEST(SeedCollapse, TrainedSeedNetworkGivesTheSameOutputForEverySample) {
  const Config config = load_config(test::source_dir() / "data/examples/seed/net.toml");
  ASSERT_EQ(config.train.iterations, 10000);
  TrainOptions options;
  options.out_dir = test::scratch_dir("seed_collapse");
  const TrainResult result = train(config, options);
  ASSERT_EQ(result.stop, TrainResult::Stop::kFinished);
  // 0, 1000, …, 10000 and the ten early ones of `[checkpoint] at` (1, 2, 3, 5, … 500)
  ASSERT_EQ(result.checkpoints.size(), 21u);
  const CheckpointData first = read_checkpoint(result.checkpoints.front());
  const CheckpointData last = read_checkpoint(result.checkpoints.back());
  ASSERT_EQ(last.iteration, 10000);

  // The training error "looks normal": it went down.
  EXPECT_LT(last.history_loss.back(), last.history_loss.front());

  // Every weight tensor ends near zero, orders of magnitude below its initial size.
  for (const char* key : {"conv1.weight", "fc1.weight", "fc2.weight"}) {
    const double before = max_abs(first.find_param(key)->value);
    const double after = max_abs(last.find_param(key)->value);
    std::printf("[ seed     ] %s: max|w| %.3g at init, %.3g after 10000 steps\n", key, before,
                after);
    EXPECT_GT(before, 1e-3) << key;
    EXPECT_LT(after, 1e-3 * before) << key;
  }

  // The outputs: the trained model on the 32 samples it trained on.
  Workbench<float> wb = open_workbench<float>(config);
  Model<float>& model = *wb.model;
  for (auto& [key, param] : model.named_params())
    param->value = last.find_param(key)->value.cast<float>();
  model.reserve(wb.batch.inputs.dim(0));
  const Tensor<float>& y = model.forward(wb.batch.inputs, false);
  ASSERT_EQ(y.shape(), (Shape{32, 4}));
  const double rho_out = spread(y);
  const double rho_conv = spread(model.activation(0));
  const double rho_in = spread(wb.batch.inputs);
  std::printf("[ seed     ] spread across samples: input %.3g, conv1 %.3g, output %.3g\n",
              rho_in, rho_conv, rho_out);
  EXPECT_GT(rho_in, 0.1);     // the inputs differ
  EXPECT_LT(rho_conv, 1e-4);  // the conv output is already the same for every sample
  EXPECT_LT(rho_out, 1e-4);   // and so is the output
  // The same four numbers, sample after sample, up to float32 rounding.
  for (Index i = 1; i < 32; ++i)
    for (Index k = 0; k < 4; ++k)
      EXPECT_NEAR(y[i * 4 + k], y[k], 1e-5 * std::abs(y[k]) + 1e-7) << "sample " << i;

  // At the initialisation, the same network did tell the samples apart.
  for (auto& [key, param] : model.named_params())
    param->value = first.find_param(key)->value.cast<float>();
  model.forward(wb.batch.inputs, false);
  EXPECT_GT(spread(model.activation(0)), 1e-2);
}

}  // namespace
}  // namespace cnndiag
