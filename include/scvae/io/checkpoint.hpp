#pragma once
// Versioned binary checkpoints: one flat parameter vector, the architecture
// string of the model that owns it, and optional named extras (optimizer
// state, epoch, ...), closed by a CRC32. The format knows nothing about model
// classes; save_model/load_model only need a duck-typed model with
//   typename Model::Scalar, std::string architecture() const,
//   Vector<Scalar>& parameters(), const Vector<Scalar>& parameters() const.
//
// Byte layout, version 1 (all integers little-endian; see docs/checkpoint.md):
//   magic "SCVAECKP" (8) | version u32 | scalar name: u32 length + bytes
//   | architecture: u64 length + bytes | parameter count u64
//   | parameters: count x (4 or 8 bytes, IEEE-754 little-endian)
//   | extras count u32 | per extra: name u32 length + bytes, kind u8
//     (0 = float64 values, 1 = raw bytes), element count u64, data
//   | CRC32 (zlib, u32) of every byte before it.
//
// Saving writes "<path>.tmp-<pid>", fsyncs it and renames it over <path>, so
// a crash or a failed write leaves any previous checkpoint intact. Do not save
// to the same path from two threads of one process at once. POSIX only.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/io/atomic_file.hpp"

namespace scvae {

/// The first 8 bytes of every checkpoint.
inline constexpr char kCheckpointMagic[8] = {'S', 'C', 'V', 'A', 'E', 'C', 'K', 'P'};
/// The format version this build writes.
inline constexpr std::uint32_t kCheckpointVersion = 1;
/// The format versions this build reads.
inline constexpr std::uint32_t kCheckpointSupportedVersions[] = {1};

/// Named extra data stored next to the parameters: float64 value lists (for
/// optimizer moments, epoch counters, losses) or raw bytes. Entries are kept
/// sorted by name, so equal extras give byte-identical files.
class CheckpointExtras {
 public:
  enum class Kind : std::uint8_t { kValues = 0, kBytes = 1 };

  void set_values(const std::string& name, std::vector<double> values) {
    check_name(name);
    entries_[name] = Entry{Kind::kValues, std::move(values), {}};
  }
  void set_bytes(const std::string& name, std::vector<std::uint8_t> bytes) {
    check_name(name);
    entries_[name] = Entry{Kind::kBytes, {}, std::move(bytes)};
  }
  void set_scalar(const std::string& name, double value) { set_values(name, {value}); }
  /// Stores any Eigen vector or matrix (column-major) as float64 values;
  /// float and double round-trip exactly.
  template <typename Derived>
  void set_vector(const std::string& name, const Eigen::DenseBase<Derived>& values) {
    std::vector<double> copy;
    copy.reserve(static_cast<std::size_t>(values.size()));
    for (Index j = 0; j < values.cols(); ++j)
      for (Index i = 0; i < values.rows(); ++i)
        copy.push_back(static_cast<double>(values.derived().coeff(i, j)));
    set_values(name, std::move(copy));
  }

  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  Kind kind(const std::string& name) const { return find(name).kind; }
  const std::vector<double>& values(const std::string& name) const {
    const Entry& entry = find(name);
    if (entry.kind != Kind::kValues)
      throw ArgumentError("checkpoint extra '" + name + "' holds bytes, not values");
    return entry.values;
  }
  const std::vector<std::uint8_t>& bytes(const std::string& name) const {
    const Entry& entry = find(name);
    if (entry.kind != Kind::kBytes)
      throw ArgumentError("checkpoint extra '" + name + "' holds values, not bytes");
    return entry.bytes;
  }
  /// The single value of an entry written by set_scalar.
  double scalar(const std::string& name) const {
    const std::vector<double>& list = values(name);
    if (list.size() != 1) {
      std::ostringstream out;
      out << "checkpoint extra '" << name << "': expected 1 value, got " << list.size();
      throw ShapeError(out.str());
    }
    return list[0];
  }
  /// The values of an entry as an Eigen vector of the given scalar type.
  template <typename Scalar>
  Vector<Scalar> vector(const std::string& name) const {
    const std::vector<double>& list = values(name);
    Vector<Scalar> out(static_cast<Index>(list.size()));
    for (std::size_t i = 0; i < list.size(); ++i)
      out(static_cast<Index>(i)) = static_cast<Scalar>(list[i]);
    return out;
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& entry : entries_) out.push_back(entry.first);
    return out;
  }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  void erase(const std::string& name) { entries_.erase(name); }
  void clear() { entries_.clear(); }

  friend bool operator==(const CheckpointExtras& a, const CheckpointExtras& b) {
    if (a.entries_.size() != b.entries_.size()) return false;
    auto it = b.entries_.begin();
    for (const auto& entry : a.entries_) {
      const Entry& x = entry.second;
      const Entry& y = it->second;
      // Values compare by bit pattern, so NaNs with equal payloads are equal.
      if (entry.first != it->first || x.kind != y.kind || x.bytes != y.bytes ||
          x.values.size() != y.values.size() ||
          (!x.values.empty() &&
           std::memcmp(x.values.data(), y.values.data(), x.values.size() * sizeof(double)) != 0))
        return false;
      ++it;
    }
    return true;
  }
  friend bool operator!=(const CheckpointExtras& a, const CheckpointExtras& b) { return !(a == b); }

 private:
  struct Entry {
    Kind kind = Kind::kValues;
    std::vector<double> values;
    std::vector<std::uint8_t> bytes;
  };

  static void check_name(const std::string& name) {
    if (name.empty()) throw ArgumentError("checkpoint extra: the name must not be empty");
  }
  const Entry& find(const std::string& name) const {
    const auto it = entries_.find(name);
    if (it == entries_.end()) throw ArgumentError("no checkpoint extra named '" + name + "'");
    return it->second;
  }

  std::map<std::string, Entry> entries_;
};

/// What a checkpoint file holds, read without a model.
struct CheckpointInfo {
  std::uint32_t version = 0;
  std::string scalar;        ///< "float32" or "float64"
  std::string architecture;  ///< as given to save_checkpoint
  std::uint64_t parameter_count = 0;
  std::vector<std::string> extra_names;  ///< sorted
  std::uint64_t file_size = 0;           ///< bytes
};

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

/// A checkpoint whose structure has been checked (magic, version, lengths),
/// but not yet its checksum nor its fit to a model.
struct ParsedCheckpoint {
  std::uint32_t version = 0;
  std::string scalar;
  std::string architecture;
  std::uint64_t parameter_count = 0;
  std::size_t parameter_offset = 0;
  std::size_t scalar_bytes = 0;
  std::vector<std::string> extra_names;
  std::uint32_t stored_crc = 0;
  std::uint32_t computed_crc = 0;

  bool checksum_ok() const { return stored_crc == computed_crc; }
};

inline std::string supported_versions_text() {
  std::ostringstream out;
  bool first = true;
  for (const std::uint32_t version : kCheckpointSupportedVersions) {
    out << (first ? "" : ", ") << version;
    first = false;
  }
  return out.str();
}

/// Checks, in order: truncation of the magic, the magic, the version, then
/// every length against the bytes left (truncation). Fills `extras` when given.
inline ParsedCheckpoint parse_checkpoint(const std::vector<unsigned char>& bytes,
                                         const std::string& path, CheckpointExtras* extras) {
  const std::string name = quoted_path(path);
  const std::size_t magic_size = sizeof(kCheckpointMagic);
  const std::size_t head = std::min(bytes.size(), magic_size);
  if (head > 0 && std::memcmp(bytes.data(), kCheckpointMagic, head) != 0)
    throw CheckpointError(name +
                          " is not an scvae checkpoint (its first bytes are not \"SCVAECKP\")");
  CheckpointReader reader(bytes, path);
  reader.take(magic_size, "the magic");

  ParsedCheckpoint parsed;
  parsed.version = reader.u32("the format version");
  const auto* supported_end = std::end(kCheckpointSupportedVersions);
  if (std::find(std::begin(kCheckpointSupportedVersions), supported_end, parsed.version) ==
      supported_end) {
    std::ostringstream out;
    out << "checkpoint " << name << " has format version " << parsed.version
        << ", but this build of scvae reads only version " << supported_versions_text();
    throw CheckpointError(out.str());
  }

  const std::uint32_t scalar_size = reader.u32("the scalar type length");
  parsed.scalar = reader.text(scalar_size, "the scalar type");
  if (parsed.scalar == scalar_name<float>()) {
    parsed.scalar_bytes = 4;
  } else if (parsed.scalar == scalar_name<double>()) {
    parsed.scalar_bytes = 8;
  } else {
    throw CheckpointError("checkpoint " + name + " has an unknown scalar type \"" +
                          printable(parsed.scalar) + "\" (expected float32 or float64)");
  }

  const std::uint64_t architecture_size = reader.u64("the architecture length");
  parsed.architecture = reader.text(architecture_size, "the architecture");
  parsed.parameter_count = reader.u64("the parameter count");
  parsed.parameter_offset = reader.position();
  reader.take_elements(parsed.parameter_count, parsed.scalar_bytes, "the parameters");

  CheckpointExtras parsed_extras;
  const std::uint32_t extra_count = reader.u32("the extras count");
  for (std::uint32_t e = 0; e < extra_count; ++e) {
    const std::uint32_t name_size = reader.u32("an extra's name length");
    std::string extra_name = reader.text(name_size, "an extra's name");
    if (extra_name.empty())
      throw CheckpointError("checkpoint " + name + " has an extra with an empty name");
    if (!parsed.extra_names.empty() && extra_name <= parsed.extra_names.back())
      throw CheckpointError("checkpoint " + name + " has extras out of order or twice: \"" +
                            printable(extra_name) + "\"");
    const std::uint8_t kind = reader.u8("an extra's kind");
    const std::uint64_t count = reader.u64("an extra's element count");
    if (kind == static_cast<std::uint8_t>(CheckpointExtras::Kind::kValues)) {
      const unsigned char* data = reader.take_elements(count, 8, "an extra's values");
      if (extras) {
        std::vector<double> values(static_cast<std::size_t>(count));
        for (std::size_t i = 0; i < values.size(); ++i) {
          std::uint64_t bits = 0;
          for (std::size_t b = 0; b < 8; ++b)
            bits |= static_cast<std::uint64_t>(data[8 * i + b]) << (8 * b);
          std::memcpy(&values[i], &bits, 8);
        }
        parsed_extras.set_values(extra_name, std::move(values));
      }
    } else if (kind == static_cast<std::uint8_t>(CheckpointExtras::Kind::kBytes)) {
      const unsigned char* data = reader.take(count, "an extra's bytes");
      if (extras)
        parsed_extras.set_bytes(
            extra_name, std::vector<std::uint8_t>(data, data + static_cast<std::size_t>(count)));
    } else {
      std::ostringstream out;
      out << "checkpoint " << name << " has an extra \"" << printable(extra_name)
          << "\" of unknown kind " << static_cast<unsigned>(kind);
      throw CheckpointError(out.str());
    }
    parsed.extra_names.push_back(std::move(extra_name));
  }

  const std::size_t checked_size = reader.position();
  parsed.stored_crc = reader.u32("the checksum");
  if (reader.remaining() != 0) {
    std::ostringstream out;
    out << "checkpoint " << name << " has " << reader.remaining()
        << " unexpected bytes after its checksum";
    throw CheckpointError(out.str());
  }
  parsed.computed_crc = crc32_of(0, bytes.data(), checked_size);
  if (extras) *extras = std::move(parsed_extras);
  return parsed;
}

inline std::string crc_hex(std::uint32_t crc) {
  char text[11];
  std::snprintf(text, sizeof(text), "0x%08x", static_cast<unsigned>(crc));
  return text;
}

inline void check_checksum(const ParsedCheckpoint& parsed, const std::string& path) {
  if (!parsed.checksum_ok())
    throw CheckpointError("checkpoint " + quoted_path(path) +
                          " is corrupted: its CRC32 checksum is " + crc_hex(parsed.stored_crc) +
                          " but its contents give " + crc_hex(parsed.computed_crc));
}

/// Appended to a mismatch message when the file is also corrupted.
inline std::string corruption_note(const ParsedCheckpoint& parsed) {
  return parsed.checksum_ok() ? std::string()
                              : std::string(
                                    " (and its checksum does not match either: the file "
                                    "is probably corrupted)");
}

/// Reads and fully verifies a checkpoint for a Scalar model with the given
/// architecture and, when expected_count >= 0, parameter count.
template <typename Scalar>
ParsedCheckpoint load_verified(const std::string& path, const std::string& expected_architecture,
                               Index expected_count, std::vector<unsigned char>& bytes,
                               CheckpointExtras* extras) {
  check_checkpoint_scalar<Scalar>();
  bytes = read_checkpoint_file(path);
  const std::string name = quoted_path(path);
  ParsedCheckpoint parsed = parse_checkpoint(bytes, path, extras);
  if (parsed.scalar != scalar_name<Scalar>())
    throw CheckpointError("checkpoint " + name + " holds " + printable(parsed.scalar) +
                          " parameters, this model uses " + scalar_name<Scalar>() +
                          corruption_note(parsed));
  if (parsed.architecture != expected_architecture)
    throw CheckpointError("checkpoint " + name +
                          " was saved from another architecture: it holds \"" +
                          printable(parsed.architecture) + "\", this model is \"" +
                          printable(expected_architecture) + "\"" + corruption_note(parsed));
  if (expected_count >= 0 && parsed.parameter_count != static_cast<std::uint64_t>(expected_count)) {
    std::ostringstream out;
    out << "checkpoint " << name << " holds " << parsed.parameter_count
        << " parameters, this model has " << expected_count << corruption_note(parsed);
    throw CheckpointError(out.str());
  }
  check_checksum(parsed, path);
  return parsed;
}

/// NumericalError unless every value is finite: "cannot save checkpoint
/// '<path>': 3 of its 120 <what> are not finite (the first, index 7, is nan)".
template <typename Derived>
void check_finite_for_saving(const std::string& path, const std::string& what,
                             const Eigen::DenseBase<Derived>& values) {
  if (all_finite(values)) return;
  Index bad = 0, first = -1;
  for (Index i = 0; i < values.size(); ++i)
    if (!std::isfinite(static_cast<double>(values.derived().coeff(i))) && bad++ == 0) first = i;
  std::ostringstream out;
  out << "cannot save checkpoint " << quoted_path(path) << ": " << bad << " of its "
      << values.size() << " " << what << " are not finite (the first, index " << first << ", is "
      << static_cast<double>(values.derived().coeff(first))
      << "); the model diverged, and the previous checkpoint is kept";
  throw NumericalError(out.str());
}

template <typename Scalar, typename Derived>
void decode_parameters(const std::vector<unsigned char>& bytes, const ParsedCheckpoint& parsed,
                       Eigen::DenseBase<Derived>& out) {
  const unsigned char* data = bytes.data() + parsed.parameter_offset;
  for (Index i = 0; i < out.size(); ++i) {
    ScalarBits<Scalar> bits = 0;
    for (std::size_t b = 0; b < sizeof(Scalar); ++b)
      bits = static_cast<ScalarBits<Scalar>>(bits |
                                             (static_cast<ScalarBits<Scalar>>(data[b]) << (8 * b)));
    Scalar value;
    std::memcpy(&value, &bits, sizeof(Scalar));
    out(i) = value;
    data += sizeof(Scalar);
  }
}

}  // namespace detail

/// Writes a checkpoint atomically: to "<path>.tmp-<pid>", fsync, rename over
/// path. On failure the temporary file is removed, any previous file at path
/// is untouched, and IoError names the path. Refused before anything is
/// written: parameters that are not all finite (NumericalError: a model of
/// NaN must never replace the last good checkpoint), and a path that is
/// neither a regular file nor new (IoError: a directory, a device node, a
/// FIFO). A symbolic link is followed: its target is replaced atomically and
/// the link stays. Temporary files of this path left by dead processes are
/// removed.
template <typename Scalar>
void save_checkpoint(const std::string& path, const std::string& architecture,
                     const Vector<Scalar>& parameters, const CheckpointExtras& extras = {}) {
  detail::check_checkpoint_scalar<Scalar>();
  detail::check_finite_for_saving(path, "parameters", parameters);
  detail::AtomicFile file(path, "checkpoint");
  detail::CheckpointWriter writer(file);
  writer.raw(kCheckpointMagic, sizeof(kCheckpointMagic));
  writer.u32(kCheckpointVersion);
  writer.string32(scalar_name<Scalar>());
  writer.string64(architecture);
  writer.u64(static_cast<std::uint64_t>(parameters.size()));
  for (Index i = 0; i < parameters.size(); ++i) writer.scalar(parameters(i));
  writer.u32(static_cast<std::uint32_t>(extras.size()));
  for (const std::string& extra : extras.names()) {
    writer.string32(extra);
    const CheckpointExtras::Kind kind = extras.kind(extra);
    writer.u8(static_cast<std::uint8_t>(kind));
    if (kind == CheckpointExtras::Kind::kValues) {
      const std::vector<double>& values = extras.values(extra);
      writer.u64(values.size());
      for (const double value : values) writer.scalar(value);
    } else {
      const std::vector<std::uint8_t>& bytes = extras.bytes(extra);
      writer.u64(bytes.size());
      writer.raw(bytes.data(), bytes.size());
    }
  }
  writer.finish();
  file.commit();
}

/// Reads a checkpoint's header without a model. Also verifies the structure
/// and the checksum, so a file it accepts loads into a matching model.
inline CheckpointInfo read_checkpoint_info(const std::string& path) {
  const std::vector<unsigned char> bytes = detail::read_checkpoint_file(path);
  const detail::ParsedCheckpoint parsed = detail::parse_checkpoint(bytes, path, nullptr);
  detail::check_checksum(parsed, path);
  CheckpointInfo info;
  info.version = parsed.version;
  info.scalar = parsed.scalar;
  info.architecture = parsed.architecture;
  info.parameter_count = parsed.parameter_count;
  info.extra_names = parsed.extra_names;
  info.file_size = bytes.size();
  return info;
}

/// Loads the parameters of a checkpoint saved with this Scalar and exactly
/// this architecture string. Throws IoError when the file cannot be read and
/// CheckpointError when it is malformed, corrupted or does not match. The
/// extras, when asked for, are replaced only on success.
template <typename Scalar>
Vector<Scalar> load_checkpoint(const std::string& path, const std::string& expected_architecture,
                               CheckpointExtras* extras = nullptr) {
  std::vector<unsigned char> bytes;
  CheckpointExtras loaded;
  const detail::ParsedCheckpoint parsed = detail::load_verified<Scalar>(
      path, expected_architecture, -1, bytes, extras ? &loaded : nullptr);
  Vector<Scalar> parameters(static_cast<Index>(parsed.parameter_count));
  detail::decode_parameters<Scalar>(bytes, parsed, parameters);
  if (extras) *extras = std::move(loaded);
  return parameters;
}

/// Loads into an existing vector (or Map, or block) without reallocating it,
/// so views into a flat parameter buffer stay valid. The checkpoint's
/// parameter count must equal parameters.size(). Nothing is written unless
/// every check, the checksum included, passes.
template <typename Derived>
void load_checkpoint_into(const std::string& path, const std::string& expected_architecture,
                          Eigen::DenseBase<Derived>& parameters,
                          CheckpointExtras* extras = nullptr) {
  static_assert(Derived::IsVectorAtCompileTime, "load_checkpoint_into needs a vector");
  using Scalar = typename Derived::Scalar;
  std::vector<unsigned char> bytes;
  CheckpointExtras loaded;
  const detail::ParsedCheckpoint parsed = detail::load_verified<Scalar>(
      path, expected_architecture, parameters.size(), bytes, extras ? &loaded : nullptr);
  detail::decode_parameters<Scalar>(bytes, parsed, parameters);
  if (extras) *extras = std::move(loaded);
}

/// save_checkpoint(path, model.architecture(), model.parameters(), extras).
template <typename Model>
void save_model(const std::string& path, const Model& model, const CheckpointExtras& extras = {}) {
  using Scalar = typename Model::Scalar;
  const Vector<Scalar>& parameters = model.parameters();
  save_checkpoint<Scalar>(path, model.architecture(), parameters, extras);
}

/// Loads a checkpoint into model.parameters() in place; the architecture,
/// scalar type and parameter count must match the model's.
template <typename Model>
void load_model(const std::string& path, Model& model, CheckpointExtras* extras = nullptr) {
  using Scalar = typename Model::Scalar;
  Vector<Scalar>& parameters = model.parameters();
  load_checkpoint_into(path, model.architecture(), parameters, extras);
}

}  // namespace scvae
