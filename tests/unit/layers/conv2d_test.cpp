#include "cnndiag/layers/conv2d.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "cnndiag/errors.hpp"
#include "cnndiag/layers/factory.hpp"
#include "cnndiag/parallel.hpp"
#include "layers/conv2d_reference.hpp"
#include "support/alloc_counter.hpp"
#include "support/layer_builders.hpp"

namespace cnndiag {
namespace {

using testing::conv_config;
using testing::random_tensor;
using testing::tensor_of;

// Restores the thread count a test changed.
struct ThreadCountGuard {
  int saved = num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

template <typename T>
void randomize_params(Layer<T>& layer, Rng& rng) {
  for (Param<T>& p : layer.params())
    for (Index i = 0; i < p.value.size(); ++i) p.value[i] = static_cast<T>(rng.normal());
}

TEST(Conv2d, SobelOnA3x3ImageWithPadOneAndBias) {
  // x = 1..9 row-major, w = Sobel-x, b = 0.5, pad 1. Corner (0,0) sees x(0,0), x(0,1), x(1,0),
  // x(1,1) under w(1,1) = 0, w(1,2) = −2, w(2,1) = 0, w(2,2) = −1: −2·2 − 5 + 0.5 = −8.5.
  // Centre: (1 − 3) + 2·(4 − 6) + (7 − 9) + 0.5 = −7.5.
  Conv2d<double> conv("conv1", Shape{1, 3, 3}, {1, 3, 3, 1, 1, 1, 1, true});
  conv.params()[0].value = tensor_of<double>(Shape{1, 1, 3, 3}, {1, 0, -1, 2, 0, -2, 1, 0, -1});
  conv.params()[1].value[0] = 0.5;
  const auto x = tensor_of<double>(Shape{1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor<double> y(Shape{1, 1, 3, 3});
  conv.forward(x, y, true);
  const double expected[] = {-8.5, -5.5, 9.5, -19.5, -7.5, 20.5, -20.5, -5.5, 21.5};
  for (Index i = 0; i < 9; ++i) EXPECT_DOUBLE_EQ(y[i], expected[i]) << "at " << i;
}

TEST(Conv2d, Stride2Pad1On4x4) {
  // 2×2 kernel [[1,2],[3,4]] at stride 2 over x = 1..16 padded by 1: output 3×3; the centre
  // window reads x(1,1), x(1,2), x(2,1), x(2,2) = 6, 7, 10, 11 → 6 + 14 + 30 + 44 = 94.
  Conv2d<float> conv("c", Shape{1, 4, 4}, {1, 2, 2, 2, 2, 1, 1, false});
  conv.params()[0].value = tensor_of<float>(Shape{1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor<float> x(Shape{1, 1, 4, 4});
  for (Index i = 0; i < 16; ++i) x[i] = static_cast<float>(i + 1);
  EXPECT_EQ(conv.output_shape(), (Shape{1, 3, 3}));
  Tensor<float> y(Shape{1, 1, 3, 3});
  conv.forward(x, y, true);
  const float expected[] = {4, 18, 12, 46, 94, 44, 26, 44, 16};
  for (Index i = 0; i < 9; ++i) EXPECT_FLOAT_EQ(y[i], expected[i]) << "at " << i;
}

TEST(Conv2d, ParamsShapesAndFans) {
  Conv2d<float> conv("c", Shape{3, 8, 8}, {5, 3, 2, 1, 1, 0, 0, true});
  ASSERT_EQ(conv.params().size(), 2u);
  EXPECT_EQ(conv.params()[0].name, "weight");
  EXPECT_EQ(conv.params()[0].value.shape(), (Shape{5, 3, 3, 2}));
  EXPECT_EQ(conv.params()[0].fan_in, 3 * 3 * 2);
  EXPECT_EQ(conv.params()[0].fan_out, 5 * 3 * 2);
  EXPECT_FALSE(conv.params()[0].is_bias);
  EXPECT_EQ(conv.params()[1].name, "bias");
  EXPECT_TRUE(conv.params()[1].is_bias);
  EXPECT_EQ(conv.output_shape(), (Shape{5, 6, 7}));
}

struct ConvCase {
  Shape input;
  Conv2dOptions options;
};

// The fast im2col/GEMM path against the 7-loop definition, forward and backward, on shapes
// chosen to hit every edge case of the valid-range arithmetic.
TEST(Conv2d, FastMatchesNaiveReferenceOnOddShapes) {
  const ConvCase cases[] = {
      {Shape{1, 5, 5}, {1, 3, 3, 1, 1, 1, 1, true}},
      {Shape{3, 7, 6}, {4, 3, 2, 2, 2, 2, 2, true}},   // stride 2, pad 2, non-square kernel
      {Shape{2, 9, 5}, {3, 1, 4, 1, 3, 0, 2, false}},  // 1×4 kernel, mixed stride/pad
      {Shape{2, 3, 3}, {2, 5, 5, 1, 1, 2, 2, true}},   // kernel larger than the input
      {Shape{1, 1, 8}, {2, 1, 3, 1, 2, 0, 1, true}},   // a single row
      {Shape{2, 6, 6}, {3, 3, 3, 3, 3, 1, 1, true}},   // stride equal to the kernel
      // "Same" shape at stride 1 with more than 8 channel pairs: im2col/col2im's shifted-row path.
      {Shape{3, 5, 7}, {4, 3, 3, 1, 1, 1, 1, true}},
      {Shape{3, 4, 6}, {3, 5, 5, 1, 1, 2, 2, true}},   // kernel taller than the input
      {Shape{3, 2, 2}, {3, 5, 5, 1, 1, 2, 2, false}},  // kernel larger than the input
      {Shape{4, 6, 5}, {3, 3, 1, 1, 1, 1, 0, true}},   // 3×1 kernel, pad (1, 0)
      {Shape{3, 3, 8}, {5, 1, 3, 1, 1, 0, 1, true}},   // 1×3 kernel, pad (0, 1)
  };
  Rng rng(11);
  for (const ConvCase& c : cases) {
    Conv2d<double> conv("c", c.input, c.options);
    randomize_params(conv, rng);
    const Index N = 3;
    const auto x = random_tensor<double>(c.input.with_batch(N), rng);
    Tensor<double> y(conv.output_shape().with_batch(N)), y_ref(y.shape());
    conv.forward(x, y, true);
    const Tensor<double>* bias = c.options.bias ? &conv.params()[1].value : nullptr;
    reference::conv2d_forward(x, conv.params()[0].value, bias, conv.geometry(), y_ref);
    for (Index i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], y_ref[i], 1e-12) << c.input.str();

    const auto dy = random_tensor<double>(y.shape(), rng);
    Tensor<double> dx(x.shape(), 7.0), dx_ref(x.shape());
    Tensor<double> dw_ref(conv.params()[0].value.shape()), db_ref(Shape{c.options.out_channels});
    for (Param<double>& p : conv.params()) p.grad.zero();
    conv.backward(x, y, dy, &dx);
    reference::conv2d_backward(x, conv.params()[0].value, dy, conv.geometry(), dx_ref, dw_ref,
                               c.options.bias ? &db_ref : nullptr);
    for (Index i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx[i], dx_ref[i], 1e-12) << c.input.str();
    for (Index i = 0; i < dw_ref.size(); ++i)
      ASSERT_NEAR(conv.params()[0].grad[i], dw_ref[i], 1e-12) << c.input.str();
    if (c.options.bias) {
      for (Index i = 0; i < db_ref.size(); ++i)
        ASSERT_NEAR(conv.params()[1].grad[i], db_ref[i], 1e-12) << c.input.str();
    }
  }
}

// Runs forward + backward on a batch big enough to be split across threads.
std::vector<float> run_conv(int threads) {
  set_num_threads(threads);
  Conv2d<float> conv("c", Shape{3, 16, 16}, {8, 3, 3, 1, 1, 1, 1, true});
  Rng rng(5);
  randomize_params(conv, rng);
  const auto x = random_tensor<float>(Shape{9, 3, 16, 16}, rng);
  Tensor<float> y(Shape{9, 8, 16, 16});
  conv.forward(x, y, true);
  const auto dy = random_tensor<float>(y.shape(), rng);
  Tensor<float> dx(x.shape());
  conv.backward(x, y, dy, &dx);
  std::vector<float> out(y.span().begin(), y.span().end());
  out.insert(out.end(), dx.span().begin(), dx.span().end());
  for (const Param<float>& p : conv.params())
    out.insert(out.end(), p.grad.span().begin(), p.grad.span().end());
  return out;
}

TEST(Conv2d, DeterministicForAGivenThreadCount) {
  ThreadCountGuard guard;
  const std::vector<float> one_a = run_conv(1), one_b = run_conv(1);
  const std::vector<float> two_a = run_conv(2), two_b = run_conv(2);
  ASSERT_EQ(one_a.size(), two_a.size());
  EXPECT_EQ(0, std::memcmp(one_a.data(), one_b.data(), one_a.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(two_a.data(), two_b.data(), two_a.size() * sizeof(float)));
  // 1 vs 2 threads: the weight-gradient partial sums are grouped differently, so only equal up
  // to rounding.
  for (std::size_t i = 0; i < one_a.size(); ++i)
    EXPECT_NEAR(one_a[i], two_a[i], 1e-3f * (1.0f + std::abs(one_a[i]))) << i;
}

TEST(Conv2d, NoAllocationAfterReserve) {
  if (!testing::AllocationCounter::supported()) GTEST_SKIP() << "allocations not observable";
  ThreadCountGuard guard;
  set_num_threads(2);
  // B3's second conv (32→64, 3×3 on 16×16): big enough that an untiled Eigen GEMM would
  // malloc its packing buffers on every product.
  Conv2d<float> conv("c", Shape{32, 16, 16}, {64, 3, 3, 1, 1, 1, 1, true});
  Rng rng(2);
  randomize_params(conv, rng);
  const auto x = random_tensor<float>(Shape{4, 32, 16, 16}, rng);
  Tensor<float> y(Shape{4, 64, 16, 16}), dx(x.shape());
  const auto dy = random_tensor<float>(y.shape(), rng);
  conv.reserve(4);
  const float* grad_before = conv.params()[0].grad.data();
  testing::AllocationCounter counter;
  for (int step = 0; step < 2; ++step) {
    conv.forward(x, y, true);
    conv.backward(x, y, dy, &dx);
  }
  EXPECT_EQ(counter.count(), 0);
  EXPECT_EQ(conv.params()[0].grad.data(), grad_before);
}

TEST(Conv2d, ShapeErrorsNameLayerTypeAndInput) {
  try {
    make_layer<float>(conv_config("conv2", 6, 3, 3), Shape{400});
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(),
                 "layer 'conv2' (conv2d) needs a (C,H,W) input, got (400) from the previous layer");
  }
  try {
    make_layer<float>(conv_config("conv2", 6, 5, 5), Shape{16, 3, 3});
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(),
                 "layer 'conv2' (conv2d): kernel 5×5 with pad 0 does not fit input (16,3,3) "
                 "(padded 3×3)");
  }
  EXPECT_THROW(make_layer<float>(conv_config("c", 0, 3, 3), Shape{1, 5, 5}), ShapeError);
  EXPECT_THROW(make_layer<float>(conv_config("c", 1, 3, 3, 0), Shape{1, 5, 5}), ConfigError);
  EXPECT_THROW(make_layer<float>(conv_config("c", 1, 3, 3, 1, -1), Shape{1, 5, 5}), ConfigError);
  // With pad 1 a 5×5 kernel fits a 3×3 input.
  EXPECT_NO_THROW(make_layer<float>(conv_config("c", 1, 5, 5, 1, 1), Shape{1, 3, 3}));
}

}  // namespace
}  // namespace cnndiag
