#include "cnndiag/layers/maxpool.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "cnndiag/errors.hpp"
#include "cnndiag/layers/factory.hpp"
#include "cnndiag/rng.hpp"
#include "support/alloc_counter.hpp"
#include "support/layer_builders.hpp"

namespace cnndiag {
namespace {

using testing::pool_config;
using testing::tensor_of;

PoolOptions square(Index size, Index stride, Index pad = 0) {
  return {size, size, stride, stride, pad, pad};
}

TEST(MaxPool, TwoByTwoStrideTwoValuesAndArgmax) {
  MaxPool<double> pool("p", Shape{1, 4, 4}, square(2, 2));
  const auto x = tensor_of<double>(Shape{1, 1, 4, 4}, {1, 3, 0, 2,  //
                                                       4, 2, 9, 1,  //
                                                       0, 0, 5, 6,  //
                                                       7, 1, 6, 8});
  Tensor<double> y(Shape{1, 1, 2, 2});
  pool.forward(x, y, true);
  EXPECT_EQ(y[0], 4);
  EXPECT_EQ(y[1], 9);
  EXPECT_EQ(y[2], 7);
  EXPECT_EQ(y[3], 8);
  const auto arg = pool.argmax();
  ASSERT_EQ(arg.size(), 4u);
  EXPECT_EQ(arg[0], 4);   // (1,0)
  EXPECT_EQ(arg[1], 6);   // (1,2)
  EXPECT_EQ(arg[2], 12);  // (3,0)
  EXPECT_EQ(arg[3], 15);  // (3,3)

  const auto dy = tensor_of<double>(Shape{1, 1, 2, 2}, {10, 20, 30, 40});
  Tensor<double> dx(x.shape(), -1.0);
  pool.backward(x, y, dy, &dx);
  for (Index i = 0; i < 16; ++i) {
    const double expected = i == 4 ? 10 : i == 6 ? 20 : i == 12 ? 30 : i == 15 ? 40 : 0;
    EXPECT_EQ(dx[i], expected) << "at " << i;
  }
}

TEST(MaxPool, TiesGoToTheFirstMaximumInScanOrder) {
  MaxPool<float> pool("p", Shape{1, 2, 2}, square(2, 2));
  const auto x = tensor_of<float>(Shape{1, 1, 2, 2}, {1, 5, 5, 5});
  Tensor<float> y(Shape{1, 1, 1, 1});
  pool.forward(x, y, true);
  EXPECT_EQ(y[0], 5);
  EXPECT_EQ(pool.argmax()[0], 1);
}

TEST(MaxPool, PaddingIsMinusInfinityNotZero) {
  // All inputs negative: with zero padding the border windows would give 0.
  MaxPool<double> pool("p", Shape{1, 3, 3}, square(2, 2, 1));
  EXPECT_EQ(pool.output_shape(), (Shape{1, 2, 2}));
  Tensor<double> x(Shape{1, 1, 3, 3});
  for (Index i = 0; i < 9; ++i) x[i] = -1.0 - static_cast<double>(i);
  Tensor<double> y(Shape{1, 1, 2, 2});
  pool.forward(x, y, true);
  EXPECT_EQ(y[0], -1);  // window rows −1..0, cols −1..0: only x(0,0)
  EXPECT_EQ(y[1], -2);  // x(0,1), x(0,2) → −2
  EXPECT_EQ(y[2], -4);
  EXPECT_EQ(y[3], -5);
}

TEST(MaxPool, NanPropagates) {
  MaxPool<double> pool("p", Shape{1, 2, 2}, square(2, 2));
  const auto x = tensor_of<double>(Shape{1, 1, 2, 2}, {1, std::nan(""), 3, 2});
  Tensor<double> y(Shape{1, 1, 1, 1});
  pool.forward(x, y, true);
  EXPECT_TRUE(std::isnan(y[0]));
}

TEST(MaxPool, OverlappingWindowsAccumulateInBackward) {
  // 3-wide windows at stride 1 over one row: the middle max wins all three windows.
  MaxPool<double> pool("p", Shape{1, 1, 5}, {1, 3, 1, 1, 0, 0});
  const auto x = tensor_of<double>(Shape{1, 1, 1, 5}, {0, 1, 9, 1, 0});
  Tensor<double> y(Shape{1, 1, 1, 3}), dx(x.shape());
  pool.forward(x, y, true);
  pool.backward(x, y, tensor_of<double>(y.shape(), {1, 2, 4}), &dx);
  EXPECT_EQ(dx[2], 7);
  EXPECT_EQ(dx[0] + dx[1] + dx[3] + dx[4], 0);
}

TEST(MaxPool, KinkDistanceIsTheGapToATie) {
  MaxPool<double> pool("p", Shape{1, 2, 4}, square(2, 2));
  const auto x = tensor_of<double>(Shape{1, 1, 2, 4}, {1.0, 3.0, 0.0, 0.0,  //
                                                       2.5, 0.0, 0.0, 0.0});
  Tensor<double> d;
  pool.kink_distance(x, d);
  EXPECT_DOUBLE_EQ(d[1], 0.5);  // the max, 0.5 above the runner-up 2.5
  EXPECT_DOUBLE_EQ(d[4], 0.5);  // the runner-up, 0.5 below the max
  EXPECT_DOUBLE_EQ(d[0], 2.0);
  EXPECT_DOUBLE_EQ(d[2], 0.0);  // an all-zero window is a four-way tie
}

TEST(MaxPool, KinkDistanceIsInfiniteOutsideEveryWindow) {
  MaxPool<double> pool("p", Shape{1, 3, 3}, square(2, 2));  // row 2 and column 2 are dropped
  Tensor<double> x(Shape{1, 1, 3, 3});
  for (Index i = 0; i < 9; ++i) x[i] = static_cast<double>(i);
  Tensor<double> d;
  pool.kink_distance(x, d);
  EXPECT_TRUE(std::isinf(d[8]));
  EXPECT_TRUE(std::isinf(d[2]));
  EXPECT_DOUBLE_EQ(d[4], 1.0);
}

TEST(MaxPool, NoAllocationAfterReserve) {
  if (!testing::AllocationCounter::supported()) GTEST_SKIP() << "allocations not observable";
  MaxPool<float> pool("p", Shape{4, 12, 12}, square(2, 2));
  Rng rng(1);
  const auto x = testing::random_tensor<float>(Shape{8, 4, 12, 12}, rng);
  Tensor<float> y(Shape{8, 4, 6, 6}), dx(x.shape());
  const auto dy = testing::random_tensor<float>(y.shape(), rng);
  pool.reserve(8);
  testing::AllocationCounter counter;
  for (int i = 0; i < 2; ++i) {
    pool.forward(x, y, true);
    pool.backward(x, y, dy, &dx);
  }
  EXPECT_EQ(counter.count(), 0);
}

TEST(MaxPool, SettingsThatDoNotFit) {
  try {
    make_layer<float>(pool_config("pool1", "maxpool", 2, 2), Shape{400});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(
        e.what(),
        "layer 'pool1' (maxpool) needs a (C,H,W) input, got (400) from the previous layer");
  }
  try {
    make_layer<float>(pool_config("pool1", "maxpool", 5, 1), Shape{3, 4, 4});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(),
                 "layer 'pool1' (maxpool): window 5×5 with pad 0 does not fit input "
                 "(3,4,4) (padded 4×4)");
  }
  EXPECT_THROW(make_layer<float>(pool_config("p", "maxpool", 2, 2, 2), Shape{1, 4, 4}),
               ConfigError);
  EXPECT_THROW(make_layer<float>(pool_config("p", "maxpool", 0, 1), Shape{1, 4, 4}), ConfigError);
}

// The float 2×2 / stride 2 fast paths (AVX-512 where the CPU has it, else SSE2) against the
// double path's plain loops, on rows of every length class (a partial 16-output step, exactly 16,
// more than 16), odd H and W (an uncovered last row / column), ties and NaNs: the same outputs,
// argmax and data gradient, and backward overwrites dx completely.
TEST(MaxPool, FloatTwoByTwoFastPathMatchesPlainLoops) {
  const Shape shapes[] = {Shape{2, 5, 5},  Shape{3, 28, 28}, Shape{1, 7, 33},
                          Shape{2, 4, 32}, Shape{1, 3, 40},  Shape{2, 16, 16}};
  Rng rng(3);
  for (const Shape& shape : shapes) {
    MaxPool<float> fast("p", shape, square(2, 2));
    MaxPool<double> plain("p", shape, square(2, 2));
    const Index n = 2;
    Tensor<float> x(shape.with_batch(n));
    for (Index i = 0; i < x.size(); ++i)  // few distinct values: many ties
      x[i] = static_cast<float>(std::floor(rng.uniform(0.0, 4.0)));
    x[3] = std::numeric_limits<float>::quiet_NaN();
    x[x.size() - 7] = std::numeric_limits<float>::quiet_NaN();
    const Tensor<double> xd = x.cast<double>();
    Tensor<float> y(fast.output_shape().with_batch(n));
    Tensor<double> yd(plain.output_shape().with_batch(n));
    fast.forward(x, y, true);
    plain.forward(xd, yd, true);
    ASSERT_EQ(fast.argmax().size(), plain.argmax().size());
    for (Index i = 0; i < y.size(); ++i) {
      if (std::isnan(yd[i])) {
        EXPECT_TRUE(std::isnan(y[i])) << shape.str() << " at " << i;
      } else {
        EXPECT_EQ(y[i], yd[i]) << shape.str() << " at " << i;
      }
      EXPECT_EQ(fast.argmax()[static_cast<std::size_t>(i)],
                plain.argmax()[static_cast<std::size_t>(i)])
          << shape.str() << " at " << i;
    }
    Tensor<float> dy(y.shape());
    for (Index i = 0; i < dy.size(); ++i) dy[i] = static_cast<float>(i + 1);
    Tensor<float> dx(x.shape(), -1.0f);
    Tensor<double> dxd(x.shape(), -1.0);
    fast.backward(x, y, dy, &dx);
    plain.backward(xd, yd, dy.cast<double>(), &dxd);
    for (Index i = 0; i < dx.size(); ++i) EXPECT_EQ(dx[i], dxd[i]) << shape.str() << " at " << i;
  }
}

}  // namespace
}  // namespace cnndiag
