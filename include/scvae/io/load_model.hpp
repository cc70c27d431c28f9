#pragma once
// A model rebuilt from a checkpoint alone: the architecture line the
// checkpoint records gives the spec (model/spec_parse.hpp), the spec builds
// the model, and the parameters are loaded into it.
//
// The line fixes the layers and the parameter layout, not the loss: task
// weights come back as 1 and M2's label and entropy weights as 50 and 0 (set
// them with set_task_weight or on a spec copy before training on); nothing
// in a checkpoint records them. Checkpoints written by 0.1.0 load: the format
// and the layout of the parameters are unchanged. A model whose networks are
// module text (a scvae-v2 line) is rebuilt with the module registry given,
// so a user's own modules load too.

#include <cstdint>
#include <string>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/io/atomic_file.hpp"
#include "scvae/io/checkpoint.hpp"
#include "scvae/model/label_conditioned_vae.hpp"
#include "scvae/model/scvae.hpp"
#include "scvae/model/spec_networks.hpp"
#include "scvae/model/spec_parse.hpp"
#include "scvae/model/vae.hpp"

namespace scvae {

namespace detail {

/// Which loader reads each kind, for the message of a checkpoint of the other.
inline std::string architecture_kinds_text() {
  return std::string(kModelArchitectureKind) + " and " + kModelNetworkArchitectureKind +
         " (load_model, load_vae) and " + kLabelConditionedArchitectureKind + " and " +
         kLabelConditionedNetworkArchitectureKind + " (load_label_conditioned_model)";
}

/// The kind of model a kind of line describes: both ModelSpec lines are one,
/// and both LabelConditionedSpec lines.
inline std::string model_family(const std::string& kind) {
  if (kind == kModelNetworkArchitectureKind) return kModelArchitectureKind;
  if (kind == kLabelConditionedNetworkArchitectureKind) return kLabelConditionedArchitectureKind;
  return kind;
}

/// The checked header of a checkpoint whose architecture must be of `kind`
/// and whose parameters must be Scalar. CheckpointError names the file.
template <typename Scalar>
CheckpointInfo checkpoint_info_of_kind(const std::string& path, const char* kind) {
  check_checkpoint_scalar<Scalar>();
  CheckpointInfo info = read_checkpoint_info(path);
  const std::string name = quoted_path(path);
  const std::string found = model_family(architecture_kind(info.architecture));
  if (found != kModelArchitectureKind && found != kLabelConditionedArchitectureKind)
    throw CheckpointError("checkpoint " + name + " records an architecture of an unknown kind, " +
                          quoted_architecture(info.architecture) +
                          "; this version of scvae reads " + architecture_kinds_text());
  if (found != kind)
    throw CheckpointError("checkpoint " + name + " holds a " + found + " model (" +
                          quoted_architecture(info.architecture) + "), not a " + kind +
                          " one; load it with " +
                          (found == kModelArchitectureKind ? "load_model or load_vae"
                                                           : "load_label_conditioned_model"));
  if (info.scalar != scalar_name<Scalar>())
    throw CheckpointError("checkpoint " + name + " holds " + printable(info.scalar) +
                          " parameters; load it with the model type of that scalar (" +
                          (info.scalar == scalar_name<float>() ? "float" : "double") + "), not " +
                          scalar_name<Scalar>());
  return info;
}

/// The parameters a spec describes; a network spec's are counted on its
/// networks built with Scalar's registry of this thread (the one load_model
/// was given), which is also where an unknown module is refused.
template <typename Scalar>
std::uint64_t checkpoint_parameter_count(const ModelSpec& spec, const std::string& architecture) {
  if (spec.as_shorthand()) return described_parameter_count(spec, architecture);
  ArchitectureScanner in(architecture, kModelNetworkArchitectureKind);
  ParameterTally tally(in);
  tally.add(built_parameter_count<Scalar>(spec));
  return tally.total();
}
template <typename Scalar>
std::uint64_t checkpoint_parameter_count(const LabelConditionedSpec& spec,
                                         const std::string& architecture) {
  if (!spec.has_network_text()) return described_parameter_count(spec, architecture);
  ArchitectureScanner in(architecture, kLabelConditionedNetworkArchitectureKind);
  ParameterTally tally(in);
  tally_built_label_conditioned<Scalar>(spec, tally);
  return tally.total();
}

/// The spec parsed from a checkpoint's architecture, its parameter count
/// checked against the file's before anything that size is built.
template <typename Scalar, typename Spec, typename Parse>
Spec checkpoint_spec(const std::string& path, const CheckpointInfo& info, Parse&& parse) {
  const std::string name = quoted_path(path);
  Spec spec;
  std::uint64_t count = 0;
  try {
    spec = parse(info.architecture);
    count = checkpoint_parameter_count<Scalar>(spec, info.architecture);
  } catch (const Error& e) {  // FormatError, ArgumentError (too large, unknown module), ShapeError
    throw CheckpointError("checkpoint " + name +
                          " records an architecture this version cannot build: " + e.what());
  }
  if (count != info.parameter_count)
    throw CheckpointError("checkpoint " + name + " holds " + std::to_string(info.parameter_count) +
                          " parameters, but its architecture " +
                          quoted_architecture(info.architecture) + " has " + std::to_string(count));
  return spec;
}

}  // namespace detail

/// The SC-VAE (or VAE: the one-task SC-VAE) a checkpoint holds, built from the
/// architecture it records, with its parameters. `extras`, when given,
/// receives the checkpoint's extras (optimizer state, epochs done, ...).
/// Module names of a scvae-v2 line resolve in `registry` (pass the one the
/// model's own modules were registered in). Throws IoError when the file
/// cannot be read and CheckpointError when it is malformed, corrupted, of
/// Scalar's other type, names a module the registry does not know, or holds
/// an M2 model or an architecture of a kind this version does not read.
template <typename Scalar>
SCVAET<Scalar> load_model(const std::string& path, const ModuleRegistry<Scalar>& registry,
                          CheckpointExtras* extras = nullptr) {
  const ScopedModelRegistry<Scalar> scope(registry);
  const CheckpointInfo info = detail::checkpoint_info_of_kind<Scalar>(path, kModelArchitectureKind);
  SCVAET<Scalar> model(detail::checkpoint_spec<Scalar, ModelSpec>(path, info, parse_model_spec));
  load_model(path, model, extras);
  return model;
}

/// load_model with the registry models of this thread use (by default
/// ModuleRegistry<Scalar>::instance(), where add() puts one's own modules).
template <typename Scalar>
SCVAET<Scalar> load_model(const std::string& path, CheckpointExtras* extras = nullptr) {
  return load_model<Scalar>(path, model_module_registry<Scalar>(), extras);
}

/// load_model as a VAET: CheckpointError unless the checkpoint holds one task
/// with as many outputs as inputs.
template <typename Scalar>
VAET<Scalar> load_vae(const std::string& path, const ModuleRegistry<Scalar>& registry,
                      CheckpointExtras* extras = nullptr) {
  const ScopedModelRegistry<Scalar> scope(registry);
  const CheckpointInfo info = detail::checkpoint_info_of_kind<Scalar>(path, kModelArchitectureKind);
  const ModelSpec spec = detail::checkpoint_spec<Scalar, ModelSpec>(path, info, parse_model_spec);
  if (spec.tasks.size() != 1 || spec.tasks[0].outputs != spec.inputs)
    throw CheckpointError("checkpoint " + detail::quoted_path(path) + " holds " +
                          std::to_string(spec.tasks.size()) + " task(s) (" +
                          detail::quoted_architecture(info.architecture) +
                          "), not a VAE (one task with as many outputs as inputs); load it "
                          "with load_model");
  VAET<Scalar> model(spec);
  load_model(path, model, extras);
  return model;
}

template <typename Scalar>
VAET<Scalar> load_vae(const std::string& path, CheckpointExtras* extras = nullptr) {
  return load_vae<Scalar>(path, model_module_registry<Scalar>(), extras);
}

/// The LabelConditionedVAET (M2) a checkpoint holds; throws as load_model.
/// Module names of a scvae-m2-v2 line resolve in the registry models of
/// Scalar on this thread use (model_module_registry).
template <typename Scalar>
LabelConditionedVAET<Scalar> load_label_conditioned_model(const std::string& path,
                                                          CheckpointExtras* extras = nullptr) {
  const CheckpointInfo info =
      detail::checkpoint_info_of_kind<Scalar>(path, kLabelConditionedArchitectureKind);
  LabelConditionedVAET<Scalar> model(
      detail::checkpoint_spec<Scalar, LabelConditionedSpec>(path, info,
                                                            parse_label_conditioned_spec));
  load_model(path, model, extras);
  return model;
}

}  // namespace scvae
