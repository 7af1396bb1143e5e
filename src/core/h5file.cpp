#include "cnndiag/h5file.hpp"

#include <hdf5.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <string_view>
#include <system_error>
#include <utility>

#include "cnndiag/errors.hpp"

namespace cnndiag {
namespace {

// ---------------------------------------------------------------------------------------------
// Silence and error text
// ---------------------------------------------------------------------------------------------

// HDF5 prints its whole error stack to stderr by default. cnndiag reports one line instead, so the
// automatic printing is switched off before any call that can fail (the setting is per thread in
// thread-safe builds, hence called every time rather than once).
void silence_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// The innermost description on HDF5's error stack — the message closest to the cause
// ("truncated file: eof = 1024, sblock->base_addr = 0, stored_eof = 4096") — then clears it.
herr_t take_innermost(unsigned n, const H5E_error2_t* err, void* out) {
  if (n == 0 && err->desc != nullptr) *static_cast<std::string*>(out) = err->desc;
  return 0;
}

std::string hdf5_error_detail() {
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, &detail);
  H5Eclear2(H5E_DEFAULT);
  return detail;
}

// ---------------------------------------------------------------------------------------------
// RAII handle
// ---------------------------------------------------------------------------------------------

// One hid_t and the function that releases it (H5Dclose, H5Sclose, …). Negative ids mean "none".
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, -1)), closer_(other.closer_) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, -1);
      closer_ = other.closer_;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  /// Closes now and reports whether HDF5 accepted it (used by H5File::close()).
  bool close() {
    if (id_ < 0) return true;
    const herr_t status = closer_(std::exchange(id_, -1));
    return status >= 0;
  }
  void reset() {
    if (id_ >= 0) closer_(std::exchange(id_, -1));
  }

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

herr_t close_object(hid_t id) { return H5Oclose(id); }

// "/params/conv1/weight" from "params/conv1/weight" or "/params/conv1/weight".
std::string absolute(const std::string& object_path) {
  if (object_path.empty() || object_path.front() != '/') return "/" + object_path;
  return object_path;
}

// Splits "/a/b/c" into {"a", "b", "c"}; empty components ("//") are skipped.
std::vector<std::string> components(const std::string& object_path) {
  std::vector<std::string> parts;
  std::string current;
  for (char ch : object_path) {
    if (ch == '/') {
      if (!current.empty()) parts.push_back(std::move(current));
      current.clear();
    } else {
      current += ch;
    }
  }
  if (!current.empty()) parts.push_back(std::move(current));
  return parts;
}

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

std::string dtype_name(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  const std::size_t bits = H5Tget_size(type) * 8;
  switch (cls) {
    case H5T_FLOAT:
      return "float" + std::to_string(bits);  // float16 (numpy half) converts too
    case H5T_INTEGER:
      return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
    case H5T_STRING:
      return "string";
    default:
      return "other";
  }
}

bool is_numeric_class(H5T_class_t cls) { return cls == H5T_INTEGER || cls == H5T_FLOAT; }

// A variable-length UTF-8 string type, the form h5py writes for `str` and MATLAB's h5read
// returns as text.
Handle make_vlen_utf8_type() {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  return type;
}

// Creation properties that leave object modification times out of the file, so writing the
// same content twice gives the same bytes (the file's own times would differ on every run).
Handle make_untimed_plist(hid_t plist_class) {
  Handle plist(H5Pcreate(plist_class), H5Pclose);
  H5Pset_obj_track_times(plist.get(), false);
  return plist;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// H5File::Impl
// ---------------------------------------------------------------------------------------------

struct H5File::Impl {
  std::filesystem::path path;
  Mode mode = Mode::kRead;
  Handle file;

  /// "file: /object: what (hdf5 detail)"
  [[noreturn]] void fail(const std::string& object_path, const std::string& what) const {
    const std::string detail = hdf5_error_detail();
    std::string message = path.string() + ": ";
    if (!object_path.empty()) message += object_path + ": ";
    message += what;
    if (!detail.empty()) message += " (" + detail + ")";
    throw IoError(message);
  }

  hid_t id(const std::string& object_path) const {
    if (!file.valid()) fail(object_path, "file is closed");
    return file.get();
  }

  void require_writable(const std::string& object_path) const {
    if (mode != Mode::kCreate) fail(object_path, "cannot write: the file was opened read-only");
  }

  /// True when every link along the path exists and resolves to an object. H5Lexists must be
  /// asked one component at a time: it fails (rather than returning false) when an intermediate
  /// group is missing.
  bool exists(const std::string& object_path) const {
    silence_hdf5();
    const hid_t f = id(object_path);
    std::string prefix;
    for (const std::string& part : components(object_path)) {
      prefix += "/" + part;
      if (H5Lexists(f, prefix.c_str(), H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return false;
      }
    }
    if (prefix.empty()) return true;  // the root group
    const htri_t resolved = H5Oexists_by_name(f, prefix.c_str(), H5P_DEFAULT);
    H5Eclear2(H5E_DEFAULT);
    return resolved > 0;
  }

  Handle open_dataset(const std::string& dataset_path) const {
    silence_hdf5();
    if (!exists(dataset_path)) fail(dataset_path, "no such dataset");
    Handle object(H5Oopen(id(dataset_path), dataset_path.c_str(), H5P_DEFAULT), close_object);
    if (!object.valid()) fail(dataset_path, "cannot open");
    if (H5Iget_type(object.get()) != H5I_DATASET) fail(dataset_path, "is a group, not a dataset");
    object.reset();
    Handle dataset(H5Dopen2(id(dataset_path), dataset_path.c_str(), H5P_DEFAULT), H5Dclose);
    if (!dataset.valid()) fail(dataset_path, "cannot open dataset");
    return dataset;
  }

  Handle open_object(const std::string& object_path) const {
    silence_hdf5();
    if (!exists(object_path)) fail(object_path, "no such group or dataset");
    Handle object(H5Oopen(id(object_path), object_path.c_str(), H5P_DEFAULT), close_object);
    if (!object.valid()) fail(object_path, "cannot open");
    return object;
  }

  static std::vector<Index> dims_of(hid_t space) {
    const int rank = H5Sget_simple_extent_ndims(space);
    if (rank <= 0) return {};  // scalar (0) or null dataspace
    std::vector<hsize_t> raw(static_cast<std::size_t>(rank));
    H5Sget_simple_extent_dims(space, raw.data(), nullptr);
    return {raw.begin(), raw.end()};
  }

  /// Reads every element of a numeric dataset converted to the memory type `mem_type`
  /// (H5T_NATIVE_DOUBLE, …); HDF5 does the conversion from the stored type.
  template <typename T>
  std::vector<T> read_numeric(const std::string& dataset_path, hid_t mem_type,
                              std::vector<Index>* dims) const {
    Handle dataset = open_dataset(dataset_path);
    Handle type(H5Dget_type(dataset.get()), H5Tclose);
    if (!is_numeric_class(H5Tget_class(type.get())))
      fail(dataset_path, "not numeric (it holds " + dtype_name(type.get()) + ")");
    Handle space(H5Dget_space(dataset.get()), H5Sclose);
    const hssize_t count = H5Sget_simple_extent_npoints(space.get());
    if (count < 0) fail(dataset_path, "cannot read its dataspace");
    if (dims != nullptr) *dims = dims_of(space.get());
    std::vector<T> values(static_cast<std::size_t>(count));
    if (count > 0 &&
        H5Dread(dataset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
      fail(dataset_path, "cannot read data");
    return values;
  }

  template <typename T>
  Tensor<T> read_tensor(const std::string& dataset_path, hid_t mem_type) const {
    std::vector<Index> dims;
    std::vector<T> values = read_numeric<T>(dataset_path, mem_type, &dims);
    if (dims.size() > static_cast<std::size_t>(Shape::kMaxRank))
      fail(dataset_path, "rank " + std::to_string(dims.size()) + " is more than cnndiag's " +
                             std::to_string(Shape::kMaxRank));
    Tensor<T> tensor(Shape::from(dims.begin(), dims.end()));
    tensor.storage() = std::move(values);
    return tensor;
  }

  /// Creates every missing group above `object_path` (untimed, see make_untimed_plist).
  void create_parent_groups(const std::string& object_path) {
    const std::vector<std::string> parts = components(object_path);
    std::string prefix;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      prefix += "/" + parts[i];
      if (exists(prefix)) continue;
      Handle gcpl = make_untimed_plist(H5P_GROUP_CREATE);
      Handle group(H5Gcreate2(id(prefix), prefix.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
                   H5Gclose);
      if (!group.valid()) fail(prefix, "cannot create group");
    }
  }

  /// Writes `data` as a new contiguous dataset of file type `file_type` and shape `dims`
  /// (empty dims: a scalar).
  void write_dataset(const std::string& dataset_path, hid_t file_type, hid_t mem_type,
                     const std::vector<hsize_t>& dims, const void* data) {
    silence_hdf5();
    require_writable(dataset_path);
    if (components(dataset_path).empty()) fail(dataset_path, "a dataset needs a name");
    if (exists(dataset_path)) fail(dataset_path, "already exists");
    create_parent_groups(dataset_path);
    Handle space(dims.empty()
                     ? H5Screate(H5S_SCALAR)
                     : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                 H5Sclose);
    Handle dcpl = make_untimed_plist(H5P_DATASET_CREATE);
    Handle dataset(H5Dcreate2(id(dataset_path), dataset_path.c_str(), file_type, space.get(),
                              H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                   H5Dclose);
    if (!dataset.valid()) fail(dataset_path, "cannot create dataset");
    const bool empty = std::any_of(dims.begin(), dims.end(), [](hsize_t d) { return d == 0; });
    if (!empty && H5Dwrite(dataset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
      fail(dataset_path, "cannot write data");
  }

  template <typename T>
  void write_tensor(const std::string& dataset_path, const Tensor<T>& t, hid_t file_type,
                    hid_t mem_type) {
    const std::vector<hsize_t> dims(t.shape().begin(), t.shape().end());
    write_dataset(absolute(dataset_path), file_type, mem_type, dims, t.data());
  }

  /// Opens attribute `name` on an object; an invalid handle when it is absent.
  Handle open_attr(const std::string& object_path, const std::string& name) const {
    Handle object = open_object(object_path);
    const htri_t present = H5Aexists(object.get(), name.c_str());
    if (present < 0) fail(object_path, "cannot look up attribute '" + name + "'");
    if (present == 0) return {};
    Handle attr(H5Aopen(object.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
    if (!attr.valid()) fail(object_path, "cannot open attribute '" + name + "'");
    return attr;
  }

  /// A numeric attribute's single value, converted to `mem_type`; a 1-element array counts.
  template <typename T>
  std::optional<T> read_scalar_attr(const std::string& object_path, const std::string& name,
                                    hid_t mem_type, bool allow_float) const {
    silence_hdf5();
    Handle attr = open_attr(object_path, name);
    if (!attr.valid()) return std::nullopt;
    Handle type(H5Aget_type(attr.get()), H5Tclose);
    const H5T_class_t cls = H5Tget_class(type.get());
    const bool ok = cls == H5T_INTEGER || (allow_float && cls == H5T_FLOAT);
    if (!ok)
      fail(object_path, "attribute '" + name + "': expected " +
                            (allow_float ? "a number" : "an integer") + ", found " +
                            dtype_name(type.get()));
    Handle space(H5Aget_space(attr.get()), H5Sclose);
    if (H5Sget_simple_extent_npoints(space.get()) != 1)
      fail(object_path, "attribute '" + name + "': expected a single value");
    T value{};
    if (H5Aread(attr.get(), mem_type, &value) < 0)
      fail(object_path, "cannot read attribute '" + name + "'");
    return value;
  }

  /// Creates (replacing any existing one) a scalar attribute and writes `data` into it.
  void write_attr(const std::string& object_path, const std::string& name, hid_t file_type,
                  hid_t mem_type, const void* data) {
    silence_hdf5();
    require_writable(object_path);
    Handle object = open_object(object_path);
    if (H5Aexists(object.get(), name.c_str()) > 0 && H5Adelete(object.get(), name.c_str()) < 0)
      fail(object_path, "cannot replace attribute '" + name + "'");
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle attr(
        H5Acreate2(object.get(), name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
        H5Aclose);
    if (!attr.valid()) fail(object_path, "cannot create attribute '" + name + "'");
    if (H5Awrite(attr.get(), mem_type, data) < 0)
      fail(object_path, "cannot write attribute '" + name + "'");
  }
};

namespace {

// Reads a string held by a dataset or attribute whose (file) type is `type` and that has one
// element. `read` performs H5Dread/H5Aread with a memory type. Handles both variable-length
// strings (h5py's str, MATLAB's string) and fixed-length ones (numpy bytes_, MATLAB_class).
template <typename ReadFn>
bool read_one_string(hid_t type, hid_t space, ReadFn read, std::string* out) {
  if (H5Tis_variable_str(type) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type));
    char* text = nullptr;
    if (read(mem.get(), &text) < 0) return false;
    *out = text != nullptr ? text : "";
    H5Dvlen_reclaim(mem.get(), space, H5P_DEFAULT, &text);
    return true;
  }
  // Read with the stored type itself: converting between paddings would cut the last character
  // of a NUL-terminated string that fills its whole size (MATLAB's MATLAB_class attributes).
  const std::size_t size = H5Tget_size(type);
  Handle mem(H5Tcopy(type), H5Tclose);
  std::string buffer(size, '\0');
  if (read(mem.get(), buffer.data()) < 0) return false;
  // Fixed-length strings are padded with NULs or (Fortran style) spaces.
  const bool space_padded = H5Tget_strpad(type) == H5T_STR_SPACEPAD;
  buffer.resize(std::min(buffer.size(), buffer.find('\0')));
  if (space_padded) buffer.erase(buffer.find_last_not_of(' ') + 1);
  *out = std::move(buffer);
  return true;
}

struct VisitState {
  std::vector<std::string> dataset_paths;
};

// H5Lvisit callback: keeps hard links that lead to datasets. H5Lvisit walks depth first and, with
// H5_INDEX_NAME / H5_ITER_INC, in name order within each group; it visits each object once even
// when several hard links lead to it.
herr_t collect_dataset(hid_t group, const char* name, const H5L_info_t* info, void* data) {
  auto* state = static_cast<VisitState*>(data);
  if (info->type != H5L_TYPE_HARD) return 0;
  Handle object(H5Oopen(group, name, H5P_DEFAULT), close_object);
  if (object.valid() && H5Iget_type(object.get()) == H5I_DATASET) {
    // Built by append rather than "/" + std::string(name): GCC 12 warns (-Wrestrict, a known
    // false positive) on that operator+ at -O2, and CI builds with -Werror.
    std::string path = "/";
    path.append(name);
    state->dataset_paths.push_back(std::move(path));
  }
  H5Eclear2(H5E_DEFAULT);
  return 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// H5File
// ---------------------------------------------------------------------------------------------

H5File::H5File(const std::filesystem::path& path, Mode mode) : impl_(std::make_unique<Impl>()) {
  silence_hdf5();
  impl_->path = path;
  impl_->mode = mode;
  if (mode == Mode::kRead) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) impl_->fail("", "no such file");
    if (std::filesystem::is_directory(path, ec)) impl_->fail("", "is a folder, not a file");
    if (!is_hdf5_file(path)) impl_->fail("", "not an HDF5 file (no HDF5 signature)");
    impl_->file = Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!impl_->file.valid()) impl_->fail("", "cannot open as HDF5 (damaged or truncated?)");
  } else {
    // The root group is created with the file: leave its times out too (see make_untimed_plist;
    // a file creation property list is a kind of group creation property list).
    Handle fcpl = make_untimed_plist(H5P_FILE_CREATE);
    impl_->file = Handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), H5Fclose);
    if (!impl_->file.valid()) impl_->fail("", "cannot create file");
  }
}

H5File::~H5File() = default;
H5File::H5File(H5File&&) noexcept = default;
H5File& H5File::operator=(H5File&&) noexcept = default;

const std::filesystem::path& H5File::path() const { return impl_->path; }

bool H5File::exists(const std::string& object_path) const {
  return impl_->exists(absolute(object_path));
}

std::vector<H5DatasetInfo> H5File::list_datasets() const {
  silence_hdf5();
  VisitState state;
  if (H5Lvisit(impl_->id("/"), H5_INDEX_NAME, H5_ITER_INC, collect_dataset, &state) < 0)
    impl_->fail("/", "cannot list the file's contents");
  std::vector<H5DatasetInfo> infos;
  for (const std::string& p : state.dataset_paths) infos.push_back(info(p));
  return infos;
}

H5DatasetInfo H5File::info(const std::string& dataset_path) const {
  const std::string p = absolute(dataset_path);
  Handle dataset = impl_->open_dataset(p);
  Handle type(H5Dget_type(dataset.get()), H5Tclose);
  Handle space(H5Dget_space(dataset.get()), H5Sclose);
  return {p, Impl::dims_of(space.get()), dtype_name(type.get())};
}

Tensor<double> H5File::read_tensor_f64(const std::string& dataset_path) const {
  return impl_->read_tensor<double>(absolute(dataset_path), H5T_NATIVE_DOUBLE);
}

Tensor<float> H5File::read_tensor_f32(const std::string& dataset_path) const {
  return impl_->read_tensor<float>(absolute(dataset_path), H5T_NATIVE_FLOAT);
}

std::vector<double> H5File::read_values(const std::string& dataset_path,
                                        std::vector<Index>* dims) const {
  return impl_->read_numeric<double>(absolute(dataset_path), H5T_NATIVE_DOUBLE, dims);
}

std::vector<std::uint64_t> H5File::read_u64(const std::string& dataset_path) const {
  const std::string p = absolute(dataset_path);
  {
    // Reading through HDF5's conversion would clip negative or fractional values silently.
    const H5DatasetInfo i = info(p);
    if (i.dtype.rfind("uint", 0) != 0 && i.dtype.rfind("int", 0) != 0)
      impl_->fail(p, "expected integers, found " + i.dtype);
  }
  return impl_->read_numeric<std::uint64_t>(p, H5T_NATIVE_UINT64, nullptr);
}

std::string H5File::read_string(const std::string& dataset_path) const {
  const std::string p = absolute(dataset_path);
  Handle dataset = impl_->open_dataset(p);
  Handle type(H5Dget_type(dataset.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING)
    impl_->fail(p, "expected a string, found " + dtype_name(type.get()));
  Handle space(H5Dget_space(dataset.get()), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.get()) != 1)
    impl_->fail(p, "expected a single string, found an array of strings");
  std::string text;
  const auto read = [&](hid_t mem, void* buf) {
    return H5Dread(dataset.get(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  };
  if (!read_one_string(type.get(), space.get(), read, &text)) impl_->fail(p, "cannot read string");
  return text;
}

std::optional<std::string> H5File::attr_string(const std::string& object_path,
                                               const std::string& name) const {
  silence_hdf5();
  const std::string p = absolute(object_path);
  Handle attr = impl_->open_attr(p, name);
  if (!attr.valid()) return std::nullopt;
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING)
    impl_->fail(p, "attribute '" + name + "': expected a string, found " + dtype_name(type.get()));
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.get()) != 1)
    impl_->fail(p, "attribute '" + name + "': expected a single string");
  std::string text;
  const auto read = [&](hid_t mem, void* buf) { return H5Aread(attr.get(), mem, buf); };
  if (!read_one_string(type.get(), space.get(), read, &text))
    impl_->fail(p, "cannot read attribute '" + name + "'");
  return text;
}

std::optional<double> H5File::attr_double(const std::string& object_path,
                                          const std::string& name) const {
  return impl_->read_scalar_attr<double>(absolute(object_path), name, H5T_NATIVE_DOUBLE, true);
}

std::optional<std::int64_t> H5File::attr_int(const std::string& object_path,
                                             const std::string& name) const {
  return impl_->read_scalar_attr<std::int64_t>(absolute(object_path), name, H5T_NATIVE_INT64,
                                               false);
}

std::vector<std::string> H5File::attr_names(const std::string& object_path) const {
  silence_hdf5();
  const std::string p = absolute(object_path);
  Handle object = impl_->open_object(p);
  std::vector<std::string> names;
  const auto collect = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  hsize_t position = 0;
  if (H5Aiterate2(object.get(), H5_INDEX_NAME, H5_ITER_INC, &position, collect, &names) < 0)
    impl_->fail(p, "cannot list attributes");
  return names;
}

void H5File::write_tensor(const std::string& dataset_path, const Tensor<float>& t) {
  impl_->write_tensor(dataset_path, t, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT);
}

void H5File::write_tensor(const std::string& dataset_path, const Tensor<double>& t) {
  impl_->write_tensor(dataset_path, t, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE);
}

void H5File::write_values(const std::string& dataset_path, const std::vector<double>& values) {
  impl_->write_dataset(absolute(dataset_path), H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                       {static_cast<hsize_t>(values.size())}, values.data());
}

void H5File::write_values(const std::string& dataset_path,
                          const std::vector<std::int64_t>& values) {
  impl_->write_dataset(absolute(dataset_path), H5T_STD_I64LE, H5T_NATIVE_INT64,
                       {static_cast<hsize_t>(values.size())}, values.data());
}

void H5File::write_u64(const std::string& dataset_path, const std::vector<std::uint64_t>& values) {
  impl_->write_dataset(absolute(dataset_path), H5T_STD_U64LE, H5T_NATIVE_UINT64,
                       {static_cast<hsize_t>(values.size())}, values.data());
}

void H5File::create_group(const std::string& group_path) {
  silence_hdf5();
  const std::string path = absolute(group_path);
  impl_->require_writable(path);
  // create_parent_groups() makes every group above its argument: give it a child of the group.
  impl_->create_parent_groups(path + "/x");
}

void H5File::write_string(const std::string& dataset_path, const std::string& text) {
  Handle type = make_vlen_utf8_type();
  const char* data = text.c_str();
  impl_->write_dataset(absolute(dataset_path), type.get(), type.get(), {}, &data);
}

void H5File::set_attr(const std::string& object_path, const std::string& name,
                      const std::string& value) {
  Handle type = make_vlen_utf8_type();
  const char* data = value.c_str();
  impl_->write_attr(absolute(object_path), name, type.get(), type.get(), &data);
}

void H5File::set_attr(const std::string& object_path, const std::string& name, double value) {
  impl_->write_attr(absolute(object_path), name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

void H5File::set_attr(const std::string& object_path, const std::string& name, std::int64_t value) {
  impl_->write_attr(absolute(object_path), name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void H5File::flush() {
  silence_hdf5();
  if (H5Fflush(impl_->id("/"), H5F_SCOPE_GLOBAL) < 0) impl_->fail("", "cannot flush to disk");
}

void H5File::close() {
  silence_hdf5();
  if (!impl_->file.valid()) impl_->fail("", "file is already closed");
  if (!impl_->file.close()) impl_->fail("", "error while closing (data may not be on disk)");
}

bool is_hdf5_file(const std::filesystem::path& path) {
  // The HDF5 superblock signature sits at offset 0, or at 512, 1024, 2048, … when the file
  // carries a user block (MATLAB v7.3 files use a 512-byte one for their text header).
  static constexpr std::array<unsigned char, 8> kSignature = {0x89, 'H',  'D',  'F',
                                                              '\r', '\n', 0x1a, '\n'};
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  for (std::streamoff offset = 0; offset + 8 <= size; offset = offset == 0 ? 512 : offset * 2) {
    std::array<char, 8> head{};
    in.seekg(offset);
    if (!in.read(head.data(), head.size())) return false;
    if (std::equal(kSignature.begin(), kSignature.end(), head.begin(),
                   [](unsigned char s, char c) { return s == static_cast<unsigned char>(c); }))
      return true;
  }
  return false;
}

}  // namespace cnndiag
