#pragma once
/// `cnndiag check`: compares a probe report with a stored baseline report (DESIGN.md §8) so CI
/// can gate a model change on "no collapse, no new errors, no regression".
///
/// Per layer (matched by name) the numeric measurements of the report's `layers` rows are
/// compared: a value moved when |now − base| > atol + rtol·|base|. A move is a regression when it
/// goes the bad way (spread ρ or effective rank down; dead or saturated fraction up; decay
/// dominance up) and is listed otherwise. The verdict turning collapsed, a layer appearing or
/// disappearing, and error findings the baseline did not have are regressions too.

#include <map>
#include <string>
#include <vector>

#include "cnndiag/report.hpp"

namespace cnndiag {

struct Tolerance {
  double rtol = 0.0;
  double atol = 0.0;
};

/// Metric → tolerance, the documented defaults:
///   rho (0.25, 0.01), effective_rank (0.25, 0.5), dead_fraction (0, 0.1),
///   saturated_fraction (0, 0.1), weight_norm (0.5, 1e-12), grad_norm (1.0, 1e-12),
///   decay_dominance (1.0, 0.5), loss (0.25, 1e-9)
std::map<std::string, Tolerance> default_tolerances();

/// Parses "rho=0.1" (rtol) or "rho=0.1,0.02" (rtol,atol); throws UsageError naming what is wrong.
std::pair<std::string, Tolerance> parse_tolerance(const std::string& text);

/// The comparison as a report (command "check"): `check.regression` errors, `check.moved` infos,
/// per-layer rows {name, metric: {now, baseline, delta, status}}, and a verdict whose summary says
/// what moved.
Report compare_reports(const Report& current, const Report& baseline,
                       const std::map<std::string, Tolerance>& tolerances);

}  // namespace cnndiag
