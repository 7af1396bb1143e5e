#include "cnndiag/inspect.hpp"

#include <cmath>
#include <sstream>

#include "cnndiag/errors.hpp"
#include "cnndiag/h5file.hpp"

namespace cnndiag {
namespace {

// Root attributes of an HDF5 file as text. An attribute of a type cnndiag does not read (an
// array, a compound) is shown by its name only: inspect must not fail on a file it can read.
std::vector<std::pair<std::string, std::string>> root_attributes(
    const std::filesystem::path& path) {
  std::vector<std::pair<std::string, std::string>> out;
  const H5File file(path, H5File::Mode::kRead);
  for (const std::string& name : file.attr_names("/")) {
    std::string text = "?";
    try {
      if (auto s = file.attr_string("/", name)) {
        text = *s;
      } else if (auto i = file.attr_int("/", name)) {
        text = std::to_string(*i);
      }
    } catch (const IoError&) {
      try {
        if (auto d = file.attr_double("/", name)) {
          std::ostringstream os;
          os.precision(17);
          os << *d;
          text = os.str();
        }
      } catch (const IoError&) {
        text = "(not a string or a single number)";
      }
    }
    out.emplace_back(name, text);
  }
  return out;
}

nlohmann::json optional_number(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

ArrayStats compute_stats(const std::vector<double>& values) {
  ArrayStats stats;
  stats.count = static_cast<Index>(values.size());
  double sum = 0.0;
  Index finite = 0;
  for (double v : values) {
    if (std::isnan(v)) {
      ++stats.nan_count;
      continue;
    }
    if (std::isinf(v)) {
      ++stats.inf_count;
      continue;
    }
    stats.min = stats.min ? std::min(*stats.min, v) : v;
    stats.max = stats.max ? std::max(*stats.max, v) : v;
    sum += v;
    ++finite;
  }
  if (finite > 0) stats.mean = sum / static_cast<double>(finite);
  return stats;
}

FileDescription describe_array_file(const std::filesystem::path& path) {
  const ArrayFile file = ArrayFile::open(path);
  FileDescription description;
  description.path = path;
  description.format = file.format_name();
  const bool column_major = file.format() == ArrayFile::Format::kMat;
  for (const ArrayInfo& info : file.list()) {
    ArrayDescription array{info, column_major, std::nullopt};
    if (info.numeric) array.stats = compute_stats(file.read(info.name).values);
    description.arrays.push_back(std::move(array));
  }
  if (file.format() == ArrayFile::Format::kHdf5) description.attributes = root_attributes(path);
  return description;
}

nlohmann::json to_json(const FileDescription& description) {
  nlohmann::json arrays = nlohmann::json::array();
  for (const ArrayDescription& a : description.arrays) {
    nlohmann::json entry = {{"name", a.info.name},
                            {"dims", a.info.dims},
                            {"dtype", a.info.dtype},
                            {"numeric", a.info.numeric},
                            {"column_major", a.column_major}};
    if (a.stats)
      entry["stats"] = {{"count", a.stats->count},
                        {"nan", a.stats->nan_count},
                        {"inf", a.stats->inf_count},
                        {"min", optional_number(a.stats->min)},
                        {"max", optional_number(a.stats->max)},
                        {"mean", optional_number(a.stats->mean)}};
    arrays.push_back(std::move(entry));
  }
  nlohmann::json attributes = nlohmann::json::object();
  for (const auto& [name, value] : description.attributes) attributes[name] = value;
  return {{"path", description.path.string()},
          {"format", description.format},
          {"attributes", attributes},
          {"arrays", arrays}};
}

}  // namespace cnndiag
