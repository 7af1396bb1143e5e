// The packed float GEMM (gemm.cpp) against a plain triple loop in double, on shapes that hit every
// edge: partial MR/NR tiles, several KC depth blocks, MC/NC blocks, transposed operands,
// accumulate, leading dimension larger than n, and the small shapes that fall back to Eigen.

#include "layers/gemm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cnndiag/rng.hpp"

namespace cnndiag::detail {
namespace {

struct Case {
  Index m, n, k;
  bool a_transposed, b_transposed, accumulate;
};

// Fills a buffer with U(−1, 1).
std::vector<float> random_values(Index count, Rng& rng) {
  std::vector<float> v(static_cast<std::size_t>(count));
  for (float& x : v) x = static_cast<float>(rng.uniform(-1.0, 1.0));
  return v;
}

void check(const Case& t) {
  Rng rng(static_cast<std::uint64_t>(t.m * 10007 + t.n * 101 + t.k));
  const std::vector<float> a = random_values(t.m * t.k, rng), b = random_values(t.k * t.n, rng);
  const Index ldc = t.n + 3;
  std::vector<float> c = random_values(t.m * ldc, rng);
  const std::vector<float> c0 = c;
  // A stored (m, k) row-major, or (k, m) row-major and read transposed; B likewise.
  const StridedMatrix<float> av = t.a_transposed ? StridedMatrix<float>{a.data(), 1, t.m}
                                                 : StridedMatrix<float>{a.data(), t.k, 1};
  const StridedMatrix<float> bv = t.b_transposed ? StridedMatrix<float>{b.data(), 1, t.k}
                                                 : StridedMatrix<float>{b.data(), t.n, 1};
  std::vector<float> scratch(static_cast<std::size_t>(gemm_workspace_size<float>(t.m, t.n, t.k)));
  gemm<float>(t.m, t.n, t.k, av, bv, c.data(), ldc, t.accumulate, scratch.data());
  for (Index i = 0; i < t.m; ++i) {
    for (Index j = 0; j < ldc; ++j) {
      const float got = c[static_cast<std::size_t>(i * ldc + j)];
      const float before = c0[static_cast<std::size_t>(i * ldc + j)];
      if (j >= t.n) {  // padding columns of C are never written
        ASSERT_EQ(got, before);
        continue;
      }
      double want = t.accumulate ? before : 0.0;
      double scale = std::abs(want);
      for (Index p = 0; p < t.k; ++p) {
        const double x = av.data[i * av.row_stride + p * av.col_stride];
        const double y = bv.data[p * bv.row_stride + j * bv.col_stride];
        want += x * y;
        scale += std::abs(x * y);
      }
      // float rounding of a k-term sum: |error| ≤ ~k·eps·Σ|terms|; far below that in practice.
      ASSERT_NEAR(got, want, 1e-6 * static_cast<double>(t.k + 1) * scale + 1e-30)
          << "m=" << t.m << " n=" << t.n << " k=" << t.k << " at (" << i << "," << j << ")";
    }
  }
}

TEST(Gemm, MatchesTripleLoopOnEdgeShapes) {
  const Case cases[] = {
      {1, 1, 1, false, false, false},     {8, 32, 64, false, false, false},
      {6, 784, 25, false, false, false},  {16, 100, 150, false, false, true},
      {32, 27, 1024, false, true, true},  {64, 288, 256, false, true, true},
      {288, 256, 64, true, false, false}, {97, 515, 300, false, false, false},
      {200, 600, 513, true, true, true},  {64, 10, 4096, false, true, false},
      {10, 4096, 64, true, false, true},  {32, 4, 400, false, true, false},
      {4, 400, 32, true, false, true},    {13, 45, 0, false, false, false},
      {13, 45, 0, false, false, true},
  };
  for (const Case& t : cases) check(t);
}

// The same shapes through the AVX2+FMA kernel (6×16 tiles, scalar-path packers), which an
// AVX-512 machine would otherwise never run.
TEST(Gemm, Avx2KernelMatchesTripleLoopOnEdgeShapes) {
  if (!gemm_limit_to_avx2(true)) {
    gemm_limit_to_avx2(false);
    GTEST_SKIP() << "no AVX2 on this CPU";
  }
  EXPECT_STREQ(gemm_kernel_name(), "avx2");
  const Case cases[] = {
      {8, 32, 64, false, false, false},    {6, 784, 25, false, false, false},
      {16, 100, 150, false, false, true},  {32, 27, 1024, false, true, true},
      {64, 288, 256, false, true, true},   {288, 256, 64, true, false, false},
      {97, 515, 300, false, false, false}, {200, 600, 513, true, true, true},
  };
  for (const Case& t : cases) check(t);
  gemm_limit_to_avx2(false);
}

TEST(Gemm, PortableAndFastKernelsAgree) {
  Rng rng(7);
  const Index m = 40, n = 70, k = 300;
  const std::vector<float> a = random_values(m * k, rng), b = random_values(k * n, rng);
  std::vector<float> fast(static_cast<std::size_t>(m * n)), portable(fast.size());
  std::vector<float> scratch(static_cast<std::size_t>(gemm_workspace_size<float>(m, n, k)));
  gemm<float>(m, n, k, {a.data(), k, 1}, {b.data(), n, 1}, fast.data(), n, false, scratch.data());
  gemm_force_portable(true);
  gemm<float>(m, n, k, {a.data(), k, 1}, {b.data(), n, 1}, portable.data(), n, false, nullptr);
  gemm_force_portable(false);
  for (std::size_t i = 0; i < fast.size(); ++i) ASSERT_NEAR(fast[i], portable[i], 1e-4f);
  EXPECT_STRNE(gemm_kernel_name(), "");
}

TEST(Gemm, IsDeterministic) {
  Rng rng(9);
  const Index m = 64, n = 288, k = 700;
  const std::vector<float> a = random_values(m * k, rng), b = random_values(k * n, rng);
  std::vector<float> c1(static_cast<std::size_t>(m * n)), c2(c1.size());
  std::vector<float> scratch(static_cast<std::size_t>(gemm_workspace_size<float>(m, n, k)));
  gemm<float>(m, n, k, {a.data(), k, 1}, {b.data(), 1, k}, c1.data(), n, false, scratch.data());
  gemm<float>(m, n, k, {a.data(), k, 1}, {b.data(), 1, k}, c2.data(), n, false, scratch.data());
  EXPECT_EQ(c1, c2);
}

}  // namespace
}  // namespace cnndiag::detail
