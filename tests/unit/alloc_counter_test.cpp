#include "support/alloc_counter.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>
#include <vector>

namespace cnndiag::testing {
namespace {

// The counter must see what the no-allocation tests rely on it to see.
TEST(AllocationCounter, SeesVectorsAndEigenTemporaries) {
  if (!AllocationCounter::supported()) GTEST_SKIP() << "allocations not observable";
  Eigen::MatrixXd a = Eigen::MatrixXd::Random(40, 40);
  {
    AllocationCounter counter;
    std::vector<int> v(1000);
    v[0] = 1;
    EXPECT_GE(counter.count(), 1);
  }
  {
    AllocationCounter counter;
    Eigen::MatrixXd b = a * a;  // a fresh matrix: Eigen mallocs
    EXPECT_GE(counter.count(), 1);
    EXPECT_NE(b(0, 0), 12345.0);
  }
  {
    Eigen::MatrixXd c(40, 40);
    AllocationCounter counter;
    c.noalias() = a * a;  // into existing storage: no allocation for this size
    EXPECT_EQ(counter.count(), 0);
  }
}

}  // namespace
}  // namespace cnndiag::testing
