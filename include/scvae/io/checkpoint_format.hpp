#pragma once
// The checkpoint file format: its magic and versions, the parser that checks
// a file's structure and checksum, and the checks a load or a save makes
// against a model. The public save/load functions are in io/checkpoint.hpp.
//
// Byte layout, version 1 (all integers little-endian; see docs/checkpoint.md):
//   magic "SCVAECKP" (8) | version u32 | scalar name: u32 length + bytes
//   | architecture: u64 length + bytes | parameter count u64
//   | parameters: count x (4 or 8 bytes, IEEE-754 little-endian)
//   | extras count u32 | per extra: name u32 length + bytes, kind u8
//     (0 = float64 values, 1 = raw bytes), element count u64, data
//   | CRC32 (zlib, u32) of every byte before it.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/io/checkpoint_bytes.hpp"
#include "scvae/io/checkpoint_extras.hpp"

namespace scvae {

/// The first 8 bytes of every checkpoint.
inline constexpr char kCheckpointMagic[8] = {'S', 'C', 'V', 'A', 'E', 'C', 'K', 'P'};
/// The format version this build writes.
inline constexpr std::uint32_t kCheckpointVersion = 1;
/// The format versions this build reads.
inline constexpr std::uint32_t kCheckpointSupportedVersions[] = {1};

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
}  // namespace scvae
