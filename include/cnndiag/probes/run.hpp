#pragma once
/// Running the probes: one observation → a Report; a series of checkpoints → the same report on
/// the last one plus the time × layer map of the spread ρ (when each layer first collapsed).

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cnndiag/probes/probe.hpp"
#include "cnndiag/report.hpp"

namespace cnndiag {

struct ProbeOptions {
  /// Probe names to run ("collapse", "weight_decay", …); empty: every probe.
  std::vector<std::string> only;
  /// Threshold overrides on top of the config's [probe] table (e.g. from --threshold k=v).
  std::map<std::string, double> thresholds;
  /// Sample indices of the probe batch to use; empty: all.
  std::vector<Index> probe_set;
};

/// Every probe's name, in the order they run and report.
const std::vector<std::string>& probe_names();

/// Runs the probes on an observation (applying threshold overrides to o.config first) and
/// builds the report: per-layer rows, sorted findings, verdict. exit_code is left 0: the CLI sets
/// it from --fail-on.
Report probe_report(Observation& o, const ProbeOptions& options);

/// Observes every checkpoint (sorted by iteration), computes ρ per layer for each, and returns
/// the full report of the last one with extra["time_map"] = {iterations, layers: {name: [ρ…]},
/// input: [ρ…], first_collapse: {layer: iteration}}. `on_checkpoint(i, n)` reports progress.
Report probe_series(const std::vector<std::filesystem::path>& checkpoints,
                    const ProbeOptions& options,
                    const std::function<void(std::size_t, std::size_t)>& on_checkpoint = {});

}  // namespace cnndiag
