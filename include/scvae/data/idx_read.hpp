#pragma once
// Reading unsigned-byte IDX image and label files (the MNIST format), plain
// or gzip-compressed. Every header field is checked before it is trusted,
// and no buffer is ever larger than the data the file actually holds (plain
// files are checked against their length before allocating; gzip data is
// read in chunks into a buffer that grows only as data arrives, or that is
// taken whole when the gzip trailer agrees with the header and the file's
// length can hold that much). Errors name
// the file and the problem: IoError for a file that cannot be opened or read,
// FormatError for malformed contents, ArgumentError for bad arguments.

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/data/gzip_source.hpp"
#include "scvae/data/idx_format.hpp"

namespace scvae {
namespace detail {

inline std::string hex_byte(unsigned value) {
  static const char* digits = "0123456789ABCDEF";
  std::string text = "0x";
  text += digits[(value >> 4) & 0xF];
  text += digits[value & 0xF];
  return text;
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
    // gzip: the decompressed size is known only once read. When the gzip
    // trailer agrees with the header and the file is large enough to hold
    // that much, take the whole buffer at once: the data lands where it stays,
    // without the copies (and the old and new buffer side by side, 79 MB for
    // MNIST's 47 MB of training images) of a growing one. Otherwise grow the
    // buffer only as data arrives, never past what the header declares; either
    // way it holds no spare capacity.
    const auto expected_size = static_cast<std::size_t>(expected);
    const std::optional<std::uint32_t> declared = gzip_declared_size(path, file_size);
    if (declared && *declared == static_cast<std::uint32_t>(header_size + expected) &&
        expected / kMaxDeflateRatio < file_size)
      raw.data.reserve(expected_size);
    std::size_t have = 0;
    while (have < expected_size) {
      if (raw.data.size() == have) {
        const std::size_t grown = std::max<std::size_t>(2 * have, have + kIdxReadChunk);
        const std::size_t size = std::max(raw.data.capacity(), std::min(grown, expected_size));
        raw.data.reserve(size);  // exactly: resize() alone may double the capacity
        raw.data.resize(size);
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
