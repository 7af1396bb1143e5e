#pragma once
// Plain-text tables for reports: columns padded to their widest cell (UTF-8 aware).

#include <string>
#include <vector>

namespace cnndiag::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  /// The table with `indent` leading spaces per line, header first, newline-terminated lines.
  std::string render(int indent = 0) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

/// Compact numbers for tables: 3 significant digits, exponent outside [1e-3, 1e5).
std::string format_number(double value);

}  // namespace cnndiag::cli
