// The collapse probe: where do the outputs stop depending on the sample?
//
// For a layer output A (N×D, one row per sample) let Ā be the row mean. The spread
//   ρ = ‖A − 1·Ā‖_F / ‖A‖_F ∈ [0, 1]
// is the fraction of the output's energy that varies between samples: 1 when the rows average to
// zero, 0 when every row is the same. It is scale-free, so a layer whose outputs shrank to 1e-20
// but still differ is not called collapsed, while a layer whose outputs are its bias is (ρ = 0).
// In float32 rounding leaves ρ ≈ 1e-7 on identical rows, well under the 1e-4 default.
#include <Eigen/Dense>
#include <cmath>

#include "cnndiag/probes/probes.hpp"

namespace cnndiag {
namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Eigen::Map<const RowMatrix> as_matrix(const Tensor<double>& a) {
  const Index n = a.dim(0);
  return {a.data(), n, a.size() / n};
}

}  // namespace

double spread(const Tensor<double>& a) {
  const auto m = as_matrix(a);
  const double total = m.norm();
  if (total == 0.0) return 0.0;
  const Eigen::RowVectorXd mean = m.colwise().mean();
  return (m.rowwise() - mean).norm() / total;
}

double effective_rank(const Tensor<double>& a) {
  const auto m = as_matrix(a);
  const Eigen::RowVectorXd mean = m.colwise().mean();
  const RowMatrix centred = m.rowwise() - mean;
  // Singular values from the N×N Gram matrix: N is the batch (small), D may be large.
  const Eigen::MatrixXd gram = centred * centred.transpose();
  const Eigen::VectorXd eig = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(gram).eigenvalues();
  double sum = 0;
  std::vector<double> sv;
  for (Index i = 0; i < eig.size(); ++i) {
    const double s = std::sqrt(std::max(0.0, eig[i]));
    sv.push_back(s);
    sum += s;
  }
  if (sum <= 0) return 0.0;
  double entropy = 0;
  for (double s : sv)
    if (s > 0) entropy -= (s / sum) * std::log(s / sum);
  return std::exp(entropy);
}

ProbeResult probe_collapse(const Observation& o) {
  ProbeResult r;
  r.probe = "collapse";
  const double identical = o.config.threshold("collapse_identical_rho");
  const double low = o.config.threshold("collapse_low_rho");
  const double drop = o.config.threshold("collapse_drop_factor");

  const double rho_input = spread(o.inputs);
  r.measurements["input"] = {{"rho", rho_input}, {"effective_rank", effective_rank(o.inputs)}};
  double rho_prev = rho_input;
  std::string prev_name = "the input";
  bool collapsed = false;
  for (const LayerObservation& l : o.layers) {
    const auto m = as_matrix(l.output);
    const double rho = spread(l.output);
    // Per-unit std across samples, summarised.
    const Eigen::RowVectorXd mean = m.colwise().mean();
    const Eigen::RowVectorXd std =
        ((m.rowwise() - mean).array().square().colwise().sum() / static_cast<double>(m.rows())).sqrt();
    const double mean_abs = mean.cwiseAbs().mean();
    nlohmann::json meas = {{"rho", rho},
                           {"rho_vs_input", rho_input > 0 ? rho / rho_input : 0.0},
                           {"effective_rank", effective_rank(l.output)},
                           {"unit_std_min", std.minCoeff()},
                           {"unit_std_max", std.maxCoeff()},
                           {"unit_std_mean", std.mean()},
                           {"mean_abs", mean_abs},
                           {"units", m.cols()}};
    r.measurements[l.name] = meas;

    if (!collapsed && rho < identical) {
      collapsed = true;
      Finding f;
      f.id = "collapse.identical_outputs";
      f.severity = Severity::kError;
      f.layer = l.name;
      f.tensor = l.name + ":output";
      char text[256];
      std::snprintf(text, sizeof text,
                    "outputs are identical across samples from '%s' onward (spread rho = %.3g, "
                    "below %.0e; the layer before had %.3g)",
                    l.name.c_str(), rho, identical, rho_prev);
      f.message = text;
      f.evidence = {{"rho", rho}, {"rho_previous", rho_prev}, {"previous", prev_name},
                    {"threshold", identical}, {"mean_abs", mean_abs},
                    {"unit_std_max", std.maxCoeff()}};
      f.fix = "find what erased the between-sample differences at '" + l.name +
              "': see the causes below (weights decayed to zero, dead or saturated units, "
              "a wrong gradient)";
      r.findings.push_back(std::move(f));
    } else if (!collapsed && (rho < low || (rho > 0 && rho_prev / rho >= drop))) {
      Finding f;
      f.id = "collapse.low_spread";
      f.severity = Severity::kWarning;
      f.layer = l.name;
      f.tensor = l.name + ":output";
      char text[256];
      std::snprintf(text, sizeof text,
                    "outputs of '%s' barely differ across samples (rho = %.3g; the layer before "
                    "had %.3g)",
                    l.name.c_str(), rho, rho_prev);
      f.message = text;
      f.evidence = {{"rho", rho}, {"rho_previous", rho_prev}, {"low_threshold", low},
                    {"drop_threshold", drop}};
      f.fix = "check the scale of '" + l.name +
              "''s weights and its pre-activations (saturation or decayed weights)";
      r.findings.push_back(std::move(f));
    }
    rho_prev = rho;
    prev_name = l.name;
  }
  return r;
}

}  // namespace cnndiag
