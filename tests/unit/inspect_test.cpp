#include "cnndiag/inspect.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>

#include "cnndiag/errors.hpp"

namespace cnndiag {
namespace {

namespace fs = std::filesystem;

fs::path source(const std::string& relative) { return fs::path(CNNDIAG_SOURCE_DIR) / relative; }

const ArrayDescription& named(const FileDescription& d, const std::string& name) {
  for (const ArrayDescription& a : d.arrays)
    if (a.info.name == name) return a;
  throw std::runtime_error("no array " + name);
}

TEST(Inspect, StatsKnownAnswer) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const ArrayStats s = compute_stats({1.0, nan, -3.0, inf, 5.0, nan});
  EXPECT_EQ(s.count, 6);
  EXPECT_EQ(s.nan_count, 2);
  EXPECT_EQ(s.inf_count, 1);
  EXPECT_EQ(s.min, -3.0);
  EXPECT_EQ(s.max, 5.0);
  EXPECT_EQ(s.mean, 1.0);  // over the finite values
  const ArrayStats empty = compute_stats({});
  EXPECT_EQ(empty.count, 0);
  EXPECT_FALSE(empty.mean.has_value());
}

TEST(Inspect, SeedHdf5) {
  const FileDescription d = describe_array_file(source("data/examples/seed/minibatch.h5"));
  EXPECT_EQ(d.format, "HDF5");
  ASSERT_EQ(d.arrays.size(), 2u);
  const ArrayDescription& x = named(d, "/X");
  EXPECT_EQ(x.info.dims, (std::vector<Index>{32, 1, 20, 20}));
  EXPECT_EQ(x.info.dtype, "float32");
  EXPECT_FALSE(x.column_major);
  ASSERT_TRUE(x.stats.has_value());
  EXPECT_EQ(x.stats->count, 12800);
  EXPECT_EQ(x.stats->nan_count, 0);
  EXPECT_GE(*x.stats->min, 0.0);
  EXPECT_LE(*x.stats->max, 255.0);
  const ArrayDescription& y = named(d, "/y");
  EXPECT_GE(*y.stats->min, 0.0);
  EXPECT_LT(*y.stats->max, 1.0);
  ASSERT_EQ(d.attributes.size(), 2u);
  EXPECT_EQ(d.attributes[0], (std::pair<std::string, std::string>{"layout", "nchw"}));
  EXPECT_EQ(d.attributes[1].first, "origin");
}

TEST(Inspect, SeedMatListsStructWithoutStats) {
  const FileDescription d = describe_array_file(source("data/examples/seed/minibatch.mat"));
  EXPECT_EQ(d.format, "MATLAB v5");
  const ArrayDescription& s = named(d, "minibatch");
  EXPECT_EQ(s.info.dtype, "struct");
  EXPECT_FALSE(s.stats.has_value());
  EXPECT_TRUE(named(d, "X").column_major);
  EXPECT_EQ(named(d, "minibatch.a").stats->mean, named(d, "X").stats->mean);
  EXPECT_TRUE(d.attributes.empty());
}

TEST(Inspect, CountsNanAndInf) {
  const FileDescription d = describe_array_file(source("tests/data/bad/nan_x.h5"));
  const ArrayDescription& x = named(d, "/X");
  EXPECT_EQ(x.stats->nan_count, 2);
  EXPECT_EQ(x.stats->inf_count, 1);
}

TEST(Inspect, NonNumericAndOddAttributesDoNotFail) {
  const FileDescription d = describe_array_file(source("tests/data/good/h5py_types.h5"));
  EXPECT_FALSE(named(d, "/text").stats.has_value());
  EXPECT_FALSE(named(d, "/flags").stats.has_value());
  std::map<std::string, std::string> attrs(d.attributes.begin(), d.attributes.end());
  EXPECT_EQ(attrs["title"], "written by h5py");
  EXPECT_EQ(attrs["version"], "3");
  EXPECT_EQ(attrs["scale"], "0.25");
  EXPECT_EQ(attrs["fixed"], "fixed-bytes");
}

TEST(Inspect, Json) {
  const nlohmann::json j = to_json(describe_array_file(source("tests/data/bad/nan_x.h5")));
  EXPECT_EQ(j["format"], "HDF5");
  ASSERT_EQ(j["arrays"].size(), 2u);
  const nlohmann::json& x = j["arrays"][0];
  EXPECT_EQ(x["name"], "/X");
  EXPECT_EQ(x["dims"], nlohmann::json({8, 1, 4, 4}));
  EXPECT_EQ(x["dtype"], "float32");
  EXPECT_EQ(x["numeric"], true);
  EXPECT_EQ(x["stats"]["nan"], 2);
  EXPECT_EQ(x["stats"]["inf"], 1);
  EXPECT_TRUE(x["stats"]["min"].is_number());
  const nlohmann::json text = to_json(describe_array_file(source("tests/data/good/h5py_types.h5")));
  bool saw_text = false;
  for (const auto& a : text["arrays"])
    if (a["name"] == "/text") {
      saw_text = true;
      EXPECT_FALSE(a.contains("stats"));
    }
  EXPECT_TRUE(saw_text);
}

TEST(Inspect, BadFilesThrowIoError) {
  EXPECT_THROW(describe_array_file(source("tests/data/bad/fake.mat")), IoError);
  EXPECT_THROW(describe_array_file(source("tests/data/bad/truncated.h5")), IoError);
}

}  // namespace
}  // namespace cnndiag
