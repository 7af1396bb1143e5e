// The training step allocates nothing once the model is reserved and one step has run (BENCH.md:
// allocations over 128 KiB are fresh mmaps with expensive page faults on these machines). The
// step is the trainer's own sequence (trainer.cpp TrainingRun::run): zero_grads, forward, loss
// with ∂E/∂y, backward, optimizer update — on the benchmark networks B1–B3, at 1 and 2 threads.

#include <gtest/gtest.h>

#include <string>

#include "cnndiag/config.hpp"
#include "cnndiag/loss.hpp"
#include "cnndiag/model.hpp"
#include "cnndiag/optim.hpp"
#include "cnndiag/parallel.hpp"
#include "cnndiag/trainer.hpp"
#include "support/alloc_counter.hpp"
#include "support/test_util.hpp"

namespace cnndiag {
namespace {

struct ThreadsRestored {
  int before = num_threads();
  ~ThreadsRestored() { set_num_threads(before); }
};

// Allocations made by `steps` training steps after one warm-up step.
std::int64_t allocations_per_steps(const std::string& net, int threads, int steps) {
  ThreadsRestored restore;
  set_num_threads(threads);
  const Config config = load_config(test::source_dir() / "data/examples/bench" / (net + ".toml"));
  const FloatModeGuard float_mode(true);
  Workbench<float> wb = open_workbench<float>(config);
  Model<float>& model = *wb.model;
  model.init(config.layers, config.train.seed);
  model.reserve(wb.batch.inputs.dim(0));
  Loss<float> loss(config.loss);
  Optimizer<float> optimizer(config.optimizer, model);
  Tensor<float> dy(model.output_shape().with_batch(wb.batch.inputs.dim(0)));
  auto step = [&] {
    model.zero_grads();
    const Tensor<float>& y = model.forward(wb.batch.inputs, true);
    loss.evaluate(y, wb.batch.targets, &dy);
    model.backward(dy);
    optimizer.step();
  };
  step();
  testing::AllocationCounter counter;
  for (int i = 0; i < steps; ++i) step();
  return counter.count();
}

TEST(TrainingStepAllocations, NoneAfterTheFirstStep) {
  if (!testing::AllocationCounter::supported()) GTEST_SKIP() << "allocations not observable";
  for (const char* net : {"b1", "b2", "b3"}) {
    for (int threads : {1, 2}) {
      EXPECT_EQ(allocations_per_steps(net, threads, 2), 0) << net << " at " << threads
                                                           << " threads";
    }
  }
}

// The counter is live here: the same sequence with a fresh model does allocate (buffers are
// sized on first use), so a zero above is a real measurement, not a blind counter.
TEST(TrainingStepAllocations, CounterSeesSetUp) {
  if (!testing::AllocationCounter::supported()) GTEST_SKIP() << "allocations not observable";
  testing::AllocationCounter counter;
  const Config config = load_config(test::source_dir() / "data/examples/bench/b1.toml");
  Workbench<float> wb = open_workbench<float>(config);
  wb.model->reserve(wb.batch.inputs.dim(0));
  EXPECT_GT(counter.count(), 0);
}

}  // namespace
}  // namespace cnndiag
