// `--against FILE`: gradients the user computed elsewhere, compared with cnndiag's reference
// gradients at the user's own parameters on the config's data (DESIGN.md §7.3).
#include <algorithm>
#include <chrono>
#include <cmath>

#include "cnndiag/errors.hpp"
#include "cnndiag/import.hpp"
#include "cnndiag/trainer.hpp"
#include "gradcheck/internal.hpp"

namespace cnndiag {

using namespace gradcheck_detail;

GradcheckResult gradcheck_against(const Config& config, const std::filesystem::path& file,
                                  const GradcheckSettings& base) {
  const auto start = std::chrono::steady_clock::now();
  const GradcheckSettings settings = GradcheckSettings::from_config(config, base);
  Workbench<double> wb = open_workbench<double>(config);
  // The reference is cnndiag's correct backward: any fault in the config is left out.
  const std::vector<LayerConfig> layers = without_faults(config.layers);
  const LossConfig loss = without_fault(config.loss);
  Model<double> model(layers, wb.model->input_shape());
  if (!settings.layer.empty() && model.find(settings.layer) < 0)
    throw UsageError("--layer: the model has no layer '" + settings.layer + "'");

  const std::vector<ImportedTensor> params = load_imported(config, file, model, false);
  for (auto& [key, param] : model.named_params())
    for (const ImportedTensor& t : params)
      if (t.key == key) param->value = t.value;
  const std::vector<ImportedTensor> grads = load_imported(config, file, model, true);

  // Convert the user's gradients to the config's loss convention. With a mean-reduced loss
  // E = (1/N)·Σ_n ℓ_n, gradients summed over samples are ∂(Σ_n ℓ_n)/∂θ = N·∂E/∂θ: divide by N.
  // With a sum-reduced loss and gradients averaged over samples: multiply by N.
  const Index n = wb.batch.inputs.dim(0);
  const bool user_sum = config.import->grad_reduction == "sum";
  const bool loss_mean = loss.reduction == "mean";
  const double to_ours = user_sum && loss_mean    ? 1.0 / static_cast<double>(n)
                         : !user_sum && !loss_mean ? static_cast<double>(n)
                                                   : 1.0;
  GradientSet observed;
  std::map<std::string, double> rtols;
  for (const ImportedTensor& t : grads) {
    Tensor<double> g = t.value;
    for (Index i = 0; i < g.size(); ++i) g[i] *= to_ours;
    observed[t.key] = std::move(g);
    // Single-precision gradients carry ~1e-7 relative rounding per operation, far more after a
    // long sum: judge them by float32's tolerance (PROBES.md: 2e-3), not float64's.
    rtols[t.key] = t.dtype == "float32" ? std::max(settings.rtol, 2e-3) : settings.rtol;
  }

  const GradientSet reference = model_gradients(model, loss, wb.batch.inputs, wb.batch.targets);
  GradcheckResult result;
  result.source = file.string();
  result.params_from = "the parameters in " + file.filename().string();
  result.samples = n;
  {
    const Tensor<double>& y = model.forward(wb.batch.inputs, true);
    result.loss = Loss<double>(loss).evaluate(y, wb.batch.targets, nullptr);
  }

  std::vector<std::string> order, mismatching;
  double rtol_max = settings.rtol;
  for (const TensorRef& ref : backward_order(model, settings.layer, true)) {
    const auto it = observed.find(ref.key);
    if (it == observed.end()) continue;  // a layer output the user did not give
    const Tensor<double>& u = it->second;
    const Tensor<double>& r = reference.at(ref.key);
    const double rtol = rtols[ref.key];
    rtol_max = std::max(rtol_max, rtol);
    const TensorDiff d = compare_tensors(u, r, settings.atol, rtol);
    TensorCheck c;
    c.tensor = ref.key;
    c.layer = model.layer(ref.layer).name();
    c.computed_by = ref.output ? (ref.layer + 1 == model.size() ? std::string("loss")
                                                                : model.layer(ref.layer + 1).name())
                               : c.layer;
    c.scope = "against";
    c.reference = "import";
    c.analytic_max = d.max_abs_u;
    c.reference_max = d.max_ref;
    c.mode = GradcheckMode::kExhaustive;
    c.size = c.checked = u.size();
    c.mismatches = d.coordinates_off;
    c.max_abs_error = d.max_abs;
    c.max_rel_error = d.rel;
    c.cosine = d.cosine;
    c.scale = d.scale;
    c.analytic_norm = d.norm_u;
    c.reference_norm = d.norm_r;
    double worst = -1;
    for (Index i = 0; i < u.size(); ++i)
      if (std::abs(u[i] - r[i]) > worst) {
        worst = std::abs(u[i] - r[i]);
        c.worst = i;
        c.analytic_at_worst = u[i];
        c.numeric_at_worst = r[i];
      }
    c.status = d.pass ? CheckStatus::kPass : CheckStatus::kMismatch;
    order.push_back(c.tensor);
    if (!d.pass) mismatching.push_back(c.tensor);
    result.checks.push_back(std::move(c));
  }
  result.localisation = localise(result.checks);
  if (settings.hypotheses && !mismatching.empty())
    result.hypotheses = find_hypotheses(layers, loss, model, wb.batch.inputs, wb.batch.targets,
                                        observed, order, mismatching, settings.atol, rtol_max);
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace cnndiag
