#pragma once
// Reading NPY files (numpy.save's format, versions 1.0, 2.0 and 3.0) holding
// a 1-D or 2-D array of float32/float64, (u)int8/16/32/64 or bool, in C or
// Fortran order, little- or big-endian. The header dictionary is parsed
// strictly (data/npy_header.hpp) and the data size it implies is computed
// with overflow checks and compared with the bytes the file holds before
// anything is allocated for the values. Errors are FormatErrors naming the
// file, the byte offset and the header field; IoError if the file cannot be
// read.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/data/file_bytes.hpp"
#include "scvae/data/npy_header.hpp"

namespace scvae {

/// A 1-D or 2-D NPY array as doubles, row-major: element (r, c) is
/// values[r * cols + c] whatever the file's order. A 1-D array of n values
/// is n rows of one column. int64/uint64 values beyond 2^53 are rounded to
/// the nearest double; NaN and infinities of float files are kept as they are.
struct NpyArray {
  Index rows = 0;
  Index cols = 0;
  int dimensions = 0;  // 1 or 2, as in the file
  std::string descr;   // the file's dtype, e.g. "<f4"
  std::vector<double> values;

  double at(Index row, Index col) const {
    return values[static_cast<std::size_t>(row * cols + col)];
  }
};

/// The array as a features x samples matrix, the library's layout, for an
/// array stored (samples, features) as numpy and scikit-learn do: sample r
/// becomes column r. (A row-major rows x cols buffer is a column-major
/// cols x rows matrix, so this is one copy.)
template <typename Scalar>
Matrix<Scalar> features_by_samples(const NpyArray& array) {
  return ConstMatrixMap<double>(array.values.data(), array.cols, array.rows).cast<Scalar>();
}

struct NpyOptions {
  /// Largest file read_npy reads (whole, into memory; the values take up to
  /// 8 times the data bytes again, as doubles).
  std::uint64_t max_file_bytes = std::uint64_t{1} << 31;
};

namespace detail {

enum class NpyKind { floating, signed_integer, unsigned_integer, boolean };

struct NpyDtype {
  NpyKind kind = NpyKind::floating;
  std::size_t item_bytes = 0;
  bool big_endian = false;
};

/// The dtype of `descr`, or FormatError naming the byte `at` where it starts.
inline NpyDtype npy_dtype(const std::string& descr, std::size_t at, const std::string& source) {
  const auto fail = [&](const std::string& what) {
    throw FormatError(source + ": NPY header field 'descr', byte " + std::to_string(at) + ": " +
                      what);
  };
  static const char* kSupported =
      "supported: <f4 <f8 |u1 |i1 |b1 <i2 <i4 <i8 <u2 <u4 <u8, or '>' for big-endian";
  if (descr.size() != 3) fail("unsupported dtype '" + descr + "' (" + kSupported + ")");
  NpyDtype dtype;
  const char order = descr[0];
  const char kind = descr[1];
  const char size = descr[2];
  if (kind == 'f' && (size == '4' || size == '8')) {
    dtype.kind = NpyKind::floating;
  } else if (kind == 'i' && (size == '1' || size == '2' || size == '4' || size == '8')) {
    dtype.kind = NpyKind::signed_integer;
  } else if (kind == 'u' && (size == '1' || size == '2' || size == '4' || size == '8')) {
    dtype.kind = NpyKind::unsigned_integer;
  } else if (kind == 'b' && size == '1') {
    dtype.kind = NpyKind::boolean;
  } else {
    fail("unsupported dtype '" + descr + "' (" + kSupported + ")");
  }
  dtype.item_bytes = static_cast<std::size_t>(size - '0');
  if (order != '<' && order != '>' && order != '|') {
    fail("dtype '" + descr + "' has no byte order '<', '>' or '|'");
  }
  if (order == '|' && dtype.item_bytes > 1) {
    fail("dtype '" + descr + "' needs a byte order, '<' or '>', for its " + std::string(1, size) +
         "-byte items");
  }
  dtype.big_endian = order == '>';
  return dtype;
}

/// Item `index` of `data` as a double.
inline double npy_item(const unsigned char* data, std::size_t index, const NpyDtype& dtype) {
  const unsigned char* item = data + index * dtype.item_bytes;
  std::uint64_t bits = 0;
  for (std::size_t b = 0; b < dtype.item_bytes; ++b) {
    const std::size_t significance = dtype.big_endian ? dtype.item_bytes - 1 - b : b;
    bits |= std::uint64_t{item[b]} << (8 * significance);
  }
  switch (dtype.kind) {
    case NpyKind::floating:
      if (dtype.item_bytes == 4) {
        const auto narrow = static_cast<std::uint32_t>(bits);
        float value = 0;
        std::memcpy(&value, &narrow, sizeof value);
        return static_cast<double>(value);
      } else {
        double value = 0;
        std::memcpy(&value, &bits, sizeof value);
        return value;
      }
    case NpyKind::signed_integer: {
      // Sign-extend from item_bytes * 8 bits.
      const unsigned shift = static_cast<unsigned>(64 - 8 * dtype.item_bytes);
      std::int64_t value = 0;
      const std::uint64_t shifted = shift == 0 ? bits : bits << shift;
      std::memcpy(&value, &shifted, sizeof value);
      return static_cast<double>(shift == 0 ? value : value >> shift);
    }
    case NpyKind::unsigned_integer:
    case NpyKind::boolean: return static_cast<double>(bits);
  }
  return 0;
}

inline std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string text = "(";
  for (std::size_t d = 0; d < shape.size(); ++d) {
    text += (d == 0 ? "" : ", ") + std::to_string(shape[d]);
  }
  return text + (shape.size() == 1 ? ",)" : ")");
}

inline std::uint32_t little_endian(std::string_view bytes, std::size_t at, std::size_t count) {
  std::uint32_t value = 0;
  for (std::size_t b = 0; b < count; ++b) {
    value |= std::uint32_t{static_cast<unsigned char>(bytes[at + b])} << (8 * b);
  }
  return value;
}

}  // namespace detail

/// Parses the NPY file contents `bytes`; `source_name` starts every message.
inline NpyArray parse_npy(std::string_view bytes, const std::string& source_name) {
  const auto fail = [&](std::size_t at, const std::string& what) {
    throw FormatError(source_name + ": byte " + std::to_string(at) + ": " + what);
  };
  constexpr std::size_t kPreamble = 10;  // magic, version, 2-byte header length
  if (bytes.size() < kPreamble) {
    fail(bytes.size(),
         "truncated: an NPY file starts with 10 bytes (magic, version, header "
         "length), the file holds " +
             std::to_string(bytes.size()));
  }
  if (bytes.substr(0, 6) != std::string_view("\x93NUMPY", 6)) {
    fail(0, "bad magic " + detail::cell_for_message(bytes.substr(0, 6)) +
                ": not an NPY file (expected \\x93NUMPY)");
  }
  const unsigned major = static_cast<unsigned char>(bytes[6]);
  const unsigned minor = static_cast<unsigned char>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0) {
    fail(6, "unsupported NPY version " + std::to_string(major) + "." + std::to_string(minor) +
                " (1.0, 2.0 and 3.0 are read)");
  }
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + length_bytes) {
    fail(bytes.size(), "truncated: the header length field ends at byte " +
                           std::to_string(8 + length_bytes) + ", the file holds " +
                           std::to_string(bytes.size()) + " bytes");
  }
  const std::size_t header_start = 8 + length_bytes;
  const std::uint64_t header_length = detail::little_endian(bytes, 8, length_bytes);
  if (header_length > bytes.size() - header_start) {
    fail(8, "truncated: the header length " + std::to_string(header_length) +
                " runs past the end of the file (the header would end at byte " +
                std::to_string(header_start + header_length) + ", the file holds " +
                std::to_string(bytes.size()) + " bytes)");
  }
  const std::size_t data_start = header_start + static_cast<std::size_t>(header_length);
  const detail::NpyHeader header =
      detail::NpyHeaderParser(bytes.substr(header_start, header_length), header_start, source_name)
          .parse();

  const detail::NpyDtype dtype = detail::npy_dtype(header.descr, header.descr_offset, source_name);
  const auto fail_shape = [&](const std::string& what) {
    throw FormatError(source_name + ": NPY header field 'shape', byte " +
                      std::to_string(header.shape_offset) + ": shape " +
                      detail::shape_text(header.shape) + " " + what);
  };
  if (header.shape.empty() || header.shape.size() > 2) {
    fail_shape("has " + std::to_string(header.shape.size()) +
               " dimensions: only 1-D and 2-D arrays are read (save a (samples, features) "
               "array)");
  }
  for (const std::uint64_t extent : header.shape) {
    if (extent == 0) fail_shape("has a dimension of size zero: the array is empty");
  }
  const std::uint64_t rows = header.shape[0];
  const std::uint64_t cols = header.shape.size() == 2 ? header.shape[1] : 1;
  const std::uint64_t present = bytes.size() - data_start;
  // Each product is checked for overflow before it is formed; only a size
  // that matches the bytes present gets allocated.
  const bool overflows = cols > UINT64_MAX / rows || rows * cols > UINT64_MAX / dtype.item_bytes;
  const std::uint64_t needed = overflows ? 0 : rows * cols * dtype.item_bytes;
  if (overflows || needed != present) {
    fail_shape("of '" + header.descr + "' needs " +
               (overflows ? std::string("more than 2^64") : std::to_string(needed)) +
               " data bytes from byte " + std::to_string(data_start) + ", the file holds " +
               std::to_string(present) +
               (!overflows && needed < present ? " (trailing data)" : " (truncated)"));
  }

  NpyArray array;
  array.rows = static_cast<Index>(rows);
  array.cols = static_cast<Index>(cols);
  array.dimensions = static_cast<int>(header.shape.size());
  array.descr = header.descr;
  const auto count = static_cast<std::size_t>(rows * cols);
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data()) + data_start;
  if (dtype.kind == detail::NpyKind::boolean) {
    for (std::size_t i = 0; i < count; ++i) {
      if (data[i] > 1) {
        fail(data_start + i, "a bool item holds " + std::to_string(data[i]) + ", not 0 or 1");
      }
    }
  }
  array.values.resize(count);
  const auto r_count = static_cast<std::size_t>(rows);
  const auto c_count = static_cast<std::size_t>(cols);
  for (std::size_t i = 0; i < count; ++i) {
    // Item i of the file is (r, c) = (i / cols, i % cols) in C order and
    // (i % rows, i / rows) in Fortran order.
    const std::size_t target = header.fortran_order ? (i % r_count) * c_count + i / r_count : i;
    array.values[target] = detail::npy_item(data, i, dtype);
  }
  return array;
}

/// Reads the NPY file `path` (see parse_npy).
inline NpyArray read_npy(const std::string& path, const NpyOptions& options = {}) {
  const std::string bytes =
      detail::read_file_bytes(path, options.max_file_bytes, "NpyOptions::max_file_bytes");
  return parse_npy(bytes, path);
}

}  // namespace scvae
