#include "cnndiag/layers/relu.hpp"

#include "layers/elementwise_loop.hpp"

namespace cnndiag {
using detail::ArrayMap;
using detail::ConstArrayMap;

// x, y: (N, ...) any shape, same element count.
// y = max(x, 0)
template <typename T>
void Relu<T>::forward(const Tensor<T>& x, Tensor<T>& y, bool /*training*/) {
  // Plain loops with a select compile to branch-free vector code (compare + and) once the
  // pointers are local and marked non-aliasing; Eigen 3.4's select() runs one element at a time
  // with a branch each, which mispredicts on every other element of random-signed data.
  detail::for_each_element_chunk(x.size(), [xp = x.data(), yp = y.data()](Index b, Index e) {
    const T* __restrict xs = xp;
    T* __restrict ys = yp;
    for (Index i = b; i < e; ++i) ys[i] = xs[i] < T(0) ? T(0) : xs[i];  // NaN stays NaN
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
  detail::for_each_element_chunk(
      x.size(), [fault, xp = x.data(), dyp = dy.data(), dxp = dx->data()](Index b, Index e) {
        const T* __restrict xs = xp;
        const T* __restrict dys = dyp;
        T* __restrict dxs = dxp;
        switch (fault) {
          case Fault::kDerivativeOmitted:
            for (Index i = b; i < e; ++i) dxs[i] = dys[i];
            break;
          case Fault::kReluMaskFromGrad:
            for (Index i = b; i < e; ++i) dxs[i] = dys[i] > T(0) ? dys[i] : T(0);
            break;
          default:
            for (Index i = b; i < e; ++i) {
              const T g = dys[i];
              dxs[i] = xs[i] > T(0) ? g : T(0);
            }
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
