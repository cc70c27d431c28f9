#pragma once
// Argument checks that throw scvae errors with "expected ..., got ..." text.

#include <atomic>
#include <cmath>
#include <sstream>
#include <string>
#include <string_view>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"

namespace scvae::detail {

/// `text` with every control character (bytes below 0x20, 0x7f) and the
/// backslash written as an escape (ESC becomes "\x1b", a newline "\n", a backslash "\\"), so that
/// text read from a file (an architecture string, a task name) cannot move the cursor, recolour or
/// clear a terminal when a message that quotes it is printed. Bytes from 0x80 up are kept, so UTF-8
/// names stay readable.
inline std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == '\\') {
      out += "\\\\";
    } else if (byte == '\n') {
      out += "\\n";
    } else if (byte == '\t') {
      out += "\\t";
    } else if (byte == '\r') {
      out += "\\r";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

inline std::string shape_text(Index rows, Index cols) {
  std::ostringstream out;
  out << rows << "x" << cols;
  return out.str();
}

inline void check_shape(const char* what, Index rows, Index cols, Index expected_rows,
                        Index expected_cols) {
  if (rows != expected_rows || cols != expected_cols) {
    throw ShapeError(std::string(what) + ": expected shape " +
                     shape_text(expected_rows, expected_cols) + ", got " + shape_text(rows, cols));
  }
}

inline void check_rows(const char* what, Index rows, Index expected_rows) {
  if (rows != expected_rows) {
    std::ostringstream out;
    out << what << ": expected " << expected_rows << " rows, got " << rows;
    throw ShapeError(out.str());
  }
}

inline void check_positive(const char* what, Index value) {
  if (value <= 0) {
    std::ostringstream out;
    out << what << ": expected a positive size, got " << value;
    throw ArgumentError(out.str());
  }
}

/// ShapeError "<what>: expected <expected> elements, got <got>".
inline void check_size(const char* what, Index got, Index expected) {
  if (got != expected) {
    std::ostringstream out;
    out << what << ": expected " << expected << " elements, got " << got;
    throw ShapeError(out.str());
  }
}

[[noreturn]] inline void throw_argument(const std::string& what, const char* expected, double got) {
  std::ostringstream out;
  out << what << ": expected " << expected << ", got " << got;
  throw ArgumentError(out.str());
}

/// ArgumentError unless `value` is finite and >= 0 (NaN fails too).
inline void check_finite_nonnegative(const std::string& what, double value) {
  if (!(value >= 0.0 && std::isfinite(value))) throw_argument(what, "a finite value >= 0", value);
}

/// Finds the first column of `values` that is not masked out (`mask`, a
/// std::optional row, 0 = masked) and for which `column_ok(values.col(j))`
/// fails, and in it the first row whose value fails `ok`. For the slow path
/// of a validation whose vectorised pass over the whole batch failed: a bad
/// value in a masked column is never read, so it must not fail the batch.
template <typename Derived, typename Mask, typename ColumnOk, typename Ok>
bool find_bad_entry(const Eigen::DenseBase<Derived>& values, const Mask& mask, ColumnOk&& column_ok,
                    Ok&& ok, Index& row, Index& column) {
  for (Index j = 0; j < values.cols(); ++j) {
    if (mask && (*mask)(j) == 0) continue;
    if (column_ok(values.derived().col(j))) continue;
    for (Index i = 0; i < values.rows(); ++i)
      if (!ok(values.derived().coeff(i, j))) {
        row = i;
        column = j;
        return true;
      }
  }
  return false;
}

/// "nan", "inf", "-inf" or the number, for "got ..." in messages.
inline std::string value_text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

/// Whether every value is finite. x * 0 is 0 for finite x and NaN for NaN
/// and +-inf; unlike Eigen's allFinite() the sum vectorises (allFinite was 7%
/// of a 2-thread mnist_vae epoch).
template <typename Derived>
bool all_finite(const Eigen::DenseBase<Derived>& values) {
  using Scalar = typename Derived::Scalar;
  return (values.derived().array() * Scalar(0)).sum() == Scalar(0);
}

/// A flag that threads clear when they meet a non-finite value; copyable,
/// so that the object holding it stays copyable.
class FiniteFlag {
 public:
  FiniteFlag() = default;
  FiniteFlag(const FiniteFlag& other) : finite_(other.get()) {}
  FiniteFlag& operator=(const FiniteFlag& other) {
    finite_.store(other.get(), std::memory_order_relaxed);
    return *this;
  }
  void reset() { finite_.store(true, std::memory_order_relaxed); }
  void mark_not_finite() { finite_.store(false, std::memory_order_relaxed); }
  bool get() const { return finite_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> finite_{true};
};

}  // namespace scvae::detail
