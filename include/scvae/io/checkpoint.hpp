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

#include <algorithm>
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

namespace detail {

/// Values written as a float64 extra straight from memory that stays alive
/// until the save returns: an optimizer's moments are saved this way without
/// a float64 copy of them (for a conv VAE, 27 MB at the end of each epoch).
template <typename Scalar>
struct CheckpointValuesView {
  std::string name;
  const Scalar* data = nullptr;
  Index size = 0;

  Eigen::Map<const Vector<Scalar>> values() const { return {data, size}; }
};

template <typename Scalar>
void write_values(CheckpointWriter& writer, const Scalar* data, std::size_t size) {
  writer.u64(size);
  for (std::size_t i = 0; i < size; ++i) writer.scalar(static_cast<double>(data[i]));
}

/// save_checkpoint, with `views` written as value extras among `extras` in
/// name order, so the file is byte for byte what copying them into extras
/// would have written.
template <typename Scalar, typename ViewScalar>
void save_checkpoint_with_views(const std::string& path, const std::string& architecture,
                                const Vector<Scalar>& parameters,
                                const CheckpointExtras& extras,
                                std::vector<CheckpointValuesView<ViewScalar>> views) {
  check_checkpoint_scalar<Scalar>();
  check_finite_for_saving(path, "parameters", parameters);
  std::sort(views.begin(), views.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (std::size_t i = 0; i < views.size(); ++i)
    if (extras.contains(views[i].name) || (i > 0 && views[i - 1].name == views[i].name))
      throw ArgumentError("checkpoint extra '" + views[i].name + "' is given twice");
  AtomicFile file(path, "checkpoint");
  CheckpointWriter writer(file);
  writer.raw(kCheckpointMagic, sizeof(kCheckpointMagic));
  writer.u32(kCheckpointVersion);
  writer.string32(scalar_name<Scalar>());
  writer.string64(architecture);
  writer.u64(static_cast<std::uint64_t>(parameters.size()));
  for (Index i = 0; i < parameters.size(); ++i) writer.scalar(parameters(i));
  writer.u32(static_cast<std::uint32_t>(extras.size() + views.size()));
  const std::vector<std::string> names = extras.names();
  auto next_view = views.begin();
  auto write_view = [&] {
    writer.string32(next_view->name);
    writer.u8(static_cast<std::uint8_t>(CheckpointExtras::Kind::kValues));
    write_values(writer, next_view->data, static_cast<std::size_t>(next_view->size));
    ++next_view;
  };
  for (const std::string& extra : names) {
    while (next_view != views.end() && next_view->name < extra) write_view();
    writer.string32(extra);
    const CheckpointExtras::Kind kind = extras.kind(extra);
    writer.u8(static_cast<std::uint8_t>(kind));
    if (kind == CheckpointExtras::Kind::kValues) {
      const std::vector<double>& values = extras.values(extra);
      write_values(writer, values.data(), values.size());
    } else {
      const std::vector<std::uint8_t>& bytes = extras.bytes(extra);
      writer.u64(bytes.size());
      writer.raw(bytes.data(), bytes.size());
    }
  }
  while (next_view != views.end()) write_view();
  writer.finish();
  file.commit();
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
  detail::save_checkpoint_with_views<Scalar, double>(path, architecture, parameters, extras, {});
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
