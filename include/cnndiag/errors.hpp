#pragma once
/// Typed errors thrown by the core. Every message is one line a user can act on: it names what
/// (key, layer, dataset path), where (file:line:col or the HDF5 object), what was expected and
/// what was found, and a hint when there is one. The CLI catches them once, prints the message and
/// exits with code 2 (DESIGN.md §2).
///
/// Invariants of cnndiag's own code use CNNDIAG_ASSERT, which stays on in release builds (the
/// idea of ggml's GGML_ASSERT). It is never used for user input.

#include <stdexcept>
#include <string>

namespace cnndiag {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A config file that cannot be parsed or validated: "net.toml:12:7: optimizer.lr: expected …".
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// A data file whose content does not fit: missing dataset, wrong rank or count, NaN in inputs.
class DataError : public Error {
 public:
  using Error::Error;
};

/// Layers or tensors whose shapes do not fit; the message names both sides.
class ShapeError : public Error {
 public:
  using Error::Error;
};

/// A file that cannot be opened, read or written (HDF5, MAT, text).
class IoError : public Error {
 public:
  using Error::Error;
};

/// A checkpoint with a wrong format, version, missing or malformed object.
class CheckpointError : public Error {
 public:
  using Error::Error;
};

/// Command-line arguments that do not make sense together.
class UsageError : public Error {
 public:
  using Error::Error;
};

/// Thrown by CNNDIAG_ASSERT: a bug in cnndiag, not in the user's input.
class InternalError : public Error {
 public:
  using Error::Error;
};

[[noreturn]] void assert_fail(const char* expr, const char* file, int line, const std::string& msg);

}  // namespace cnndiag

#define CNNDIAG_ASSERT(cond, msg)                                   \
  do {                                                              \
    if (!(cond)) ::cnndiag::assert_fail(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)
