#pragma once
/// Reading named n-d arrays from a data or weight file, whatever its format: HDF5 (.h5, .hdf5)
/// through the HDF5 C library, MATLAB .mat v4/v5/v7.3 through matio. Values come back as double
/// in the file's own element order, with the dims the file's own tools would show:
///   HDF5: C-order dims, as h5py shows them          (column_major = false)
///   MAT:  MATLAB dims, as size() shows them          (column_major = true)
/// Converting to cnndiag's NCHW layout is data.hpp's job (layout "nchw" / "matlab").

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cnndiag/tensor.hpp"

namespace cnndiag {

struct ArrayInfo {
  std::string name;          ///< dataset path ("/X", "/group/X") or MATLAB variable name
  std::vector<Index> dims;   ///< see above
  std::string dtype;         ///< "float32", "float64", "int32", "uint8", "logical", "char", "struct", …
  bool numeric = true;       ///< false for strings, structs, cells: listed but not readable as arrays
};

struct RawArray {
  ArrayInfo info;
  bool column_major = false;
  std::vector<double> values;  ///< in the file's element order
};

class ArrayFile {
 public:
  enum class Format { kHdf5, kMat };

  /// Opens a file, choosing the reader by content, never by extension: the HDF5 signature (at
  /// offset 0, 512, 1024, …) means HDF5 — or MATLAB v7.3 when the text header says so, read
  /// through matio (falling back to the HDF5 reader if matio declines); otherwise matio decides
  /// (v5 by its 128-byte header, v4 by a readable first variable). Reads the table of contents.
  /// Throws IoError naming the file when it is missing, unreadable, damaged or truncated, or
  /// neither HDF5 nor MAT ("data.mat: not a MATLAB .mat or HDF5 file (it starts with 'hello
  /// wor…')"). matio's and HDF5's own messages never reach the console; the innermost one is
  /// quoted in the IoError.
  static ArrayFile open(const std::filesystem::path& path);

  ~ArrayFile();
  ArrayFile(ArrayFile&&) noexcept;
  ArrayFile& operator=(ArrayFile&&) noexcept;

  const std::filesystem::path& path() const;
  Format format() const;
  std::string format_name() const;  ///< "HDF5", "MATLAB v5", "MATLAB v7.3", "MATLAB v4"

  /// Every array in file order. HDF5: every dataset, depth first, by name ("/group/X").
  /// MAT: every variable, and the fields of 1×1 structs as "parent.field" ("minibatch.a").
  std::vector<ArrayInfo> list() const;
  bool has(const std::string& name) const;
  /// Reads a numeric array (any integer or float class, logical; HDF5 "X" and "/X" are the same
  /// dataset; "s.f" reads field f of the 1×1 struct s). Throws DataError naming the file and
  /// variable when it is missing (listing the ones that exist) or not numeric (char, struct,
  /// cell, sparse, complex, strings); IoError when the data cannot be read.
  RawArray read(const std::string& name) const;

 private:
  struct Impl;
  explicit ArrayFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cnndiag
