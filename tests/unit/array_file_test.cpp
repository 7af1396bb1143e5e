#include "cnndiag/array_file.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "cnndiag/errors.hpp"

namespace cnndiag {
namespace {

namespace fs = std::filesystem;

fs::path source(const std::string& relative) { return fs::path(CNNDIAG_SOURCE_DIR) / relative; }

const ArrayInfo* find(const std::vector<ArrayInfo>& infos, const std::string& name) {
  for (const ArrayInfo& info : infos)
    if (info.name == name) return &info;
  return nullptr;
}

/// The message of the Error `body` throws (of type E), checking nothing reached stderr: neither
/// HDF5's error stack nor matio's log.
template <typename E, typename Body>
std::string quiet_error(Body body) {
  testing::internal::CaptureStderr();
  std::string message = "(no exception)";
  try {
    body();
  } catch (const E& e) {
    message = e.what();
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  return message;
}

TEST(ArrayFile, SeedHdf5ListsItsDatasets) {
  const ArrayFile file = ArrayFile::open(source("data/examples/seed/minibatch.h5"));
  EXPECT_EQ(file.format(), ArrayFile::Format::kHdf5);
  EXPECT_EQ(file.format_name(), "HDF5");
  const auto infos = file.list();
  ASSERT_EQ(infos.size(), 2u);
  EXPECT_EQ(infos[0].name, "/X");
  EXPECT_EQ(infos[0].dims, (std::vector<Index>{32, 1, 20, 20}));
  EXPECT_EQ(infos[0].dtype, "float32");
  EXPECT_EQ(infos[1].name, "/y");
  EXPECT_TRUE(file.has("X"));
  EXPECT_TRUE(file.has("/y"));
  EXPECT_FALSE(file.has("Z"));
  const RawArray y = file.read("y");
  EXPECT_FALSE(y.column_major);
  EXPECT_EQ(y.info.name, "/y");
  EXPECT_EQ(y.values.size(), 128u);
}

TEST(ArrayFile, SeedMatShowsMatlabDimsAndStructFields) {
  const ArrayFile file = ArrayFile::open(source("data/examples/seed/minibatch.mat"));
  EXPECT_EQ(file.format(), ArrayFile::Format::kMat);
  EXPECT_EQ(file.format_name(), "MATLAB v5");
  const auto infos = file.list();
  ASSERT_NE(find(infos, "X"), nullptr);
  EXPECT_EQ(find(infos, "X")->dims, (std::vector<Index>{20, 20, 1, 32}));
  EXPECT_EQ(find(infos, "X")->dtype, "float32");
  EXPECT_EQ(find(infos, "y")->dims, (std::vector<Index>{4, 1, 32}));
  ASSERT_NE(find(infos, "minibatch"), nullptr);
  EXPECT_EQ(find(infos, "minibatch")->dtype, "struct");
  EXPECT_FALSE(find(infos, "minibatch")->numeric);
  ASSERT_NE(find(infos, "minibatch.a"), nullptr);
  EXPECT_EQ(find(infos, "minibatch.a")->dims, (std::vector<Index>{400, 32}));
  EXPECT_EQ(find(infos, "minibatch.a")->dtype, "float64");
  // minibatch.a holds the same numbers as X (the post reshapes it to 20×20×1×32).
  const RawArray x = file.read("X");
  const RawArray a = file.read("minibatch.a");
  EXPECT_TRUE(x.column_major);
  EXPECT_EQ(x.values, a.values);
}

TEST(ArrayFile, ReadsMatlabV73ThroughMatio) {
  // v73.mat: A = [1 2 3; 4 5 6] (double), L = logical([1 0 1]); made with h5py.
  const ArrayFile file = ArrayFile::open(source("tests/data/good/v73.mat"));
  EXPECT_EQ(file.format(), ArrayFile::Format::kMat);
  EXPECT_EQ(file.format_name(), "MATLAB v7.3");
  const RawArray a = file.read("A");
  EXPECT_EQ(a.info.dims, (std::vector<Index>{2, 3}));
  EXPECT_EQ(a.info.dtype, "float64");
  EXPECT_EQ(a.values, (std::vector<double>{1, 4, 2, 5, 3, 6}));  // column-major
  const RawArray l = file.read("L");
  EXPECT_EQ(l.info.dtype, "logical");
  EXPECT_EQ(l.info.dims, (std::vector<Index>{1, 3}));
  EXPECT_EQ(l.values, (std::vector<double>{1, 0, 1}));
}

TEST(ArrayFile, ReadsMatlabV4) {
  const ArrayFile file = ArrayFile::open(source("tests/data/good/v4.mat"));
  EXPECT_EQ(file.format_name(), "MATLAB v4");
  const RawArray a = file.read("A");
  EXPECT_EQ(a.info.dims, (std::vector<Index>{2, 3}));
  EXPECT_EQ(a.values, (std::vector<double>{1, 4, 2, 5, 3, 6}));
}

TEST(ArrayFile, Hdf5IntegerAndHalfTypesConvertToDouble) {
  const ArrayFile file = ArrayFile::open(source("tests/data/good/h5py_types.h5"));
  EXPECT_EQ(file.read("/ints/i8").values, (std::vector<double>{-128, 0, 127}));
  EXPECT_EQ(file.read("ints/u16").values, (std::vector<double>{0, 1, 65535, 7}));
  EXPECT_EQ(file.read("/floats/f16").values, (std::vector<double>{0.5, -2.0}));
  const auto infos = file.list();
  EXPECT_FALSE(find(infos, "/text")->numeric);
  EXPECT_FALSE(find(infos, "/flags")->numeric);  // h5py bool: an HDF5 enum
  EXPECT_EQ(quiet_error<DataError>([&] { file.read("/text"); }),
            source("tests/data/good/h5py_types.h5").string() +
                ": /text: expected a numeric array, found string");
}

TEST(ArrayFile, TextFileNamedMatIsRefusedByContent) {
  const fs::path path = source("tests/data/bad/fake.mat");
  EXPECT_EQ(
      quiet_error<IoError>([&] { ArrayFile::open(path); }),
      path.string() + ": not a MATLAB .mat or HDF5 file (it starts with 'hello world, I a…')");
}

TEST(ArrayFile, EmptyFileIsRefused) {
  const fs::path path = source("tests/data/bad/empty.mat");
  EXPECT_EQ(quiet_error<IoError>([&] { ArrayFile::open(path); }),
            path.string() + ": not a MATLAB .mat or HDF5 file (it is empty)");
}

TEST(ArrayFile, BinaryStartIsQuotedAsHex) {
  const fs::path path = fs::path(CNNDIAG_TEST_TMPDIR) / "binary.dat";
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << std::string(
      "\x01\x02"
      "ab\xff",
      5);
  EXPECT_EQ(
      quiet_error<IoError>([&] { ArrayFile::open(path); }),
      path.string() + ": not a MATLAB .mat or HDF5 file (it starts with '\\x01\\x02ab\\xff')");
}

TEST(ArrayFile, TruncatedFilesAreQuietIoErrors) {
  const fs::path h5 = source("tests/data/bad/truncated.h5");
  const std::string h5_message = quiet_error<IoError>([&] { ArrayFile::open(h5); });
  EXPECT_EQ(h5_message.rfind(h5.string() + ": cannot open as HDF5 (damaged or truncated?)", 0), 0u)
      << h5_message;
  const fs::path mat = source("tests/data/bad/truncated.mat");
  const std::string mat_message = quiet_error<IoError>([&] { ArrayFile::open(mat); });
  EXPECT_EQ(mat_message.rfind(mat.string() + ": damaged or truncated MATLAB file", 0), 0u)
      << mat_message;
}

TEST(ArrayFile, MissingFileAndFolder) {
  EXPECT_EQ(quiet_error<IoError>([] { ArrayFile::open("/nonexistent/data.h5"); }),
            "/nonexistent/data.h5: no such file");
  EXPECT_EQ(quiet_error<IoError>([] { ArrayFile::open(CNNDIAG_SOURCE_DIR); }),
            std::string(CNNDIAG_SOURCE_DIR) + ": is a folder, not a file");
}

TEST(ArrayFile, MissingVariableListsWhatExists) {
  const fs::path h5 = source("tests/data/bad/renamed.h5");
  const ArrayFile h5_file = ArrayFile::open(h5);
  EXPECT_EQ(quiet_error<DataError>([&] { h5_file.read("X"); }),
            h5.string() + ": no dataset '/X' (it has: /images, /labels)");
  const fs::path mat = source("data/examples/seed/minibatch.mat");
  const ArrayFile mat_file = ArrayFile::open(mat);
  EXPECT_EQ(quiet_error<DataError>([&] { mat_file.read("images"); }),
            mat.string() + ": no variable 'images' (it has: X, y, minibatch, minibatch.a)");
  EXPECT_EQ(quiet_error<DataError>([&] { mat_file.read("minibatch"); }),
            mat.string() + ": minibatch: expected a numeric array, found struct");
}

}  // namespace
}  // namespace cnndiag
