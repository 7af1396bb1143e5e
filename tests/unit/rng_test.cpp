#include "cnndiag/rng.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace cnndiag {
namespace {

TEST(Rng, SameSeedSameSequence) {
  Rng a(42), b(42);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
}

TEST(Rng, StreamsDifferByName) {
  Rng a = Rng::stream(1, "init/conv1.weight"), b = Rng::stream(1, "init/fc1.weight");
  EXPECT_NE(a.next_u64(), b.next_u64());
}

TEST(Rng, UniformInUnitIntervalWithRightMean) {
  Rng r(7);
  double sum = 0;
  for (int i = 0; i < 100000; ++i) {
    const double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 100000, 0.5, 0.01);
}

TEST(Rng, NormalHasUnitVariance) {
  Rng r(7);
  double s = 0, s2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double z = r.normal();
    s += z;
    s2 += z * z;
  }
  EXPECT_NEAR(s / n, 0.0, 0.01);
  EXPECT_NEAR(s2 / n, 1.0, 0.02);
}

TEST(Rng, StateRoundTripContinuesIdentically) {
  Rng r(3);
  r.normal();  // leaves a Box–Muller spare in the state
  const auto state = r.state();
  Rng copy(0);
  copy.set_state(state);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(r.normal(), copy.normal());
}

TEST(Rng, BelowIsInRange) {
  Rng r(5);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(r.below(7), 7u);
}

}  // namespace
}  // namespace cnndiag
