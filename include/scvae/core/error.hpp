#pragma once
// The exception hierarchy: every error scvae raises derives from scvae::Error,
// so a caller can catch one type and still tell the kinds apart.

#include <cstddef>
#include <stdexcept>
#include <string>

namespace scvae {

/// Base of every exception scvae throws.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// A matrix or vector whose shape does not fit what the call expects.
class ShapeError : public Error {
 public:
  using Error::Error;
};

/// An argument outside its valid range (zero sizes, bad class index, ...).
class ArgumentError : public Error {
 public:
  using Error::Error;
};

/// An ArgumentError about one sample of a batch (a target out of range, a
/// non-finite value), at batch column column(). Code that knows which sample
/// of its data set the column holds (the Trainer, the evaluators) rethrows
/// it naming that index.
class SampleError : public ArgumentError {
 public:
  SampleError(const std::string& message, std::ptrdiff_t column)
      : ArgumentError(message), column_(column) {}
  std::ptrdiff_t column() const { return column_; }

 private:
  std::ptrdiff_t column_;
};

/// A file that cannot be opened, read or written.
class IoError : public Error {
 public:
  using Error::Error;
};

/// A file whose contents are malformed: wrong magic, truncated, inconsistent.
class FormatError : public Error {
 public:
  using Error::Error;
};

/// A checkpoint that is readable but does not match (version, type, model).
class CheckpointError : public FormatError {
 public:
  using FormatError::FormatError;
};

/// A system resource that cannot be had: a thread that cannot be created,
/// memory that cannot be allocated for a requested size.
class ResourceError : public Error {
 public:
  using Error::Error;
};

/// A loss, gradient, parameter or evaluation that became NaN or infinite.
class NumericalError : public Error {
 public:
  using Error::Error;
};

}  // namespace scvae
