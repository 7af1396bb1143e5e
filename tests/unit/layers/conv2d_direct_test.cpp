// The direct convolution kernels (src/core/layers/conv2d_direct.hpp) against the plain reference
// loops (conv2d_reference.hpp, in double), in float and double, with the AVX-512 kernels and with
// the portable form forced: odd plane sizes (rows not a multiple of 16, planes of one pixel),
// kernels 1…5 and 7 (also larger than the input and non-square), padding 0…2 (also asymmetric), 1…8
// channel pairs, several samples per call, and every bias mode (all samples, first sample only,
// none) with and without dx. Scratch starts dirty and gradients start at 0.5, so a kernel that
// relied on zeroed scratch or assigned instead of accumulating would fail.

#include "layers/conv2d_direct.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cnndiag/rng.hpp"
#include "layers/conv2d_reference.hpp"
#include "support/layer_builders.hpp"

namespace cnndiag {
namespace {

struct DirectCase {
  Index channels, in_h, in_w, out_channels, kernel_h, kernel_w, pad_h, pad_w;
};

const DirectCase kCases[] = {
    {1, 20, 20, 1, 3, 3, 1, 1},  // B1
    {1, 28, 28, 6, 5, 5, 2, 2},  // LeNet conv1
    {2, 7, 9, 4, 3, 2, 1, 0},   {1, 3, 3, 2, 5, 5, 2, 2},  {3, 5, 17, 2, 1, 1, 0, 0},
    {8, 6, 11, 1, 4, 3, 2, 1},  {1, 1, 1, 8, 1, 1, 0, 0},  {2, 13, 5, 3, 5, 4, 0, 2},
    {1, 16, 16, 5, 2, 2, 1, 1}, {4, 9, 33, 2, 3, 5, 1, 2}, {1, 31, 7, 7, 3, 1, 1, 0},
    {1, 2, 40, 3, 2, 5, 0, 2},  {1, 9, 12, 2, 2, 7, 1, 3},  // wider than 5: portable forward
};

std::string describe(const DirectCase& c) {
  return std::to_string(c.channels) + "x" + std::to_string(c.in_h) + "x" + std::to_string(c.in_w) +
         " -> " + std::to_string(c.out_channels) + " k" + std::to_string(c.kernel_h) + "x" +
         std::to_string(c.kernel_w) + " p" + std::to_string(c.pad_h) + "," +
         std::to_string(c.pad_w);
}

template <typename T>
double tolerance(double want) {
  return (sizeof(T) == 4 ? 2e-4 : 1e-10) * (1.0 + std::abs(want));
}

template <typename T>
void expect_close(const T* got, const Tensor<double>& want, const std::string& what) {
  for (Index i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tolerance<T>(want[i])) << what << " [" << i << "]";
}

template <typename T>
void check_case(const DirectCase& c, bool portable) {
  const std::string what =
      describe(c) + (sizeof(T) == 4 ? " float" : " double") + (portable ? " portable" : " cpu");
  const WindowGeometry g = make_window_geometry("test", "kernel", Shape{c.channels, c.in_h, c.in_w},
                                                c.kernel_h, c.kernel_w, 1, 1, c.pad_h, c.pad_w);
  const Index N = 3, OC = c.out_channels;
  Rng rng(11);
  const auto x = testing::random_tensor<double>(Shape{N, c.channels, c.in_h, c.in_w}, rng);
  const auto w = testing::random_tensor<double>(Shape{OC, c.channels, c.kernel_h, c.kernel_w}, rng);
  const auto b = testing::random_tensor<double>(Shape{OC}, rng);
  const auto dy = testing::random_tensor<double>(Shape{N, OC, g.out_h, g.out_w}, rng);
  const Tensor<T> xt = x.cast<T>(), wt = w.cast<T>(), bt = b.cast<T>(), dyt = dy.cast<T>();
  // The reference sees exactly the values the kernel sees.
  const Tensor<double> xr = xt.template cast<double>(), wr = wt.template cast<double>(),
                       br = bt.template cast<double>(), dyr = dyt.template cast<double>();

  detail::direct_conv_force_portable(portable);
  std::vector<T> scratch(static_cast<std::size_t>(detail::direct_conv_scratch(g, OC)), T(7));

  Tensor<double> y_ref(dy.shape());
  reference::conv2d_forward(xr, wr, &br, g, y_ref);
  Tensor<T> y(dy.shape());
  detail::direct_conv_forward(xt.data(), N, wt.data(), bt.data(), g, OC, y.data(), scratch.data());
  expect_close(y.data(), y_ref, what + " y");
  // One sample at a time gives the same outputs (nothing carries over between calls).
  Tensor<T> y1(dy.shape());
  for (Index n = 0; n < N; ++n)
    detail::direct_conv_forward<T>(xt.data() + n * c.channels * g.in_plane(), 1, wt.data(), nullptr,
                                   g, OC, y1.data() + n * OC * g.out_plane(), scratch.data());
  for (Index n = 0; n < N; ++n)
    for (Index oc = 0; oc < OC; ++oc)
      for (Index p = 0; p < g.out_plane(); ++p) {
        const Index i = (n * OC + oc) * g.out_plane() + p;
        ASSERT_NEAR(y1[i] + bt[oc], y_ref[i], tolerance<T>(y_ref[i])) << what << " y1 " << i;
      }

  Tensor<double> dx_ref(x.shape()), dw_ref(w.shape(), 0.5), db_ref(b.shape(), 0.5);
  reference::conv2d_backward(xr, wr, dyr, g, dx_ref, dw_ref, &db_ref);
  // db over sample 0 only, for bias_samples = 1.
  Tensor<double> db_first(b.shape(), 0.5);
  for (Index oc = 0; oc < OC; ++oc)
    for (Index p = 0; p < g.out_plane(); ++p) db_first[oc] += dyr[oc * g.out_plane() + p];

  for (const Index bias_samples : {N, Index{1}, Index{0}}) {
    for (const bool with_dx : {true, false}) {
      const std::string mode =
          what + " bias_samples " + std::to_string(bias_samples) + (with_dx ? " dx" : " no dx");
      Tensor<T> dw(w.shape(), T(0.5)), db(b.shape(), T(0.5)), dx(x.shape(), T(9));
      std::fill(scratch.begin(), scratch.end(), T(7));
      detail::direct_conv_backward(xt.data(), N, wt.data(), dyt.data(), g, OC, dw.data(), db.data(),
                                   bias_samples, with_dx ? dx.data() : nullptr, scratch.data());
      expect_close(dw.data(), dw_ref, mode + " dw");
      if (with_dx) expect_close(dx.data(), dx_ref, mode + " dx");
      const Tensor<double> db_want = bias_samples == N   ? db_ref
                                     : bias_samples == 1 ? db_first
                                                         : Tensor<double>(b.shape(), 0.5);
      expect_close(db.data(), db_want, mode + " db");
    }
  }
  // No bias at all (db null): the weight gradient is unchanged.
  Tensor<T> dw(w.shape(), T(0.5));
  detail::direct_conv_backward(xt.data(), N, wt.data(), dyt.data(), g, OC, dw.data(),
                               static_cast<T*>(nullptr), N, static_cast<T*>(nullptr),
                               scratch.data());
  expect_close(dw.data(), dw_ref, what + " dw without bias");
  detail::direct_conv_force_portable(false);
}

TEST(Conv2dDirect, MatchesReferenceInBothPrecisionsAndBothImplementations) {
  for (const DirectCase& c : kCases)
    for (const bool portable : {false, true}) {
      check_case<float>(c, portable);
      check_case<double>(c, portable);
    }
}

TEST(Conv2dDirect, ForcingPortableIsReported) {
  detail::direct_conv_force_portable(true);
  EXPECT_STREQ(detail::direct_conv_kernel_name(), "portable");
  detail::direct_conv_force_portable(false);
  const std::string name = detail::direct_conv_kernel_name();
  EXPECT_TRUE(name == "avx512" || name == "portable") << name;
}

}  // namespace
}  // namespace cnndiag
