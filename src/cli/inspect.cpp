// `cnndiag inspect FILE`: what a config, checkpoint or data file holds.
//   config (.toml):       the network summary (layer, type, output shape, params), the data it
//                         loads, and the resolved config
//   checkpoint (.h5):     metadata, every tensor with shape and norm, history and probe batch
//   data (.h5, .mat):     every dataset/variable with shape, dtype, min, max, mean
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli.hpp"
#include "cnndiag/checkpoint.hpp"
#include "cnndiag/config.hpp"
#include "cnndiag/h5file.hpp"
#include "cnndiag/inspect.hpp"
#include "cnndiag/trainer.hpp"
#include "table.hpp"

namespace cnndiag::cli {
namespace {

using nlohmann::json;

struct InspectArgs {
  std::string file;
  std::string format = "text";
  bool show_config = true;
};

json shape_json(const Shape& s) { return json(std::vector<Index>(s.begin(), s.end())); }

double norm(const Tensor<double>& t) {
  double s = 0;
  for (Index i = 0; i < t.size(); ++i) s += t[i] * t[i];
  return std::sqrt(s);
}

int inspect_config(const InspectArgs& args, const GlobalOptions& global) {
  const Config config = load_config(args.file);
  // Building the workbench loads and validates the data too: a config whose data do not fit
  // fails here, with the data error.
  const Workbench<float> wb = open_workbench<float>(config);
  const auto rows = wb.model->summary();
  const bool color = use_color(global);
  if (args.format == "json") {
    json layers = json::array();
    for (const auto& r : rows)
      layers.push_back({{"name", r.name}, {"type", r.type}, {"output_shape", shape_json(r.output_shape)},
                        {"params", r.params}, {"fault", r.fault.empty() ? json() : json(r.fault)}});
    json out = {{"schema", "cnndiag.inspect/1"},
                {"kind", "config"},
                {"file", config.path.string()},
                {"input_shape", shape_json(wb.model->input_shape())},
                {"samples", wb.data.samples()},
                {"layers", layers},
                {"total_params", wb.model->param_count()},
                {"resolved_config", to_toml(config)}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  print_network_summary(config.path.filename().string(), rows, wb.model->input_shape(), color);
  const auto& d = config.data;
  std::printf("\n%s %s: %lld samples of %s, inputs '%s', targets %s, layout %s, normalize %s\n",
              paint("Data", "bold", color).c_str(), d.file.string().c_str(),
              static_cast<long long>(wb.data.samples()), wb.data.sample_shape().str().c_str(),
              d.inputs.c_str(),
              d.targets.random ? ("random " + d.targets.distribution + " (seed " +
                                  std::to_string(d.targets.seed) + ")").c_str()
                               : ("'" + d.targets.dataset + "'").c_str(),
              std::string(to_string(d.layout)).c_str(), std::string(to_string(d.normalize)).c_str());
  if (args.show_config)
    std::printf("\n%s\n%s", paint("Resolved config", "bold", color).c_str(), to_toml(config).c_str());
  return 0;
}

int inspect_checkpoint(const InspectArgs& args, const GlobalOptions& global) {
  const CheckpointData d = read_checkpoint(args.file);
  const bool color = use_color(global);
  auto tensor_rows = [](const std::vector<NamedTensor>& ts) {
    json rows = json::array();
    for (const auto& t : ts) rows.push_back({{"name", t.key}, {"shape", shape_json(t.value.shape())}, {"norm", norm(t.value)}});
    return rows;
  };
  if (args.format == "json") {
    json out = {{"schema", "cnndiag.inspect/1"},
                {"kind", "checkpoint"},
                {"file", args.file},
                {"iteration", d.iteration},
                {"seed", d.seed},
                {"dtype", d.dtype},
                {"cnndiag_version", d.cnndiag_version},
                {"created_utc", d.created_utc},
                {"params", tensor_rows(d.params)},
                {"grads", tensor_rows(d.grads)},
                {"buffers", tensor_rows(d.buffers)},
                {"optimizer", {{"type", d.optimizer_type}, {"lr", d.optimizer_lr}, {"step", d.optimizer_step},
                               {"slots", tensor_rows(d.optimizer_slots)}}},
                {"history_length", d.history_loss.size()},
                {"last_loss", d.history_loss.empty() ? json() : json(d.history_loss.back())},
                {"probe_inputs_shape", shape_json(d.probe_inputs.shape())}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%s\n", paint("Checkpoint " + args.file, "bold", color).c_str());
  std::printf("  iteration %lld, seed %llu, %s, written %s by cnndiag %s\n",
              static_cast<long long>(d.iteration), static_cast<unsigned long long>(d.seed),
              d.dtype.c_str(), d.created_utc.c_str(), d.cnndiag_version.c_str());
  Table table({"tensor", "shape", "‖param‖", "‖grad‖"});
  for (const auto& p : d.params) {
    const NamedTensor* g = d.find_grad(p.key);
    table.add({p.key, p.value.shape().str(), format_number(norm(p.value)),
               g ? format_number(norm(g->value)) : "-"});
  }
  for (const auto& b : d.buffers) table.add({b.key, b.value.shape().str(), format_number(norm(b.value)), ""});
  std::printf("%s", table.render(2).c_str());
  std::printf("  optimizer %s, lr %g, step %lld, %zu state tensors\n", d.optimizer_type.c_str(),
              d.optimizer_lr, static_cast<long long>(d.optimizer_step), d.optimizer_slots.size());
  if (!d.history_loss.empty())
    std::printf("  history: %zu losses, first %.6g (iteration %lld), last %.6g (iteration %lld)\n",
                d.history_loss.size(), d.history_loss.front(),
                static_cast<long long>(d.history_iteration.front()), d.history_loss.back(),
                static_cast<long long>(d.history_iteration.back()));
  std::printf("  probe batch: inputs %s, %s\n", d.probe_inputs.shape().str().c_str(),
              d.probe_labels.empty() ? ("targets " + d.probe_targets.shape().str()).c_str()
                                     : ("labels (" + std::to_string(d.probe_labels.size()) + ")").c_str());
  return 0;
}

int inspect_data(const InspectArgs& args, const GlobalOptions& global) {
  const FileDescription desc = describe_array_file(args.file);
  if (args.format == "json") {
    std::printf("%s\n", to_json(desc).dump(2).c_str());
    return 0;
  }
  const bool color = use_color(global);
  std::printf("%s\n", paint(desc.format + " file " + args.file, "bold", color).c_str());
  for (const auto& [key, value] : desc.attributes) std::printf("  %s = %s\n", key.c_str(), value.c_str());
  Table table({"name", "shape", "dtype", "min", "max", "mean", "NaN/Inf"});
  for (const auto& a : desc.arrays) {
    std::string dims = a.column_major ? "" : "(";
    for (std::size_t i = 0; i < a.info.dims.size(); ++i)
      dims += (i ? (a.column_major ? "×" : ",") : "") + std::to_string(a.info.dims[i]);
    if (!a.column_major) dims += ")";
    if (!a.stats) {
      table.add({a.info.name, dims, a.info.dtype, "", "", "", ""});
      continue;
    }
    const ArrayStats& st = *a.stats;
    auto num = [](const std::optional<double>& v) { return v ? format_number(*v) : "-"; };
    table.add({a.info.name, dims, a.info.dtype, num(st.min), num(st.max), num(st.mean), std::to_string(st.nan_count) + "/" + std::to_string(st.inf_count)});
  }
  std::printf("%s", table.render(2).c_str());
  return 0;
}

bool is_checkpoint(const std::string& file) {
  if (!is_hdf5_file(file)) return false;
  try {
    H5File h5(file, H5File::Mode::kRead);
    const auto format = h5.attr_string("/", "format");
    return format && *format == kCheckpointFormat;
  } catch (const Error&) {
    return false;
  }
}

int run_inspect(const InspectArgs& args, const GlobalOptions& global) {
  const std::filesystem::path path(args.file);
  if (!std::filesystem::exists(path)) throw IoError(args.file + ": no such file");
  if (path.extension() == ".toml") return inspect_config(args, global);
  if (is_checkpoint(args.file)) return inspect_checkpoint(args, global);
  return inspect_data(args, global);
}

}  // namespace

Command make_inspect_command(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* sub = app.add_subcommand(
      "inspect",
      "Show what a config, checkpoint or data file holds.\n\n"
      "  net.toml      the network: layer, type, output shape, parameter count; the data it\n"
      "                loads; the resolved config (every key, paths absolute)\n"
      "  ckpt-*.h5     a checkpoint: iteration, seed, every tensor with its shape and norm\n"
      "  data.h5/.mat  every dataset or variable: shape, dtype, min, max, mean, NaN count\n\n"
      "Example:\n  cnndiag inspect data/examples/seed/net.toml");
  split_help(*sub);
  sub->add_option("file", args->file, "A .toml config, a checkpoint, or an HDF5/MAT data file")
      ->required();
  sub->add_option("--format", args->format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  sub->add_flag("!--no-config", args->show_config, "Config: leave out the resolved config");
  add_global_options(*sub, global);
  return {sub, [args, &global] { return run_inspect(*args, global); }};
}

}  // namespace cnndiag::cli
