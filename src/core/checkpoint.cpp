#include "cnndiag/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <regex>
#include <sstream>

#include "cnndiag/errors.hpp"
#include "cnndiag/h5file.hpp"

namespace cnndiag {
namespace {

// "conv1.weight" → "/params/conv1/weight". Layer names never contain '.', param names never do.
std::string object_path(const std::string& group, const std::string& key) {
  std::string path = key;
  std::replace(path.begin(), path.end(), '.', '/');
  return "/" + group + "/" + path;
}

std::string join(const std::vector<NamedTensor>& tensors) {
  std::string out;
  for (const auto& t : tensors) out += (out.empty() ? "" : ",") + t.key;
  return out;
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

void write_tensors(H5File& file, const std::string& group, const std::vector<NamedTensor>& tensors,
                   bool as_float32) {
  for (const auto& t : tensors) {
    const std::string path = object_path(group, t.key);
    if (as_float32)
      file.write_tensor(path, t.value.cast<float>());
    else
      file.write_tensor(path, t.value);
  }
  // The group and its order exist even when empty (a model of activations only has no params).
  if (!file.exists("/" + group)) file.create_group("/" + group);
  file.set_attr("/" + group, "order", join(tensors));
}

// fsync a path (file or directory) so the rename below is durable.
void sync_path(const std::filesystem::path& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return;  // best effort: some filesystems refuse directory fds
  ::fsync(fd);
  ::close(fd);
}

[[noreturn]] void missing(const std::filesystem::path& path, const std::string& object,
                          const std::string& what) {
  throw CheckpointError(path.string() + ": " + object + ": " + what);
}

}  // namespace

const NamedTensor* CheckpointData::find_param(const std::string& key) const {
  for (const auto& t : params)
    if (t.key == key) return &t;
  return nullptr;
}

const NamedTensor* CheckpointData::find_grad(const std::string& key) const {
  for (const auto& t : grads)
    if (t.key == key) return &t;
  return nullptr;
}

std::string checkpoint_file_name(std::int64_t iteration) {
  char name[64];
  std::snprintf(name, sizeof name, "ckpt-%08lld.h5", static_cast<long long>(iteration));
  return name;
}

void write_checkpoint(const std::filesystem::path& path, const CheckpointData& data) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  std::error_code ec;
  if (!path.parent_path().empty()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) throw IoError(path.parent_path().string() + ": cannot create folder: " + ec.message());
  try {
    H5File file(tmp, H5File::Mode::kCreate);
    file.set_attr("/", "format", std::string(kCheckpointFormat));
    file.set_attr("/", "format_version", kCheckpointVersion);
    file.set_attr("/", "cnndiag_version", data.cnndiag_version);
    file.set_attr("/", "iteration", data.iteration);
    file.set_attr("/", "seed", static_cast<std::int64_t>(data.seed));
    file.set_attr("/", "created_utc", data.created_utc);
    file.set_attr("/", "dtype", data.dtype);
    file.write_string("/config", data.config_text);

    const bool f32 = data.dtype == "float32";
    write_tensors(file, "params", data.params, f32);
    write_tensors(file, "buffers", data.buffers, f32);
    write_tensors(file, "grads", data.grads, f32);
    write_tensors(file, "optimizer", data.optimizer_slots, f32);
    file.set_attr("/optimizer", "type", data.optimizer_type);
    file.set_attr("/optimizer", "lr", data.optimizer_lr);
    file.set_attr("/optimizer", "step", data.optimizer_step);

    file.write_values("/history/iteration", data.history_iteration);
    file.write_values("/history/loss", data.history_loss);
    file.write_tensor("/probe/inputs", data.probe_inputs);
    if (!data.probe_labels.empty())
      file.write_values("/probe/labels", data.probe_labels);
    else
      file.write_tensor("/probe/targets", data.probe_targets);
    file.write_u64("/rng", data.rng_state);
    file.write_values("/train/order", data.train_order);
    file.write_values("/train/cursor", std::vector<std::int64_t>{data.train_cursor});
    file.close();
  } catch (...) {
    std::filesystem::remove(tmp, ec);  // the previous checkpoint under `path` is untouched
    throw;
  }
  sync_path(tmp, false);
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw IoError(path.string() + ": cannot move the new checkpoint into place: " + ec.message());
  sync_path(path.parent_path().empty() ? "." : path.parent_path(), true);
}

namespace {

std::vector<NamedTensor> read_tensors(const H5File& file, const std::string& group,
                                      bool required) {
  std::vector<NamedTensor> out;
  if (!file.exists("/" + group)) {
    if (required) missing(file.path(), "/" + group, "missing");
    return out;
  }
  const auto order = file.attr_string("/" + group, "order");
  if (!order) {
    if (required) missing(file.path(), "/" + group, "missing (or has no 'order' attribute)");
    return out;
  }
  for (const std::string& key : split(*order)) {
    const std::string path = object_path(group, key);
    if (!file.exists(path)) missing(file.path(), path, "missing");
    out.push_back({key, file.read_tensor_f64(path)});
  }
  return out;
}

std::vector<std::int64_t> to_int(const std::vector<double>& v) {
  std::vector<std::int64_t> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = static_cast<std::int64_t>(v[i]);
  return out;
}

}  // namespace

CheckpointData read_checkpoint(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw IoError(path.string() + ": no such checkpoint file");
  if (!is_hdf5_file(path))
    throw CheckpointError(path.string() + ": not an HDF5 file, so not a cnndiag checkpoint");
  H5File file(path, H5File::Mode::kRead);
  CheckpointData d;
  const auto format = file.attr_string("/", "format");
  if (!format || *format != kCheckpointFormat)
    missing(path, "/ attribute 'format'",
            "expected \"" + std::string(kCheckpointFormat) + "\", found " +
                (format ? "\"" + *format + "\"" : "none (not a cnndiag checkpoint)"));
  const auto version = file.attr_int("/", "format_version");
  if (!version || *version != kCheckpointVersion)
    missing(path, "/ attribute 'format_version'",
            "expected " + std::to_string(kCheckpointVersion) + ", found " +
                (version ? std::to_string(*version) : "none") +
                (version && *version > kCheckpointVersion ? " (written by a newer cnndiag)" : ""));
  auto required_attr = [&](const char* name) {
    auto v = file.attr_string("/", name);
    if (!v) missing(path, std::string("/ attribute '") + name + "'", "missing");
    return *v;
  };
  auto required_int = [&](const char* name) {
    auto v = file.attr_int("/", name);
    if (!v) missing(path, std::string("/ attribute '") + name + "'", "missing");
    return *v;
  };
  d.cnndiag_version = required_attr("cnndiag_version");
  d.created_utc = required_attr("created_utc");
  d.dtype = required_attr("dtype");
  d.iteration = required_int("iteration");
  d.seed = static_cast<std::uint64_t>(required_int("seed"));

  for (const char* object : {"/config", "/history/iteration", "/history/loss", "/probe/inputs",
                             "/rng", "/train/order", "/train/cursor"})
    if (!file.exists(object)) missing(path, object, "missing");
  d.config_text = file.read_string("/config");
  d.params = read_tensors(file, "params", true);
  d.buffers = read_tensors(file, "buffers", false);
  d.grads = read_tensors(file, "grads", true);
  d.optimizer_slots = read_tensors(file, "optimizer", false);
  d.optimizer_type = file.attr_string("/optimizer", "type").value_or("");
  d.optimizer_lr = file.attr_double("/optimizer", "lr").value_or(0.0);
  d.optimizer_step = file.attr_int("/optimizer", "step").value_or(0);

  for (const auto& p : d.params) {
    const NamedTensor* g = d.find_grad(p.key);
    if (!g) missing(path, object_path("grads", p.key), "missing");
    if (!(g->value.shape() == p.value.shape()))
      missing(path, object_path("grads", p.key),
              "shape " + g->value.shape().str() + " differs from the parameter's " +
                  p.value.shape().str());
  }

  std::vector<Index> dims;
  d.history_iteration = to_int(file.read_values("/history/iteration", &dims));
  d.history_loss = file.read_values("/history/loss", &dims);
  if (d.history_iteration.size() != d.history_loss.size())
    missing(path, "/history/loss", "has " + std::to_string(d.history_loss.size()) +
                                       " values but /history/iteration has " +
                                       std::to_string(d.history_iteration.size()));
  d.probe_inputs = file.read_tensor_f64("/probe/inputs");
  if (file.exists("/probe/labels")) {
    d.probe_labels = to_int(file.read_values("/probe/labels", &dims));
  } else if (file.exists("/probe/targets")) {
    d.probe_targets = file.read_tensor_f64("/probe/targets");
  } else {
    missing(path, "/probe/targets", "missing (and no /probe/labels either)");
  }
  const Index n = d.probe_inputs.rank() > 0 ? d.probe_inputs.dim(0) : 0;
  const Index nt = d.probe_labels.empty() ? (d.probe_targets.rank() > 0 ? d.probe_targets.dim(0) : 0)
                                          : static_cast<Index>(d.probe_labels.size());
  if (nt != n)
    missing(path, d.probe_labels.empty() ? "/probe/targets" : "/probe/labels",
            "has " + std::to_string(nt) + " samples but /probe/inputs has " + std::to_string(n));
  d.rng_state = file.read_u64("/rng");
  if (d.rng_state.size() != 6)
    missing(path, "/rng", "expected 6 words of generator state, found " +
                              std::to_string(d.rng_state.size()));
  d.train_order = to_int(file.read_values("/train/order", &dims));
  const auto cursor = to_int(file.read_values("/train/cursor", &dims));
  if (cursor.size() != 1) missing(path, "/train/cursor", "expected one value");
  d.train_cursor = cursor[0];
  return d;
}

std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& dir) {
  std::vector<std::pair<long long, std::filesystem::path>> found;
  static const std::regex pattern(R"(ckpt-(\d+)\.h5)");
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && std::regex_match(name, m, pattern))
      found.emplace_back(std::stoll(m[1].str()), entry.path());
  }
  if (ec) throw IoError(dir.string() + ": cannot list folder: " + ec.message());
  std::sort(found.begin(), found.end());
  std::vector<std::filesystem::path> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

}  // namespace cnndiag
