#pragma once
// The networks a ModelSpec describes, built from modules: the hidden-size
// shorthand through make_mlp (the 0.1.0 networks, same layout and
// initialisation order), a network text through parse_network, whose module
// names resolve in a ModuleRegistry. SCVAEBaseT builds its encoder and
// decoders here; load_model counts a checkpoint's parameters here before the
// model is allocated.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/model/network.hpp"
#include "scvae/model/spec.hpp"
#include "scvae/nn/gaussian_head.hpp"
#include "scvae/nn/parse.hpp"

namespace scvae {

namespace detail {

/// The registry a model being built on this thread resolves module names in;
/// nullptr: ModuleRegistry<Scalar>::instance().
template <typename Scalar>
const ModuleRegistry<Scalar>*& model_registry_slot() {
  thread_local const ModuleRegistry<Scalar>* registry = nullptr;
  return registry;
}

}  // namespace detail

/// The registry the spec's network text of a model built on this thread
/// resolves module names in: the one a ScopedModelRegistry installed, else
/// ModuleRegistry<Scalar>::instance().
template <typename Scalar>
const ModuleRegistry<Scalar>& model_module_registry() {
  const ModuleRegistry<Scalar>* registry = detail::model_registry_slot<Scalar>();
  return registry != nullptr ? *registry : ModuleRegistry<Scalar>::instance();
}

/// While alive, models of Scalar built on this thread from a spec resolve
/// module names in `registry` (which must outlive it): how
/// load_model(path, registry) builds a model whose networks hold modules of
/// a user's own registry. Nests; restores the previous registry on exit.
template <typename Scalar>
class ScopedModelRegistry {
 public:
  explicit ScopedModelRegistry(const ModuleRegistry<Scalar>& registry)
      : previous_(detail::model_registry_slot<Scalar>()) {
    detail::model_registry_slot<Scalar>() = &registry;
  }
  ScopedModelRegistry(const ScopedModelRegistry&) = delete;
  ScopedModelRegistry& operator=(const ScopedModelRegistry&) = delete;
  ~ScopedModelRegistry() { detail::model_registry_slot<Scalar>() = previous_; }

 private:
  const ModuleRegistry<Scalar>* previous_;
};

/// The encoder network of a validated spec: inputs -> ... -> gaussian(latent).
/// ArgumentError or ShapeError naming "model encoder_network" when its text
/// does not build on input_shape() or does not end in a gaussian head of
/// `latent` dimensions.
template <typename Scalar>
SequentialT<Scalar> make_encoder_network(
    const ModelSpec& spec, const ModuleRegistry<Scalar>& registry = model_module_registry<Scalar>()) {
  if (spec.encoder_network.empty()) {
    SequentialT<Scalar> network =
        make_mlp<Scalar>(spec.inputs, spec.encoder_hidden, spec.activation, spec.activation);
    network.template add<GaussianHeadT>(spec.latent);
    return network;
  }
  const std::string what = "model encoder_network " + detail::quoted_text(spec.encoder_network);
  std::unique_ptr<SequentialT<Scalar>> network;
  try {
    network = parse_network<Scalar>(spec.encoder_network, spec.encoder_input_shape(), registry);
  } catch (const ShapeError& e) {
    throw ShapeError(what + ": " + e.what());
  } catch (const ArgumentError& e) {
    throw ArgumentError(what + ": " + e.what());
  }
  const auto* head = network->empty() ? nullptr
                                      : dynamic_cast<const GaussianHeadT<Scalar>*>(
                                            &network->module(network->size() - 1));
  if (head == nullptr || head->latent() != spec.latent)
    throw ArgumentError(what + ": expected a network ending in gaussian(" +
                        std::to_string(spec.latent) + ") (the latent size), got " +
                        network->token());
  return std::move(*network);
}

/// The decoder network of task t of a validated spec: latent -> outputs.
/// ArgumentError or ShapeError naming the task when its text does not build
/// on the latent vector or does not give `outputs` values.
template <typename Scalar>
SequentialT<Scalar> make_decoder_network(
    const ModelSpec& spec, Index t,
    const ModuleRegistry<Scalar>& registry = model_module_registry<Scalar>()) {
  const TaskSpec& task = spec.tasks.at(static_cast<std::size_t>(t));
  if (task.network.empty()) {
    std::vector<Index> sizes = task.hidden;
    sizes.push_back(task.outputs);
    return make_mlp<Scalar>(spec.latent, sizes, task.activation, Activation::Identity);
  }
  const std::string what =
      "task '" + task.name + "' network " + detail::quoted_text(task.network);
  std::unique_ptr<SequentialT<Scalar>> network;
  try {
    network = parse_network<Scalar>(task.network, Shape::vector(spec.latent), registry);
  } catch (const ShapeError& e) {
    throw ShapeError(what + ": " + e.what());
  } catch (const ArgumentError& e) {
    throw ArgumentError(what + ": " + e.what());
  }
  if (network->output_shape().features() != task.outputs)
    throw ShapeError(what + ": expected " + std::to_string(task.outputs) +
                     " outputs (the task's outputs), got " + network->output_shape().text());
  return std::move(*network);
}

/// The parameters of the model a validated spec describes (its networks and
/// the likelihoods' own), from built networks: nothing is allocated for the
/// parameters themselves. Counted in 64 bits from counts of at most 2^40 each.
template <typename Scalar>
std::uint64_t built_parameter_count(
    const ModelSpec& spec, const ModuleRegistry<Scalar>& registry = model_module_registry<Scalar>()) {
  auto count = static_cast<std::uint64_t>(make_encoder_network<Scalar>(spec, registry).parameter_count());
  for (Index t = 0; t < static_cast<Index>(spec.tasks.size()); ++t) {
    count += static_cast<std::uint64_t>(make_decoder_network<Scalar>(spec, t, registry).parameter_count());
    if (spec.tasks[static_cast<std::size_t>(t)].likelihood.kind ==
        LikelihoodSpec::Kind::GaussianLearnedVariance)
      count += static_cast<std::uint64_t>(spec.tasks[static_cast<std::size_t>(t)].outputs);
  }
  if (spec.balance == TaskBalance::Uncertainty)
    count += static_cast<std::uint64_t>(spec.tasks.size());  // a log-variance s_t per task
  if (spec.balance == TaskBalance::GradNorm)
    count += 2 * static_cast<std::uint64_t>(spec.tasks.size());  // a_t and L_t(0) per task
  return count;
}

}  // namespace scvae
