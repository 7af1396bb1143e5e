// [import]: MATLAB/NumPy layouts of parameters and gradients, both ways, and the errors a user
// meets (missing variable, wrong shape, unmapped tensor).

#include <gtest/gtest.h>

#include <numeric>

#include "cnndiag/config.hpp"
#include "cnndiag/errors.hpp"
#include "cnndiag/import.hpp"
#include "support/test_util.hpp"

namespace cnndiag {
namespace {

Tensor<double> iota(const Shape& s) {
  Tensor<double> t(s);
  std::iota(t.data(), t.data() + t.size(), 1.0);
  return t;
}

RawArray raw_of(std::vector<Index> dims, std::vector<double> values, bool column_major,
                std::string name = "v") {
  RawArray r;
  r.info.name = std::move(name);
  r.info.dims = std::move(dims);
  r.info.dtype = "float64";
  r.column_major = column_major;
  r.values = std::move(values);
  return r;
}

TEST(Import, MatConvNetFilterIsKhKwCOc) {
  const Shape w{2, 3, 2, 3};  // OC=2, C=3, KH=2, KW=3
  const Tensor<double> ours = iota(w);
  const RawArray m = export_tensor(ours, Layout::kMatlab, TensorKind::kConvWeight, Shape{});
  EXPECT_EQ(m.info.dims, (std::vector<Index>{2, 3, 3, 2}));
  // MATLAB w(kh=2, kw=3, c=1, oc=2) (1-based) is ours (oc=1, c=0, kh=1, kw=2).
  const Index kh = 1, kw = 2, c = 0, oc = 1;
  EXPECT_EQ(m.values[static_cast<std::size_t>(kh + 2 * (kw + 3 * (c + 3 * oc)))],
            ours[((oc * 3 + c) * 2 + kh) * 3 + kw]);
  const Tensor<double> back = import_tensor(m, Layout::kMatlab, TensorKind::kConvWeight, w, Shape{}, "c.weight");
  EXPECT_EQ(back.storage(), ours.storage());
}

TEST(Import, MatlabDropsTrailingSingletons) {
  // A 3×3×1×1 filter is stored as 3×3.
  const Shape w{1, 1, 3, 3};
  std::vector<double> v(9);
  std::iota(v.begin(), v.end(), 0.0);
  const Tensor<double> t =
      import_tensor(raw_of({3, 3}, v, true), Layout::kMatlab, TensorKind::kConvWeight, w, Shape{}, "k");
  // Column-major 3×3: element (kh, kw) at kh + 3·kw.
  EXPECT_EQ(t[0 * 3 + 1], 3.0);  // (kh=0, kw=1)
  EXPECT_EQ(t[1 * 3 + 0], 1.0);  // (kh=1, kw=0)
  // A bias vector matches 4×1 and 1×4.
  EXPECT_NO_THROW(import_tensor(raw_of({1, 4}, {1, 2, 3, 4}, true), Layout::kMatlab,
                                TensorKind::kVector, Shape{4}, Shape{}, "b"));
  EXPECT_NO_THROW(import_tensor(raw_of({4, 1}, {1, 2, 3, 4}, true), Layout::kMatlab,
                                TensorKind::kVector, Shape{4}, Shape{}, "b"));
}

TEST(Import, LinearWeightColumnsFollowMatlabsColumnMajorFlatten) {
  // Input (C=2, H=2, W=3): MATLAB's reshape(x,[],1) puts (h,w,c) at j = h + 2·(w + 3·c), cnndiag
  // at i = (c·2 + h)·3 + w. Column i = (c=1,h=0,w=2) = 8 is MATLAB's column j = 10.
  const Shape in{2, 2, 3};
  const Shape w{2, 12};
  const Tensor<double> ours = iota(w);
  const RawArray m = export_tensor(ours, Layout::kMatlab, TensorKind::kLinearWeight, in);
  EXPECT_EQ(m.info.dims, (std::vector<Index>{2, 12}));
  for (Index o = 0; o < 2; ++o) EXPECT_EQ(m.values[static_cast<std::size_t>(o + 2 * 10)], ours[o * 12 + 8]);
  EXPECT_EQ(import_tensor(m, Layout::kMatlab, TensorKind::kLinearWeight, w, in, "fc.weight").storage(),
            ours.storage());
  // A flat input needs no permutation: out×in column-major is the transpose of the memory.
  const RawArray flat = export_tensor(ours, Layout::kMatlab, TensorKind::kLinearWeight, Shape{12});
  EXPECT_EQ(flat.values[static_cast<std::size_t>(1 + 2 * 5)], ours[1 * 12 + 5]);
}

TEST(Import, LayerOutputGradientsPerSampleBlock) {
  const Shape per{1, 2, 3};
  const Tensor<double> ours = iota(per.with_batch(2));
  const RawArray m = export_tensor(ours, Layout::kMatlab, TensorKind::kLayerOutput, Shape{});
  EXPECT_EQ(m.info.dims, (std::vector<Index>{2, 3, 1, 2}));
  EXPECT_EQ(import_tensor(m, Layout::kMatlab, TensorKind::kLayerOutput, per, Shape{}, "x:output").storage(),
            ours.storage());
  const RawArray n = export_tensor(ours, Layout::kNchw, TensorKind::kLayerOutput, Shape{});
  EXPECT_EQ(import_tensor(n, Layout::kNchw, TensorKind::kLayerOutput, per, Shape{}, "x:output").storage(),
            ours.storage());
}

TEST(Import, NchwIsPassThroughAndAnHdf5ReadOfAMatlabArrayIsReversed) {
  const Shape w{2, 1, 2, 2};
  const Tensor<double> ours = iota(w);
  const RawArray n = export_tensor(ours, Layout::kNchw, TensorKind::kConvWeight, Shape{});
  EXPECT_EQ(import_tensor(n, Layout::kNchw, TensorKind::kConvWeight, w, Shape{}, "c").storage(),
            ours.storage());
  // The MATLAB array read through HDF5 (h5py order: dims reversed, same memory).
  RawArray m = export_tensor(ours, Layout::kMatlab, TensorKind::kConvWeight, Shape{});
  std::reverse(m.info.dims.begin(), m.info.dims.end());
  m.column_major = false;
  EXPECT_EQ(import_tensor(m, Layout::kMatlab, TensorKind::kConvWeight, w, Shape{}, "c").storage(),
            ours.storage());
}

TEST(Import, ShapeMismatchNamesVariableFoundAndExpected) {
  try {
    import_tensor(raw_of({4, 399}, std::vector<double>(4 * 399), true, "theta1"), Layout::kMatlab,
                  TensorKind::kLinearWeight, Shape{4, 400}, Shape{1, 20, 20}, "fc1.weight");
    FAIL() << "no error";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(),
                 "'theta1' (fc1.weight) has size 4×399, expected size 4×400 (out×in) for "
                 "fc1.weight (4,400)");
  }
}

const std::filesystem::path kData = "tests/unit/gradcheck/data";

TEST(Import, SeedFileLoadsEveryParameterInModelOrder) {
  const Config config = load_config(test::source_dir() / "data/examples/seed/against.toml");
  const auto params =
      load_imported_params(config, test::source_dir() / "data/examples/seed/seed-grads.mat");
  ASSERT_EQ(params.size(), 6u);
  EXPECT_EQ(params[0].key, "conv1.weight");
  EXPECT_EQ(params[0].value.shape(), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(params[2].key, "fc1.weight");
  EXPECT_EQ(params[2].value.shape(), (Shape{4, 400}));
  // v7.3 holds the same numbers.
  const auto v73 =
      load_imported_params(config, test::source_dir() / "data/examples/seed/seed-grads-v73.mat");
  for (std::size_t i = 0; i < params.size(); ++i)
    EXPECT_EQ(params[i].value.storage(), v73[i].value.storage()) << params[i].key;
}

TEST(Import, ErrorsNameWhatIsWrong) {
  const auto file = test::source_dir() / "data/examples/seed/seed-grads.mat";
  auto message = [&](const char* config) {
    try {
      load_imported_params(load_config(test::source_dir() / kData / config), file);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string missing = message("against_missing_variable.toml");
  EXPECT_NE(missing.find("no variable 'theta9' (mapped to fc1.weight"), std::string::npos) << missing;
  EXPECT_NE(missing.find("the file has: X, y, w, b, theta1"), std::string::npos) << missing;
  const std::string shape = message("against_shape_mismatch.toml");
  EXPECT_NE(shape.find("'theta2' (fc1.weight) has size 4×4, expected size 4×400"), std::string::npos)
      << shape;
  const std::string unmapped = message("against_unmapped.toml");
  EXPECT_NE(unmapped.find("[import.params]: model tensor fc2.bias is not mapped"), std::string::npos)
      << unmapped;
  const std::string none = message("../../../../data/examples/seed/net.toml");
  EXPECT_NE(none.find("no [import] table"), std::string::npos) << none;
}

}  // namespace
}  // namespace cnndiag
