#pragma once
// Text rendering of reports: the per-layer table, findings by severity, the verdict, and (for a
// series of checkpoints) the time × layer map of the spread ρ.

#include <string>

#include "cnndiag/report.hpp"

namespace cnndiag::cli {

/// `all`: every finding on its own; otherwise findings of one id are grouped ("also on: …").
std::string render_probe_text(const Report& report, bool color, bool all = false);
std::string render_findings(const std::vector<Finding>& findings, bool color, bool all = false);
std::string render_check_text(const Report& report, bool color);

}  // namespace cnndiag::cli
