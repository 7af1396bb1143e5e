#include "cnndiag/array_file.hpp"

#include <matio.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>

#include "cnndiag/errors.hpp"
#include "cnndiag/h5file.hpp"

namespace cnndiag {
namespace {

// ---------------------------------------------------------------------------------------------
// matio's logging
// ---------------------------------------------------------------------------------------------

// matio reports problems (a variable it cannot parse, a truncated stream) through its logging
// functions, which print to stderr by default. cnndiag's core never prints: the log function
// below keeps the last message so that an error can quote it, and prints nothing.
thread_local std::string g_last_matio_message;

void keep_matio_message(int /*log_level*/, char* message) {
  g_last_matio_message = message != nullptr ? message : "";
}

void quiet_matio() {
  static std::once_flag once;
  std::call_once(once, [] { Mat_LogInitFunc("cnndiag", keep_matio_message); });
  g_last_matio_message.clear();
}

/// " (matio: …)" when matio logged something since quiet_matio(), else "".
std::string matio_detail() {
  return g_last_matio_message.empty() ? "" : " (matio: " + g_last_matio_message + ")";
}

struct MatCloser {
  void operator()(mat_t* mat) const { Mat_Close(mat); }
};
struct MatVarFreer {
  void operator()(matvar_t* var) const { Mat_VarFree(var); }
};
using MatPtr = std::unique_ptr<mat_t, MatCloser>;
using MatVarPtr = std::unique_ptr<matvar_t, MatVarFreer>;

// ---------------------------------------------------------------------------------------------
// Recognising a file by its first bytes
// ---------------------------------------------------------------------------------------------

constexpr std::size_t kMatHeaderSize = 128;

std::string read_head(const std::filesystem::path& path, std::size_t count) {
  std::ifstream in(path, std::ios::binary);
  std::string head(count, '\0');
  in.read(head.data(), static_cast<std::streamsize>(count));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head;
}

// A MAT v5 (and v7.3) file opens with a 128-byte header: 116 bytes of text ("MATLAB 5.0 MAT-file,
// Platform: …"), 8 bytes of subsystem offset, a 2-byte version (0x0100 for v5, 0x0200 for v7.3)
// and the endian indicator "IM" (written little-endian) or "MI". The indicator is the reliable
// part: other writers (scipy, Octave) put their own text in the header.
bool has_mat5_header(const std::string& head) {
  if (head.size() < kMatHeaderSize) return false;
  const std::string_view endian(head.data() + 126, 2);
  return endian == "IM" || endian == "MI";
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::string_view(s).substr(0, prefix.size()) == prefix;
}

/// The first bytes of a file as readable text for an error message: 'hello wor…', with bytes that
/// are not printable ASCII shown as \xNN.
std::string quote_start(const std::string& head) {
  constexpr std::size_t kShown = 16;
  std::string out;
  for (std::size_t i = 0; i < std::min(head.size(), kShown); ++i) {
    const auto byte = static_cast<unsigned char>(head[i]);
    if (byte >= 0x20 && byte < 0x7f) {
      out += static_cast<char>(byte);
    } else {
      std::array<char, 5> hex{};
      std::snprintf(hex.data(), hex.size(), "\\x%02x", byte);
      out += hex.data();
    }
  }
  return "'" + out + (head.size() > kShown ? "…'" : "'");
}

// ---------------------------------------------------------------------------------------------
// MATLAB variables
// ---------------------------------------------------------------------------------------------

std::string mat_dtype(const matvar_t& var) {
  if (var.isLogical) return "logical";
  std::string name;
  switch (var.class_type) {
    case MAT_C_DOUBLE:
      name = "float64";
      break;
    case MAT_C_SINGLE:
      name = "float32";
      break;
    case MAT_C_INT8:
      name = "int8";
      break;
    case MAT_C_UINT8:
      name = "uint8";
      break;
    case MAT_C_INT16:
      name = "int16";
      break;
    case MAT_C_UINT16:
      name = "uint16";
      break;
    case MAT_C_INT32:
      name = "int32";
      break;
    case MAT_C_UINT32:
      name = "uint32";
      break;
    case MAT_C_INT64:
      name = "int64";
      break;
    case MAT_C_UINT64:
      name = "uint64";
      break;
    case MAT_C_CHAR:
      return "char";
    case MAT_C_STRUCT:
      return "struct";
    case MAT_C_CELL:
      return "cell";
    case MAT_C_SPARSE:
      return "sparse";
    case MAT_C_OBJECT:
      return "object";
    case MAT_C_FUNCTION:
      return "function";
    case MAT_C_OPAQUE:
      return "opaque";
    case MAT_C_EMPTY:
      return "empty";
  }
  return var.isComplex ? "complex " + name : name;
}

bool mat_is_numeric(const matvar_t& var) {
  if (var.isComplex) return false;
  switch (var.class_type) {
    case MAT_C_DOUBLE:
    case MAT_C_SINGLE:
    case MAT_C_INT8:
    case MAT_C_UINT8:
    case MAT_C_INT16:
    case MAT_C_UINT16:
    case MAT_C_INT32:
    case MAT_C_UINT32:
    case MAT_C_INT64:
    case MAT_C_UINT64:
      return true;
    default:
      return false;
  }
}

ArrayInfo mat_info(const matvar_t& var, const std::string& name) {
  ArrayInfo info;
  info.name = name;
  for (int i = 0; i < var.rank; ++i) info.dims.push_back(static_cast<Index>(var.dims[i]));
  info.dtype = mat_dtype(var);
  info.numeric = mat_is_numeric(var);
  return info;
}

// Lists a variable and, for a 1×1 struct, its fields as "parent.field" (recursively): the seed's
// author keeps the images in `minibatch.a`.
void list_mat_var(matvar_t& var, const std::string& name, std::vector<ArrayInfo>* out) {
  ArrayInfo info = mat_info(var, name);
  const bool scalar_struct =
      var.class_type == MAT_C_STRUCT && info.dims.size() == 2 && info.dims[0] * info.dims[1] == 1;
  out->push_back(std::move(info));
  if (!scalar_struct) return;
  const unsigned count = Mat_VarGetNumberOfFields(&var);
  char* const* fields = Mat_VarGetStructFieldnames(&var);
  for (unsigned i = 0; i < count && fields != nullptr; ++i) {
    matvar_t* field = Mat_VarGetStructFieldByIndex(&var, i, 0);
    if (field != nullptr) list_mat_var(*field, name + "." + fields[i], out);
  }
}

template <typename T>
void append_converted(const void* data, std::size_t count, std::vector<double>* out) {
  const T* typed = static_cast<const T*>(data);
  out->reserve(count);
  for (std::size_t i = 0; i < count; ++i) out->push_back(static_cast<double>(typed[i]));
}

/// The numeric data of a read variable as doubles, in MATLAB's column-major element order.
std::vector<double> mat_values(const matvar_t& var) {
  std::size_t count = 1;
  for (int i = 0; i < var.rank; ++i) count *= var.dims[i];
  std::vector<double> values;
  if (count == 0) return values;
  CNNDIAG_ASSERT(var.data != nullptr, "matio returned a numeric variable without data");
  switch (var.class_type) {
    case MAT_C_DOUBLE:
      append_converted<double>(var.data, count, &values);
      break;
    case MAT_C_SINGLE:
      append_converted<float>(var.data, count, &values);
      break;
    case MAT_C_INT8:
      append_converted<std::int8_t>(var.data, count, &values);
      break;
    case MAT_C_UINT8:
      append_converted<std::uint8_t>(var.data, count, &values);
      break;
    case MAT_C_INT16:
      append_converted<std::int16_t>(var.data, count, &values);
      break;
    case MAT_C_UINT16:
      append_converted<std::uint16_t>(var.data, count, &values);
      break;
    case MAT_C_INT32:
      append_converted<std::int32_t>(var.data, count, &values);
      break;
    case MAT_C_UINT32:
      append_converted<std::uint32_t>(var.data, count, &values);
      break;
    case MAT_C_INT64:
      append_converted<std::int64_t>(var.data, count, &values);
      break;
    case MAT_C_UINT64:
      append_converted<std::uint64_t>(var.data, count, &values);
      break;
    default:
      CNNDIAG_ASSERT(false, "mat_values on a non-numeric class");
  }
  return values;
}

std::string join_names(const std::vector<ArrayInfo>& infos) {
  if (infos.empty()) return "it holds none";
  constexpr std::size_t kMaxListed = 20;
  std::string names;
  for (std::size_t i = 0; i < infos.size() && i < kMaxListed; ++i)
    names += (i ? ", " : "") + infos[i].name;
  if (infos.size() > kMaxListed) names += ", … (" + std::to_string(infos.size()) + " in all)";
  return "it has: " + names;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ArrayFile::Impl
// ---------------------------------------------------------------------------------------------

struct ArrayFile::Impl {
  std::filesystem::path path;
  Format format = Format::kHdf5;
  std::optional<H5File> h5;  // kHdf5
  MatPtr mat;                // kMat

  std::string where() const { return path.string(); }

  std::string noun() const { return format == Format::kHdf5 ? "dataset" : "variable"; }

  /// HDF5 names are paths: "X" and "/X" are the same dataset.
  std::string canonical(const std::string& name) const {
    if (format == Format::kHdf5 && (name.empty() || name.front() != '/')) return "/" + name;
    return name;
  }

  /// Reads the table of contents once, at open: names, dims and types, no data.
  void load_contents() {
    if (format == Format::kHdf5) {
      for (const H5DatasetInfo& d : h5->list_datasets()) {
        const bool numeric =
            d.dtype.find("int") != std::string::npos || d.dtype.rfind("float", 0) == 0;
        contents.push_back({d.path, d.dims, d.dtype, numeric});
      }
      return;
    }
    quiet_matio();
    Mat_Rewind(mat.get());
    while (matvar_t* raw = Mat_VarReadNextInfo(mat.get())) {
      MatVarPtr var(raw);
      list_mat_var(*var, var->name != nullptr ? var->name : "", &contents);
    }
    // A clean end of file logs nothing; a variable that claims more bytes than the file holds
    // makes matio log "Unexpected end-of-file" and stop listing.
    if (!g_last_matio_message.empty())
      throw IoError(where() + ": damaged or truncated MATLAB file" + matio_detail());
  }

  std::vector<ArrayInfo> contents;

  std::optional<ArrayInfo> find(const std::string& name) const {
    const std::string wanted = canonical(name);
    for (const ArrayInfo& info : contents)
      if (info.name == wanted) return info;
    return std::nullopt;
  }

  /// The ArrayInfo of a numeric array, or a DataError naming what is there instead.
  ArrayInfo require_numeric(const std::string& name) const {
    const std::vector<ArrayInfo>& infos = contents;
    const std::string wanted = canonical(name);
    const auto it = std::find_if(infos.begin(), infos.end(),
                                 [&](const ArrayInfo& i) { return i.name == wanted; });
    if (it == infos.end())
      throw DataError(where() + ": no " + noun() + " '" + wanted + "' (" + join_names(infos) + ")");
    if (!it->numeric)
      throw DataError(where() + ": " + wanted + ": expected a numeric array, found " + it->dtype);
    return *it;
  }

  RawArray read(const std::string& name) const {
    RawArray raw;
    raw.info = require_numeric(name);
    if (format == Format::kHdf5) {
      raw.column_major = false;
      raw.values = h5->read_values(raw.info.name, &raw.info.dims);
      return raw;
    }
    raw.column_major = true;
    raw.values = read_mat_values(raw.info.name);
    return raw;
  }

  /// Reads a variable, or a field of a 1×1 struct ("minibatch.a"), as doubles.
  std::vector<double> read_mat_values(const std::string& name) const {
    quiet_matio();
    const std::size_t dot = name.find('.');
    const std::string top = name.substr(0, dot);
    Mat_Rewind(mat.get());
    MatVarPtr var(Mat_VarRead(mat.get(), top.c_str()));
    if (!var || !g_last_matio_message.empty())
      throw IoError(where() + ": " + name + ": cannot read" + matio_detail());
    matvar_t* leaf = var.get();
    std::size_t start = dot;
    while (start != std::string::npos) {
      const std::size_t next = name.find('.', start + 1);
      const std::string field = name.substr(start + 1, next - start - 1);
      leaf = Mat_VarGetStructFieldByName(leaf, field.c_str(), 0);
      if (leaf == nullptr) throw IoError(where() + ": " + name + ": cannot read" + matio_detail());
      start = next;
    }
    std::size_t count = 1;
    for (int i = 0; i < leaf->rank; ++i) count *= leaf->dims[i];
    if (count > 0 && leaf->data == nullptr)
      throw IoError(where() + ": " + name + ": no data (damaged or truncated file?)" +
                    matio_detail());
    return mat_values(*leaf);
  }

  std::string format_name() const {
    if (format == Format::kHdf5) return "HDF5";
    switch (Mat_GetVersion(mat.get())) {
      case MAT_FT_MAT73:
        return "MATLAB v7.3";
      case MAT_FT_MAT5:
        return "MATLAB v5";
      case MAT_FT_MAT4:
        return "MATLAB v4";
      default:
        return "MATLAB";
    }
  }
};

// ---------------------------------------------------------------------------------------------
// ArrayFile
// ---------------------------------------------------------------------------------------------

namespace {

MatPtr open_mat(const std::filesystem::path& path) {
  quiet_matio();
  return MatPtr(Mat_Open(path.c_str(), MAT_ACC_RDONLY));
}

// matio recognises a v4 file by trying to read a first variable header, a test that some
// binary files pass by chance; cnndiag also wants that first variable to be readable. A v5 or
// v7.3 file has a header that says what it is.
bool looks_like_mat(mat_t* mat) {
  if (Mat_GetVersion(mat) != MAT_FT_MAT4) return true;
  Mat_Rewind(mat);
  const MatVarPtr first(Mat_VarReadNextInfo(mat));
  Mat_Rewind(mat);
  return first != nullptr;
}

}  // namespace

ArrayFile ArrayFile::open(const std::filesystem::path& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  const std::string where = path.string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw IoError(where + ": no such file");
  if (std::filesystem::is_directory(path, ec)) throw IoError(where + ": is a folder, not a file");
  const std::string head = read_head(path, kMatHeaderSize);
  if (!std::ifstream(path, std::ios::binary)) throw IoError(where + ": cannot read (permission?)");

  if (is_hdf5_file(path)) {
    // A MATLAB v7.3 file is HDF5 behind a 512-byte MAT header; matio reads it with MATLAB's dims.
    // If matio declines, the HDF5 reader still shows its datasets (dims reversed, see data.hpp).
    if (starts_with(head, "MATLAB 7.3 MAT-file")) {
      impl->mat = open_mat(path);
      if (impl->mat) {
        impl->format = Format::kMat;
        impl->load_contents();
        return ArrayFile(std::move(impl));
      }
    }
    impl->h5.emplace(path, H5File::Mode::kRead);
    impl->format = Format::kHdf5;
    impl->load_contents();
    return ArrayFile(std::move(impl));
  }

  if (head.empty()) throw IoError(where + ": not a MATLAB .mat or HDF5 file (it is empty)");
  impl->mat = open_mat(path);
  if (impl->mat && looks_like_mat(impl->mat.get())) {
    impl->format = Format::kMat;
    impl->load_contents();
    return ArrayFile(std::move(impl));
  }
  if (has_mat5_header(head))
    throw IoError(where + ": cannot read this MATLAB .mat file (damaged or truncated?)" +
                  matio_detail());
  throw IoError(where + ": not a MATLAB .mat or HDF5 file (it starts with " + quote_start(head) +
                ")");
}

ArrayFile::ArrayFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ArrayFile::~ArrayFile() = default;
ArrayFile::ArrayFile(ArrayFile&&) noexcept = default;
ArrayFile& ArrayFile::operator=(ArrayFile&&) noexcept = default;

const std::filesystem::path& ArrayFile::path() const { return impl_->path; }
ArrayFile::Format ArrayFile::format() const { return impl_->format; }
std::string ArrayFile::format_name() const { return impl_->format_name(); }
std::vector<ArrayInfo> ArrayFile::list() const { return impl_->contents; }
bool ArrayFile::has(const std::string& name) const { return impl_->find(name).has_value(); }
RawArray ArrayFile::read(const std::string& name) const { return impl_->read(name); }

}  // namespace cnndiag
