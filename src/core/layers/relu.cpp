#include "cnndiag/layers/relu.hpp"

#include "layers/elementwise_loop.hpp"

namespace cnndiag {
using detail::ArrayMap;
using detail::ConstArrayMap;

// x, y: (N, ...) any shape, same element count.
// y = max(x, 0)
template <typename T>
void Relu<T>::forward(const Tensor<T>& x, Tensor<T>& y, bool /*training*/) {
  detail::for_each_element_chunk(x.size(), [&](Index b, Index e) {
    ConstArrayMap<T> xs(x.data() + b, e - b);
    ArrayMap<T> ys(y.data() + b, e - b);
    ys = xs.max(T(0));
  });
}

// dy, dx: like x.
// dy/dx of max(x, 0) is 1 where x > 0 and 0 elsewhere, so the upstream gradient passes through
// the units that were active in forward and is blocked where they were not:
//   dx = dy ⊙ [x > 0]
// The mask must come from x (or equivalently y > 0); relu_mask_from_grad takes it from dy.
template <typename T>
void Relu<T>::backward(const Tensor<T>& x, const Tensor<T>& /*y*/, const Tensor<T>& dy,
                       Tensor<T>* dx) {
  if (dx == nullptr) return;
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
        dxs = (dys > T(0)).select(dys, T(0));
        break;
      default:
        dxs = (xs > T(0)).select(dys, T(0));
    }
  });
}

template <typename T>
void Relu<T>::kink_distance(const Tensor<T>& x, Tensor<T>& distance) const {
  distance.resize(x.shape());
  ConstArrayMap<T> xs(x.data(), x.size());
  ArrayMap<T> ds(distance.data(), distance.size());
  ds = xs.abs();
}

template class Relu<float>;
template class Relu<double>;

}  // namespace cnndiag
