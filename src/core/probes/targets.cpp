// The targets probe: is there anything in the inputs to learn?
//
// 1. The best constant predictor: the output that is the same for every sample and minimises the
//    run's loss on the probe batch (probe_util's best_constant_loss). A model whose loss is not
//    below it has learnt nothing that depends on the input.
// 2. Cross-validated ridge regression of the targets on the flattened inputs: k = min(5, N) folds,
//    sample i in fold i mod k (deterministic, and interleaved so that sorted data still mixes).
//    Per fold the features are standardised with the training part's mean and std, the targets
//    centred (an unpenalised intercept), and
//        W = argmin ‖Y − XW‖² + α‖W‖²  =  (XᵀX + αI)⁻¹XᵀY  =  Xᵀ(XXᵀ + αI)⁻¹Y.
//    The primal form needs the D×D matrix XᵀX, the dual the n×n Gram matrix XXᵀ: the probe uses
//    the dual when D > n (images: D = C·H·W ≫ N). Both reduce to one eigendecomposition per fold:
//    with XᵀX = VSVᵀ and P = XV (primal), or XXᵀ = USUᵀ and P = U√S (dual), the hat matrix is
//        H(α) = Σ_j P_j P_jᵀ / (s_j + α),
//    so every α of a grid costs O(n·r). α is chosen per fold by exact leave-one-out on the
//    training part — for a penalised least-squares fit the LOO residual is e_i / (1 − h_ii), with
//    h_ii = H_ii + 1/n for the intercept (Golub, Heath & Wahba 1979) — over the grid
//    α = s̄·10^j, j = −4…4 (s̄ the mean eigenvalue, so the grid follows the data's scale), plus
//    α = ∞, the constant predictor, so that on pure noise ridge may fall back to the mean.
//    The held-out predictions give
//        CV R² = 1 − Σ‖y − ŷ‖² / Σ‖y − ȳ_train‖²
//    against the training folds' mean, the best constant — so R² ≤ 0 means the inputs do not
//    help. For classification the targets are one-hot, the class is the argmax of the ridge
//    outputs (one-vs-rest), and the CV accuracy is compared with predicting the training folds'
//    majority class.
//    It is a linear test: a target that depends on the inputs only nonlinearly can escape it.
//    To bound the cost (Gram O(n²D), eigen O(n³) per fold) at most kMaxSamples samples, and fewer
//    when D is large, are used, taken at an even stride.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>

#include "cnndiag/probes/probes.hpp"
#include "probes/probe_util.hpp"

namespace cnndiag {
namespace {

using probe_detail::format;
using Matrix = Eigen::MatrixXd;
using Vector = Eigen::VectorXd;

constexpr Index kMaxFolds = 5;
constexpr Index kMaxSamples = 2000;
constexpr double kWorkBudget = 4e9;   // ≈ n²·D multiply-adds allowed for the Gram matrices
constexpr double kConstantLevel = 0.99;  // model loss ≥ this × constant loss: "no better"

struct CvResult {
  Index folds = 0, samples = 0, features = 0;
  bool dual = false;
  double sse_model = 0, sse_constant = 0;   // regression
  Index correct = 0, correct_majority = 0;  // classification
  std::vector<double> alpha;                // chosen per fold (relative to s̄; inf: constant)
};

// One fold's eigen-decomposition of the hat matrix and the map from new inputs to predictions.
struct RidgeBasis {
  Matrix p;        // n × r: H(α) = Σ_j p_j p_jᵀ / (s_j + α)
  Vector s;        // r eigenvalues
  Matrix to_test;  // m × r: test predictions = to_test · diag(1/(s+α)) · pᵀ · Yc
};

RidgeBasis ridge_basis(const Matrix& xtrain, const Matrix& xtest, bool dual) {
  RidgeBasis b;
  if (dual) {
    // XXᵀ = U S Uᵀ; ŷ(x) = x Xᵀ U diag(1/(s+α)) Uᵀ Yc, and p = U√S so that P diag Pᵀ = H.
    const Eigen::SelfAdjointEigenSolver<Matrix> eig(xtrain * xtrain.transpose());
    b.s = eig.eigenvalues().cwiseMax(0.0);
    const Vector root = b.s.cwiseSqrt();
    b.p = eig.eigenvectors() * root.asDiagonal();
    // x Xᵀ U = x Xᵀ U; with p = U√s the prediction is (x Xᵀ U) diag(1/(s+α)) Uᵀ Yc
    //        = (x Xᵀ U diag(1/√s)) diag(1/(s+α)) pᵀ Yc for s > 0; zero eigenvalues carry nothing.
    Matrix k = xtest * xtrain.transpose() * eig.eigenvectors();
    for (Index j = 0; j < b.s.size(); ++j) k.col(j) *= root[j] > 0 ? 1.0 / root[j] : 0.0;
    b.to_test = k;
  } else {
    // XᵀX = V S Vᵀ; p = XV; ŷ(x) = x V diag(1/(s+α)) Vᵀ Xᵀ Yc = (xV) diag(1/(s+α)) pᵀ Yc.
    const Eigen::SelfAdjointEigenSolver<Matrix> eig(xtrain.transpose() * xtrain);
    b.s = eig.eigenvalues().cwiseMax(0.0);
    b.p = xtrain * eig.eigenvectors();
    b.to_test = xtest * eig.eigenvectors();
  }
  return b;
}

// Leave-one-out squared error of the ridge fit with penalty α on the training part (centred Yc).
double loo_error(const RidgeBasis& b, const Matrix& yc, double alpha) {
  const Index n = yc.rows();
  const Vector shrink = (b.s.array() + alpha).inverse().matrix();
  const Matrix fitted = b.p * shrink.asDiagonal() * (b.p.transpose() * yc);
  const Vector h = (b.p.array().square().matrix() * shrink).array() + 1.0 / static_cast<double>(n);
  double sse = 0;
  for (Index i = 0; i < n; ++i) {
    const double denom = 1.0 - h[i];
    if (denom < 1e-10) return std::numeric_limits<double>::infinity();  // interpolates sample i
    sse += ((yc.row(i) - fitted.row(i)) / denom).squaredNorm();
  }
  return sse;
}

CvResult cross_validate(const Matrix& x, const Matrix& y, bool classification) {
  CvResult cv;
  const Index n = x.rows(), d = x.cols(), k = y.cols();
  cv.samples = n;
  cv.features = d;
  cv.folds = std::min(kMaxFolds, n);
  for (Index fold = 0; fold < cv.folds; ++fold) {
    std::vector<Index> train, test;
    for (Index i = 0; i < n; ++i) (i % cv.folds == fold ? test : train).push_back(i);
    const Index nt = static_cast<Index>(train.size()), m = static_cast<Index>(test.size());
    cv.dual = d > nt;
    Matrix xtr(nt, d), xte(m, d), ytr(nt, k), yte(m, k);
    for (Index i = 0; i < nt; ++i) {
      xtr.row(i) = x.row(train[static_cast<std::size_t>(i)]);
      ytr.row(i) = y.row(train[static_cast<std::size_t>(i)]);
    }
    for (Index i = 0; i < m; ++i) {
      xte.row(i) = x.row(test[static_cast<std::size_t>(i)]);
      yte.row(i) = y.row(test[static_cast<std::size_t>(i)]);
    }
    // Standardise with the training part's statistics; a constant feature becomes 0.
    const Eigen::RowVectorXd mean = xtr.colwise().mean();
    xtr.rowwise() -= mean;
    xte.rowwise() -= mean;
    for (Index j = 0; j < d; ++j) {
      const double sd = std::sqrt(xtr.col(j).squaredNorm() / static_cast<double>(nt));
      const double inv = sd > 1e-12 ? 1.0 / sd : 0.0;
      xtr.col(j) *= inv;
      xte.col(j) *= inv;
    }
    const Eigen::RowVectorXd ymean = ytr.colwise().mean();
    const Matrix yc = ytr.rowwise() - ymean;

    const RidgeBasis basis = ridge_basis(xtr, xte, cv.dual);
    const double s_mean = basis.s.sum() / static_cast<double>(nt);
    // α = ∞ first: the constant predictor's LOO error, (y_i − ȳ)/(1 − 1/n).
    double best = (yc / (1.0 - 1.0 / static_cast<double>(nt))).squaredNorm();
    double best_alpha = std::numeric_limits<double>::infinity();
    if (s_mean > 0)
      for (int j = -4; j <= 4; ++j) {
        const double alpha = s_mean * std::pow(10.0, j);
        const double e = loo_error(basis, yc, alpha);
        if (e < best) {
          best = e;
          best_alpha = alpha;
        }
      }
    cv.alpha.push_back(std::isfinite(best_alpha) ? best_alpha / s_mean : best_alpha);

    Matrix pred = Matrix::Zero(m, k);
    if (std::isfinite(best_alpha)) {
      const Vector shrink = (basis.s.array() + best_alpha).inverse().matrix();
      pred = basis.to_test * shrink.asDiagonal() * (basis.p.transpose() * yc);
    }
    pred.rowwise() += ymean;
    if (!classification) {
      cv.sse_model += (yte - pred).squaredNorm();
      cv.sse_constant += (yte.rowwise() - ymean).squaredNorm();
    } else {
      Index majority = 0;
      ymean.maxCoeff(&majority);  // the training part's most frequent class
      for (Index i = 0; i < m; ++i) {
        Index truth = 0, guess = 0;
        yte.row(i).maxCoeff(&truth);
        pred.row(i).maxCoeff(&guess);
        cv.correct += guess == truth;
        cv.correct_majority += majority == truth;
      }
    }
  }
  return cv;
}

}  // namespace

ProbeResult probe_targets(const Observation& o) {
  ProbeResult r;
  r.probe = "targets";
  const double r2_threshold = o.config.threshold("targets_r2");
  const Loss<double> loss(o.config.loss);
  const bool classification = loss.classification();
  const Index n_all = o.inputs.dim(0);
  const Index d = o.inputs.size() / n_all;

  const double constant_loss = probe_detail::best_constant_loss(o);
  nlohmann::json meas = {{"model_loss", o.loss},
                         {"constant_loss", constant_loss},
                         {"loss_ratio", constant_loss > 0 ? o.loss / constant_loss
                                                          : std::numeric_limits<double>::quiet_NaN()}};

  // Samples used: all, or an even stride when the Gram matrices would be too costly.
  const double budget_n = std::sqrt(kWorkBudget / static_cast<double>(std::max<Index>(d, 1)));
  const Index max_n = std::max<Index>(50, std::min<Index>(kMaxSamples, static_cast<Index>(budget_n)));
  const Index stride = (n_all + max_n - 1) / max_n;
  std::vector<Index> rows;
  for (Index i = 0; i < n_all; i += stride) rows.push_back(i);
  const Index n = static_cast<Index>(rows.size());

  Matrix x(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < d; ++j) x(i, j) = o.inputs[rows[static_cast<std::size_t>(i)] * d + j];
  Index k = 0;
  Matrix y;
  if (!classification) {
    k = o.targets.values.size() / n_all;
    y.resize(n, k);
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < k; ++j) y(i, j) = o.targets.values[rows[static_cast<std::size_t>(i)] * k + j];
  } else {
    k = o.model->output_shape().numel();
    y = Matrix::Zero(n, k);
    for (Index i = 0; i < n; ++i) {
      const std::int64_t label = o.targets.labels[static_cast<std::size_t>(rows[static_cast<std::size_t>(i)])];
      if (label >= 0 && label < k) y(i, label) = 1.0;
    }
  }

  auto add = [&](std::string id, Severity severity, std::string message, std::string fix) {
    Finding f;
    f.id = std::move(id);
    f.severity = severity;
    f.tensor = "targets";
    f.message = std::move(message);
    f.evidence = meas;
    f.fix = std::move(fix);
    r.findings.push_back(std::move(f));
  };

  if (n < 3) {
    meas["cv"] = "skipped: fewer than 3 samples";
    r.measurements["targets"] = meas;
    return r;
  }
  const CvResult cv = cross_validate(x, y, classification);
  meas["folds"] = cv.folds;
  meas["samples"] = cv.samples;
  meas["features"] = cv.features;
  meas["form"] = cv.dual ? "dual" : "primal";
  nlohmann::json alphas = nlohmann::json::array();
  for (double a : cv.alpha) alphas.push_back(std::isfinite(a) ? nlohmann::json(a) : nlohmann::json("inf"));
  meas["alpha_relative"] = alphas;

  bool predictable = false;
  if (!classification) {
    if (cv.sse_constant <= 0) {
      meas["cv_r2"] = nullptr;
      r.measurements["targets"] = meas;
      add("targets.constant", Severity::kWarning,
          "the targets are the same for every sample: a constant output is exact, and identical "
          "outputs are the right answer",
          "check that the targets dataset holds the values meant for each sample");
      return r;
    }
    const double r2 = 1.0 - cv.sse_model / cv.sse_constant;
    meas["cv_r2"] = r2;
    predictable = r2 > r2_threshold;
    r.measurements["targets"] = meas;
    if (!predictable)
      add("targets.unpredictable", Severity::kWarning,
          format("the targets look independent of the inputs: cross-validated ridge regression "
                 "predicts them no better than their mean (R² = %.3g ≤ %.3g; %lld folds, %lld "
                 "samples, %lld features; a linear test). Then a constant output, the same for "
                 "every sample, is the best any model can do on this batch (loss %.4g)",
                 r2, r2_threshold, static_cast<long long>(cv.folds),
                 static_cast<long long>(cv.samples), static_cast<long long>(cv.features),
                 constant_loss),
          "check that the targets belong to the inputs (file, variable, sample order); random "
          "targets such as rand(4,1,32) carry nothing to learn");
  } else {
    const double accuracy = static_cast<double>(cv.correct) / static_cast<double>(n);
    const double majority = static_cast<double>(cv.correct_majority) / static_cast<double>(n);
    meas["cv_accuracy"] = accuracy;
    meas["majority_accuracy"] = majority;
    predictable = accuracy > majority;
    r.measurements["targets"] = meas;
    if (!predictable)
      add("targets.unpredictable", Severity::kWarning,
          format("the labels look independent of the inputs: a cross-validated ridge classifier "
                 "is right on %.3g of the samples, no better than always answering the majority "
                 "class (%.3g; %lld folds, %lld samples, %lld features; a linear test). Then a "
                 "constant output is the best any model can do on this batch (loss %.4g)",
                 accuracy, majority, static_cast<long long>(cv.folds),
                 static_cast<long long>(cv.samples), static_cast<long long>(cv.features),
                 constant_loss),
          "check that the labels belong to the inputs (file, variable, sample order, label_base)");
  }

  // Before any training step every network is at or above the constant level: say so, but only
  // warn about a run that has trained (it has a loss history).
  if (constant_loss > 0 && o.loss >= kConstantLevel * constant_loss) {
    add("targets.constant_level",
        predictable && !o.history_loss.empty() ? Severity::kWarning : Severity::kInfo,
        format("the model's loss (%.4g) is no better than the best constant output's (%.4g): it "
               "has learnt nothing that depends on the input%s",
               o.loss, constant_loss,
               predictable ? ", although the targets are predictable from the inputs"
                           : ", which is all these targets allow"),
        predictable ? "see the other findings for what stops the network from using its input"
                    : "fix the targets first");
  }
  return r;
}

}  // namespace cnndiag
