#include "cnndiag/layers/sigmoid.hpp"

#include <cmath>

#include "layers/elementwise_loop.hpp"

namespace cnndiag {

// σ(z) = 1/(1+e^{−z}). Written that way, e^{−z} overflows to inf for z < −88 (float) and the
// naive e^{z}/(1+e^{z}) form overflows for large positive z. With e = e^{−|z|} ∈ (0, 1] neither
// can happen:  σ(|z|) = 1/(1+e)  and  σ(−|z|) = 1 − σ(|z|) = e/(1+e).
template <typename T>
T stable_sigmoid(T z) {
  const T e = std::exp(-std::abs(z));
  const T s = T(1) / (T(1) + e);
  return z >= T(0) ? s : e * s;
}

// x, y: (N, ...) any shape.
template <typename T>
void Sigmoid<T>::forward(const Tensor<T>& x, Tensor<T>& y, bool /*training*/) {
  const T* xs = x.data();
  T* ys = y.data();
  detail::for_each_element_chunk(x.size(), [&](Index b, Index e) {
    for (Index i = b; i < e; ++i) ys[i] = stable_sigmoid(xs[i]);
  });
}

// dy, dx: like x.
// dσ/dx = σ(x)(1−σ(x)) = y(1−y), written in terms of the output forward already computed:
//   dx = dy ⊙ y ⊙ (1−y)
// The faults get this "output form" wrong in the ways people do: leaving it out, feeding it x
// instead of y, or feeding it σ(y) (applying the sigmoid to its own output a second time).
template <typename T>
void Sigmoid<T>::backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy,
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
      case Fault::kSigmoidDerivativeOnWrongTensor:
        dxs = dys;
        break;
      case Fault::kDerivativeOnInput:
        dxs = dys * xs * (T(1) - xs);
        break;
      case Fault::kDerivativeReapplied:
        for (Index i = 0; i < e - b; ++i) {
          const T s = stable_sigmoid(ys[i]);
          dxs[i] = dys[i] * s * (T(1) - s);
        }
        break;
      default:
        dxs = dys * ys * (T(1) - ys);
    }
  });
}

template float stable_sigmoid<float>(float);
template double stable_sigmoid<double>(double);
template class Sigmoid<float>;
template class Sigmoid<double>;

}  // namespace cnndiag
