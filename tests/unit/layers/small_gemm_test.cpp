// The narrow-linear kernels (src/core/layers/small_gemm.hpp) against plain loops in double, over
// shapes that hit every tile edge: batches not a multiple of 4, outputs 1…16 (tiles of 1…4 rows),
// depths below, at and around multiples of 16 and of the 64-column tiles. And Linear<float> with
// the kernels against Linear<float> on the GEMM path, faults included.

#include "layers/small_gemm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "cnndiag/faults.hpp"
#include "cnndiag/layers/linear.hpp"
#include "cnndiag/rng.hpp"
#include "support/layer_builders.hpp"

namespace cnndiag {
namespace {

void expect_close(const Tensor<float>& got, const Tensor<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (Index i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-4 * (1.0 + std::abs(want[i]))) << what << " [" << i << "]";
}

TEST(SmallGemm, MatchesPlainLoops) {
  if (!detail::small_linear_available()) GTEST_SKIP() << "no AVX-512 on this CPU";
  for (const Index n : {1, 3, 4, 5, 32})
    for (const Index d : {1, 4, 15, 16, 17, 63, 64, 65, 130, 400})
      for (const Index out : {1, 2, 3, 4, 5, 10, 16}) {
        const std::string what =
            "n " + std::to_string(n) + " d " + std::to_string(d) + " out " + std::to_string(out);
        Rng rng(static_cast<std::uint64_t>(n * 10000 + d * 100 + out));
        const auto x = testing::random_tensor<float>(Shape{n, d}, rng);
        const auto w = testing::random_tensor<float>(Shape{out, d}, rng);
        const auto b = testing::random_tensor<float>(Shape{out}, rng);
        const auto dy = testing::random_tensor<float>(Shape{n, out}, rng);

        Tensor<double> y_ref(Shape{n, out}), dw_ref(Shape{out, d}, 0.5), dx_ref(Shape{n, d});
        for (Index i = 0; i < n; ++i)
          for (Index j = 0; j < out; ++j) {
            double sum = b[j];
            for (Index k = 0; k < d; ++k) sum += double(x[i * d + k]) * w[j * d + k];
            y_ref[i * out + j] = sum;
          }
        for (Index j = 0; j < out; ++j)
          for (Index k = 0; k < d; ++k)
            for (Index i = 0; i < n; ++i)
              dw_ref[j * d + k] += double(dy[i * out + j]) * x[i * d + k];
        for (Index i = 0; i < n; ++i)
          for (Index k = 0; k < d; ++k) {
            double sum = 0;
            for (Index j = 0; j < out; ++j) sum += double(dy[i * out + j]) * w[j * d + k];
            dx_ref[i * d + k] = sum;
          }

        Tensor<float> y(Shape{n, out}, 9.0f), dw(Shape{out, d}, 0.5f), dx(Shape{n, d}, 9.0f);
        detail::small_linear_forward(n, d, out, x.data(), w.data(), b.data(), y.data());
        detail::small_linear_weight_grad(n, d, out, dy.data(), x.data(), dw.data());
        detail::small_linear_data_grad(n, d, out, dy.data(), w.data(), dx.data());
        expect_close(y, y_ref, what + " y");
        expect_close(dw, dw_ref, what + " dw");
        expect_close(dx, dx_ref, what + " dx");

        // Without bias: y − b.
        detail::small_linear_forward(n, d, out, x.data(), w.data(), nullptr, y.data());
        for (Index i = 0; i < n; ++i)
          for (Index j = 0; j < out; ++j) y_ref[i * out + j] -= b[j];
        expect_close(y, y_ref, what + " y without bias");
      }
}

// The layer with the kernels and with them forced off (GEMM path) gives the same values, with
// every linear fault.
TEST(SmallGemm, LinearLayerSameWithAndWithoutSmallKernels) {
  for (const Fault fault :
       {Fault::kNone, Fault::kBiasGradFirstSample, Fault::kLinearInputSigmoidMask}) {
    Tensor<float> results[2][4];
    for (const bool portable : {false, true}) {
      detail::small_linear_force_portable(portable);
      Rng rng(3);
      Linear<float> fc("fc", Shape{2, 5, 7}, 6, true);
      fc.set_fault(fault);
      for (Param<float>& p : fc.params())
        for (Index i = 0; i < p.value.size(); ++i) p.value[i] = static_cast<float>(rng.normal());
      const auto x = testing::random_tensor<float>(Shape{9, 2, 5, 7}, rng);
      const auto dy = testing::random_tensor<float>(Shape{9, 6}, rng);
      Tensor<float> y(Shape{9, 6}), dx(x.shape());
      for (Param<float>& p : fc.params()) p.grad.fill(0.25f);
      fc.reserve(9);
      fc.forward(x, y, true);
      fc.backward(x, y, dy, &dx);
      Tensor<float>* out = results[portable ? 1 : 0];
      out[0] = y;
      out[1] = dx;
      out[2] = fc.params()[0].grad;
      out[3] = fc.params()[1].grad;
    }
    detail::small_linear_force_portable(false);
    const char* names[] = {"y", "dx", "dweight", "dbias"};
    for (int t = 0; t < 4; ++t)
      expect_close(results[0][t], results[1][t].cast<double>(),
                   std::string(fault_id(fault)) + " " + names[t]);
  }
}

// The double forward (any CPU): against a plain loop in long double, with and without bias, over
// depths around multiples of the 8 lanes and odd output counts (the pair-of-outputs loop's edge).
TEST(SmallGemm, DoubleForwardMatchesPlainLoop) {
  for (const Index n : {1, 3, 32})
    for (const Index d : {1, 7, 8, 9, 400, 401})
      for (const Index out : {1, 2, 3, 16})
        for (const bool with_bias : {false, true}) {
          Rng rng(static_cast<std::uint64_t>(n * 10000 + d * 100 + out));
          const auto x = testing::random_tensor<double>(Shape{n, d}, rng);
          const auto w = testing::random_tensor<double>(Shape{out, d}, rng);
          const auto b = testing::random_tensor<double>(Shape{out}, rng);
          Tensor<double> y(Shape{n, out}, 7.0);
          detail::small_linear_forward(n, d, out, x.data(), w.data(),
                                       with_bias ? b.data() : nullptr, y.data());
          for (Index i = 0; i < n; ++i)
            for (Index j = 0; j < out; ++j) {
              long double want = with_bias ? b[j] : 0.0L;
              for (Index k = 0; k < d; ++k)
                want += static_cast<long double>(x[i * d + k]) * w[j * d + k];
              ASSERT_NEAR(y[i * out + j], static_cast<double>(want),
                          1e-13 * (1.0 + static_cast<double>(d)))
                  << "n " << n << " d " << d << " out " << out << " bias " << with_bias;
            }
        }
}

}  // namespace
}  // namespace cnndiag
