#pragma once
// IDX files (the MNIST format): reading and writing unsigned-byte image and
// label files, plain or gzip-compressed.
//
// Reading goes through zlib's gzopen/gzread, which read plain and gzip files
// alike. Every header field is checked before it is trusted, and no buffer is
// ever larger than the data the file actually holds (plain files are checked
// against their length before allocating; gzip data is read in chunks into a
// buffer that grows only as data arrives). Errors name the file and the
// problem: IoError for a file that cannot be opened, read or written,
// FormatError for malformed contents, ArgumentError for bad arguments.

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

/// Images of an IDX file: `count` images of `rows` x `cols` unsigned bytes.
/// Sample-major: image i occupies pixels[i*rows*cols, (i+1)*rows*cols), row by
/// row, which is also a features x count column-major matrix.
struct IdxImages {
  Index count = 0;
  Index rows = 0;
  Index cols = 0;
  std::vector<std::uint8_t> pixels;
};

namespace detail {

/// Largest payload an IDX file may declare (64 GiB); a guard against headers
/// whose dimension product is absurd, checked before the file length.
constexpr std::uint64_t kMaxIdxPayloadBytes = std::uint64_t{1} << 36;
/// gzip data is read in chunks of this size.
constexpr unsigned kIdxReadChunk = 1u << 20;
constexpr std::uint8_t kIdxUnsignedByte = 0x08;

/// Closes a gzFile on scope exit.
class GzHandle {
 public:
  explicit GzHandle(gzFile file) : file_(file) {}
  GzHandle(const GzHandle&) = delete;
  GzHandle& operator=(const GzHandle&) = delete;
  ~GzHandle() {
    if (file_ != nullptr) gzclose(file_);
  }
  gzFile get() const { return file_; }
  /// Closes now and returns gzclose's result (Z_OK on success).
  int close() {
    const int result = gzclose(file_);
    file_ = nullptr;
    return result;
  }

 private:
  gzFile file_;
};

inline bool ends_with_gz(const std::string& path) {
  return path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
}

inline std::string hex_byte(unsigned value) {
  static const char* digits = "0123456789ABCDEF";
  std::string text = "0x";
  text += digits[(value >> 4) & 0xF];
  text += digits[value & 0xF];
  return text;
}

/// Throws FormatError if zlib reported an error on `file`; `detail` (if any)
/// is appended to the message of a truncated stream.
inline void check_gz_stream(gzFile file, const std::string& path, const std::string& detail = "") {
  int code = Z_OK;
  const char* message = gzerror(file, &code);
  if (code == Z_OK) return;
  if (code == Z_BUF_ERROR) {
    throw FormatError(path + ": truncated gzip stream (unexpected end of file)" +
                      (detail.empty() ? "" : ": " + detail));
  }
  if (code == Z_ERRNO) {
    throw IoError(path + ": read failed: " + std::strerror(errno));
  }
  throw FormatError(path + ": corrupt gzip stream: " + (message ? message : "unknown zlib error"));
}

/// Reads up to `size` bytes; returns how many arrived (short only at the end,
/// where a zlib error is thrown). zlib keeps an error met while decompressing
/// ahead and still hands out the bytes before it, so a later, larger read
/// reports a truncation with the sizes involved.
inline std::size_t gz_read_some(gzFile file, const std::string& path, std::uint8_t* out,
                                std::size_t size) {
  std::size_t have = 0;
  while (have < size) {
    const std::size_t want = std::min<std::size_t>(size - have, kIdxReadChunk);
    const int got = gzread(file, out + have, static_cast<unsigned>(want));
    if (got <= 0) break;
    have += static_cast<std::size_t>(got);
  }
  if (have < size) check_gz_stream(file, path);
  return have;
}

/// Throws IoError unless `path` names an existing regular file; returns its size.
inline std::uint64_t regular_file_size(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (status.type() == fs::file_type::not_found) {
    throw IoError(path + ": cannot open: file not found");
  }
  if (error) throw IoError(path + ": cannot open: " + error.message());
  if (status.type() == fs::file_type::directory) {
    throw IoError(path + ": cannot read: is a directory, not a regular file");
  }
  if (status.type() != fs::file_type::regular) {
    // Checked before gzopen, which would block on a FIFO with no writer.
    const char* kind = status.type() == fs::file_type::fifo        ? "a FIFO (named pipe)"
                       : status.type() == fs::file_type::character ? "a character device"
                       : status.type() == fs::file_type::block     ? "a block device"
                       : status.type() == fs::file_type::socket    ? "a socket"
                                                                   : "something else";
    throw IoError(path + ": cannot read: it is " + kind + ", not a regular file");
  }
  const std::uintmax_t size = fs::file_size(path, error);
  if (error) throw IoError(path + ": cannot read the file size: " + error.message());
  return static_cast<std::uint64_t>(size);
}

/// The parsed contents of an unsigned-byte IDX file.
struct IdxRaw {
  std::vector<std::uint64_t> dims;
  std::vector<std::uint8_t> data;
};

/// Reads an unsigned-byte IDX file with `expected_dims` dimensions. `unit`
/// names the payload in messages ("pixel bytes", "labels").
inline IdxRaw read_idx_file(const std::string& path, unsigned expected_dims, const char* unit) {
  const std::uint64_t file_size = regular_file_size(path);

  errno = 0;
  GzHandle handle(gzopen(path.c_str(), "rb"));
  if (handle.get() == nullptr) {
    throw IoError(path + ": cannot open: " +
                  (errno != 0 ? std::strerror(errno) : "zlib could not open the file"));
  }
  gzFile file = handle.get();
  gzbuffer(file, 1u << 17);

  std::array<std::uint8_t, 4> magic{};
  const std::size_t magic_bytes = gz_read_some(file, path, magic.data(), magic.size());
  if (magic_bytes < magic.size()) {
    std::ostringstream out;
    out << path << ": truncated: an IDX header needs 4 magic bytes, file holds " << magic_bytes;
    throw FormatError(out.str());
  }
  if (magic[0] != 0 || magic[1] != 0) {
    throw FormatError(path + ": bad magic: the file does not start with 0x00 0x00 (got " +
                      hex_byte(magic[0]) + " " + hex_byte(magic[1]) + "), not an IDX file");
  }
  if (magic[2] != kIdxUnsignedByte) {
    throw FormatError(path + ": unsupported data type " + hex_byte(magic[2]) +
                      " in the magic number, expected 0x08 (unsigned byte)");
  }
  if (magic[3] != expected_dims) {
    std::ostringstream out;
    out << path << ": wrong dimension count: expected " << expected_dims
        << (expected_dims == 1 ? " dimension (a label file)" : " dimensions (an image file)")
        << ", header says " << static_cast<unsigned>(magic[3]);
    throw FormatError(out.str());
  }

  std::vector<std::uint8_t> dim_bytes(4 * expected_dims);
  const std::size_t got_dims = gz_read_some(file, path, dim_bytes.data(), dim_bytes.size());
  if (got_dims < dim_bytes.size()) {
    std::ostringstream out;
    out << path << ": truncated: the header needs " << dim_bytes.size()
        << " bytes of dimension sizes, file holds " << got_dims;
    throw FormatError(out.str());
  }
  IdxRaw raw;
  raw.dims.resize(expected_dims);
  std::ostringstream dims_text;
  for (unsigned d = 0; d < expected_dims; ++d) {
    const std::uint8_t* b = dim_bytes.data() + 4 * d;
    raw.dims[d] = (std::uint64_t{b[0]} << 24) | (std::uint64_t{b[1]} << 16) |
                  (std::uint64_t{b[2]} << 8) | std::uint64_t{b[3]};
    dims_text << (d == 0 ? "" : " x ") << raw.dims[d];
  }
  for (unsigned d = 0; d < expected_dims; ++d) {
    if (raw.dims[d] == 0) {
      throw FormatError(path + ": zero-sized dimension in the header (" + dims_text.str() + ")");
    }
  }
  // 64-bit product, each factor checked against cap / product before it is
  // multiplied in, so the product never exceeds the cap and never overflows.
  std::uint64_t expected = 1;
  for (unsigned d = 0; d < expected_dims; ++d) {
    if (raw.dims[d] > kMaxIdxPayloadBytes / expected) {
      std::ostringstream out;
      out << path << ": dimensions " << dims_text.str()
          << " overflow: their product exceeds the limit of " << kMaxIdxPayloadBytes << " bytes";
      throw FormatError(out.str());
    }
    expected *= raw.dims[d];
  }

  const std::uint64_t header_size = 4 + 4 * std::uint64_t{expected_dims};
  if (gzdirect(file) == 1) {
    // A plain file: its length tells the payload size before anything is allocated.
    const std::uint64_t present = file_size > header_size ? file_size - header_size : 0;
    if (present != expected) {
      std::ostringstream out;
      if (present < expected) {
        out << path << ": truncated: header says " << expected << " " << unit << ", file holds "
            << present;
      } else {
        out << path << ": trailing data: " << (present - expected) << " bytes after the "
            << expected << " " << unit << " the header declares";
      }
      throw FormatError(out.str());
    }
    raw.data.resize(static_cast<std::size_t>(expected));
    const std::size_t got = gz_read_some(file, path, raw.data.data(), raw.data.size());
    if (got != raw.data.size()) {
      std::ostringstream out;
      out << path << ": truncated: header says " << expected << " " << unit << ", could read only "
          << got << " (did the file change while being read?)";
      throw FormatError(out.str());
    }
  } else {
    // gzip: the decompressed size is unknown until read. Grow the buffer only
    // as data arrives, never past what the header declares.
    const auto expected_size = static_cast<std::size_t>(expected);
    std::size_t have = 0;
    while (have < expected_size) {
      if (raw.data.size() == have) {
        const std::size_t grown = std::max<std::size_t>(2 * have, have + kIdxReadChunk);
        raw.data.resize(std::min(grown, expected_size));
      }
      const std::size_t want = std::min<std::size_t>(raw.data.size() - have, kIdxReadChunk);
      const int got = gzread(file, raw.data.data() + have, static_cast<unsigned>(want));
      if (got <= 0) break;
      have += static_cast<std::size_t>(got);
    }
    std::ostringstream sizes;
    if (have < expected_size) {
      sizes << "header says " << expected << " " << unit << ", stream holds " << have;
    } else {
      sizes << "all " << expected << " " << unit << " arrived, the gzip trailer is cut off";
    }
    check_gz_stream(file, path, sizes.str());
    if (have < expected_size) {
      std::ostringstream out;
      out << path << ": truncated: header says " << expected << " " << unit << ", file holds "
          << have;
      throw FormatError(out.str());
    }
  }

  // The data must end exactly where the header says.
  std::array<std::uint8_t, 4096> extra{};
  std::uint64_t trailing = 0;
  for (;;) {
    const int got = gzread(file, extra.data(), static_cast<unsigned>(extra.size()));
    if (got < 0) check_gz_stream(file, path);
    if (got <= 0) break;
    trailing += static_cast<std::uint64_t>(got);
    if (trailing > (std::uint64_t{1} << 24)) break;  // enough to report
  }
  check_gz_stream(file, path);
  if (trailing > 0) {
    std::ostringstream out;
    out << path << ": trailing data: " << trailing
        << (trailing > (std::uint64_t{1} << 24) ? "+" : "") << " bytes after the " << expected
        << " " << unit << " the header declares";
    throw FormatError(out.str());
  }
  return raw;
}

inline void write_idx_file(const std::string& path, const std::vector<std::uint32_t>& dims,
                           const std::uint8_t* data, std::size_t size) {
  // "wbT" writes a plain file through the same interface ("T" = transparent).
  errno = 0;
  GzHandle handle(gzopen(path.c_str(), ends_with_gz(path) ? "wb" : "wbT"));
  if (handle.get() == nullptr) {
    throw IoError(path + ": cannot open for writing: " +
                  (errno != 0 ? std::strerror(errno) : "zlib could not open the file"));
  }
  std::vector<std::uint8_t> header = {0, 0, kIdxUnsignedByte,
                                      static_cast<std::uint8_t>(dims.size())};
  for (const std::uint32_t d : dims) {
    header.push_back(static_cast<std::uint8_t>(d >> 24));
    header.push_back(static_cast<std::uint8_t>(d >> 16));
    header.push_back(static_cast<std::uint8_t>(d >> 8));
    header.push_back(static_cast<std::uint8_t>(d));
  }
  auto write = [&](const std::uint8_t* bytes, std::size_t count) {
    while (count > 0) {
      const auto want = static_cast<unsigned>(std::min<std::size_t>(count, kIdxReadChunk));
      const int wrote = gzwrite(handle.get(), bytes, want);
      if (wrote <= 0) {
        int code = Z_OK;
        const char* message = gzerror(handle.get(), &code);
        throw IoError(
            path + ": write failed: " +
            (code == Z_ERRNO ? std::strerror(errno) : (message ? message : "zlib error")));
      }
      bytes += wrote;
      count -= static_cast<std::size_t>(wrote);
    }
  };
  write(header.data(), header.size());
  write(data, size);
  if (handle.close() != Z_OK) {
    throw IoError(path + ": write failed when closing the file: " + std::strerror(errno));
  }
}

inline std::uint32_t idx_dim(const std::string& path, const char* what, Index value) {
  if (value <= 0 || static_cast<std::uint64_t>(value) > 0xFFFFFFFFull) {
    std::ostringstream out;
    out << path << ": cannot write: " << what << " must be in 1..4294967295, got " << value;
    throw ArgumentError(out.str());
  }
  return static_cast<std::uint32_t>(value);
}

}  // namespace detail

/// Reads an IDX image file (magic 0x00000803: unsigned bytes, 3 dimensions).
/// Plain or gzip-compressed. Throws IoError or FormatError naming the file.
inline IdxImages read_idx_images(const std::string& path) {
  detail::IdxRaw raw = detail::read_idx_file(path, 3, "pixel bytes");
  IdxImages images;
  images.count = static_cast<Index>(raw.dims[0]);
  images.rows = static_cast<Index>(raw.dims[1]);
  images.cols = static_cast<Index>(raw.dims[2]);
  images.pixels = std::move(raw.data);
  return images;
}

/// Reads an IDX label file (magic 0x00000801); every label must be below
/// `num_classes` (1..256), else FormatError naming the file, index and label.
inline std::vector<std::uint8_t> read_idx_labels(const std::string& path, int num_classes = 10) {
  if (num_classes < 1 || num_classes > 256) {
    throw ArgumentError(path + ": num_classes must be in 1..256, got " +
                        std::to_string(num_classes));
  }
  detail::IdxRaw raw = detail::read_idx_file(path, 1, "labels");
  for (std::size_t i = 0; i < raw.data.size(); ++i) {
    if (raw.data[i] >= num_classes) {
      std::ostringstream out;
      out << path << ": label " << static_cast<int>(raw.data[i]) << " at index " << i
          << " is out of range: expected a class below " << num_classes;
      throw FormatError(out.str());
    }
  }
  return std::move(raw.data);
}

/// Writes an IDX image file; gzip-compressed when `path` ends in ".gz".
/// Throws ArgumentError if the sizes are not positive or disagree with
/// pixels.size(), IoError if the file cannot be written.
inline void write_idx_images(const std::string& path, const IdxImages& images) {
  const std::uint32_t count = detail::idx_dim(path, "image count", images.count);
  const std::uint32_t rows = detail::idx_dim(path, "image rows", images.rows);
  const std::uint32_t cols = detail::idx_dim(path, "image cols", images.cols);
  const std::uint64_t per_image = std::uint64_t{rows} * cols;  // < 2^64
  if (per_image > detail::kMaxIdxPayloadBytes || count > detail::kMaxIdxPayloadBytes / per_image ||
      count * per_image != images.pixels.size()) {
    std::ostringstream out;
    out << path << ": cannot write: " << images.count << " images of " << images.rows << "x"
        << images.cols << " do not match the " << images.pixels.size() << " bytes in pixels";
    throw ArgumentError(out.str());
  }
  detail::write_idx_file(path, {count, rows, cols}, images.pixels.data(), images.pixels.size());
}

/// Writes an IDX label file; gzip-compressed when `path` ends in ".gz".
inline void write_idx_labels(const std::string& path, const std::vector<std::uint8_t>& labels) {
  const std::uint32_t count =
      detail::idx_dim(path, "label count", static_cast<Index>(labels.size()));
  detail::write_idx_file(path, {count}, labels.data(), labels.size());
}

/// Throws FormatError unless an image file and a label file hold as many
/// samples; the message names both files and both counts.
inline void check_image_label_counts(const std::string& images_path, Index image_count,
                                     const std::string& labels_path, Index label_count) {
  if (image_count != label_count) {
    std::ostringstream out;
    out << "image/label count mismatch: " << images_path << " holds " << image_count
        << " images but " << labels_path << " holds " << label_count << " labels";
    throw FormatError(out.str());
  }
}

}  // namespace scvae
