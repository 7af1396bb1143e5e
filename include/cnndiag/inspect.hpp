#pragma once
/// What a data file holds, for `cnndiag inspect FILE`: every dataset or variable with its dims,
/// element type and, for numeric ones, a few statistics. A struct, not text: the CLI formats it.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cnndiag/array_file.hpp"

namespace cnndiag {

/// Statistics of a numeric array, over its finite values (NaN and Inf are counted apart).
struct ArrayStats {
  Index count = 0;      ///< number of elements
  Index nan_count = 0;  ///< NaN elements
  Index inf_count = 0;  ///< +Inf or −Inf elements
  /// Over the finite elements; nullopt when there is none (empty array, or all NaN/Inf).
  std::optional<double> min, max, mean;
};

struct ArrayDescription {
  ArrayInfo info;                   ///< name, dims (as the file's tools show them), dtype, numeric
  bool column_major = false;        ///< true for MATLAB variables (dims as MATLAB's size())
  std::optional<ArrayStats> stats;  ///< numeric arrays only
};

struct FileDescription {
  std::filesystem::path path;
  std::string format;                    ///< "HDF5", "MATLAB v5", "MATLAB v7.3", "MATLAB v4"
  std::vector<ArrayDescription> arrays;  ///< in file order (HDF5: depth first, by name)
  /// HDF5 only: the root group's attributes as text (strings as is, numbers printed), e.g.
  /// layout = "nchw", origin = "…".
  std::vector<std::pair<std::string, std::string>> attributes;
};

/// Opens `path` (by content: HDF5 or MATLAB .mat) and describes it; reads every numeric array
/// once to compute its statistics. Throws IoError like ArrayFile::open().
FileDescription describe_array_file(const std::filesystem::path& path);

/// Statistics of a list of values (exposed for tests).
ArrayStats compute_stats(const std::vector<double>& values);

/// {"path", "format", "attributes": {…}, "arrays": [{"name", "dims", "dtype", "numeric",
///  "column_major", "stats": {"count", "nan", "inf", "min", "max", "mean"}}]}; a missing
/// min/max/mean is null.
nlohmann::json to_json(const FileDescription& description);

}  // namespace cnndiag
