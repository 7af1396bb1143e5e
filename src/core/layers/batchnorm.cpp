#include "cnndiag/layers/batchnorm.hpp"

#include <algorithm>
#include <cmath>

#include "cnndiag/errors.hpp"
#include "cnndiag/parallel.hpp"
#include "layers/eigen_maps.hpp"
#include "layers/param_util.hpp"

namespace cnndiag {

template <typename T>
Index BatchNorm<T>::min_channels_per_chunk(Index n) const {
  return std::max<Index>(1, detail::ceil_div(detail::kMinElementsPerChunk, n * spatial_));
}

template <typename T>
BatchNorm<T>::BatchNorm(std::string name, Shape input_shape, double eps, double momentum)
    : Layer<T>(std::move(name), input_shape), eps_(eps), momentum_(momentum) {
  if (input_shape.rank() == 3) {
    channels_ = input_shape[0];
    spatial_ = input_shape[1] * input_shape[2];
  } else if (input_shape.rank() == 1) {
    channels_ = input_shape[0];
  } else {
    throw ShapeError(this->describe() + " needs a (C,H,W) or (D) input, got " +
                     input_shape.str() + " from the previous layer");
  }
  if (input_shape.numel() <= 0)
    throw ShapeError(this->describe() + " needs a non-empty input, got " + input_shape.str());
  if (!(eps > 0.0))
    throw ConfigError(this->describe() + ": eps must be > 0, got " + std::to_string(eps));
  if (!(momentum >= 0.0 && momentum <= 1.0))
    throw ConfigError(this->describe() + ": momentum must be in [0, 1], got " +
                      std::to_string(momentum));
  const Shape c{channels_};
  params_.push_back(detail::make_param<T>("weight", c, true, 0, 0, DefaultInit::kOnes));
  params_.push_back(detail::make_param<T>("bias", c, true, 0, 0, DefaultInit::kZeros));
  buffers_.push_back(Buffer<T>{"running_mean", Tensor<T>(c, T(0))});
  buffers_.push_back(Buffer<T>{"running_var", Tensor<T>(c, T(1))});
  mean_.assign(static_cast<std::size_t>(channels_), 0.0);
  inv_std_.assign(static_cast<std::size_t>(channels_), 1.0);
}

// x, y: (N, C, S) with S = H·W (or S = 1 for a (D) input); channel c holds M = N·S values at
// x[n, c, s] = x.data()[(n·C + c)·S + s].
// Training:  μ_c = (1/M) Σ x,  σ²_c = (1/M) Σ (x − μ_c)²  (two passes: no cancellation),
//            x̂ = (x − μ_c)/√(σ²_c + eps),  y = γ_c·x̂ + β_c,
//            running_mean ← (1−m)·running_mean + m·μ_c,
//            running_var  ← (1−m)·running_var  + m·σ²_c·M/(M−1).
// Eval:      the same with μ_c, σ²_c taken from the running buffers.
template <typename T>
void BatchNorm<T>::forward(const Tensor<T>& x, Tensor<T>& y, bool training) {
  const Index N = x.dim(0), C = channels_, S = spatial_, M = N * S;
  if (training && M < 2)
    throw ShapeError(this->describe() + ": training needs more than one value per channel, got "
                     "a batch of " + std::to_string(N) + " with input " +
                     this->input_shape_.str());
  last_training_ = training;
  const T* gamma = params_[0].value.data();
  const T* beta = params_[1].value.data();
  T* running_mean = buffers_[0].value.data();
  T* running_var = buffers_[1].value.data();
  parallel_for(
      0, C,
      [&](Index begin, Index end, int /*chunk*/) {
        for (Index c = begin; c < end; ++c) {
          const auto ci = static_cast<std::size_t>(c);
          double mean, var;
          if (training) {
            double sum = 0.0;
            for (Index n = 0; n < N; ++n) {
              const T* xs = x.data() + (n * C + c) * S;
              for (Index s = 0; s < S; ++s) sum += static_cast<double>(xs[s]);
            }
            mean = sum / static_cast<double>(M);
            double squares = 0.0;
            for (Index n = 0; n < N; ++n) {
              const T* xs = x.data() + (n * C + c) * S;
              for (Index s = 0; s < S; ++s) {
                const double d = static_cast<double>(xs[s]) - mean;
                squares += d * d;
              }
            }
            var = squares / static_cast<double>(M);
            const double m = momentum_;
            running_mean[c] = static_cast<T>((1.0 - m) * static_cast<double>(running_mean[c]) +
                                             m * mean);
            running_var[c] = static_cast<T>(
                (1.0 - m) * static_cast<double>(running_var[c]) +
                m * squares / static_cast<double>(M - 1));
          } else {
            mean = static_cast<double>(running_mean[c]);
            var = static_cast<double>(running_var[c]);
          }
          const double inv_std = 1.0 / std::sqrt(var + eps_);
          mean_[ci] = mean;
          inv_std_[ci] = inv_std;
          // y = γ·(x − μ)·istd + β = scale·x + shift
          const double scale = static_cast<double>(gamma[c]) * inv_std;
          const double shift = static_cast<double>(beta[c]) - scale * mean;
          for (Index n = 0; n < N; ++n) {
            const T* xs = x.data() + (n * C + c) * S;
            T* ys = y.data() + (n * C + c) * S;
            for (Index s = 0; s < S; ++s)
              ys[s] = static_cast<T>(scale * static_cast<double>(xs[s]) + shift);
          }
        }
      },
      min_channels_per_chunk(N));
}

// dy, dx: like x. Per channel (sums over its M values), with x̂ recomputed from x:
//   dβ = Σ dy,   dγ = Σ dy·x̂                                  (accumulated into the grads)
// Eval: μ, σ² are constants, so  dx = γ·istd·dy.
// Training: μ and σ² depend on every x of the channel. With dx̂ = γ·dy, the chain rule through
//   x̂_i = (x_i − μ)·istd,  μ = (1/M)Σx,  σ² = (1/M)Σ(x − μ)²  gives
//   dx_i = istd·(dx̂_i − (1/M)Σ dx̂ − x̂_i·(1/M)Σ dx̂·x̂)
//        = γ·istd·(dy_i − dβ/M − x̂_i·dγ/M)
// (the mean term removes the shift the batch mean absorbs; the x̂ term the scale the batch
// variance absorbs).
template <typename T>
void BatchNorm<T>::backward(const Tensor<T>& x, const Tensor<T>& /*y*/, const Tensor<T>& dy,
                            Tensor<T>* dx) {
  const Index N = x.dim(0), C = channels_, S = spatial_;
  const double M = static_cast<double>(N * S);
  T* dgamma = params_[0].grad.data();
  T* dbeta = params_[1].grad.data();
  const T* gamma = params_[0].value.data();
  parallel_for(
      0, C,
      [&](Index begin, Index end, int /*chunk*/) {
        for (Index c = begin; c < end; ++c) {
          const auto ci = static_cast<std::size_t>(c);
          const double mean = mean_[ci], inv_std = inv_std_[ci];
          double sum_dy = 0.0, sum_dy_xhat = 0.0;
          for (Index n = 0; n < N; ++n) {
            const T* xs = x.data() + (n * C + c) * S;
            const T* dys = dy.data() + (n * C + c) * S;
            for (Index s = 0; s < S; ++s) {
              const double g = static_cast<double>(dys[s]);
              sum_dy += g;
              sum_dy_xhat += g * (static_cast<double>(xs[s]) - mean) * inv_std;
            }
          }
          dgamma[c] += static_cast<T>(sum_dy_xhat);
          dbeta[c] += static_cast<T>(sum_dy);
          if (dx == nullptr) continue;
          const double k = static_cast<double>(gamma[c]) * inv_std;
          const double mean_dy = last_training_ ? sum_dy / M : 0.0;
          const double mean_dy_xhat = last_training_ ? sum_dy_xhat / M : 0.0;
          for (Index n = 0; n < N; ++n) {
            const T* xs = x.data() + (n * C + c) * S;
            const T* dys = dy.data() + (n * C + c) * S;
            T* dxs = dx->data() + (n * C + c) * S;
            for (Index s = 0; s < S; ++s) {
              const double xhat = (static_cast<double>(xs[s]) - mean) * inv_std;
              dxs[s] = static_cast<T>(k * (static_cast<double>(dys[s]) - mean_dy -
                                           xhat * mean_dy_xhat));
            }
          }
        }
      },
      min_channels_per_chunk(N));
}

template class BatchNorm<float>;
template class BatchNorm<double>;

}  // namespace cnndiag
