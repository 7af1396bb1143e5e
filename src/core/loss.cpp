#include "cnndiag/loss.hpp"

#include <algorithm>
#include <cmath>

#include "cnndiag/errors.hpp"

namespace cnndiag {

template <typename T>
Loss<T>::Loss(const LossConfig& config) {
  if (config.type == "mse") {
    classification_ = false;
  } else if (config.type == "softmax_cross_entropy") {
    classification_ = true;
  } else {
    throw ConfigError(config.where.str() + ": loss.type: expected \"mse\" or "
                      "\"softmax_cross_entropy\", got \"" + config.type + "\"");
  }
  if (config.reduction != "mean" && config.reduction != "sum")
    throw ConfigError(config.where.str() + ": loss.reduction: expected \"mean\" or \"sum\", got \"" +
                      config.reduction + "\"");
  mean_ = config.reduction == "mean";
  scale_ = config.scale;
  if (!config.fault.empty()) {
    if (config.fault != "missing_batch_mean")
      throw ConfigError(config.where.str() + ": loss.fault: only \"missing_batch_mean\" applies "
                        "to the loss, got \"" + config.fault + "\"");
    fault_ = Fault::kMissingBatchMean;
  }
}

// y: (N, K). For mse, t: (N, K).
//   E  = s · R_i Σ_k (y_ik − t_ik)²         R = (1/N)Σ_i for mean, Σ_i for sum
//   dE/dy_ik = s · 2 (y_ik − t_ik) / N      (without the /N for sum)
// For cross-entropy with p_i = softmax(y_i):
//   ℓ_i = −log p_i[c_i] = logsumexp(y_i) − y_i[c_i]
//   dℓ_i/dy_ik = p_ik − [k = c_i]
// The missing_batch_mean fault keeps the mean in E but drops the 1/N from dE/dy: the gradient
// comes out N times too large, the classic "forgot to divide by the batch size" bug.
template <typename T>
double Loss<T>::evaluate(const Tensor<T>& y, const Targets<T>& targets, Tensor<T>* dy) const {
  const Index n = y.dim(0);
  const Index k = y.size() / std::max<Index>(n, 1);
  const double reduce = mean_ ? 1.0 / static_cast<double>(n) : 1.0;
  const double grad_reduce = fault_ == Fault::kMissingBatchMean ? 1.0 : reduce;
  double total = 0.0;
  if (!classification_) {
    CNNDIAG_ASSERT(targets.values.size() == y.size(), "targets " + targets.values.shape().str() +
                                                          " vs output " + y.shape().str());
    const T* py = y.data();
    const T* pt = targets.values.data();
    for (Index i = 0; i < y.size(); ++i) {
      const double d = static_cast<double>(py[i]) - static_cast<double>(pt[i]);
      total += d * d;
    }
    if (dy) {
      const T g = static_cast<T>(2.0 * scale_ * grad_reduce);
      T* pd = dy->data();
      for (Index i = 0; i < y.size(); ++i) pd[i] = g * (py[i] - pt[i]);
    }
  } else {
    CNNDIAG_ASSERT(static_cast<Index>(targets.labels.size()) == n, "one label per sample");
    for (Index i = 0; i < n; ++i) {
      const T* row = y.data() + i * k;
      const double m = static_cast<double>(*std::max_element(row, row + k));
      double sum = 0.0;
      for (Index j = 0; j < k; ++j) sum += std::exp(static_cast<double>(row[j]) - m);
      const double log_z = m + std::log(sum);
      const std::int64_t c = targets.labels[static_cast<std::size_t>(i)];
      total += log_z - static_cast<double>(row[c]);
      if (dy) {
        T* drow = dy->data() + i * k;
        const double g = scale_ * grad_reduce;
        for (Index j = 0; j < k; ++j) {
          const double p = std::exp(static_cast<double>(row[j]) - log_z);
          drow[j] = static_cast<T>(g * (p - (j == c ? 1.0 : 0.0)));
        }
      }
    }
  }
  return scale_ * reduce * total;
}

template <typename T>
void Loss<T>::per_sample(const Tensor<T>& y, const Targets<T>& targets,
                         std::vector<double>& out) const {
  const Index n = y.dim(0);
  const Index k = y.size() / std::max<Index>(n, 1);
  out.assign(static_cast<std::size_t>(n), 0.0);
  for (Index i = 0; i < n; ++i) {
    const T* row = y.data() + i * k;
    double l = 0.0;
    if (!classification_) {
      const T* t = targets.values.data() + i * k;
      for (Index j = 0; j < k; ++j) {
        const double d = static_cast<double>(row[j]) - static_cast<double>(t[j]);
        l += d * d;
      }
    } else {
      const double m = static_cast<double>(*std::max_element(row, row + k));
      double sum = 0.0;
      for (Index j = 0; j < k; ++j) sum += std::exp(static_cast<double>(row[j]) - m);
      l = m + std::log(sum) - static_cast<double>(row[targets.labels[static_cast<std::size_t>(i)]]);
    }
    out[static_cast<std::size_t>(i)] = l;
  }
}

template class Loss<float>;
template class Loss<double>;

}  // namespace cnndiag
