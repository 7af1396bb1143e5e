#include "cnndiag/layers/leaky_relu.hpp"

#include "layers/elementwise_loop.hpp"

namespace cnndiag {
using detail::ArrayMap;
using detail::ConstArrayMap;

// x, y: (N, ...) any shape.
// y = x where x > 0, a·x elsewhere.
template <typename T>
void LeakyRelu<T>::forward(const Tensor<T>& x, Tensor<T>& y, bool /*training*/) {
  const T a = static_cast<T>(negative_slope_);
  detail::for_each_element_chunk(x.size(), [&](Index b, Index e) {
    ConstArrayMap<T> xs(x.data() + b, e - b);
    ArrayMap<T> ys(y.data() + b, e - b);
    ys = (xs > T(0)).select(xs, a * xs);
  });
}

// dy, dx: like x.
// The slope is 1 on the positive side and a on the other: dx = dy ⊙ (x > 0 ? 1 : a).
// relu_mask_from_grad picks the slope by the sign of dy instead of x.
template <typename T>
void LeakyRelu<T>::backward(const Tensor<T>& x, const Tensor<T>& /*y*/, const Tensor<T>& dy,
                            Tensor<T>* dx) {
  if (dx == nullptr) return;
  const T a = static_cast<T>(negative_slope_);
  const Fault fault = this->fault_;
  detail::for_each_element_chunk(x.size(), [&](Index b, Index e) {
    ConstArrayMap<T> xs(x.data() + b, e - b);
    ConstArrayMap<T> dys(dy.data() + b, e - b);
    ArrayMap<T> dxs(dx->data() + b, e - b);
    switch (fault) {
      case Fault::kDerivativeOmitted:
        dxs = dys;
        break;
      case Fault::kReluMaskFromGrad:
        dxs = (dys > T(0)).select(dys, a * dys);
        break;
      default:
        dxs = (xs > T(0)).select(dys, a * dys);
    }
  });
}

template <typename T>
void LeakyRelu<T>::kink_distance(const Tensor<T>& x, Tensor<T>& distance) const {
  distance.resize(x.shape());
  ConstArrayMap<T> xs(x.data(), x.size());
  ArrayMap<T> ds(distance.data(), distance.size());
  ds = xs.abs();
}

template class LeakyRelu<float>;
template class LeakyRelu<double>;

}  // namespace cnndiag
