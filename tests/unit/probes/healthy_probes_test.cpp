// A healthy network, trained until it fits, must not be flagged by any of the probes: the other
// tests show each finding fires on a crafted case; this one guards against false alarms.
#include <gtest/gtest.h>

#include "cnndiag/probes/probes.hpp"
#include "probe_fixture.hpp"

namespace cnndiag {
namespace {

constexpr const char* kNet = R"(
[[layer]]
name = "conv1"
type = "conv2d"
out_channels = 4
kernel = 3
pad = 1
init.weight = "he"
[[layer]]
name = "relu1"
type = "relu"
[[layer]]
name = "fc1"
type = "linear"
out = 8
init.weight = "xavier"
[[layer]]
name = "tanh1"
type = "tanh"
[[layer]]
name = "fc2"
type = "linear"
out = 2
init.weight = "xavier"
)";

void expect_quiet(const Observation& o, const std::string& what) {
  for (auto probe : {probe_weight_decay, probe_gradient_flow, probe_units, probe_init,
                     probe_targets, probe_loss_curve}) {
    const ProbeResult r = probe(o);
    for (const Finding& f : r.findings)
      EXPECT_EQ(f.severity, Severity::kInfo)
          << what << ": " << f.id << " on " << f.tensor << ": " << f.message;
  }
}

TEST(HealthyProbes, ConvergedNetworksAreNotFlagged) {
  test::ProbeData d;
  d.x = test::uniform_inputs(Shape{40, 1, 4, 4}, 111);
  d.y = test::linear_targets(d.x, 2, 0.01, 112);
  const char* optimizers[] = {
      "type = \"sgd\"\nlr = 0.02\nmomentum = 0.9\nweight_decay = 1e-4",
      "type = \"adam\"\nlr = 0.003",
      "type = \"adamw\"\nlr = 0.003\nweight_decay = 0.01",
  };
  int k = 0;
  for (const char* optimizer : optimizers) {
    const Observation o = test::train_and_observe("healthy_" + std::to_string(k++),
                                                  test::net_config(kNet, optimizer, 1500), d);
    expect_quiet(o, optimizer);
  }
  // Mid-training (the loss has fallen ~5×, not yet 100×): the gates are closed, still quiet.
  const Observation mid = test::train_and_observe("healthy_mid", test::net_config(kNet, optimizers[0], 40), d);
  ASSERT_FALSE(mid.history_loss.empty());
  EXPECT_GT(mid.loss, mid.history_loss.front() / 100);
  expect_quiet(mid, "mid-training");
}

}  // namespace
}  // namespace cnndiag
