#include "cnndiag/layers/linear.hpp"

#include <algorithm>
#include <type_traits>

#include "cnndiag/errors.hpp"
#include "layers/eigen_maps.hpp"
#include "layers/gemm.hpp"
#include "layers/param_util.hpp"
#include "layers/small_gemm.hpp"

namespace cnndiag {
using detail::ConstMatrixMap;
using detail::MatrixMap;
using detail::VectorMap;

namespace {
// A narrow float layer runs the unpacked small-shape kernels (small_gemm.hpp), where packing for
// the GEMM would cost more than the products themselves.
template <typename T>
bool use_small_kernels(Index out) {
  if constexpr (std::is_same_v<T, float>)
    return out <= detail::kSmallLinearMaxOut && detail::small_linear_available();
  else
    return false;
}
}  // namespace

template <typename T>
Linear<T>::Linear(std::string name, Shape input_shape, Index out, bool bias)
    : Layer<T>(std::move(name), input_shape), in_(input_shape.numel()), out_(out) {
  if (out_ <= 0)
    throw ShapeError(this->describe() + ": out must be > 0, got " + std::to_string(out_));
  if (input_shape.empty() || in_ <= 0)
    throw ShapeError(this->describe() + " needs a non-empty input, got " + input_shape.str() +
                     " from the previous layer");
  params_.push_back(detail::make_param<T>("weight", Shape{out_, in_}, false, in_, out_));
  if (bias) params_.push_back(detail::make_param<T>("bias", Shape{out_}, true, in_, out_));
}

// The three products below for a batch of n: Y (n, out, D), dW (out, D, n), dX (n, D, out).
template <typename T>
void Linear<T>::reserve(Index n) {
  const Index needed = std::max({detail::gemm_workspace_size<T>(n, out_, in_),
                                 detail::gemm_workspace_size<T>(out_, in_, n),
                                 detail::gemm_workspace_size<T>(n, in_, out_)});
  if (static_cast<Index>(gemm_scratch_.size()) < needed)
    gemm_scratch_.resize(static_cast<std::size_t>(needed));
}

// x: (N, D) (any per-sample shape, read flat)   W: (out, D)   b: (out)   y: (N, out)
// y_n = W·x_n + b for every sample at once: Y = X·Wᵀ + 1·bᵀ, one GEMM over the batch (tiled only
// to keep Eigen's packing buffers off the heap, see gemm_tiled).
template <typename T>
void Linear<T>::forward(const Tensor<T>& x, Tensor<T>& y, bool /*training*/) {
  const Index n = x.dim(0);
  const T* bias = has_bias() ? params_[1].value.data() : nullptr;
  if constexpr (std::is_same_v<T, float>) {
    if (use_small_kernels<T>(out_))
      return detail::small_linear_forward(n, in_, out_, x.data(), params_[0].value.data(), bias,
                                          y.data());
  } else {
    if (out_ <= detail::kSmallLinearMaxOut)  // the gradient checks' forwards (small_gemm.hpp)
      return detail::small_linear_forward(n, in_, out_, x.data(), params_[0].value.data(), bias,
                                          y.data());
  }
  reserve(n);
  MatrixMap<T> Y(y.data(), n, out_);
  // Y (N, out) = X (N, D) · Wᵀ (D, out); Wᵀ is W read with swapped strides.
  detail::gemm<T>(n, out_, in_, {x.data(), in_, 1}, {params_[0].value.data(), 1, in_}, y.data(),
                  out_, false, gemm_scratch_.data());
  if (bias != nullptr) Y.rowwise() += detail::ConstVectorMap<T>(bias, out_).transpose();
}

// dy: (N, out)   dx: (N, D)
// From y_nj = Σ_i W_ji x_ni + b_j:
//   ∂E/∂W_ji = Σ_n dy_nj x_ni   → dW += dYᵀ·X          (out, D)
//   ∂E/∂b_j  = Σ_n dy_nj        → db += column sums of dY
//   ∂E/∂x_ni = Σ_j dy_nj W_ji   → dX  = dY·W           (N, D)
template <typename T>
void Linear<T>::backward(const Tensor<T>& x, const Tensor<T>& /*y*/, const Tensor<T>& dy,
                         Tensor<T>* dx) {
  const Index n = x.dim(0);
  ConstMatrixMap<T> X(x.data(), n, in_);
  ConstMatrixMap<T> dY(dy.data(), n, out_);
  const bool small = use_small_kernels<T>(out_);
  // dW (out, D) += dYᵀ (out, N) · X (N, D)
  if constexpr (std::is_same_v<T, float>) {
    if (small)
      detail::small_linear_weight_grad(n, in_, out_, dy.data(), x.data(), params_[0].grad.data());
  }
  if (!small)
    detail::gemm<T>(out_, in_, n, {dy.data(), 1, out_}, {x.data(), in_, 1}, params_[0].grad.data(),
                    in_, true, gemm_scratch_.data());
  if (has_bias()) {
    VectorMap<T> db(params_[1].grad.data(), out_);
    if (this->fault_ == Fault::kBiasGradFirstSample)
      db += dY.row(0).transpose();  // the bug: sample 0 stands in for the batch sum
    else
      db += dY.colwise().sum().transpose();
  }
  if (dx == nullptr) return;
  MatrixMap<T> dX(dx->data(), n, in_);
  // dX (N, D) = dY (N, out) · W (out, D)
  if constexpr (std::is_same_v<T, float>) {
    if (small)
      detail::small_linear_data_grad(n, in_, out_, dy.data(), params_[0].value.data(), dx->data());
  }
  if (!small)
    detail::gemm<T>(n, in_, out_, {dy.data(), out_, 1}, {params_[0].value.data(), in_, 1},
                    dx->data(), in_, false, gemm_scratch_.data());
  if (this->fault_ == Fault::kLinearInputSigmoidMask) {
    // The seed's bug, linear half: the sigmoid derivative in output form, y(1−y), applied to
    // this layer's own input x instead of to the sigmoid's output: dX ← dX ⊙ X ⊙ (1−X).
    dX.array() *= X.array() * (T(1) - X.array());
  }
}

template class Linear<float>;
template class Linear<double>;

}  // namespace cnndiag
