#include "cnndiag/layers/avgpool.hpp"

#include <gtest/gtest.h>

#include "cnndiag/errors.hpp"
#include "support/layer_builders.hpp"

namespace cnndiag {
namespace {

using testing::tensor_of;

TEST(AvgPool, TwoByTwoStrideTwo) {
  AvgPool<double> pool("p", Shape{1, 2, 4}, {2, 2, 2, 2, 0, 0});
  const auto x = tensor_of<double>(Shape{1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  Tensor<double> y(Shape{1, 1, 1, 2});
  pool.forward(x, y, true);
  EXPECT_DOUBLE_EQ(y[0], (1 + 2 + 5 + 6) / 4.0);
  EXPECT_DOUBLE_EQ(y[1], (3 + 4 + 7 + 8) / 4.0);
}

TEST(AvgPool, PaddedCellsCountAsZeroInTheFullWindow) {
  // count_include_pad=True: each corner window holds one real element and three padded zeros,
  // so it averages to x/4 (MatConvNet would give x/1).
  AvgPool<double> pool("p", Shape{1, 2, 2}, {2, 2, 2, 2, 1, 1});
  EXPECT_EQ(pool.output_shape(), (Shape{1, 2, 2}));
  const auto x = tensor_of<double>(Shape{1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor<double> y(Shape{1, 1, 2, 2});
  pool.forward(x, y, true);
  for (Index i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(y[i], x[i] / 4.0);

  Tensor<double> dx(x.shape(), 99.0);
  pool.backward(x, y, tensor_of<double>(y.shape(), {4, 8, 12, 16}), &dx);
  for (Index i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(dx[i], static_cast<double>(i + 1));
}

TEST(AvgPool, OverlappingWindowsShareTheGradient) {
  AvgPool<double> pool("p", Shape{1, 1, 3}, {1, 2, 1, 1, 0, 0});
  const auto x = tensor_of<double>(Shape{1, 1, 1, 3}, {1, 2, 3});
  Tensor<double> y(Shape{1, 1, 1, 2}), dx(x.shape());
  pool.forward(x, y, true);
  EXPECT_DOUBLE_EQ(y[0], 1.5);
  EXPECT_DOUBLE_EQ(y[1], 2.5);
  pool.backward(x, y, tensor_of<double>(y.shape(), {2, 4}), &dx);
  EXPECT_DOUBLE_EQ(dx[0], 1);
  EXPECT_DOUBLE_EQ(dx[1], 3);
  EXPECT_DOUBLE_EQ(dx[2], 2);
}

TEST(AvgPool, RejectsPadAsLargeAsTheWindow) {
  EXPECT_THROW(AvgPool<float>("p", Shape{1, 4, 4}, {2, 2, 2, 2, 2, 0}), ConfigError);
}

}  // namespace
}  // namespace cnndiag
