#pragma once
/// avgpool: y[n, c, oh, ow] = (1 / (size_h·size_w)) · Σ of x[n, c, ·, ·] over the window, padded
/// cells counting as 0 (PyTorch's count_include_pad=True; pooling.hpp says where MatConvNet
/// differs).
///
/// Contract (layer.hpp):
///  - forward overwrites y; caches nothing.
///  - backward assigns dx: every input element receives dy/(size_h·size_w) from each window that
///    covers it. No parameters, no faults, no kinks.

#include "cnndiag/layers/pooling.hpp"

namespace cnndiag {

template <typename T>
class AvgPool final : public Layer<T> {
 public:
  AvgPool(std::string name, Shape input_shape, const PoolOptions& options);

  std::string_view type() const override { return "avgpool"; }
  Shape output_shape() const override;
  const WindowGeometry& geometry() const { return geometry_; }

  void forward(const Tensor<T>& x, Tensor<T>& y, bool training) override;
  void backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy,
                Tensor<T>* dx) override;

 private:
  WindowGeometry geometry_;
  Index min_planes_per_chunk_ = 1;
};

}  // namespace cnndiag
