#pragma once
// Versioned binary checkpoints: one flat parameter vector, the architecture
// string of the model that owns it, and optional named extras (optimizer
// state, epoch, ...), closed by a CRC32. The format knows nothing about model
// classes; save_model/load_model only need a duck-typed model with
//   typename Model::Scalar, std::string architecture() const,
//   Vector<Scalar>& parameters(), const Vector<Scalar>& parameters() const.
//
// The byte layout is in io/checkpoint_format.hpp and docs/checkpoint.md; the
// extras in io/checkpoint_extras.hpp. Saving writes "<path>.tmp-<pid>",
// fsyncs it and renames it over <path>, so a crash or a failed write leaves
// any previous checkpoint intact. Do not save to the same path from two
// threads of one process at once. POSIX only.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "scvae/core/types.hpp"
#include "scvae/io/atomic_file.hpp"
#include "scvae/io/checkpoint_bytes.hpp"
#include "scvae/io/checkpoint_extras.hpp"
#include "scvae/io/checkpoint_format.hpp"

namespace scvae {

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
