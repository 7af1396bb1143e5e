// Every fault in the catalogue: forward is unchanged, the faulty backward differs from the correct
// one exactly where the bug says, and the gradient-check harness flags the tensor it corrupts
// (and only that one).

#include "cnndiag/faults.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "cnndiag/errors.hpp"
#include "cnndiag/init.hpp"
#include "cnndiag/layers/conv2d.hpp"
#include "cnndiag/layers/factory.hpp"
#include "cnndiag/layers/sigmoid.hpp"
#include "gradcheck/harness.hpp"
#include "layers/conv2d_reference.hpp"
#include "support/layer_builders.hpp"

namespace cnndiag {
namespace {

using testing::conv_config;
using testing::layer_config;
using testing::linear_config;
using testing::pool_config;

// One layer run on fixed random data, with or without a fault.
struct FaultRun {
  std::unique_ptr<Layer<double>> layer;
  Tensor<double> x, y, dy, dx;
  std::vector<Tensor<double>> grads;
  testing::GradcheckReport report;
};

FaultRun run(const LayerConfig& config, const Shape& input, Fault fault) {
  FaultRun r;
  r.layer = make_layer<double>(config, input);
  r.layer->set_fault(fault);
  Rng rng(17);
  InitSpec normal;
  normal.kind = InitSpec::Kind::kNormal;
  for (Param<double>& p : r.layer->params()) init_param(p, normal, rng);
  const Index N = 3;
  r.x = testing::random_input_away_from_kinks(*r.layer, N, rng, 1.0);
  r.dy = testing::random_tensor<double>(r.layer->output_shape().with_batch(N), rng);
  r.y.resize(r.layer->output_shape().with_batch(N));
  r.dx.resize(r.x.shape());
  r.layer->forward(r.x, r.y, true);
  for (Param<double>& p : r.layer->params()) p.grad.zero();
  r.layer->backward(r.x, r.y, r.dy, &r.dx);
  for (Param<double>& p : r.layer->params()) r.grads.push_back(p.grad);
  r.report = testing::gradcheck_layer(*r.layer, r.x, r.dy);
  return r;
}

bool same_bits(const Tensor<double>& a, const Tensor<double>& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(double)) == 0;
}

// The checks every fault shares: forward unchanged; the harness passes on the clean layer and
// flags exactly `flagged` (tensor names) on the faulty one; untouched gradients are bit-identical.
void expect_fault_caught(const FaultRun& clean, const FaultRun& faulty, std::vector<std::string> flagged) {
  EXPECT_TRUE(same_bits(clean.y, faulty.y)) << "a fault must not change forward";
  EXPECT_TRUE(clean.report.ok()) << clean.report.str();
  for (const testing::TensorCheck& t : faulty.report.tensors) {
    const bool should_flag =
        std::find(flagged.begin(), flagged.end(), t.tensor) != flagged.end();
    EXPECT_EQ(!t.ok(), should_flag) << t.str();
    if (t.tensor == "x" && !should_flag) {
      EXPECT_TRUE(same_bits(clean.dx, faulty.dx));
    }
  }
  for (std::size_t i = 0; i < clean.grads.size(); ++i) {
    const std::string& name = clean.layer->params()[i].name;
    if (std::find(flagged.begin(), flagged.end(), name) == flagged.end()) {
      EXPECT_TRUE(same_bits(clean.grads[i], faulty.grads[i])) << name << " changed";
    }
  }
}

TEST(Faults, CatalogueIdsMatchTheDesign) {
  const char* ids[] = {"sigmoid_derivative_on_wrong_tensor",
                       "derivative_omitted",
                       "derivative_on_input",
                       "derivative_reapplied",
                       "relu_mask_from_grad",
                       "missing_batch_mean",
                       "kernel_not_flipped",
                       "bias_grad_first_sample",
                       "maxpool_route_first"};
  ASSERT_EQ(fault_catalogue().size(), std::size(ids));
  for (std::size_t i = 0; i < std::size(ids); ++i) {
    EXPECT_EQ(fault_catalogue()[i].id, ids[i]);
    EXPECT_FALSE(fault_catalogue()[i].description.empty());
    const auto parsed = parse_fault(ids[i]);
    ASSERT_TRUE(parsed.has_value()) << ids[i];
    EXPECT_EQ(fault_id(*parsed), ids[i]);
  }
  EXPECT_FALSE(parse_fault("linear_input_sigmoid_mask").has_value());  // internal
  EXPECT_FALSE(parse_fault("none").has_value());
  EXPECT_EQ(fault_id(Fault::kLinearInputSigmoidMask), "linear_input_sigmoid_mask");
  EXPECT_TRUE(fault_applies_to(Fault::kMissingBatchMean, "loss"));
  EXPECT_FALSE(fault_applies_to(Fault::kMissingBatchMean, "linear"));
  EXPECT_TRUE(fault_applies_to(Fault::kDerivativeOmitted, "leaky_relu"));
  EXPECT_TRUE(fault_applies_to(Fault::kLinearInputSigmoidMask, "linear"));
  EXPECT_FALSE(fault_applies_to(Fault::kKernelNotFlipped, "linear"));
}

TEST(Faults, SetFaultOnAnUnsupportedLayerNamesLayerAndFault) {
  auto relu = make_layer<float>(layer_config("act1", "relu"), Shape{4});
  try {
    relu->set_fault(Fault::kDerivativeOnInput);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "layer 'act1' (relu): fault 'derivative_on_input' cannot be injected into a relu "
                 "layer (it applies to: sigmoid, tanh)");
  }
  auto fc = make_layer<float>(linear_config("fc1", 2), Shape{4});
  EXPECT_THROW(fc->set_fault(Fault::kMissingBatchMean), ConfigError);
  EXPECT_THROW(fc->set_fault(Fault::kKernelNotFlipped), ConfigError);
  auto sig = make_layer<float>(layer_config("sig1", "sigmoid"), Shape{4});
  EXPECT_THROW(sig->set_fault(Fault::kLinearInputSigmoidMask), ConfigError);
  EXPECT_NO_THROW(fc->set_fault(Fault::kLinearInputSigmoidMask));
  EXPECT_NO_THROW(fc->set_fault(Fault::kNone));
  EXPECT_EQ(fc->fault(), Fault::kNone);

  LayerConfig c = layer_config("sig1", "sigmoid");
  c.fault = "derivativ_omitted";
  EXPECT_THROW(make_layer<float>(c, Shape{4}), ConfigError);
  c.fault = "derivative_omitted";
  EXPECT_EQ(make_layer<float>(c, Shape{4})->fault(), Fault::kDerivativeOmitted);
}

// ---- activations ----------------------------------------------------------------------------

TEST(Faults, SigmoidDerivativeOmittedPassesDyThrough) {
  const auto cfg = layer_config("s", "sigmoid");
  const FaultRun clean = run(cfg, Shape{5}, Fault::kNone);
  for (Fault f : {Fault::kDerivativeOmitted, Fault::kSigmoidDerivativeOnWrongTensor}) {
    const FaultRun faulty = run(cfg, Shape{5}, f);
    EXPECT_TRUE(same_bits(faulty.dx, faulty.dy)) << fault_id(f);
    expect_fault_caught(clean, faulty, {"x"});
  }
}

TEST(Faults, SigmoidDerivativeOnInput) {
  const auto cfg = layer_config("s", "sigmoid");
  const FaultRun clean = run(cfg, Shape{5}, Fault::kNone);
  const FaultRun faulty = run(cfg, Shape{5}, Fault::kDerivativeOnInput);
  for (Index i = 0; i < faulty.dx.size(); ++i)
    EXPECT_DOUBLE_EQ(faulty.dx[i], faulty.dy[i] * faulty.x[i] * (1 - faulty.x[i]));
  expect_fault_caught(clean, faulty, {"x"});
}

TEST(Faults, SigmoidDerivativeReapplied) {
  const auto cfg = layer_config("s", "sigmoid");
  const FaultRun clean = run(cfg, Shape{5}, Fault::kNone);
  const FaultRun faulty = run(cfg, Shape{5}, Fault::kDerivativeReapplied);
  for (Index i = 0; i < faulty.dx.size(); ++i) {
    const double s = stable_sigmoid(faulty.y[i]);
    EXPECT_DOUBLE_EQ(faulty.dx[i], faulty.dy[i] * s * (1 - s));
  }
  expect_fault_caught(clean, faulty, {"x"});
}

TEST(Faults, TanhFaults) {
  const auto cfg = layer_config("t", "tanh");
  const FaultRun clean = run(cfg, Shape{2, 3}, Fault::kNone);
  const FaultRun omitted = run(cfg, Shape{2, 3}, Fault::kDerivativeOmitted);
  EXPECT_TRUE(same_bits(omitted.dx, omitted.dy));
  expect_fault_caught(clean, omitted, {"x"});
  const FaultRun on_input = run(cfg, Shape{2, 3}, Fault::kDerivativeOnInput);
  for (Index i = 0; i < on_input.dx.size(); ++i)
    EXPECT_DOUBLE_EQ(on_input.dx[i], on_input.dy[i] * (1 - on_input.x[i] * on_input.x[i]));
  expect_fault_caught(clean, on_input, {"x"});
  const FaultRun reapplied = run(cfg, Shape{2, 3}, Fault::kDerivativeReapplied);
  for (Index i = 0; i < reapplied.dx.size(); ++i) {
    const double t = std::tanh(reapplied.y[i]);
    EXPECT_DOUBLE_EQ(reapplied.dx[i], reapplied.dy[i] * (1 - t * t));
  }
  expect_fault_caught(clean, reapplied, {"x"});
}

TEST(Faults, ReluAndLeakyReluFaults) {
  for (const char* type : {"relu", "leaky_relu"}) {
    LayerConfig cfg = layer_config("r", type);
    cfg.negative_slope = 0.1;
    const double a = std::string(type) == "relu" ? 0.0 : 0.1;
    const FaultRun clean = run(cfg, Shape{12}, Fault::kNone);
    const FaultRun omitted = run(cfg, Shape{12}, Fault::kDerivativeOmitted);
    EXPECT_TRUE(same_bits(omitted.dx, omitted.dy)) << type;
    expect_fault_caught(clean, omitted, {"x"});
    const FaultRun from_grad = run(cfg, Shape{12}, Fault::kReluMaskFromGrad);
    for (Index i = 0; i < from_grad.dx.size(); ++i) {
      const double dy = from_grad.dy[i];
      EXPECT_DOUBLE_EQ(from_grad.dx[i], dy > 0 ? dy : a * dy) << type << " at " << i;
    }
    expect_fault_caught(clean, from_grad, {"x"});
  }
}

// ---- conv2d ---------------------------------------------------------------------------------

TEST(Faults, KernelNotFlippedCorrelatesWithTheRotatedKernel) {
  const auto cfg = conv_config("conv1", 3, 3, 2, 2, 1);
  const Shape input{2, 6, 5};
  const FaultRun clean = run(cfg, input, Fault::kNone);
  const FaultRun faulty = run(cfg, input, Fault::kKernelNotFlipped);
  // The faulty dx is exactly the correct backward-data of a conv whose kernels are rotated 180°.
  const Tensor<double>& w = faulty.layer->params()[0].value;
  Tensor<double> rotated(w.shape());
  const Index KH = w.dim(2), KW = w.dim(3);
  for (Index k = 0; k < w.dim(0) * w.dim(1); ++k)
    for (Index kh = 0; kh < KH; ++kh)
      for (Index kw = 0; kw < KW; ++kw)
        rotated[(k * KH + kh) * KW + kw] = w[(k * KH + (KH - 1 - kh)) * KW + (KW - 1 - kw)];
  const auto& geometry = static_cast<const Conv2d<double>&>(*faulty.layer).geometry();
  Tensor<double> dx_ref(faulty.x.shape()), dw_unused(w.shape());
  reference::conv2d_backward<double>(faulty.x, rotated, faulty.dy, geometry, dx_ref, dw_unused,
                                     nullptr);
  for (Index i = 0; i < dx_ref.size(); ++i) EXPECT_NEAR(faulty.dx[i], dx_ref[i], 1e-12);
  expect_fault_caught(clean, faulty, {"x"});
}

TEST(Faults, ConvBiasGradFirstSample) {
  const auto cfg = conv_config("conv1", 2, 3, 3, 1, 1);
  const FaultRun clean = run(cfg, Shape{1, 5, 5}, Fault::kNone);
  const FaultRun faulty = run(cfg, Shape{1, 5, 5}, Fault::kBiasGradFirstSample);
  const Index P = 25;
  for (Index oc = 0; oc < 2; ++oc) {
    double sample0 = 0;
    for (Index p = 0; p < P; ++p) sample0 += faulty.dy[oc * P + p];
    EXPECT_NEAR(faulty.grads[1][oc], sample0, 1e-12);
  }
  expect_fault_caught(clean, faulty, {"bias"});
}

// ---- linear ---------------------------------------------------------------------------------

TEST(Faults, LinearBiasGradFirstSample) {
  const auto cfg = linear_config("fc1", 4);
  const FaultRun clean = run(cfg, Shape{6}, Fault::kNone);
  const FaultRun faulty = run(cfg, Shape{6}, Fault::kBiasGradFirstSample);
  for (Index j = 0; j < 4; ++j) EXPECT_DOUBLE_EQ(faulty.grads[1][j], faulty.dy[j]);
  expect_fault_caught(clean, faulty, {"bias"});
}

TEST(Faults, LinearInputSigmoidMaskIsTheSeedsLinearHalf) {
  const auto cfg = linear_config("fc1", 4);
  const FaultRun clean = run(cfg, Shape{6}, Fault::kNone);
  const FaultRun faulty = run(cfg, Shape{6}, Fault::kLinearInputSigmoidMask);
  for (Index i = 0; i < faulty.dx.size(); ++i)
    EXPECT_NEAR(faulty.dx[i], clean.dx[i] * faulty.x[i] * (1 - faulty.x[i]), 1e-14);
  expect_fault_caught(clean, faulty, {"x"});
}

// ---- maxpool --------------------------------------------------------------------------------

TEST(Faults, MaxpoolRouteFirst) {
  const auto cfg = pool_config("pool1", "maxpool", 2, 2);
  const Shape input{2, 4, 4};
  const FaultRun clean = run(cfg, input, Fault::kNone);
  const FaultRun faulty = run(cfg, input, Fault::kMaxpoolRouteFirst);
  // Non-overlapping 2×2 windows: dy lands on each window's top-left element only.
  for (Index plane = 0; plane < 3 * 2; ++plane)
    for (Index h = 0; h < 4; ++h)
      for (Index w = 0; w < 4; ++w) {
        const Index i = plane * 16 + h * 4 + w;
        const double expected =
            (h % 2 == 0 && w % 2 == 0) ? faulty.dy[plane * 4 + (h / 2) * 2 + w / 2] : 0.0;
        EXPECT_EQ(faulty.dx[i], expected) << i;
      }
  expect_fault_caught(clean, faulty, {"x"});
}

}  // namespace
}  // namespace cnndiag
