#include "cnndiag/import.hpp"

#include <algorithm>
#include <string>

#include "cnndiag/data.hpp"
#include "cnndiag/errors.hpp"
#include "cnndiag/spelling.hpp"

namespace cnndiag {
namespace {

std::string join_dims(const std::vector<Index>& dims, const char* separator) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? separator : "") + std::to_string(dims[i]);
  return s.empty() ? "scalar" : s;
}

/// How the file's own tools show dims: MATLAB "4×400", h5py "(4,400)".
std::string shown(const std::vector<Index>& dims, bool column_major) {
  return column_major ? "size " + join_dims(dims, "×") : "shape (" + join_dims(dims, ",") + ")";
}

std::vector<Index> strip_trailing_ones(std::vector<Index> dims) {
  while (!dims.empty() && dims.back() == 1) dims.pop_back();
  return dims;
}

/// The dims of `raw` read in `layout`'s storage order (data.hpp: same memory, dims reversed when
/// the file's order differs from the layout's).
std::vector<Index> dims_in(const RawArray& raw, Layout layout) {
  std::vector<Index> dims = raw.info.dims;
  if ((layout == Layout::kMatlab) != raw.column_major) std::reverse(dims.begin(), dims.end());
  return dims;
}

/// The dims a tensor of `kind` has in the file, for `layout` (the form a shape error quotes).
std::vector<Index> file_dims(Layout layout, TensorKind kind, const Shape& expected) {
  std::vector<Index> dims(expected.begin(), expected.end());
  if (layout == Layout::kNchw) return dims;
  switch (kind) {
    case TensorKind::kConvWeight:  // (OC, C, KH, KW) → KH×KW×C×OC
      return {expected[2], expected[3], expected[1], expected[0]};
    case TensorKind::kLinearWeight:  // (out, in) → out×in
      return dims;
    case TensorKind::kVector:
      return {expected.numel(), 1};
    case TensorKind::kLayerOutput:  // per sample (C,H,W) → H×W×C; (D) → D
      if (expected.rank() == 3) return {expected[1], expected[2], expected[0]};
      return dims;
  }
  return dims;
}

bool is_vector_shape(const std::vector<Index>& dims, Index numel) {
  Index non_one = 0, product = 1;
  for (Index d : dims) {
    non_one += d != 1 ? 1 : 0;
    product *= d;
  }
  return product == numel && non_one <= 1;
}

/// Column permutation of a linear layer's weight between MATLAB's column-major flatten of an
/// input (C, H, W) and cnndiag's row-major one: matlab_column[ours] for each of our columns.
std::vector<Index> matlab_columns(const Shape& input_shape, Index in) {
  std::vector<Index> map(static_cast<std::size_t>(in));
  if (input_shape.rank() != 3) {
    for (Index i = 0; i < in; ++i) map[static_cast<std::size_t>(i)] = i;
    return map;
  }
  const Index cs = input_shape[0], hs = input_shape[1], ws = input_shape[2];
  for (Index c = 0; c < cs; ++c)
    for (Index h = 0; h < hs; ++h)
      for (Index w = 0; w < ws; ++w)
        map[static_cast<std::size_t>((c * hs + h) * ws + w)] = h + hs * (w + ws * c);
  return map;
}

}  // namespace

Tensor<double> import_tensor(const RawArray& raw, Layout layout, TensorKind kind,
                             const Shape& expected, const Shape& input_shape,
                             const std::string& key) {
  CNNDIAG_ASSERT(layout != Layout::kAuto, "import_tensor needs a concrete layout");
  const bool matlab = layout == Layout::kMatlab;
  const std::vector<Index> dims = dims_in(raw, layout);
  const std::string what = "'" + raw.info.name + "' (" + key + ")";

  if (kind == TensorKind::kLayerOutput) {
    // The per-sample block layout is the data inputs' one (H×W×C×N, D×N): reuse that conversion,
    // with the output shape given so trailing singletons (and N = 1) are no problem.
    Tensor<double> out;
    try {
      out = inputs_to_nchw(raw, layout, expected);
    } catch (const DataError& e) {
      throw ShapeError(what + ": " + e.what());
    }
    if (!(out.shape().drop_first() == expected))
      throw ShapeError(what + " has " + shown(raw.info.dims, raw.column_major) +
                       ", expected a gradient of the layer output per sample: " +
                       (matlab ? "size " + join_dims(file_dims(layout, kind, expected), "×") + "×N"
                               : "shape (N," + join_dims(std::vector<Index>(expected.begin(),
                                                                            expected.end()),
                                                         ",") +
                                     ")"));
    return out;
  }

  const std::vector<Index> want = file_dims(layout, kind, expected);
  const bool fits = kind == TensorKind::kVector
                        ? is_vector_shape(dims, expected.numel())
                        : strip_trailing_ones(dims) == strip_trailing_ones(want);
  if (!fits) {
    std::string form;
    if (matlab && kind == TensorKind::kConvWeight) form = " (MatConvNet KH×KW×C×OC)";
    if (matlab && kind == TensorKind::kLinearWeight) form = " (out×in)";
    if (kind == TensorKind::kVector) form = " (a vector of " + std::to_string(expected.numel()) + ")";
    throw ShapeError(what + " has " + shown(raw.info.dims, raw.column_major) + ", expected " +
                     shown(want, matlab) + form + " for " + key + " " + expected.str());
  }
  Tensor<double> out(expected);
  const std::vector<double>& v = raw.values;
  CNNDIAG_ASSERT(static_cast<Index>(v.size()) == out.size(), "value count of " + raw.info.name);
  if (!matlab || kind == TensorKind::kVector) {
    std::copy(v.begin(), v.end(), out.data());
    return out;
  }
  if (kind == TensorKind::kConvWeight) {
    // MATLAB (kh, kw, c, oc) sits at kh + KH·(kw + KW·(c + C·oc)).
    const Index ocs = expected[0], cs = expected[1], khs = expected[2], kws = expected[3];
    for (Index oc = 0; oc < ocs; ++oc)
      for (Index c = 0; c < cs; ++c)
        for (Index kh = 0; kh < khs; ++kh)
          for (Index kw = 0; kw < kws; ++kw)
            out[((oc * cs + c) * khs + kh) * kws + kw] =
                v[static_cast<std::size_t>(kh + khs * (kw + kws * (c + cs * oc)))];
    return out;
  }
  // Linear weight: MATLAB (o, j) sits at o + out·j, j the MATLAB column of our column i.
  const Index outs = expected[0], in = expected[1];
  const std::vector<Index> column = matlab_columns(input_shape, in);
  for (Index o = 0; o < outs; ++o)
    for (Index i = 0; i < in; ++i)
      out[o * in + i] = v[static_cast<std::size_t>(o + outs * column[static_cast<std::size_t>(i)])];
  return out;
}

RawArray export_tensor(const Tensor<double>& value, Layout layout, TensorKind kind,
                       const Shape& input_shape) {
  CNNDIAG_ASSERT(layout != Layout::kAuto, "export_tensor needs a concrete layout");
  RawArray raw;
  raw.info.dtype = "float64";
  raw.column_major = layout == Layout::kMatlab;
  raw.values.assign(static_cast<std::size_t>(value.size()), 0.0);
  const Shape& s = value.shape();
  if (layout == Layout::kNchw) {
    raw.info.dims.assign(s.begin(), s.end());
    std::copy(value.data(), value.data() + value.size(), raw.values.begin());
    return raw;
  }
  std::vector<double>& v = raw.values;
  switch (kind) {
    case TensorKind::kVector:
      raw.info.dims = {s.numel(), 1};
      std::copy(value.data(), value.data() + value.size(), v.begin());
      break;
    case TensorKind::kConvWeight: {
      const Index ocs = s[0], cs = s[1], khs = s[2], kws = s[3];
      raw.info.dims = {khs, kws, cs, ocs};
      for (Index oc = 0; oc < ocs; ++oc)
        for (Index c = 0; c < cs; ++c)
          for (Index kh = 0; kh < khs; ++kh)
            for (Index kw = 0; kw < kws; ++kw)
              v[static_cast<std::size_t>(kh + khs * (kw + kws * (c + cs * oc)))] =
                  value[((oc * cs + c) * khs + kh) * kws + kw];
      break;
    }
    case TensorKind::kLinearWeight: {
      const Index outs = s[0], in = s[1];
      raw.info.dims = {outs, in};
      const std::vector<Index> column = matlab_columns(input_shape, in);
      for (Index o = 0; o < outs; ++o)
        for (Index i = 0; i < in; ++i)
          v[static_cast<std::size_t>(o + outs * column[static_cast<std::size_t>(i)])] =
              value[o * in + i];
      break;
    }
    case TensorKind::kLayerOutput: {
      const Index n = s[0];
      const Index per = value.size() / std::max<Index>(n, 1);
      if (s.rank() == 4) {
        const Index cs = s[1], hs = s[2], ws = s[3];
        raw.info.dims = {hs, ws, cs, n};
        for (Index k = 0; k < n; ++k)
          for (Index c = 0; c < cs; ++c)
            for (Index h = 0; h < hs; ++h)
              for (Index w = 0; w < ws; ++w)
                v[static_cast<std::size_t>(k * per + h + hs * (w + ws * c))] =
                    value[k * per + (c * hs + h) * ws + w];
      } else {
        raw.info.dims = {per, n};
        std::copy(value.data(), value.data() + value.size(), v.begin());
      }
      break;
    }
  }
  return raw;
}

std::vector<ImportedTensor> load_imported(const Config& config, const std::filesystem::path& file,
                                          const Model<double>& model, bool grads) {
  const std::string cfg = config.path.filename().string();
  const std::string table = grads ? "[import.grads]" : "[import.params]";
  if (!config.import)
    throw ConfigError(config.path.string() + ": no [import] table: map the model's tensors to the "
                      "variables in " + file.filename().string() +
                      " (see DESIGN.md §7.3: [import.params] \"conv1.weight\" = \"w\", …)");
  const ImportConfig& imp = *config.import;
  const auto& map = grads ? imp.grads : imp.params;
  const ArrayFile af = ArrayFile::open(file);
  const Layout layout = resolve_layout(imp.layout, af.format());

  std::vector<std::string> available;
  for (const ArrayInfo& info : af.list()) available.push_back(info.name);
  auto list_available = [&] {
    std::string s;
    for (std::size_t i = 0; i < available.size(); ++i) s += (i ? ", " : "") + available[i];
    return s.empty() ? std::string("nothing") : s;
  };
  auto read = [&](const std::string& key, const std::string& variable) {
    if (!af.has(variable))
      throw DataError(file.string() + ": no variable '" + variable + "' (mapped to " + key +
                      " by " + table + " in " + cfg + ")" + did_you_mean(variable, available) +
                      "; the file has: " + list_available());
    return af.read(variable);
  };

  std::vector<ImportedTensor> out;
  for (std::size_t li = 0; li < model.size(); ++li) {
    const Layer<double>& layer = model.layer(li);
    for (const Param<double>& p : layer.params()) {
      const std::string key = param_key(layer.name(), p.name);
      const auto it = std::find_if(map.begin(), map.end(), [&](const auto& e) { return e.first == key; });
      if (it == map.end()) {
        std::string mapped;
        for (const auto& e : map) mapped += (mapped.empty() ? "" : ", ") + e.first;
        throw ConfigError(config.path.string() + ": " + table + ": model tensor " + key +
                          " is not mapped to a variable (mapped: " +
                          (mapped.empty() ? std::string("none") : mapped) + "; " +
                          file.filename().string() + " has: " + list_available() + ")");
      }
      const RawArray raw = read(key, it->second);
      const TensorKind kind = layer.type() == "conv2d" && p.name == "weight" ? TensorKind::kConvWeight
                              : layer.type() == "linear" && p.name == "weight"
                                  ? TensorKind::kLinearWeight
                                  : TensorKind::kVector;
      Tensor<double> value;
      try {
        value = import_tensor(raw, layout, kind, p.value.shape(), layer.input_shape(), key);
      } catch (const ShapeError& e) {
        throw ShapeError(file.string() + ": " + e.what());
      }
      out.push_back({key, it->second, raw.info.dtype, std::move(value)});
    }
  }
  if (grads) {
    // Layer-output gradients are optional; each one given must fit.
    for (const auto& [key, variable] : map) {
      const std::size_t colon = key.find(':');
      if (colon == std::string::npos) continue;
      const int li = model.find(key.substr(0, colon));
      CNNDIAG_ASSERT(li >= 0, "config parsing checked [import.grads] layer names");
      const RawArray raw = read(key, variable);
      Tensor<double> value;
      try {
        value = import_tensor(raw, layout, TensorKind::kLayerOutput,
                              model.layer(static_cast<std::size_t>(li)).output_shape(), Shape{}, key);
      } catch (const ShapeError& e) {
        throw ShapeError(file.string() + ": " + e.what());
      }
      out.push_back({key, variable, raw.info.dtype, std::move(value)});
    }
  }
  return out;
}

std::vector<NamedTensor> load_imported_params(const Config& config,
                                              const std::filesystem::path& file) {
  const Model<double> model(config.layers, input_sample_shape(config.data));
  std::vector<NamedTensor> out;
  for (ImportedTensor& t : load_imported(config, file, model, false))
    out.push_back({t.key, std::move(t.value)});
  return out;
}

}  // namespace cnndiag
