#include "cnndiag/layers/tanh.hpp"

#include <cmath>

#include "layers/elementwise_loop.hpp"

namespace cnndiag {

// x, y: (N, ...) any shape.  y = tanh(x); std::tanh saturates to ±1 without overflow.
template <typename T>
void Tanh<T>::forward(const Tensor<T>& x, Tensor<T>& y, bool /*training*/) {
  const T* xs = x.data();
  T* ys = y.data();
  detail::for_each_element_chunk(x.size(), [&](Index b, Index e) {
    for (Index i = b; i < e; ++i) ys[i] = std::tanh(xs[i]);
  });
}

// dy, dx: like x.
// d tanh(x)/dx = 1 − tanh²(x) = 1 − y², in terms of the output:  dx = dy ⊙ (1 − y²).
template <typename T>
void Tanh<T>::backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy,
                       Tensor<T>* dx) {
  if (dx == nullptr) return;
  const Fault fault = this->fault_;
  detail::for_each_element_chunk(x.size(), [&](Index b, Index e) {
    detail::ConstArrayMap<T> xs(x.data() + b, e - b);
    detail::ConstArrayMap<T> ys(y.data() + b, e - b);
    detail::ConstArrayMap<T> dys(dy.data() + b, e - b);
    detail::ArrayMap<T> dxs(dx->data() + b, e - b);
    switch (fault) {
      case Fault::kDerivativeOmitted:
        dxs = dys;
        break;
      case Fault::kDerivativeOnInput:
        dxs = dys * (T(1) - xs.square());
        break;
      case Fault::kDerivativeReapplied:
        for (Index i = 0; i < e - b; ++i) {
          const T t = std::tanh(ys[i]);
          dxs[i] = dys[i] * (T(1) - t * t);
        }
        break;
      default:
        dxs = dys * (T(1) - ys.square());
    }
  });
}

template class Tanh<float>;
template class Tanh<double>;

}  // namespace cnndiag
