#include "cnndiag/checkpoint.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "cnndiag/errors.hpp"
#include "cnndiag/h5file.hpp"
#include "support/test_util.hpp"

namespace cnndiag {
namespace {

Tensor<double> ramp(const Shape& s, double scale) {
  Tensor<double> t(s);
  for (Index i = 0; i < t.size(); ++i) t[i] = scale * static_cast<double>(i + 1) / 3.0;
  return t;
}

CheckpointData sample(const std::string& dtype) {
  CheckpointData d;
  d.cnndiag_version = "test";
  d.iteration = 1000;
  d.seed = 7;
  d.created_utc = "2026-01-01T00:00:00Z";
  d.dtype = dtype;
  d.config_text = "[data]\nfile = \"x.h5\"\n";
  d.params = {{"conv1.weight", ramp({1, 1, 3, 3}, 0.1)}, {"conv1.bias", ramp({1}, 1)}};
  d.grads = {{"conv1.weight", ramp({1, 1, 3, 3}, -1)}, {"conv1.bias", ramp({1}, 2)}};
  d.optimizer_type = "sgd";
  d.optimizer_lr = 0.003;
  d.optimizer_step = 1000;
  d.optimizer_slots = {{"conv1.weight/velocity", ramp({1, 1, 3, 3}, 0.5)}};
  d.history_iteration = {1, 2, 3};
  d.history_loss = {0.5, 0.25, 0.125};
  d.probe_inputs = ramp({2, 1, 3, 3}, 1);
  d.probe_targets = ramp({2, 4}, 1);
  d.rng_state = {1, 2, 3, 4, 0, 0};
  d.train_order = {1, 0};
  d.train_cursor = 2;
  return d;
}

void expect_same(const Tensor<double>& a, const Tensor<double>& b, bool round_to_float) {
  ASSERT_EQ(a.shape(), b.shape());
  for (Index i = 0; i < a.size(); ++i)
    EXPECT_EQ(round_to_float ? static_cast<double>(static_cast<float>(a[i])) : a[i], b[i]);
}

TEST(Checkpoint, RoundTripIsExactInEitherDtype) {
  const auto dir = test::scratch_dir("ckpt_roundtrip");
  for (const std::string dtype : {"float32", "float64"}) {
    const CheckpointData d = sample(dtype);
    const auto path = dir / ("c-" + dtype + ".h5");
    write_checkpoint(path, d);
    EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
    const CheckpointData r = read_checkpoint(path);
    const bool f32 = dtype == "float32";
    EXPECT_EQ(r.iteration, 1000);
    EXPECT_EQ(r.seed, 7u);
    EXPECT_EQ(r.dtype, dtype);
    EXPECT_EQ(r.config_text, d.config_text);
    ASSERT_EQ(r.params.size(), 2u);
    EXPECT_EQ(r.params[0].key, "conv1.weight");  // model order is kept, not name order
    expect_same(d.params[0].value, r.params[0].value, f32);
    expect_same(d.grads[1].value, r.grads[1].value, f32);
    expect_same(d.optimizer_slots[0].value, r.optimizer_slots[0].value, f32);
    EXPECT_EQ(r.optimizer_slots[0].key, "conv1.weight/velocity");
    EXPECT_EQ(r.history_loss, d.history_loss);
    EXPECT_EQ(r.history_iteration, d.history_iteration);
    expect_same(d.probe_inputs, r.probe_inputs, false);
    EXPECT_EQ(r.rng_state, d.rng_state);
    EXPECT_EQ(r.train_order, d.train_order);
    EXPECT_EQ(r.train_cursor, 2);
  }
}

TEST(Checkpoint, FileNamesSortByIteration) {
  EXPECT_EQ(checkpoint_file_name(10000), "ckpt-00010000.h5");
  const auto dir = test::scratch_dir("ckpt_list");
  for (int it : {1000, 0, 200}) write_checkpoint(dir / checkpoint_file_name(it), sample("float32"));
  test::write_text(dir / "notes.txt", "x");
  const auto list = list_checkpoints(dir);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].filename(), "ckpt-00000000.h5");
  EXPECT_EQ(list[2].filename(), "ckpt-00001000.h5");
}

TEST(Checkpoint, TruncatedFileIsRefusedNamingTheFile) {
  const auto dir = test::scratch_dir("ckpt_truncated");
  const auto path = dir / "c.h5";
  write_checkpoint(path, sample("float32"));
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  try {
    read_checkpoint(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("c.h5"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, MissingObjectIsNamed) {
  const auto dir = test::scratch_dir("ckpt_missing");
  CheckpointData d = sample("float32");
  d.grads.pop_back();  // no /grads/conv1/bias
  write_checkpoint(dir / "c.h5", d);
  try {
    read_checkpoint(dir / "c.h5");
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("/grads/conv1/bias"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, WrongFormatAndNewerVersionAreExplained) {
  const auto dir = test::scratch_dir("ckpt_format");
  {
    H5File f(dir / "other.h5", H5File::Mode::kCreate);
    f.set_attr("/", "format", std::string("something-else"));
    f.close();
  }
  EXPECT_THROW(read_checkpoint(dir / "other.h5"), CheckpointError);
  {
    H5File f(dir / "newer.h5", H5File::Mode::kCreate);
    f.set_attr("/", "format", std::string(kCheckpointFormat));
    f.set_attr("/", "format_version", std::int64_t{2});
    f.close();
  }
  try {
    read_checkpoint(dir / "newer.h5");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("newer cnndiag"), std::string::npos) << e.what();
  }
  test::write_text(dir / "text.h5", "not hdf5 at all");
  EXPECT_THROW(read_checkpoint(dir / "text.h5"), CheckpointError);
}

TEST(Checkpoint, FailedWriteLeavesThePreviousCheckpointIntact) {
  const auto dir = test::scratch_dir("ckpt_atomic");
  const auto path = dir / "c.h5";
  write_checkpoint(path, sample("float32"));
  CheckpointData bad = sample("float32");
  bad.params.push_back({"", Tensor<double>({1})});  // an empty key: HDF5 refuses the path
  EXPECT_THROW(write_checkpoint(path, bad), Error);
  EXPECT_EQ(read_checkpoint(path).iteration, 1000);
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
}

}  // namespace
}  // namespace cnndiag
