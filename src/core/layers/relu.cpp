#include "cnndiag/layers/relu.hpp"

#include "layers/elementwise_loop.hpp"

namespace cnndiag {
using detail::ArrayMap;
using detail::ConstArrayMap;

// x, y: (N, ...) any shape, same element count.
// y = max(x, 0)
// The float loops are compiled for AVX-512, AVX2 and the baseline (GCC target_clones; the loader
// picks one for the CPU): on the large activations of a conv net these passes are a tenth of a
// training step, and 16 lanes per instruction instead of SSE2's 4 keep them at memory speed.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CNNDIAG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CNNDIAG_CLONES
#endif

namespace {
// Plain loops with a select compile to branch-free vector code (compare + and) once the pointers
// are local and marked non-aliasing; Eigen 3.4's select() runs one element at a time with a
// branch each, which mispredicts on every other element of random-signed data.
template <typename T>
inline void relu_impl(const T* __restrict x, T* __restrict y, Index n) {
  for (Index i = 0; i < n; ++i) y[i] = x[i] < T(0) ? T(0) : x[i];  // NaN stays NaN
}
template <typename T>
inline void relu_grad_impl(const T* __restrict x, const T* __restrict dy, T* __restrict dx,
                           Index n) {
  for (Index i = 0; i < n; ++i) dx[i] = x[i] > T(0) ? dy[i] : T(0);
}
CNNDIAG_CLONES void relu_f32(const float* x, float* y, Index n) { relu_impl(x, y, n); }
CNNDIAG_CLONES void relu_grad_f32(const float* x, const float* dy, float* dx, Index n) {
  relu_grad_impl(x, dy, dx, n);
}
inline void relu(const float* x, float* y, Index n) { relu_f32(x, y, n); }
inline void relu(const double* x, double* y, Index n) { relu_impl(x, y, n); }
inline void relu_grad(const float* x, const float* dy, float* dx, Index n) {
  relu_grad_f32(x, dy, dx, n);
}
inline void relu_grad(const double* x, const double* dy, double* dx, Index n) {
  relu_grad_impl(x, dy, dx, n);
}
}  // namespace

template <typename T>
void Relu<T>::forward(const Tensor<T>& x, Tensor<T>& y, bool /*training*/) {
  detail::for_each_element_chunk(
      x.size(), [xp = x.data(), yp = y.data()](Index b, Index e) { relu(xp + b, yp + b, e - b); });
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
            relu_grad(xs + b, dys + b, dxs + b, e - b);
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
