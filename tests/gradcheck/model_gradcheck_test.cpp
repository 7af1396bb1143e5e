// Whole models through the loss, in float64: every parameter of the seed network (net.toml), of
// the post's fuller network (full.toml) and of a classification network that uses every layer
// type, against central differences of the training objective E(θ). Tolerances are the shared
// harness' (atol 1e-8, rtol 1e-5; the reasoning is beside kGradcheckAtol in harness.hpp): the
// objectives here are O(1) sums, so a quotient's rounding error is ~ε·|E|/h ≈ 4e-11 (the report
// prints it as "rounding budget"), and any real backward bug is an O(1) relative error.
//
// The last tests inject the seed's own bug and a loss bug and require the same check to fail:
// the check can fail, and fails where it should.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "cnndiag/config.hpp"
#include "cnndiag/rng.hpp"
#include "cnndiag/trainer.hpp"
#include "gradcheck/model_harness.hpp"
#include "support/test_util.hpp"

namespace cnndiag {
namespace {

using testing::GradcheckReport;
using testing::gradcheck_model;
using testing::ModelGradcheckOptions;

// Moves every parameter to a random point where each nonlinearity is used in its curved range:
// weights N(0, 1/fan_in) (unit-scale pre-activations for unit-scale inputs), biases N(0, 0.3²).
void randomise_params(Model<double>& model, std::uint64_t seed) {
  Rng rng(seed);
  for (auto& [key, param] : model.named_params()) {
    const double fan_in = param->fan_in > 0 ? static_cast<double>(param->fan_in) : 1.0;
    const double std = param->is_bias ? 0.3 : 1.0 / std::sqrt(fan_in);
    for (Index i = 0; i < param->value.size(); ++i) param->value[i] += std * rng.normal();
  }
}

Index total_params(Model<double>& model) {
  Index n = 0;
  for (auto& [key, param] : model.named_params()) n += param->value.size();
  return n;
}

void show(const char* what, const GradcheckReport& report) {
  if (std::getenv("CNNDIAG_SHOW_GRADCHECK")) std::printf("%s%s\n", what, report.str().c_str());
}

// Every tensor passes, every parameter tensor is in the report, and (at most `max_skipped` of)
// the coordinates are compared, not skipped at kinks.
void expect_all_pass(Model<double>& model, const GradcheckReport& report, double max_skipped) {
  EXPECT_TRUE(report.ok()) << report.str();
  Index compared = 0, skipped = 0;
  for (const auto& t : report.tensors) {
    if (t.tensor == "x") continue;
    compared += t.checked;
    skipped += t.skipped_kinks;
    EXPECT_GT(t.checked, 0) << t.str();
  }
  EXPECT_EQ(report.tensors.size(), model.named_params().size() + 1);
  EXPECT_EQ(compared + skipped, total_params(model));
  EXPECT_LE(static_cast<double>(skipped), max_skipped * static_cast<double>(compared + skipped))
      << report.str();
}

struct Example {
  Config config;
  Workbench<double> wb;
};

Example open_example(const std::string& file) {
  Example e;
  e.config = load_config(test::source_dir() / "data/examples/seed" / file);
  e.wb = open_workbench<double>(e.config);
  e.wb.model->init(e.config.layers, e.config.train.seed);
  return e;
}

TEST(ModelGradcheck, SeedNetworkAtItsInitialisation) {
  Example e = open_example("net.toml");
  Model<double>& model = *e.wb.model;
  ASSERT_EQ(total_params(model), 1634);  // 9 + 1 + 1600 + 4 + 16 + 4 (BENCH.md B1)
  const Loss<double> loss(e.config.loss);
  const GradcheckReport report =
      gradcheck_model(model, loss, e.wb.batch.inputs, e.wb.batch.targets);
  show("seed net at init", report);
  expect_all_pass(model, report, 0.0);  // no kinks in conv → linear → sigmoid → linear
}

TEST(ModelGradcheck, SeedNetworkAwayFromItsInitialisation) {
  Example e = open_example("net.toml");
  Model<double>& model = *e.wb.model;
  randomise_params(model, 5);
  const Loss<double> loss(e.config.loss);
  const GradcheckReport report =
      gradcheck_model(model, loss, e.wb.batch.inputs, e.wb.batch.targets);
  show("seed net, random params", report);
  expect_all_pass(model, report, 0.0);
}

TEST(ModelGradcheck, FullNetworkWithReluAndMaxPool) {
  Example e = open_example("full.toml");
  Model<double>& model = *e.wb.model;
  const Loss<double> loss(e.config.loss);
  for (const bool random : {false, true}) {
    SCOPED_TRACE(random ? "random params" : "at init");
    if (random) randomise_params(model, 6);
    const GradcheckReport report =
        gradcheck_model(model, loss, e.wb.batch.inputs, e.wb.batch.targets);
    show(random ? "full net, random params" : "full net at init", report);
    // A parameter moves thousands of pre-activations at once, so a few coordinates may sit
    // within reach of a ReLU or max-pool kink; nearly all must still be compared.
    expect_all_pass(model, report, 0.02);
  }
}

// conv → batchnorm → relu → maxpool → conv → leaky_relu → avgpool → tanh → linear → sigmoid →
// linear, softmax cross-entropy over 3 classes: every layer type and the classification loss.
constexpr const char* kEveryLayerNet = R"(
[data]
file = "unused.h5"
[[layer]]
name = "conv1"
type = "conv2d"
out_channels = 3
kernel = 3
pad = 1
[[layer]]
name = "bn1"
type = "batchnorm"
[[layer]]
name = "relu1"
type = "relu"
[[layer]]
name = "pool1"
type = "maxpool"
size = 2
[[layer]]
name = "conv2"
type = "conv2d"
out_channels = 4
kernel = [2, 3]
stride = 1
pad = [0, 1]
[[layer]]
name = "lrelu2"
type = "leaky_relu"
negative_slope = 0.1
[[layer]]
name = "pool2"
type = "avgpool"
size = 2
stride = 1
[[layer]]
name = "tanh2"
type = "tanh"
[[layer]]
name = "fc1"
type = "linear"
out = 5
[[layer]]
name = "sig1"
type = "sigmoid"
[[layer]]
name = "fc2"
type = "linear"
out = 3
[loss]
type = "softmax_cross_entropy"
)";

struct ClassificationCase {
  Config config;
  std::unique_ptr<Model<double>> model;
  Tensor<double> x;
  Targets<double> targets;
};

ClassificationCase every_layer_case(std::uint64_t seed) {
  ClassificationCase c;
  c.config = parse_config(kEveryLayerNet, test::scratch_dir("model_gradcheck_cls") / "net.toml");
  const Shape input{2, 6, 7};
  c.model = std::make_unique<Model<double>>(c.config.layers, input);
  c.model->init(c.config.layers, seed);
  randomise_params(*c.model, seed + 1);  // batchnorm γ, β away from 1, 0
  Rng rng(seed + 2);
  c.x = Tensor<double>(input.with_batch(5));
  for (Index i = 0; i < c.x.size(); ++i) c.x[i] = rng.normal();
  for (Index i = 0; i < 5; ++i) c.targets.labels.push_back(i % 3);
  return c;
}

TEST(ModelGradcheck, ClassificationNetworkWithEveryLayerType) {
  ClassificationCase c = every_layer_case(7);
  const Loss<double> loss(c.config.loss);
  ASSERT_TRUE(loss.classification());
  const GradcheckReport report = gradcheck_model(*c.model, loss, c.x, c.targets);
  show("every layer type, softmax CE", report);
  expect_all_pass(*c.model, report, 0.05);
  EXPECT_GT(report["x"].checked, 0);
}

TEST(ModelGradcheck, BatchnormInInferenceModeAndSumReduction) {
  ClassificationCase c = every_layer_case(8);
  // Running statistics that differ from the batch's, so inference mode is a different function.
  for (auto& [key, buffer] : c.model->named_buffers())
    for (Index i = 0; i < buffer->value.size(); ++i)
      buffer->value[i] = key.ends_with("running_var") ? 0.5 + 0.1 * static_cast<double>(i)
                                                      : 0.2 * static_cast<double>(i) - 0.1;
  c.config.loss.reduction = "sum";
  c.config.loss.scale = 0.7;
  const Loss<double> loss(c.config.loss);
  ModelGradcheckOptions options;
  options.training = false;
  const GradcheckReport report = gradcheck_model(*c.model, loss, c.x, c.targets, options);
  show("inference mode, sum reduction", report);
  expect_all_pass(*c.model, report, 0.05);
}

// The seed's bug, injected: the check must fail on fc1 and conv1 and pass on fc2 (whose gradient
// does not go through the faulty sigmoid backward).
TEST(ModelGradcheck, CatchesTheSeedsSigmoidBug) {
  Example e = open_example("net.toml");
  e.config.layers[2].fault = "sigmoid_derivative_on_wrong_tensor";
  Model<double> model(e.config.layers, e.wb.model->input_shape());
  model.copy_params_from(*e.wb.model);
  randomise_params(model, 9);
  const Loss<double> loss(e.config.loss);
  const GradcheckReport report = gradcheck_model(model, loss, e.wb.batch.inputs,
                                                 e.wb.batch.targets);
  show("seed bug", report);
  EXPECT_FALSE(report.ok());
  EXPECT_TRUE(report["fc2.weight"].ok()) << report.str();
  EXPECT_TRUE(report["fc2.bias"].ok()) << report.str();
  EXPECT_FALSE(report["fc1.weight"].ok()) << report.str();
  EXPECT_FALSE(report["fc1.bias"].ok()) << report.str();
  EXPECT_FALSE(report["conv1.weight"].ok()) << report.str();
  EXPECT_FALSE(report["x"].ok()) << report.str();
}

TEST(ModelGradcheck, CatchesALossWithoutTheBatchMean) {
  Example e = open_example("net.toml");
  randomise_params(*e.wb.model, 10);
  e.config.loss.fault = "missing_batch_mean";
  const Loss<double> loss(e.config.loss);
  const GradcheckReport report =
      gradcheck_model(*e.wb.model, loss, e.wb.batch.inputs, e.wb.batch.targets);
  for (const auto& t : report.tensors) EXPECT_FALSE(t.ok()) << t.str();
  // Every gradient is N = 32 times too large.
  const auto& w = report["fc2.weight"];
  EXPECT_NEAR(w.analytic_at_worst / w.numeric_at_worst, 32.0, 1e-4);
}

}  // namespace
}  // namespace cnndiag
