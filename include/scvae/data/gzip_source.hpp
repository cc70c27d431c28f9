#pragma once
// Reading files through zlib's gzopen/gzread, which read plain and gzip files
// alike: a handle that closes itself, zlib errors turned into IoError or
// FormatError naming the file, chunked reads, and a check that a path is a
// regular file before zlib opens it (gzopen would block on a FIFO). Used by
// the IDX reader and writer (data/idx_read.hpp, data/idx_write.hpp).

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>

#include "scvae/core/error.hpp"

namespace scvae {
namespace detail {

/// Files are read and written through zlib in chunks of this size.
constexpr unsigned kIdxReadChunk = 1u << 20;

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

/// The uncompressed size a gzip file's last member declares in its trailer
/// (ISIZE: the size modulo 2^32), or nothing when `path` does not start with
/// the gzip magic bytes or cannot be read. A hint only: nothing checks it
/// until the data is decompressed.
inline std::optional<std::uint32_t> gzip_declared_size(const std::string& path,
                                                       std::uint64_t file_size) {
  constexpr std::uint64_t kSmallestGzip = 18;  // 10-byte header, empty deflate, 8-byte trailer
  if (file_size < kSmallestGzip) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  unsigned char magic[2] = {0, 0};
  if (!in.read(reinterpret_cast<char*>(magic), 2) || magic[0] != 0x1f || magic[1] != 0x8b)
    return std::nullopt;
  unsigned char trailer[4] = {0, 0, 0, 0};
  in.seekg(static_cast<std::streamoff>(file_size - 4));
  if (!in.read(reinterpret_cast<char*>(trailer), 4)) return std::nullopt;
  return static_cast<std::uint32_t>(trailer[0]) | (static_cast<std::uint32_t>(trailer[1]) << 8) |
         (static_cast<std::uint32_t>(trailer[2]) << 16) |
         (static_cast<std::uint32_t>(trailer[3]) << 24);
}

/// Deflate turns at most 1032 bytes into one compressed byte.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

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

}  // namespace detail
}  // namespace scvae
