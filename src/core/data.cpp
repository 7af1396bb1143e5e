#include "cnndiag/data.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "cnndiag/errors.hpp"
#include "cnndiag/rng.hpp"

namespace cnndiag {
namespace {

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

Index product(const std::vector<Index>& dims, std::size_t first = 0,
              std::size_t last = static_cast<std::size_t>(-1)) {
  last = std::min(last, dims.size());
  Index p = 1;
  for (std::size_t i = first; i < last; ++i) p *= dims[i];
  return p;
}

std::string join(const std::vector<Index>& dims, const char* separator) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? separator : "") + std::to_string(dims[i]);
  return s;
}

/// Dims the way the file's own tools show them: MATLAB's size() "4×1×32", numpy's "(32,4)".
std::string shown(const std::vector<Index>& dims, bool column_major) {
  if (column_major) return "size " + join(dims, "×");
  return "shape (" + join(dims, ",") + ")";
}

std::string layout_name(Layout layout) {
  switch (layout) {
    case Layout::kAuto:
      return "auto";
    case Layout::kNchw:
      return "nchw";
    case Layout::kMatlab:
      return "matlab";
  }
  return "?";
}

/// kAuto on a bare RawArray: its own element order decides.
Layout concrete(Layout layout, const RawArray& raw) {
  if (layout != Layout::kAuto) return layout;
  return raw.column_major ? Layout::kMatlab : Layout::kNchw;
}

/// The raw array's dims in the storage order `layout` names. The element order in memory never
/// changes; only how the dims are read. An array's C-order dims (d0,…,dk) describe exactly the
/// same memory as column-major dims (dk,…,d0), so
///   - "matlab" on an HDF5 file (C-order dims as h5py shows them, e.g. a MATLAB h5write or a v7.3
///     file read through HDF5: (32,1,20,20) for MATLAB's 20×20×1×32) reverses the dims;
///   - "nchw" on a .mat file (MATLAB dims) reverses them too: MATLAB's W×H×C×N is row-major NCHW.
std::vector<Index> dims_in(Layout layout, const RawArray& raw) {
  std::vector<Index> dims = raw.info.dims;
  const bool want_column_major = layout == Layout::kMatlab;
  if (want_column_major != raw.column_major) std::reverse(dims.begin(), dims.end());
  return dims;
}

/// A per-sample shape as cnndiag holds it: (D) for flat vectors, (C, H, W) for images; a
/// `[data] shape` of (H, W) means one channel.
Shape sample_shape_from(const Shape& shape) {
  if (shape.rank() == 2) return Shape{1, shape[0], shape[1]};
  return shape;
}

std::string matlab_subscript(const std::string& name, Index linear,
                             const std::vector<Index>& dims) {
  std::string s = name + "(";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    const Index d = std::max<Index>(dims[i], 1);
    s += (i ? "," : "") + std::to_string(linear % d + 1);
    linear /= d;
  }
  return s + ")";
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

// Row-major N×… inputs: the memory already is (N, per-sample values) in C order.
Tensor<double> nchw_inputs(const RawArray& raw, const std::vector<Index>& dims,
                           const std::optional<Shape>& shape, const std::string& where) {
  const std::size_t rank = dims.size();
  if (rank < 2 || rank > 4)
    throw DataError(where +
                    ": expected inputs of shape (N,C,H,W), (N,H,W) or (N,D) for layout "
                    "nchw, found " +
                    shown(dims, false));
  const Index n = dims[0];
  const Index per_sample = product(dims, 1);
  Shape sample;
  if (shape) {
    sample = sample_shape_from(*shape);
    if (sample.numel() != per_sample)
      throw DataError(where + ": [data] shape " + shape->str() + " holds " +
                      std::to_string(sample.numel()) + " values per sample, but the inputs hold " +
                      std::to_string(per_sample) + " (" + shown(dims, false) + ")");
  } else if (rank == 2) {
    sample = Shape{per_sample};
  } else if (rank == 3) {
    sample = Shape{1, dims[1], dims[2]};
  } else {
    sample = Shape{dims[1], dims[2], dims[3]};
  }
  Tensor<double> out(sample.with_batch(n));
  std::copy(raw.values.begin(), raw.values.end(), out.data());
  return out;
}

// Column-major H×W×C×N inputs (MATLAB). Sample n occupies one contiguous block of D = H·W·C
// values (the last dim varies slowest in column-major order); inside it, element (h, w, c) sits at
// h + H·(w + W·c). cnndiag wants (n, c, h, w) at ((n·C + c)·H + h)·W + w, so each block is
// transposed from (c, w, h)-major to (c, h, w)-major.
Tensor<double> matlab_inputs(const RawArray& raw, const std::vector<Index>& dims,
                             const std::optional<Shape>& shape, const std::string& where) {
  const std::size_t rank = dims.size();
  if (rank < 2 || rank > 4)
    throw DataError(where +
                    ": expected inputs of size H×W×C×N, H×W×N or D×N for layout matlab, "
                    "found " +
                    shown(dims, true));
  const Index total = product(dims);
  Shape sample;
  if (shape) {
    // With an explicit per-sample shape, N is whatever is left: this also covers a single
    // H×W×C×1 sample, which MATLAB shows as H×W×C.
    sample = sample_shape_from(*shape);
    if (sample.numel() == 0 || total % sample.numel() != 0)
      throw DataError(where + ": [data] shape " + shape->str() + " holds " +
                      std::to_string(sample.numel()) +
                      " values per sample, which does not divide " + "the " +
                      std::to_string(total) + " values of the inputs (" + shown(dims, true) + ")");
  } else if (rank == 2) {
    sample = Shape{dims[0]};  // D×N: one column per sample
  } else if (rank == 3) {
    sample = Shape{1, dims[0], dims[1]};  // H×W×N: the channel dim of H×W×1×N was dropped
  } else {
    sample = Shape{dims[2], dims[0], dims[1]};  // H×W×C×N
  }
  const Index per_sample = sample.numel();
  const Index n = per_sample == 0 ? 0 : total / per_sample;
  Tensor<double> out(sample.with_batch(n));
  if (sample.rank() == 1) {
    // D×N column-major is the same memory as (N, D) row-major.
    std::copy(raw.values.begin(), raw.values.end(), out.data());
    return out;
  }
  const Index c_count = sample[0], h_count = sample[1], w_count = sample[2];
  for (Index s = 0; s < n; ++s) {
    const double* block = raw.values.data() + s * per_sample;
    double* dst = out.data() + s * per_sample;
    for (Index c = 0; c < c_count; ++c)
      for (Index h = 0; h < h_count; ++h)
        for (Index w = 0; w < w_count; ++w)
          dst[(c * h_count + h) * w_count + w] = block[h + h_count * (w + w_count * c)];
  }
  return out;
}

Tensor<double> inputs_to_nchw_at(const RawArray& raw, Layout layout,
                                 const std::optional<Shape>& shape, const std::string& where) {
  layout = concrete(layout, raw);
  const std::vector<Index> dims = dims_in(layout, raw);
  if (static_cast<Index>(raw.values.size()) != product(dims))
    throw DataError(where + ": holds " + std::to_string(raw.values.size()) + " values but its " +
                    shown(raw.info.dims, raw.column_major) + " needs " +
                    std::to_string(product(dims)));
  if (raw.values.empty())
    throw DataError(where + ": the inputs are empty (" + shown(raw.info.dims, raw.column_major) +
                    ")");
  if (layout == Layout::kMatlab) return matlab_inputs(raw, dims, shape, where);
  return nchw_inputs(raw, dims, shape, where);
}

// ---------------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------------

// Both accepted forms keep sample n's K values contiguous: row-major (N, K[,1,1]) and column-major
// K[×1]×N are the same memory as (N, K) row-major. Only the dims need checking.
Tensor<double> targets_to_nk_at(const RawArray& raw, Layout layout, const std::string& where) {
  layout = concrete(layout, raw);
  const std::vector<Index> dims = dims_in(layout, raw);
  const bool matlab = layout == Layout::kMatlab;
  Index n = 0, k = 0;
  bool ok = !dims.empty();
  if (ok && !matlab) {
    // (N), (N,K), (N,K,1,…)
    n = dims[0];
    k = dims.size() >= 2 ? dims[1] : 1;
    for (std::size_t i = 2; i < dims.size(); ++i) ok = ok && dims[i] == 1;
  } else if (ok) {
    // K×N, K×1×N, K×1×1×N (MATLAB always shows at least two dims)
    ok = dims.size() >= 2;
    if (ok) {
      k = dims.front();
      n = dims.back();
      for (std::size_t i = 1; i + 1 < dims.size(); ++i) ok = ok && dims[i] == 1;
    }
  }
  if (!ok)
    throw DataError(where + ": expected targets of " +
                    (matlab ? std::string("size K×N or K×1×N (one column per sample)")
                            : std::string("shape (N,K) or (N,K,1,1)")) +
                    " for layout " + layout_name(layout) + ", found " +
                    shown(raw.info.dims, raw.column_major));
  Tensor<double> out(Shape{n, k});
  CNNDIAG_ASSERT(static_cast<Index>(raw.values.size()) == n * k, "targets value count");
  std::copy(raw.values.begin(), raw.values.end(), out.data());
  return out;
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

struct NonFinite {
  Index nan = 0, inf = 0, first = -1;
  Index count() const { return nan + inf; }
};

NonFinite find_non_finite(const Tensor<double>& t) {
  NonFinite found;
  for (Index i = 0; i < t.size(); ++i) {
    const double v = t[i];
    if (std::isfinite(v)) continue;
    (std::isnan(v) ? found.nan : found.inf) += 1;
    if (found.first < 0) found.first = i;
  }
  return found;
}

/// "(n,c,h,w) = (0,0,4,7)" for a flat index into a tensor of `shape`; `letters` names the dims.
std::string tensor_index(Index flat, const Shape& shape, const std::vector<const char*>& letters) {
  std::vector<Index> idx(static_cast<std::size_t>(shape.rank()));
  for (int i = shape.rank() - 1; i >= 0; --i) {
    idx[static_cast<std::size_t>(i)] = flat % shape[i];
    flat /= shape[i];
  }
  std::string names, values;
  for (std::size_t i = 0; i < idx.size(); ++i) {
    names += (i ? "," : "") + std::string(i < letters.size() ? letters[i] : "?");
    values += (i ? "," : "") + std::to_string(idx[i]);
  }
  return "(" + names + ") = (" + values + ")";
}

/// Where element `flat` of the converted (N, C, H, W) / (N, D) / (N, K) tensor came from in a
/// column-major file, as a linear MATLAB index (0-based): sample n's block starts at n·D, and
/// (c, h, w) sits at h + H·(w + W·c) inside it; flat rows keep their order.
Index matlab_linear_index(Index flat, const Shape& shape) {
  if (shape.rank() != 4) return flat;
  const Index per_sample = shape.numel() / shape[0];
  const Index n = flat / per_sample, rest = flat % per_sample;
  const Index h_count = shape[2], w_count = shape[3];
  const Index c = rest / (h_count * w_count), h = (rest / w_count) % h_count, w = rest % w_count;
  return n * per_sample + h + h_count * (w + w_count * c);
}

enum class Role { kInputs, kTargets };

/// DataError when `t` holds NaN or Inf: how many, and where the first one is, both in cnndiag's
/// indexing and (for a MATLAB array) as the subscript a MATLAB user would type.
void require_finite(const Tensor<double>& t, const RawArray& raw, Layout layout,
                    const std::string& where, Role role) {
  const NonFinite found = find_non_finite(t);
  if (found.count() == 0) return;
  const std::vector<const char*> letters =
      role == Role::kTargets ? std::vector<const char*>{"n", "k"}
      : t.rank() == 4        ? std::vector<const char*>{"n", "c", "h", "w"}
                             : std::vector<const char*>{"n", "d"};
  std::string message = where + ": " + std::to_string(found.count()) + " non-finite values (" +
                        std::to_string(found.nan) + " NaN, " + std::to_string(found.inf) +
                        " Inf) in the " + (role == Role::kTargets ? "targets" : "inputs") +
                        "; the first at " + tensor_index(found.first, t.shape(), letters);
  if (concrete(layout, raw) == Layout::kMatlab && raw.column_major)
    message += ", " +
               matlab_subscript(raw.info.name, matlab_linear_index(found.first, t.shape()),
                                raw.info.dims) +
               " in MATLAB";
  throw DataError(message);
}

// ---------------------------------------------------------------------------------------------
// Synthetic targets and labels
// ---------------------------------------------------------------------------------------------

/// MATLAB's rand(K,1,N) / randn(K,1,N) fills a K×1×N array in column-major order, k fastest;
/// drawing in that order keeps sample n's K values equal to the n-th column of the MATLAB draw
/// for the same stream. (N, K) row-major is the same order.
Tensor<double> random_targets(const TargetsSpec& spec, Index n, Index k, const std::string& where) {
  if (spec.distribution != "uniform" && spec.distribution != "normal")
    throw DataError(where + ": targets.random: expected \"uniform\" or \"normal\", found \"" +
                    spec.distribution + "\"");
  Rng rng(spec.seed);
  const bool uniform = spec.distribution == "uniform";
  Tensor<double> out(Shape{n, k});
  for (Index i = 0; i < out.size(); ++i) out[i] = uniform ? rng.uniform() : rng.normal();
  return out;
}

std::vector<std::int64_t> random_labels(const TargetsSpec& spec, Index n, Index classes) {
  Rng rng(spec.seed);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
  for (auto& label : labels)
    label = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(classes)));
  return labels;
}

/// Class labels: one integer per sample, stored as any vector (N), (N,1), 1×N or N×1.
std::vector<std::int64_t> read_labels(const RawArray& raw, Index n, Index classes,
                                      std::int64_t base, const std::string& where) {
  const std::vector<Index>& dims = raw.info.dims;
  const Index non_singleton =
      std::count_if(dims.begin(), dims.end(), [](Index d) { return d != 1; });
  if (non_singleton > 1 || static_cast<Index>(raw.values.size()) != n)
    throw DataError(where + ": expected " + std::to_string(n) +
                    " class labels (one per sample, as a vector), found " +
                    shown(dims, raw.column_major));
  std::vector<std::int64_t> labels;
  labels.reserve(raw.values.size());
  for (Index i = 0; i < n; ++i) {
    const double v = raw.values[static_cast<std::size_t>(i)];
    const std::string at = " at sample " + std::to_string(i) + " (0-based)";
    if (!std::isfinite(v)) throw DataError(where + ": non-finite class label" + at);
    if (v != std::floor(v))
      throw DataError(where + ": class label " + std::to_string(v) + at + " is not an integer");
    const auto label = static_cast<std::int64_t>(v) - base;
    if (label < 0 || label >= classes)
      throw DataError(where + ": class label " + std::to_string(static_cast<std::int64_t>(v)) + at +
                      " is out of range: with label_base = " + std::to_string(base) + " and " +
                      std::to_string(classes) + " classes, labels must lie in " +
                      std::to_string(base) + ".." + std::to_string(base + classes - 1));
    labels.push_back(label);
  }
  return labels;
}

// ---------------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------------

// MATLAB's mapminmax(X', 0, 1) on the N×D matrix X' maps each row (one sample's D values) by
//   y = (x − xmin)·gain + ymin,   gain = (ymax − ymin)/(xmax − xmin) = 1/(xmax − xmin),
// in that order of operations. For a row it cannot scale — xmax == xmin, or |gain| > 1e14 — it
// sets gain = 1 and xoffset = ymin (= 0), i.e. y = x: a constant sample is left as it is, not
// mapped to 0 (Neural Network Toolbox, mapminmax.create, the `fix` rows).
void minmax_per_sample(Tensor<double>& x) {
  constexpr double kMaxGain = 1e14;
  const Index n = x.dim(0), d = x.size() / std::max<Index>(n, 1);
  for (Index s = 0; s < n; ++s) {
    double* row = x.data() + s * d;
    const auto [lo, hi] = std::minmax_element(row, row + d);
    const double xmin = *lo, range = *hi - *lo;
    const double gain = 1.0 / range;
    if (range == 0.0 || !std::isfinite(range) || std::abs(gain) > kMaxGain) continue;
    for (Index j = 0; j < d; ++j) row[j] = (row[j] - xmin) * gain;
  }
}

// Each feature (one of the C·H·W positions) to zero mean and unit standard deviation over the N
// samples, with the population std (divide by N, as sklearn's StandardScaler; MATLAB's zscore
// divides by N−1). A feature with zero std is only centred.
void standardize(Tensor<double>& x) {
  const Index n = x.dim(0), d = x.size() / std::max<Index>(n, 1);
  for (Index j = 0; j < d; ++j) {
    double mean = 0.0;
    for (Index s = 0; s < n; ++s) mean += x[s * d + j];
    mean /= static_cast<double>(n);
    double var = 0.0;
    for (Index s = 0; s < n; ++s) var += (x[s * d + j] - mean) * (x[s * d + j] - mean);
    const double std = std::sqrt(var / static_cast<double>(n));
    for (Index s = 0; s < n; ++s) {
      double& v = x[s * d + j];
      v = std > 0.0 ? (v - mean) / std : v - mean;
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public
// ---------------------------------------------------------------------------------------------

Tensor<double> inputs_to_nchw(const RawArray& raw, Layout layout,
                              const std::optional<Shape>& shape) {
  return inputs_to_nchw_at(raw, layout, shape, raw.info.name);
}

Tensor<double> targets_to_nk(const RawArray& raw, Layout layout) {
  return targets_to_nk_at(raw, layout, raw.info.name);
}

void normalize_inputs(Tensor<double>& inputs, Normalize mode) {
  if (inputs.empty()) return;
  switch (mode) {
    case Normalize::kNone:
      return;
    case Normalize::kMinmaxPerSample:
      minmax_per_sample(inputs);
      return;
    case Normalize::kStandardize:
      standardize(inputs);
      return;
  }
}

Layout resolve_layout(Layout layout, ArrayFile::Format format) {
  if (layout != Layout::kAuto) return layout;
  return format == ArrayFile::Format::kMat ? Layout::kMatlab : Layout::kNchw;
}

// The shape comes from the same conversion load_dataset() applies, so the two cannot disagree;
// it reads the input values once more, which for a minibatch costs little.
Shape input_sample_shape(const DataConfig& config) {
  const ArrayFile file = ArrayFile::open(config.file);
  const Layout layout = resolve_layout(config.layout, file.format());
  const RawArray x_raw = file.read(config.inputs);
  const std::string x_where = config.file.string() + ": " + x_raw.info.name;
  return inputs_to_nchw_at(x_raw, layout, config.shape, x_where).shape().drop_first();
}

Dataset load_dataset(const DataConfig& config, TargetKind kind, Index outputs) {
  const ArrayFile file = ArrayFile::open(config.file);
  const Layout layout = resolve_layout(config.layout, file.format());
  const std::string file_name = config.file.string();

  Dataset data;
  const RawArray x_raw = file.read(config.inputs);
  const std::string x_where = file_name + ": " + x_raw.info.name;
  data.inputs = inputs_to_nchw_at(x_raw, layout, config.shape, x_where);
  require_finite(data.inputs, x_raw, layout, x_where, Role::kInputs);
  const Index n = data.inputs.dim(0);

  if (config.targets.random) {
    CNNDIAG_ASSERT(outputs > 0, "synthetic targets need the model's output width");
    const std::string where = file_name + ": [data] targets";
    if (kind == TargetKind::kClassLabels)
      data.labels = random_labels(config.targets, n, outputs);
    else
      data.targets = random_targets(config.targets, n, outputs, where);
  } else {
    const RawArray y_raw = file.read(config.targets.dataset);
    const std::string y_where = file_name + ": " + y_raw.info.name;
    if (kind == TargetKind::kClassLabels) {
      const std::int64_t base = config.label_base.value_or(layout == Layout::kMatlab ? 1 : 0);
      data.labels = read_labels(y_raw, n, outputs, base, y_where);
    } else {
      data.targets = targets_to_nk_at(y_raw, layout, y_where);
      const std::string found = " (" + shown(y_raw.info.dims, y_raw.column_major) + ")";
      if (data.targets.dim(0) != n)
        throw DataError(y_where + ": the targets hold " + std::to_string(data.targets.dim(0)) +
                        " samples but the inputs " + x_raw.info.name + " hold " +
                        std::to_string(n) + found);
      if (outputs > 0 && data.targets.dim(1) != outputs)
        throw DataError(y_where + ": the targets have " + std::to_string(data.targets.dim(1)) +
                        " values per sample but the model has " + std::to_string(outputs) +
                        " outputs" + found);
      require_finite(data.targets, y_raw, layout, y_where, Role::kTargets);
    }
  }
  normalize_inputs(data.inputs, config.normalize);
  return data;
}

}  // namespace cnndiag
