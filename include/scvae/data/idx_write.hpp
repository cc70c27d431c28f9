#pragma once
// Writing unsigned-byte IDX image and label files, gzip-compressed when the
// path ends in ".gz". IoError names a file that cannot be written,
// ArgumentError sizes that do not fit the format or the data.

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/data/gzip_source.hpp"
#include "scvae/data/idx_format.hpp"

namespace scvae {
namespace detail {

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

}  // namespace scvae
