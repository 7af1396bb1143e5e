#pragma once
/// A small RAII layer over the HDF5 C library, for checkpoints and data files.
///
/// HDF5's own error-stack printing is switched off; every failure becomes an IoError whose message
/// names the file and the object path ("runs/x/ckpt-00000010.h5: /params/conv1/weight: …").
/// Numeric datasets are read into double or float whatever their stored type (integers and
/// floats of any width); shapes are HDF5's (C order).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cnndiag/tensor.hpp"

namespace cnndiag {

/// What a dataset holds, without reading it.
struct H5DatasetInfo {
  std::string path;              ///< "/params/conv1/weight"
  std::vector<Index> dims;       ///< C order; empty for a scalar
  /// "float16".."float64", "int8".."int64", "uint8".."uint64", "string", or "other" (enums such
  /// as h5py's bool, compounds, …)
  std::string dtype;
};

class H5File {
 public:
  enum class Mode { kRead, kCreate /* truncate */ };

  /// Opens or creates a file. Throws IoError naming the file (missing, not HDF5, no permission).
  H5File(const std::filesystem::path& path, Mode mode);
  ~H5File();
  H5File(H5File&&) noexcept;
  H5File& operator=(H5File&&) noexcept;
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;

  const std::filesystem::path& path() const;

  // ---- reading ----
  bool exists(const std::string& object_path) const;   ///< group or dataset; intermediate groups ok
  /// Every dataset in the file, depth first, in name order.
  std::vector<H5DatasetInfo> list_datasets() const;
  H5DatasetInfo info(const std::string& dataset_path) const;  ///< throws IoError if missing
  /// Reads a numeric dataset, converted; the tensor's shape is the dataset's (rank ≤ 5).
  Tensor<double> read_tensor_f64(const std::string& dataset_path) const;
  Tensor<float> read_tensor_f32(const std::string& dataset_path) const;
  /// Reads a numeric dataset as a flat vector plus its dims (any rank).
  std::vector<double> read_values(const std::string& dataset_path, std::vector<Index>* dims) const;
  std::vector<std::uint64_t> read_u64(const std::string& dataset_path) const;
  std::string read_string(const std::string& dataset_path) const;  ///< scalar string dataset
  /// Attribute on an object ("/" for the root). nullopt when absent; IoError if of another type.
  std::optional<std::string> attr_string(const std::string& object_path, const std::string& name) const;
  std::optional<double> attr_double(const std::string& object_path, const std::string& name) const;
  std::optional<std::int64_t> attr_int(const std::string& object_path, const std::string& name) const;
  /// Names of the attributes on an object, in name order (for `cnndiag inspect`).
  std::vector<std::string> attr_names(const std::string& object_path) const;

  // ---- writing (kCreate) ----
  /// Creates a group (and its parents); no error if it exists.
  void create_group(const std::string& group_path);
  /// Intermediate groups are created as needed. Datasets are contiguous, little-endian
  /// (float32/float64/int64/uint64); strings are variable-length UTF-8 (h5py reads them as str
  /// after .asstr(), MATLAB's h5read as char). Object times are not stored, so the same content
  /// gives the same bytes. Writing a dataset that already exists is an IoError.
  void write_tensor(const std::string& dataset_path, const Tensor<float>& t);
  void write_tensor(const std::string& dataset_path, const Tensor<double>& t);
  void write_values(const std::string& dataset_path, const std::vector<double>& values);  ///< 1-D
  void write_values(const std::string& dataset_path, const std::vector<std::int64_t>& values);
  void write_u64(const std::string& dataset_path, const std::vector<std::uint64_t>& values);
  void write_string(const std::string& dataset_path, const std::string& text);  ///< scalar, UTF-8
  void set_attr(const std::string& object_path, const std::string& name, const std::string& value);
  void set_attr(const std::string& object_path, const std::string& name, double value);
  void set_attr(const std::string& object_path, const std::string& name, std::int64_t value);
  /// Flushes everything to disk (H5Fflush + fsync is the caller's job via close()).
  void flush();
  /// Closes the file now; later calls throw. Errors while closing become IoError.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// True when the file starts with the HDF5 signature (also true for MATLAB v7.3 files, which are
/// HDF5 with a 512-byte header).
bool is_hdf5_file(const std::filesystem::path& path);

}  // namespace cnndiag
