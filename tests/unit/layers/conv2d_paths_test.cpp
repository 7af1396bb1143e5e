// conv2d's two float fast paths — the direct convolution (stride 1, ≤ 8 channel pairs) and
// im2col + packed GEMM — against the naive reference (conv2d_reference.hpp) evaluated in double
// on the same float values: forward, bias, weight/bias gradient accumulation and data gradient,
// several samples, 1 and 2 threads. Shapes cover both paths and the padded-plane edge cases
// (kernel larger than the input, rows not a multiple of 16, asymmetric padding).

#include <gtest/gtest.h>

#include <cmath>

#include "cnndiag/layers/conv2d.hpp"
#include "cnndiag/parallel.hpp"
#include "cnndiag/rng.hpp"
#include "layers/conv2d_reference.hpp"
#include "support/layer_builders.hpp"

namespace cnndiag {
namespace {

struct PathCase {
  Shape input;
  Conv2dOptions options;
  const char* what;
};

void randomize_params(Layer<float>& layer, Rng& rng) {
  for (Param<float>& p : layer.params())
    for (Index i = 0; i < p.value.size(); ++i) p.value[i] = static_cast<float>(rng.normal());
}

void expect_close(const Tensor<float>& got, const Tensor<double>& want, const char* what,
                  const char* tensor) {
  ASSERT_EQ(got.size(), want.size());
  for (Index i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 2e-4 * (1.0 + std::abs(want[i])))
        << what << " " << tensor << " " << i;
}

TEST(Conv2dPaths, FloatFastPathsMatchReference) {
  const PathCase cases[] = {
      {Shape{1, 20, 20}, {1, 3, 3, 1, 1, 1, 1, true}, "B1 conv (direct)"},
      {Shape{1, 28, 28}, {6, 5, 5, 1, 1, 2, 2, true}, "LeNet conv1 (direct)"},
      {Shape{2, 7, 9}, {4, 3, 2, 1, 1, 1, 0, true}, "2→4 non-square (direct)"},
      {Shape{2, 3, 3}, {2, 5, 5, 1, 1, 2, 2, false}, "kernel larger than input (direct)"},
      {Shape{3, 16, 16}, {8, 3, 3, 1, 1, 1, 1, true}, "3→8 (GEMM)"},
      {Shape{6, 14, 14}, {16, 5, 5, 1, 1, 0, 0, true}, "LeNet conv2 (GEMM)"},
      {Shape{3, 9, 11}, {4, 3, 3, 2, 2, 1, 1, true}, "stride 2 (GEMM)"},
      // im2col/col2im variants of the GEMM path: narrow rows (W, OW ≤ 16) with padding, a
      // 16-wide row, same-shape shifted rows (B3's convs), a wide "valid" row.
      {Shape{3, 7, 9}, {4, 3, 5, 1, 1, 1, 1, true}, "narrow rows, padded (GEMM)"},
      {Shape{4, 6, 5}, {3, 3, 3, 1, 1, 0, 0, true}, "rows shorter than 8 (GEMM)"},
      {Shape{2, 5, 16}, {5, 2, 3, 1, 1, 0, 2, false}, "16-wide rows, OW 18 (GEMM)"},
      {Shape{3, 6, 20}, {4, 3, 3, 1, 1, 1, 1, true}, "same shape, shifted rows (GEMM)"},
      {Shape{3, 5, 21}, {4, 3, 3, 1, 1, 0, 0, true}, "wide valid rows (GEMM)"},
  };
  const int before = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const PathCase& c : cases) {
      Rng rng(5);
      Conv2d<float> conv("c", c.input, c.options);
      randomize_params(conv, rng);
      const Index N = 3;
      const auto x = testing::random_tensor<float>(c.input.with_batch(N), rng);
      Tensor<float> y(conv.output_shape().with_batch(N)), dx(x.shape());
      const auto dy = testing::random_tensor<float>(y.shape(), rng);
      conv.reserve(N);
      // Gradients start from a known offset: backward must add to it.
      for (Param<float>& p : conv.params()) p.grad.fill(0.5f);
      conv.forward(x, y, true);
      conv.backward(x, y, dy, &dx);

      const Tensor<double> xd = x.cast<double>(), dyd = dy.cast<double>();
      const Tensor<double> wd = conv.params()[0].value.cast<double>();
      Tensor<double> bd;
      if (c.options.bias) bd = conv.params()[1].value.cast<double>();
      Tensor<double> y_ref(y.shape()), dx_ref(x.shape()), dw_ref(wd.shape(), 0.5),
          db_ref(Shape{c.options.out_channels}, 0.5);
      reference::conv2d_forward(xd, wd, c.options.bias ? &bd : nullptr, conv.geometry(), y_ref);
      reference::conv2d_backward(xd, wd, dyd, conv.geometry(), dx_ref, dw_ref,
                                 c.options.bias ? &db_ref : nullptr);
      expect_close(y, y_ref, c.what, "y");
      expect_close(dx, dx_ref, c.what, "dx");
      expect_close(conv.params()[0].grad, dw_ref, c.what, "dweight");
      if (c.options.bias) expect_close(conv.params()[1].grad, db_ref, c.what, "dbias");

      // Without dx (a first layer): the same parameter gradients.
      Conv2d<float> again("c", c.input, c.options);
      for (std::size_t i = 0; i < conv.params().size(); ++i)
        again.params()[i].value = conv.params()[i].value;
      again.reserve(N);
      again.forward(x, y, true);
      again.backward(x, y, dy, nullptr);
      for (Index i = 0; i < dw_ref.size(); ++i) dw_ref[i] -= 0.5;
      expect_close(again.params()[0].grad, dw_ref, c.what, "dweight without dx");
    }
  }
  set_num_threads(before);
}

}  // namespace
}  // namespace cnndiag
