#include "cnndiag/data.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "cnndiag/errors.hpp"
#include "cnndiag/h5file.hpp"
#include "cnndiag/rng.hpp"

namespace cnndiag {
namespace {

namespace fs = std::filesystem;

fs::path source(const std::string& relative) { return fs::path(CNNDIAG_SOURCE_DIR) / relative; }

std::string bad(const std::string& name) { return source("tests/data/bad/" + name).string(); }

DataConfig config_for(const fs::path& file, Layout layout, std::string inputs = "X",
                      std::string targets = "y") {
  DataConfig config;
  config.file = file;
  config.inputs = std::move(inputs);
  config.targets.dataset = std::move(targets);
  config.layout = layout;
  return config;
}

template <typename Body>
std::string data_error(Body body) {
  testing::internal::CaptureStderr();
  std::string message = "(no DataError)";
  try {
    body();
  } catch (const DataError& e) {
    message = e.what();
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  return message;
}

RawArray raw_array(std::vector<Index> dims, bool column_major, std::vector<double> values,
                   std::string name = "X") {
  RawArray raw;
  raw.info.name = std::move(name);
  raw.info.dims = std::move(dims);
  raw.info.dtype = "float64";
  raw.column_major = column_major;
  raw.values = std::move(values);
  return raw;
}

// A code that says where an element belongs: 1000·n + 100·c + 10·h + w.
double code(Index n, Index c, Index h, Index w) {
  return static_cast<double>(1000 * n + 100 * c + 10 * h + w);
}

/// A MATLAB H×W×C×N array of codes, in column-major order (h fastest, n slowest).
std::vector<double> matlab_codes(Index h_count, Index w_count, Index c_count, Index n_count) {
  std::vector<double> v;
  for (Index n = 0; n < n_count; ++n)
    for (Index c = 0; c < c_count; ++c)
      for (Index w = 0; w < w_count; ++w)
        for (Index h = 0; h < h_count; ++h) v.push_back(code(n, c, h, w));
  return v;
}

/// The same codes, row-major N×C×H×W.
std::vector<double> nchw_codes(Index n_count, Index c_count, Index h_count, Index w_count) {
  std::vector<double> v;
  for (Index n = 0; n < n_count; ++n)
    for (Index c = 0; c < c_count; ++c)
      for (Index h = 0; h < h_count; ++h)
        for (Index w = 0; w < w_count; ++w) v.push_back(code(n, c, h, w));
  return v;
}

void expect_codes_in_place(const Tensor<double>& t) {
  ASSERT_EQ(t.rank(), 4);
  const Index n_count = t.dim(0), c_count = t.dim(1), h_count = t.dim(2), w_count = t.dim(3);
  for (Index n = 0; n < n_count; ++n)
    for (Index c = 0; c < c_count; ++c)
      for (Index h = 0; h < h_count; ++h)
        for (Index w = 0; w < w_count; ++w)
          ASSERT_EQ(t[((n * c_count + c) * h_count + h) * w_count + w], code(n, c, h, w))
              << "(n,c,h,w) = (" << n << "," << c << "," << h << "," << w << ")";
}

// ---- layouts --------------------------------------------------------------------------------

TEST(Layouts, MatlabHwcnLandsAtNchw) {
  // H=2, W=3, C=2, N=2: a small case checked element by element. Hand check of one element:
  // MATLAB X(2,3,1,2) (h=1, w=2, c=0, n=1) is linear index 1 + 2·(2 + 3·(0 + 2·1)) = 17.
  const std::vector<double> v = matlab_codes(2, 3, 2, 2);
  EXPECT_EQ(v[17], code(1, 0, 1, 2));
  const Tensor<double> t =
      inputs_to_nchw(raw_array({2, 3, 2, 2}, true, v), Layout::kMatlab, std::nullopt);
  EXPECT_EQ(t.shape(), (Shape{2, 2, 2, 3}));
  expect_codes_in_place(t);
}

TEST(Layouts, MatlabHwnMeansOneChannel) {
  const Tensor<double> t = inputs_to_nchw(raw_array({3, 4, 5}, true, matlab_codes(3, 4, 1, 5)),
                                          Layout::kMatlab, std::nullopt);
  EXPECT_EQ(t.shape(), (Shape{5, 1, 3, 4}));
  expect_codes_in_place(t);
}

TEST(Layouts, MatlabFlatDxNWithShape) {
  // reshape(X, 12, N) of an H×W×C×N array keeps each column a column-major H×W×C block.
  const std::vector<double> v = matlab_codes(2, 3, 2, 3);
  const Tensor<double> flat =
      inputs_to_nchw(raw_array({12, 3}, true, v), Layout::kMatlab, std::nullopt);
  EXPECT_EQ(flat.shape(), (Shape{3, 12}));
  EXPECT_EQ(flat[12 + 5], v[12 + 5]);  // (n=1, d=5): kept in the file's order
  const Tensor<double> shaped =
      inputs_to_nchw(raw_array({12, 3}, true, v), Layout::kMatlab, Shape{2, 2, 3});
  EXPECT_EQ(shaped.shape(), (Shape{3, 2, 2, 3}));
  expect_codes_in_place(shaped);
}

TEST(Layouts, MatlabSingleSampleWithTrailingOneDropped) {
  // One 2×3×2 sample: MATLAB shows H×W×C×1 as 2×3×2. With [data] shape it is N = 1.
  const Tensor<double> t = inputs_to_nchw(raw_array({2, 3, 2}, true, matlab_codes(2, 3, 2, 1)),
                                          Layout::kMatlab, Shape{2, 2, 3});
  EXPECT_EQ(t.shape(), (Shape{1, 2, 2, 3}));
  expect_codes_in_place(t);
}

TEST(Layouts, NchwVariants) {
  const Tensor<double> four = inputs_to_nchw(raw_array({2, 3, 2, 4}, false, nchw_codes(2, 3, 2, 4)),
                                             Layout::kNchw, std::nullopt);
  EXPECT_EQ(four.shape(), (Shape{2, 3, 2, 4}));
  expect_codes_in_place(four);
  const Tensor<double> three = inputs_to_nchw(raw_array({2, 2, 4}, false, nchw_codes(2, 1, 2, 4)),
                                              Layout::kNchw, std::nullopt);
  EXPECT_EQ(three.shape(), (Shape{2, 1, 2, 4}));
  expect_codes_in_place(three);
  const Tensor<double> flat = inputs_to_nchw(raw_array({2, 24}, false, nchw_codes(2, 3, 2, 4)),
                                             Layout::kNchw, std::nullopt);
  EXPECT_EQ(flat.shape(), (Shape{2, 24}));
  const Tensor<double> shaped = inputs_to_nchw(raw_array({2, 24}, false, nchw_codes(2, 3, 2, 4)),
                                               Layout::kNchw, Shape{3, 2, 4});
  expect_codes_in_place(shaped);
}

TEST(Layouts, HdfFileInMatlabLayoutReversesDims) {
  // MATLAB's h5write of a 2×3×2×2 array: h5py shows (2,2,3,2), same memory.
  const Tensor<double> t = inputs_to_nchw(raw_array({2, 2, 3, 2}, false, matlab_codes(2, 3, 2, 2)),
                                          Layout::kMatlab, std::nullopt);
  EXPECT_EQ(t.shape(), (Shape{2, 2, 2, 3}));
  expect_codes_in_place(t);
}

TEST(Layouts, MatFileInNchwLayoutReversesDims) {
  // A MATLAB variable of size W×H×C×N holds row-major N×C×H×W memory.
  const Tensor<double> t = inputs_to_nchw(raw_array({4, 2, 3, 2}, true, nchw_codes(2, 3, 2, 4)),
                                          Layout::kNchw, std::nullopt);
  EXPECT_EQ(t.shape(), (Shape{2, 3, 2, 4}));
  expect_codes_in_place(t);
}

TEST(Layouts, WrongRankAndShape) {
  EXPECT_EQ(data_error([] {
              inputs_to_nchw(raw_array({2, 1, 2, 2, 2}, false, std::vector<double>(16)),
                             Layout::kNchw, std::nullopt);
            }),
            "X: expected inputs of shape (N,C,H,W), (N,H,W) or (N,D) for layout nchw, found "
            "shape (2,1,2,2,2)");
  EXPECT_EQ(data_error([] {
              inputs_to_nchw(raw_array({6}, false, std::vector<double>(6)), Layout::kNchw,
                             std::nullopt);
            }),
            "X: expected inputs of shape (N,C,H,W), (N,H,W) or (N,D) for layout nchw, found "
            "shape (6)");
  EXPECT_EQ(data_error([] {
              inputs_to_nchw(raw_array({2, 12}, false, std::vector<double>(24)), Layout::kNchw,
                             Shape{1, 4, 4});
            }),
            "X: [data] shape (1,4,4) holds 16 values per sample, but the inputs hold 12 "
            "(shape (2,12))");
  EXPECT_EQ(data_error([] {
              inputs_to_nchw(raw_array({10, 3}, true, std::vector<double>(30)), Layout::kMatlab,
                             Shape{1, 2, 2});
            }),
            "X: [data] shape (1,2,2) holds 4 values per sample, which does not divide the 30 "
            "values of the inputs (size 10×3)");
}

TEST(Layouts, TargetsBothWays) {
  // K = 3, N = 2; target (n, k) = 10·n + k.
  const std::vector<double> nk = {0, 1, 2, 10, 11, 12};  // row-major (N,K) = column-major K×N
  for (const auto& [dims, column_major, layout] :
       {std::tuple{std::vector<Index>{2, 3}, false, Layout::kNchw},
        std::tuple{std::vector<Index>{2, 3, 1, 1}, false, Layout::kNchw},
        std::tuple{std::vector<Index>{3, 2}, true, Layout::kMatlab},
        std::tuple{std::vector<Index>{3, 1, 2}, true, Layout::kMatlab},
        std::tuple{std::vector<Index>{2, 1, 3}, false, Layout::kMatlab}}) {  // h5write of K×1×N
    const Tensor<double> t = targets_to_nk(raw_array(dims, column_major, nk, "y"), layout);
    EXPECT_EQ(t.shape(), (Shape{2, 3}));
    EXPECT_EQ(t[1 * 3 + 2], 12.0);  // (n=1, k=2)
  }
  const Tensor<double> vec = targets_to_nk(raw_array({4}, false, {1, 2, 3, 4}, "y"), Layout::kNchw);
  EXPECT_EQ(vec.shape(), (Shape{4, 1}));
  EXPECT_EQ(
      data_error([] {
        targets_to_nk(raw_array({3, 2, 2}, true, std::vector<double>(12), "y"), Layout::kMatlab);
      }),
      "y: expected targets of size K×N or K×1×N (one column per sample) for layout matlab, "
      "found size 3×2×2");
  EXPECT_EQ(
      data_error([] {
        targets_to_nk(raw_array({2, 3, 2}, false, std::vector<double>(12), "y"), Layout::kNchw);
      }),
      "y: expected targets of shape (N,K) or (N,K,1,1) for layout nchw, found shape (2,3,2)");
}

TEST(Layouts, ResolveAuto) {
  EXPECT_EQ(resolve_layout(Layout::kAuto, ArrayFile::Format::kMat), Layout::kMatlab);
  EXPECT_EQ(resolve_layout(Layout::kAuto, ArrayFile::Format::kHdf5), Layout::kNchw);
  EXPECT_EQ(resolve_layout(Layout::kNchw, ArrayFile::Format::kMat), Layout::kNchw);
}

// ---- normalisation --------------------------------------------------------------------------

TEST(Normalize, MinmaxPerSampleMatchesMapminmax) {
  // mapminmax([1 2 3 5; 7 7 7 7; -1 0 1 3], 0, 1) in MATLAB gives
  //   [0 0.25 0.5 1; 7 7 7 7; 0 0.25 0.5 1]: the constant row is left as it is.
  Tensor<double> x(Shape{3, 4});
  const double values[] = {1, 2, 3, 5, 7, 7, 7, 7, -1, 0, 1, 3};
  std::copy(std::begin(values), std::end(values), x.data());
  normalize_inputs(x, Normalize::kMinmaxPerSample);
  const double expected[] = {0, 0.25, 0.5, 1, 7, 7, 7, 7, 0, 0.25, 0.5, 1};
  for (Index i = 0; i < 12; ++i) EXPECT_EQ(x[i], expected[i]) << i;
}

TEST(Normalize, MinmaxLeavesUnscalableRangeAlone) {
  // max − min = 1e-15 gives a gain of 1e15 > 1e14: mapminmax does not scale such a row.
  Tensor<double> x(Shape{1, 2});
  x[0] = 1.0;
  x[1] = 1.0 + 1e-15;
  const double before1 = x[1];
  normalize_inputs(x, Normalize::kMinmaxPerSample);
  EXPECT_EQ(x[0], 1.0);
  EXPECT_EQ(x[1], before1);
}

TEST(Normalize, MinmaxUsesMapminmaxOperationOrder) {
  // y = (x − min)·(1/(max − min)): with range 3, (1 − 0)·(1/3) is 1/3 rounded once.
  Tensor<double> x(Shape{1, 3});
  x[0] = 0;
  x[1] = 1;
  x[2] = 3;
  normalize_inputs(x, Normalize::kMinmaxPerSample);
  EXPECT_EQ(x[1], 1.0 * (1.0 / 3.0));
}

TEST(Normalize, StandardizePerFeaturePopulationStd) {
  // Feature 0 over 4 samples: 1, 2, 3, 6 → mean 3, population std √3.5; feature 1 constant 5.
  Tensor<double> x(Shape{4, 2});
  const double values[] = {1, 5, 2, 5, 3, 5, 6, 5};
  std::copy(std::begin(values), std::end(values), x.data());
  normalize_inputs(x, Normalize::kStandardize);
  const double s = std::sqrt(3.5);
  EXPECT_DOUBLE_EQ(x[0], -2 / s);
  EXPECT_DOUBLE_EQ(x[2], -1 / s);
  EXPECT_DOUBLE_EQ(x[6], 3 / s);
  for (Index n = 0; n < 4; ++n) EXPECT_EQ(x[n * 2 + 1], 0.0);  // constant feature: centred
}

TEST(Normalize, NoneChangesNothing) {
  Tensor<double> x(Shape{2, 2}, 3.0);
  normalize_inputs(x, Normalize::kNone);
  EXPECT_EQ(x[3], 3.0);
}

// ---- load_dataset: the seed ------------------------------------------------------------------

TEST(LoadDataset, SeedHdf5AndMatGiveTheSameBatch) {
  // The acceptance test: the same minibatch stored nchw (h5py) and matlab (.mat v5) loads into
  // identical tensors, element for element.
  const Dataset h5 =
      load_dataset(config_for(source("data/examples/seed/minibatch.h5"), Layout::kNchw),
                   TargetKind::kRegression, 4);
  const Dataset mat =
      load_dataset(config_for(source("data/examples/seed/minibatch.mat"), Layout::kMatlab),
                   TargetKind::kRegression, 4);
  EXPECT_EQ(h5.inputs.shape(), (Shape{32, 1, 20, 20}));
  EXPECT_EQ(h5.targets.shape(), (Shape{32, 4}));
  ASSERT_EQ(mat.inputs.shape(), h5.inputs.shape());
  ASSERT_EQ(mat.targets.shape(), h5.targets.shape());
  for (Index i = 0; i < h5.inputs.size(); ++i) ASSERT_EQ(mat.inputs[i], h5.inputs[i]) << i;
  for (Index i = 0; i < h5.targets.size(); ++i) ASSERT_EQ(mat.targets[i], h5.targets[i]) << i;
  EXPECT_EQ(h5.samples(), 32);
  EXPECT_EQ(h5.sample_shape(), (Shape{1, 20, 20}));
}

TEST(LoadDataset, SeedPostsMinibatchAReshapedAndNormalised) {
  // The post: X = reshape(minibatch.a,20,20,1,32); mapminmax per sample. Through `shape` and
  // minmax-per-sample, minibatch.a gives X normalised: each sample spans exactly [0, 1].
  DataConfig from_a =
      config_for(source("data/examples/seed/minibatch.mat"), Layout::kMatlab, "minibatch.a");
  from_a.shape = Shape{1, 20, 20};
  from_a.normalize = Normalize::kMinmaxPerSample;
  DataConfig from_x = config_for(source("data/examples/seed/minibatch.h5"), Layout::kNchw);
  from_x.normalize = Normalize::kMinmaxPerSample;
  const Dataset a = load_dataset(from_a, TargetKind::kRegression, 4);
  const Dataset x = load_dataset(from_x, TargetKind::kRegression, 4);
  ASSERT_EQ(a.inputs.shape(), x.inputs.shape());
  for (Index i = 0; i < a.inputs.size(); ++i) ASSERT_EQ(a.inputs[i], x.inputs[i]) << i;
  for (Index n = 0; n < 32; ++n) {
    const auto begin = a.inputs.data() + n * 400;
    EXPECT_EQ(*std::min_element(begin, begin + 400), 0.0);
    // (max − min)·(1/(max − min)) can miss 1 by an ulp — in MATLAB too, which multiplies by
    // the gain the same way.
    EXPECT_NEAR(*std::max_element(begin, begin + 400), 1.0, 1e-15);
  }
}

TEST(LoadDataset, AutoLayoutFollowsFormat) {
  const Dataset h5 =
      load_dataset(config_for(source("data/examples/seed/minibatch.h5"), Layout::kAuto),
                   TargetKind::kRegression, 4);
  const Dataset mat =
      load_dataset(config_for(source("data/examples/seed/minibatch.mat"), Layout::kAuto),
                   TargetKind::kRegression, 4);
  EXPECT_EQ(h5.inputs.storage(), mat.inputs.storage());
}

// ---- synthetic targets and labels -------------------------------------------------------------

TEST(LoadDataset, RandomTargetsInMatlabOrder) {
  DataConfig config = config_for(source("data/examples/seed/minibatch.h5"), Layout::kNchw);
  config.targets.random = true;
  config.targets.seed = 7;
  const Dataset uniform = load_dataset(config, TargetKind::kRegression, 4);
  ASSERT_EQ(uniform.targets.shape(), (Shape{32, 4}));
  Rng rng(7);
  // rand(4,1,32) fills k fastest: draw i is (n, k) = (i / 4, i % 4).
  for (Index i = 0; i < 128; ++i) EXPECT_EQ(uniform.targets[i], rng.uniform()) << i;
  config.targets.distribution = "normal";
  const Dataset normal = load_dataset(config, TargetKind::kRegression, 4);
  Rng rng2(7);
  for (Index i = 0; i < 128; ++i) EXPECT_EQ(normal.targets[i], rng2.normal()) << i;
  config.targets.distribution = "gamma";
  EXPECT_EQ(data_error([&] { load_dataset(config, TargetKind::kRegression, 4); }),
            source("data/examples/seed/minibatch.h5").string() +
                ": [data] targets: targets.random: expected \"uniform\" or \"normal\", found "
                "\"gamma\"");
}

TEST(LoadDataset, RandomLabels) {
  DataConfig config = config_for(source("data/examples/seed/minibatch.h5"), Layout::kNchw);
  config.targets.random = true;
  config.targets.seed = 3;
  const Dataset d = load_dataset(config, TargetKind::kClassLabels, 5);
  ASSERT_EQ(d.labels.size(), 32u);
  EXPECT_TRUE(d.targets.empty());
  Rng rng(3);
  for (std::int64_t label : d.labels) EXPECT_EQ(label, static_cast<std::int64_t>(rng.below(5)));
}

TEST(LoadDataset, ClassLabels) {
  DataConfig config = config_for(bad("labels.h5"), Layout::kNchw, "X", "y_ok");
  const Dataset d = load_dataset(config, TargetKind::kClassLabels, 4);
  EXPECT_EQ(d.labels, (std::vector<std::int64_t>{0, 1, 2, 3, 0, 1}));
  // label_base = 1 shifts them down; the 0s are then out of range.
  config.label_base = 1;
  EXPECT_EQ(data_error([&] { load_dataset(config, TargetKind::kClassLabels, 4); }),
            bad("labels.h5") +
                ": /y_ok: class label 0 at sample 0 (0-based) is out of range: "
                "with label_base = 1 and 4 classes, labels must lie in 1..4");
  config.label_base = -1;
  const Dataset shifted = load_dataset(config, TargetKind::kClassLabels, 5);
  EXPECT_EQ(shifted.labels, (std::vector<std::int64_t>{1, 2, 3, 4, 1, 2}));
}

TEST(LoadDataset, ClassLabelErrors) {
  const std::string file = bad("labels.h5");
  EXPECT_EQ(data_error([&] {
              load_dataset(config_for(file, Layout::kNchw, "X", "y_frac"), TargetKind::kClassLabels,
                           4);
            }),
            file + ": /y_frac: class label 1.500000 at sample 2 (0-based) is not an integer");
  EXPECT_EQ(data_error([&] {
              load_dataset(config_for(file, Layout::kNchw, "X", "y_big"), TargetKind::kClassLabels,
                           4);
            }),
            file +
                ": /y_big: class label 4 at sample 3 (0-based) is out of range: with "
                "label_base = 0 and 4 classes, labels must lie in 0..3");
  EXPECT_EQ(data_error([&] {
              load_dataset(config_for(file, Layout::kNchw, "X", "X"), TargetKind::kClassLabels, 4);
            }),
            file +
                ": /X: expected 6 class labels (one per sample, as a vector), found shape "
                "(6,1,4,4)");
}

TEST(LoadDataset, MatlabLabelsDefaultToBaseOne) {
  // A MATLAB layout file whose labels run 1..K. Written through H5File as a MATLAB h5write
  // would: C-order dims reversed.
  const fs::path path = fs::path(CNNDIAG_TEST_TMPDIR) / "matlab_labels.h5";
  fs::create_directories(path.parent_path());
  {
    H5File file(path, H5File::Mode::kCreate);
    Tensor<double> x(Shape{3, 1, 2, 2});  // MATLAB 2×2×1×3
    for (Index i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i);
    file.write_tensor("/X", x);
    Tensor<double> labels(Shape{3, 1});  // MATLAB 1×3
    labels[0] = 1;
    labels[1] = 3;
    labels[2] = 2;
    file.write_tensor("/y", labels);
  }
  const Dataset d = load_dataset(config_for(path, Layout::kMatlab), TargetKind::kClassLabels, 3);
  EXPECT_EQ(d.labels, (std::vector<std::int64_t>{0, 2, 1}));
}

// ---- load_dataset: every error, one line naming file and dataset ---------------------------

TEST(LoadDatasetErrors, MissingFile) {
  testing::internal::CaptureStderr();
  try {
    load_dataset(config_for(bad("does_not_exist.h5"), Layout::kNchw), TargetKind::kRegression, 4);
    ADD_FAILURE() << "no exception";
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()), bad("does_not_exist.h5") + ": no such file");
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST(LoadDatasetErrors, MissingDatasetListsExisting) {
  EXPECT_EQ(data_error([] {
              load_dataset(config_for(bad("renamed.h5"), Layout::kNchw), TargetKind::kRegression,
                           4);
            }),
            bad("renamed.h5") + ": no dataset '/X' (it has: /images, /labels)");
  EXPECT_EQ(data_error([] {
              load_dataset(config_for(bad("renamed.h5"), Layout::kNchw, "images", "y"),
                           TargetKind::kRegression, 4);
            }),
            bad("renamed.h5") + ": no dataset '/y' (it has: /images, /labels)");
}

TEST(LoadDatasetErrors, WrongTargetCount) {
  EXPECT_EQ(data_error([] {
              load_dataset(config_for(bad("wrong_count.h5"), Layout::kNchw),
                           TargetKind::kRegression, 4);
            }),
            bad("wrong_count.h5") +
                ": /y: the targets hold 7 samples but the inputs /X hold 8 "
                "(shape (7,4))");
}

TEST(LoadDatasetErrors, WrongTargetWidth) {
  EXPECT_EQ(data_error([] {
              load_dataset(config_for(source("data/examples/seed/minibatch.mat"), Layout::kMatlab),
                           TargetKind::kRegression, 3);
            }),
            source("data/examples/seed/minibatch.mat").string() +
                ": y: the targets have 4 values per sample but the model has 3 outputs "
                "(size 4×1×32)");
}

TEST(LoadDatasetErrors, NanInInputsCountedAndLocated) {
  EXPECT_EQ(data_error([] {
              load_dataset(config_for(bad("nan_x.h5"), Layout::kNchw), TargetKind::kRegression, 4);
            }),
            bad("nan_x.h5") +
                ": /X: 3 non-finite values (2 NaN, 1 Inf) in the inputs; the first "
                "at (n,c,h,w) = (1,0,2,3)");
  // The same values in MATLAB layout: also the subscript a MATLAB user would type.
  EXPECT_EQ(data_error([] {
              load_dataset(config_for(bad("nan_x.mat"), Layout::kMatlab), TargetKind::kRegression,
                           4);
            }),
            bad("nan_x.mat") +
                ": X: 3 non-finite values (2 NaN, 1 Inf) in the inputs; the first "
                "at (n,c,h,w) = (1,0,2,3), X(3,4,1,2) in MATLAB");
}

TEST(LoadDatasetErrors, InfInTargets) {
  EXPECT_EQ(data_error([] {
              load_dataset(config_for(bad("inf_y.h5"), Layout::kNchw), TargetKind::kRegression, 4);
            }),
            bad("inf_y.h5") +
                ": /y: 1 non-finite values (0 NaN, 1 Inf) in the targets; the "
                "first at (n,k) = (2,3)");
}

TEST(LoadDatasetErrors, NonNumericAndWrongRank) {
  EXPECT_EQ(data_error([] {
              load_dataset(config_for(bad("string_x.h5"), Layout::kNchw), TargetKind::kRegression,
                           4);
            }),
            bad("string_x.h5") + ": /X: expected a numeric array, found string");
  EXPECT_EQ(data_error([] {
              load_dataset(config_for(bad("rank5_x.h5"), Layout::kNchw), TargetKind::kRegression,
                           4);
            }),
            bad("rank5_x.h5") +
                ": /X: expected inputs of shape (N,C,H,W), (N,H,W) or (N,D) for "
                "layout nchw, found shape (8,1,4,4,2)");
}

TEST(LoadDatasetErrors, FakeMatAndTruncatedAreIoErrors) {
  for (const char* name : {"fake.mat", "truncated.h5", "truncated.mat"}) {
    testing::internal::CaptureStderr();
    try {
      load_dataset(config_for(bad(name), Layout::kAuto), TargetKind::kRegression, 4);
      ADD_FAILURE() << name << ": no exception";
    } catch (const IoError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(bad(name) + ": ", 0), 0u) << e.what();
    }
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "") << name;
  }
}

}  // namespace
}  // namespace cnndiag
