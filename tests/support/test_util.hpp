#pragma once
// Helpers shared by the unit tests: scratch folders and small files.

#include <filesystem>
#include <string>

namespace cnndiag::test {

/// A fresh, empty folder under the build's test scratch space: `name` plus the process id, so
/// tests that ctest runs in parallel never share one.
std::filesystem::path scratch_dir(const std::string& name);

/// Writes text to a file (creating folders) and returns its path.
std::filesystem::path write_text(const std::filesystem::path& path, const std::string& text);

/// The repository root (for data/examples).
std::filesystem::path source_dir();

}  // namespace cnndiag::test
