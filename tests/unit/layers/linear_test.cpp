#include "cnndiag/layers/linear.hpp"

#include <gtest/gtest.h>

#include "cnndiag/errors.hpp"
#include "cnndiag/layers/factory.hpp"
#include "support/alloc_counter.hpp"
#include "support/layer_builders.hpp"

namespace cnndiag {
namespace {

using testing::tensor_of;

TEST(Linear, KnownAnswerForwardAndBackward) {
  Linear<double> fc("fc", Shape{3}, 2, true);
  fc.params()[0].value = tensor_of<double>(Shape{2, 3}, {1, 2, 3, -1, 0, 1});
  fc.params()[1].value = tensor_of<double>(Shape{2}, {0.5, -0.5});
  const auto x = tensor_of<double>(Shape{2, 3}, {1, 1, 1, 2, 0, -1});
  Tensor<double> y(Shape{2, 2});
  fc.forward(x, y, true);
  EXPECT_DOUBLE_EQ(y[0], 6.5);   // 1+2+3 + 0.5
  EXPECT_DOUBLE_EQ(y[1], -0.5);  // −1+0+1 − 0.5
  EXPECT_DOUBLE_EQ(y[2], -0.5);  // 2−3 + 0.5
  EXPECT_DOUBLE_EQ(y[3], -3.5);  // −2−1 − 0.5

  const auto dy = tensor_of<double>(Shape{2, 2}, {1, 0, 0, 2});
  Tensor<double> dx(x.shape());
  for (Param<double>& p : fc.params()) p.grad.fill(10);
  fc.backward(x, y, dy, &dx);
  // dx = dy·W: sample 0 gets row 0 of W, sample 1 gets 2·row 1.
  const double edx[] = {1, 2, 3, -2, 0, 2};
  for (Index i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(dx[i], edx[i]) << i;
  // dW = 10 + dyᵀ·x: row 0 = x_0, row 1 = 2·x_1.
  const double edw[] = {11, 11, 11, 14, 10, 8};
  for (Index i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(fc.params()[0].grad[i], edw[i]) << i;
  EXPECT_DOUBLE_EQ(fc.params()[1].grad[0], 11);
  EXPECT_DOUBLE_EQ(fc.params()[1].grad[1], 12);
}

TEST(Linear, FlattensCHWRowMajor) {
  // Input (C=2, H=1, W=2): the flat index of x[c=1, h=0, w=0] is 1·2 + 0 = 2.
  Linear<float> fc("fc", Shape{2, 1, 2}, 1, false);
  EXPECT_EQ(fc.in_features(), 4);
  fc.params()[0].value = tensor_of<float>(Shape{1, 4}, {0, 0, 1, 0});
  const auto x = tensor_of<float>(Shape{1, 2, 1, 2}, {10, 11, 20, 21});
  Tensor<float> y(Shape{1, 1});
  fc.forward(x, y, true);
  EXPECT_EQ(y[0], 20);
  EXPECT_EQ(fc.params()[0].fan_in, 4);
  EXPECT_EQ(fc.params()[0].fan_out, 1);
}

TEST(Linear, NoAllocationAfterConstruction) {
  if (!testing::AllocationCounter::supported()) GTEST_SKIP() << "allocations not observable";
  Linear<float> fc("fc", Shape{1, 20, 20}, 4, true);
  Rng rng(3);
  const auto x = testing::random_tensor<float>(Shape{32, 1, 20, 20}, rng);
  Tensor<float> y(Shape{32, 4}), dx(x.shape());
  const auto dy = testing::random_tensor<float>(y.shape(), rng);
  fc.reserve(32);
  testing::AllocationCounter counter;
  for (int i = 0; i < 2; ++i) {
    fc.forward(x, y, true);
    fc.backward(x, y, dy, &dx);
  }
  EXPECT_EQ(counter.count(), 0);
}

TEST(Linear, OutMustBePositive) {
  try {
    make_layer<float>(testing::linear_config("fc1", 0), Shape{400});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "layer 'fc1' (linear): out must be > 0, got 0");
  }
}

}  // namespace
}  // namespace cnndiag
