#pragma once
// The byte level of checkpoint files: CRC32, little-endian encoding of
// integers and IEEE-754 scalars, a buffered writer onto an AtomicFile and a
// bounds-checked reader over the file's bytes. Knows nothing of the layout of
// a checkpoint (io/checkpoint_format.hpp) nor of models.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/io/atomic_file.hpp"

namespace scvae {
namespace detail {

/// The name of the temporary file save_checkpoint writes before renaming
/// (for a symbolic link: next to its target).
inline std::string checkpoint_temp_path(const std::string& path) { return temp_path_for(path); }

inline std::uint32_t crc32_of(std::uint32_t crc, const unsigned char* data, std::size_t size) {
  uLong value = crc;
  while (size > 0) {
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(size, 1u << 30));
    value = ::crc32(value, data, chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<std::uint32_t>(value);
}

/// The IEEE-754 bits of a float or double as an unsigned integer.
template <typename Scalar>
using ScalarBits = std::conditional_t<sizeof(Scalar) == 4, std::uint32_t, std::uint64_t>;

template <typename Scalar>
void check_checkpoint_scalar() {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "checkpoints hold float or double parameters");
}

/// Buffered writes to an AtomicFile with a running CRC32.
class CheckpointWriter {
 public:
  explicit CheckpointWriter(AtomicFile& file) : file_(file) { buffer_.reserve(kBufferSize); }

  void raw(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    crc_ = crc32_of(crc_, bytes, size);
    append(bytes, size);
  }
  template <typename UInt>
  void little_endian(UInt value) {
    unsigned char bytes[sizeof(UInt)];
    for (std::size_t i = 0; i < sizeof(UInt); ++i)
      bytes[i] = static_cast<unsigned char>((value >> (8 * i)) & 0xFFu);
    raw(bytes, sizeof(UInt));
  }
  void u8(std::uint8_t value) { raw(&value, 1); }
  void u32(std::uint32_t value) { little_endian(value); }
  void u64(std::uint64_t value) { little_endian(value); }
  template <typename Scalar>
  void scalar(Scalar value) {
    ScalarBits<Scalar> bits;
    std::memcpy(&bits, &value, sizeof(bits));
    little_endian(bits);
  }
  void string32(const std::string& text) {
    u32(static_cast<std::uint32_t>(text.size()));
    raw(text.data(), text.size());
  }
  void string64(const std::string& text) {
    u64(static_cast<std::uint64_t>(text.size()));
    raw(text.data(), text.size());
  }

  /// Appends the CRC of everything written so far and flushes to the file.
  void finish() {
    const std::uint32_t crc = crc_;
    u32(crc);
    flush();
  }

 private:
  static constexpr std::size_t kBufferSize = std::size_t{1} << 16;

  void append(const unsigned char* data, std::size_t size) {
    while (size > 0) {
      const std::size_t room = kBufferSize - buffer_.size();
      const std::size_t take = std::min(room, size);
      buffer_.insert(buffer_.end(), data, data + take);
      data += take;
      size -= take;
      if (buffer_.size() == kBufferSize) flush();
    }
  }

  void flush() {
    file_.write(buffer_.data(), buffer_.size());
    buffer_.clear();
  }

  AtomicFile& file_;
  std::vector<unsigned char> buffer_;
  std::uint32_t crc_ = 0;
};

/// The whole file in memory; IoError when it is missing, not a regular file
/// or unreadable. Only the size reported by the file system is allocated.
/// A FIFO, a device or a directory is refused before any blocking open.
inline std::vector<unsigned char> read_checkpoint_file(const std::string& path) {
  const int fd = open_regular_file(path, "checkpoint");
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat status {};
  if (::fstat(fd, &status) != 0)
    throw IoError("cannot stat checkpoint " + quoted_path(path) + ": " + errno_text(errno));
  std::vector<unsigned char> bytes(static_cast<std::size_t>(status.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t got = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw IoError("cannot read checkpoint " + quoted_path(path) + ": " + errno_text(errno));
    }
    if (got == 0) break;  // shrank while reading: the parser reports truncation
    done += static_cast<std::size_t>(got);
  }
  bytes.resize(done);
  return bytes;
}

/// Bounds-checked little-endian reads from the file's bytes.
class CheckpointReader {
 public:
  CheckpointReader(const std::vector<unsigned char>& bytes, const std::string& path)
      : bytes_(bytes), path_(path) {}

  std::size_t position() const { return position_; }
  std::size_t remaining() const { return bytes_.size() - position_; }

  /// Throws unless `count` more bytes are there; never overflows.
  void need(std::uint64_t count, const char* what) const {
    if (count > remaining()) {
      std::ostringstream out;
      out << "checkpoint " << quoted_path(path_) << " is truncated: reading " << what << " at byte "
          << position_ << " requires " << count << " bytes, but only " << remaining()
          << " remain (file size " << bytes_.size() << " bytes)";
      throw CheckpointError(out.str());
    }
  }
  const unsigned char* take(std::uint64_t count, const char* what) {
    need(count, what);
    const unsigned char* start = bytes_.data() + position_;
    position_ += static_cast<std::size_t>(count);
    return start;
  }
  template <typename UInt>
  UInt little_endian(const char* what) {
    const unsigned char* bytes = take(sizeof(UInt), what);
    UInt value = 0;
    for (std::size_t i = 0; i < sizeof(UInt); ++i)
      value = static_cast<UInt>(value | (static_cast<UInt>(bytes[i]) << (8 * i)));
    return value;
  }
  /// take() for count elements of element_size bytes each.
  const unsigned char* take_elements(std::uint64_t count, std::size_t element_size,
                                     const char* what) {
    if (count > remaining() / element_size) {
      std::ostringstream out;
      out << "checkpoint " << quoted_path(path_) << " is truncated: reading " << what << " at byte "
          << position_ << " requires " << count << " x " << element_size << " bytes, but only "
          << remaining() << " remain (file size " << bytes_.size() << " bytes)";
      throw CheckpointError(out.str());
    }
    return take(count * element_size, what);
  }
  std::uint8_t u8(const char* what) { return *take(1, what); }
  std::uint32_t u32(const char* what) { return little_endian<std::uint32_t>(what); }
  std::uint64_t u64(const char* what) { return little_endian<std::uint64_t>(what); }
  std::string text(std::uint64_t size, const char* what) {
    const unsigned char* start = take(size, what);
    return std::string(reinterpret_cast<const char*>(start), static_cast<std::size_t>(size));
  }

 private:
  const std::vector<unsigned char>& bytes_;
  const std::string& path_;
  std::size_t position_ = 0;
};

}  // namespace detail
}  // namespace scvae
