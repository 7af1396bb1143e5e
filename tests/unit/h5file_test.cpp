#include "cnndiag/h5file.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <thread>

#include "cnndiag/errors.hpp"

namespace cnndiag {
namespace {

namespace fs = std::filesystem;

fs::path source(const std::string& relative) { return fs::path(CNNDIAG_SOURCE_DIR) / relative; }

fs::path temp(const std::string& name) {
  fs::create_directories(CNNDIAG_TEST_TMPDIR);
  return fs::path(CNNDIAG_TEST_TMPDIR) / ("h5file_" + name);
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Runs `body`, expects an IoError whose message contains every `needle`, and checks that nothing
/// was printed to stderr on the way (HDF5 prints its error stack there unless told not to).
template <typename Body>
void expect_quiet_io_error(Body body, const std::vector<std::string>& needles) {
  testing::internal::CaptureStderr();
  std::string message;
  try {
    body();
  } catch (const IoError& e) {
    message = e.what();
  }
  const std::string printed = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(message.empty()) << "no IoError thrown";
  for (const std::string& needle : needles)
    EXPECT_NE(message.find(needle), std::string::npos) << "'" << needle << "' not in: " << message;
  EXPECT_EQ(printed, "") << "something was printed to stderr";
}

template <typename T>
bool bit_identical(const Tensor<T>& a, const Tensor<T>& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(T)) == 0;
}

Tensor<float> awkward_floats() {
  // Values that a careless conversion would change: -0, a denormal, NaN, infinities, extremes.
  Tensor<float> t(Shape{2, 3, 2});
  const float values[] = {0.0f,
                          -0.0f,
                          std::numeric_limits<float>::denorm_min(),
                          std::numeric_limits<float>::quiet_NaN(),
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::lowest(),
                          1.0f / 3.0f,
                          1e-30f,
                          -7.5f,
                          42.0f};
  std::copy(std::begin(values), std::end(values), t.data());
  return t;
}

TEST(H5File, TensorsRoundTripBitIdentical) {
  const fs::path path = temp("roundtrip.h5");
  const Tensor<float> f = awkward_floats();
  Tensor<double> d(Shape{2, 1, 3, 1, 2});
  for (Index i = 0; i < d.size(); ++i) d[i] = std::ldexp(1.0 + static_cast<double>(i) / 7, -1000);
  Tensor<double> scalar(Shape{});
  scalar[0] = -1.25;
  {
    H5File file(path, H5File::Mode::kCreate);
    file.write_tensor("/params/conv1/weight", f);
    file.write_tensor("/deep/a/b/c/d", d);
    file.write_tensor("scalar", scalar);
    file.close();
  }
  const H5File file(path, H5File::Mode::kRead);
  EXPECT_TRUE(bit_identical(file.read_tensor_f32("/params/conv1/weight"), f));
  EXPECT_TRUE(bit_identical(file.read_tensor_f64("/deep/a/b/c/d"), d));
  const Tensor<double> s = file.read_tensor_f64("/scalar");
  EXPECT_EQ(s.rank(), 0);
  EXPECT_EQ(s[0], -1.25);
  EXPECT_EQ(file.info("/params/conv1/weight").dtype, "float32");
  EXPECT_EQ(file.info("/deep/a/b/c/d").dtype, "float64");
  EXPECT_EQ(file.info("/deep/a/b/c/d").dims, (std::vector<Index>{2, 1, 3, 1, 2}));
  EXPECT_TRUE(file.info("/scalar").dims.empty());
}

TEST(H5File, FloatReadAsDoubleConvertsExactly) {
  const fs::path path = temp("convert.h5");
  {
    H5File file(path, H5File::Mode::kCreate);
    file.write_tensor("x", awkward_floats());
  }
  const H5File file(path, H5File::Mode::kRead);
  const Tensor<double> d = file.read_tensor_f64("x");
  const Tensor<float> f = awkward_floats();
  for (Index i = 0; i < f.size(); ++i) {
    if (std::isnan(f[i])) {
      EXPECT_TRUE(std::isnan(d[i]));
    } else {
      EXPECT_EQ(d[i], static_cast<double>(f[i])) << i;
    }
  }
  EXPECT_TRUE(std::signbit(d[1]));  // -0 stays -0
}

TEST(H5File, IntegersU64StringsAndAttributesRoundTrip) {
  const fs::path path = temp("misc.h5");
  const std::vector<std::uint64_t> u64 = {0, 1, std::numeric_limits<std::uint64_t>::max(),
                                          0x9e3779b97f4a7c15ULL};
  const std::vector<std::int64_t> i64 = {-5, 0, std::numeric_limits<std::int64_t>::min(), 12};
  const std::vector<double> f64 = {0.1, 0.2, 0.30000000000000004};
  const std::string toml = "[data]\nfile = \"minibatch.h5\"  # ünïcödé, 数据\n";
  {
    H5File file(path, H5File::Mode::kCreate);
    file.write_u64("/rng", u64);
    file.write_values("/history/iteration", i64);
    file.write_values("/history/loss", f64);
    file.write_values("/history/empty", std::vector<double>{});
    file.write_string("/config", toml);
    file.write_string("/empty_string", "");
    file.set_attr("/", "format", std::string("cnndiag-checkpoint"));
    file.set_attr("/", "format_version", std::int64_t{1});
    file.set_attr("/", "lr", 0.003);
    file.set_attr("/history/loss", "unit", std::string("mse"));
    file.set_attr("/", "format_version", std::int64_t{2});  // replaces
    file.flush();
  }
  const H5File file(path, H5File::Mode::kRead);
  EXPECT_EQ(file.read_u64("/rng"), u64);
  std::vector<Index> dims;
  const std::vector<double> iterations = file.read_values("/history/iteration", &dims);
  EXPECT_EQ(dims, std::vector<Index>{4});
  EXPECT_EQ(iterations[0], -5.0);
  EXPECT_EQ(file.info("/history/iteration").dtype, "int64");
  EXPECT_EQ(file.info("/rng").dtype, "uint64");
  EXPECT_EQ(file.read_values("/history/loss", nullptr), f64);
  EXPECT_TRUE(file.read_values("/history/empty", &dims).empty());
  EXPECT_EQ(dims, std::vector<Index>{0});
  EXPECT_EQ(file.read_string("/config"), toml);
  EXPECT_EQ(file.read_string("/empty_string"), "");
  EXPECT_EQ(file.info("/config").dtype, "string");
  EXPECT_EQ(file.attr_string("/", "format"), "cnndiag-checkpoint");
  EXPECT_EQ(file.attr_int("/", "format_version"), 2);
  EXPECT_EQ(file.attr_double("/", "lr"), 0.003);
  EXPECT_EQ(file.attr_double("/", "format_version"), 2.0);  // integers read as double too
  EXPECT_EQ(file.attr_string("history/loss", "unit"), "mse");
  EXPECT_EQ(file.attr_string("/", "absent"), std::nullopt);
  EXPECT_EQ(file.attr_names("/"), (std::vector<std::string>{"format", "format_version", "lr"}));
}

TEST(H5File, ExistsAndListInNameOrderDepthFirst) {
  const fs::path path = temp("list.h5");
  {
    H5File file(path, H5File::Mode::kCreate);
    const Tensor<float> t(Shape{2});
    file.write_tensor("/b", t);
    file.write_tensor("/a/y", t);
    file.write_tensor("/a/x", t);
    file.write_tensor("/c/d/e", t);
  }
  const H5File file(path, H5File::Mode::kRead);
  std::vector<std::string> names;
  for (const H5DatasetInfo& info : file.list_datasets()) names.push_back(info.path);
  EXPECT_EQ(names, (std::vector<std::string>{"/a/x", "/a/y", "/b", "/c/d/e"}));
  EXPECT_TRUE(file.exists("/"));
  EXPECT_TRUE(file.exists("/a"));
  EXPECT_TRUE(file.exists("a/x"));
  EXPECT_TRUE(file.exists("/c/d/e"));
  EXPECT_FALSE(file.exists("/nope"));
  EXPECT_FALSE(file.exists("/nope/deeper/still"));  // a missing intermediate group is not an error
  EXPECT_FALSE(file.exists("/b/under_a_dataset"));
}

TEST(H5File, SameContentGivesSameBytes) {
  // No object timestamps: a checkpoint written twice from the same state is identical.
  const auto write = [](const fs::path& path) {
    H5File file(path, H5File::Mode::kCreate);
    file.write_tensor("/params/fc1/weight", awkward_floats());
    file.write_string("/config", "x = 1");
    file.set_attr("/", "format", std::string("cnndiag-checkpoint"));
  };
  write(temp("same1.h5"));
  // HDF5 stores times in whole seconds: wait past one, so stored times would show.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  write(temp("same2.h5"));
  EXPECT_EQ(slurp(temp("same1.h5")), slurp(temp("same2.h5")));
}

TEST(H5File, ReadsWhatH5pyWrote) {
  const H5File file(source("tests/data/good/h5py_types.h5"), H5File::Mode::kRead);
  std::vector<Index> dims;
  EXPECT_EQ(file.read_values("/ints/i8", &dims), (std::vector<double>{-128, 0, 127}));
  EXPECT_EQ(file.info("/ints/i8").dtype, "int8");
  EXPECT_EQ(file.read_values("/ints/u16", &dims), (std::vector<double>{0, 1, 65535, 7}));
  EXPECT_EQ(dims, (std::vector<Index>{2, 2}));
  EXPECT_EQ(file.info("/ints/u16").dtype, "uint16");
  EXPECT_EQ(file.read_values("/ints/i64", nullptr),
            (std::vector<double>{-1099511627776.0, 1099511627776.0}));
  EXPECT_EQ(file.read_values("/floats/f16", nullptr), (std::vector<double>{0.5, -2.0}));
  EXPECT_EQ(file.read_tensor_f64("/floats/f64")[0], 3.5);
  EXPECT_EQ(file.read_string("/text"), "h\xc3\xa9llo");
  EXPECT_EQ(file.read_string("/fixed_text"), "abc");
  EXPECT_EQ(file.attr_string("/", "title"), "written by h5py");
  EXPECT_EQ(file.attr_string("/", "fixed"), "fixed-bytes");
  EXPECT_EQ(file.attr_int("/", "version"), 3);
  EXPECT_EQ(file.attr_double("/", "scale"), 0.25);
}

TEST(H5File, ReadsMatlabStyleFixedLengthAttribute) {
  // MATLAB tags v7.3 variables with MATLAB_class: a NUL-terminated string that fills its size.
  const H5File file(source("tests/data/good/v73.mat"), H5File::Mode::kRead);
  EXPECT_EQ(file.attr_string("/A", "MATLAB_class"), "double");
  EXPECT_EQ(file.attr_string("/L", "MATLAB_class"), "logical");
  EXPECT_EQ(file.info("/A").dims, (std::vector<Index>{3, 2}));  // MATLAB's 2×3, reversed
}

TEST(H5File, H5pyReadsWhatWeWrote) {
  if (std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "/usr/bin/python3 with h5py not available";
  const fs::path path = temp("for_h5py.h5");
  {
    H5File file(path, H5File::Mode::kCreate);
    Tensor<float> t(Shape{2, 3});
    for (Index i = 0; i < 6; ++i) t[i] = static_cast<float>(i) * 0.5f;
    file.write_tensor("/params/fc1/weight", t);
    file.write_u64("/rng", {1, 2, std::numeric_limits<std::uint64_t>::max()});
    file.write_string("/config", "lr = 0.003 # é");
    file.set_attr("/", "format", std::string("cnndiag-checkpoint"));
    file.set_attr("/", "format_version", std::int64_t{1});
  }
  const std::string script =
      "import h5py, numpy as np, sys\n"
      "f = h5py.File(sys.argv[1], 'r')\n"
      "w = f['params/fc1/weight']\n"
      "assert w.dtype == np.float32 and w.shape == (2, 3), (w.dtype, w.shape)\n"
      "assert w[1, 2] == 2.5\n"
      "assert f['rng'][2] == 2**64 - 1 and f['rng'].dtype == np.uint64\n"
      "assert f['config'].asstr()[()] == 'lr = 0.003 # \\u00e9'\n"
      "assert f.attrs['format'] == 'cnndiag-checkpoint', repr(f.attrs['format'])\n"
      "assert f.attrs['format_version'] == 1\n";
  const fs::path script_path = temp("check.py");
  std::ofstream(script_path) << script;
  const std::string command =
      "/usr/bin/python3 " + script_path.string() + " " + path.string() + " 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0);
}

TEST(H5File, MissingFileNamesIt) {
  expect_quiet_io_error([] { H5File f(temp("does_not_exist.h5"), H5File::Mode::kRead); },
                        {"does_not_exist.h5", "no such file"});
}

TEST(H5File, TextFileIsNotHdf5) {
  expect_quiet_io_error([] { H5File f(source("tests/data/bad/fake.mat"), H5File::Mode::kRead); },
                        {"fake.mat", "not an HDF5 file"});
  EXPECT_FALSE(is_hdf5_file(source("tests/data/bad/fake.mat")));
  EXPECT_FALSE(is_hdf5_file(source("tests/data/bad/empty.mat")));
  EXPECT_TRUE(is_hdf5_file(source("data/examples/seed/minibatch.h5")));
  EXPECT_TRUE(is_hdf5_file(source("tests/data/good/v73.mat")));  // signature at 512
}

TEST(H5File, TruncatedFileIsAQuietIoError) {
  expect_quiet_io_error(
      [] {
        H5File f(source("tests/data/bad/truncated.h5"), H5File::Mode::kRead);
        f.read_values("/X", nullptr);
      },
      {"truncated.h5"});
}

TEST(H5File, CorruptedObjectHeadersAreAQuietIoError) {
  // Overwrite everything after the superblock with garbage (the way LevelDB's corruption tests
  // damage a file on purpose): opening or reading must fail with the file named, nothing printed.
  const fs::path path = temp("corrupt.h5");
  {
    H5File file(path, H5File::Mode::kCreate);
    file.write_tensor("/params/w", awkward_floats());
  }
  std::string bytes = slurp(path);
  for (std::size_t i = 96; i < bytes.size(); ++i) bytes[i] = static_cast<char>(0xA5 ^ (i * 31));
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  expect_quiet_io_error(
      [&] {
        H5File f(path, H5File::Mode::kRead);
        f.list_datasets();
        f.read_tensor_f64("/params/w");
      },
      {"corrupt.h5"});
}

TEST(H5File, ErrorsNameFileAndObject) {
  const fs::path path = temp("errors.h5");
  {
    H5File file(path, H5File::Mode::kCreate);
    file.write_tensor("/x", awkward_floats());
    file.write_string("/s", "text");
    expect_quiet_io_error([&] { file.write_tensor("/x", awkward_floats()); },
                          {"errors.h5: /x: already exists"});
    expect_quiet_io_error([&] { file.set_attr("/missing", "a", 1.0); },
                          {"errors.h5: /missing: no such group or dataset"});
  }
  H5File file(path, H5File::Mode::kRead);
  expect_quiet_io_error([&] { file.read_tensor_f64("/nope"); },
                        {"errors.h5: /nope: no such dataset"});
  expect_quiet_io_error([&] { file.read_tensor_f64("/s"); },
                        {"errors.h5: /s: not numeric (it holds string)"});
  expect_quiet_io_error([&] { file.read_string("/x"); },
                        {"errors.h5: /x: expected a string, found float32"});
  expect_quiet_io_error([&] { file.write_tensor("/y", awkward_floats()); },
                        {"errors.h5: /y: cannot write: the file was opened read-only"});
  expect_quiet_io_error([&] { file.info("/"); }, {"errors.h5: /: is a group, not a dataset"});
  expect_quiet_io_error([&] { file.read_u64("/x"); }, {"/x: expected integers, found float32"});
  file.close();
  expect_quiet_io_error([&] { file.close(); }, {"errors.h5: file is already closed"});
  expect_quiet_io_error([&] { file.read_tensor_f64("/x"); }, {"errors.h5: /x: file is closed"});
}

TEST(H5File, AttributeOfWrongTypeIsAnError) {
  const fs::path path = temp("attrs.h5");
  {
    H5File file(path, H5File::Mode::kCreate);
    file.set_attr("/", "name", std::string("x"));
    file.set_attr("/", "lr", 0.5);
  }
  const H5File file(path, H5File::Mode::kRead);
  expect_quiet_io_error([&] { file.attr_int("/", "name"); },
                        {"attrs.h5: /: attribute 'name': expected an integer, found string"});
  expect_quiet_io_error([&] { file.attr_int("/", "lr"); },
                        {"attribute 'lr': expected an integer, found float64"});
  expect_quiet_io_error([&] { file.attr_string("/", "lr"); },
                        {"attribute 'lr': expected a string, found float64"});
}

TEST(H5File, CannotCreateInMissingFolder) {
  expect_quiet_io_error([] { H5File f(temp("no_such_dir") / "x.h5", H5File::Mode::kCreate); },
                        {"no_such_dir/x.h5: cannot create file"});
}

}  // namespace
}  // namespace cnndiag
