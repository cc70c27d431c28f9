#pragma once
// The trunk and image decoder a LabelConditionedSpec (M2) describes, built
// from modules: hidden sizes through make_mlp (the 0.1.0 networks, same
// layout and initialisation order), a network text through parse_network in
// the registry of the thread's model build (model/spec_networks.hpp).
// LabelConditionedBaseT builds its networks here, and the architecture
// parser counts a scvae-m2-v2 line's parameters on them (model/spec_parse.hpp).

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/model/label_conditioned_spec.hpp"
#include "scvae/model/network.hpp"
#include "scvae/model/spec_networks.hpp"
#include "scvae/nn/parse.hpp"

namespace scvae {

namespace detail {

/// `text` built on `input`, errors prefixed with `what`.
template <typename Scalar>
std::unique_ptr<SequentialT<Scalar>> parse_named_network(const std::string& text,
                                                         const Shape& input,
                                                         const std::string& what,
                                                         const ModuleRegistry<Scalar>& registry) {
  try {
    return parse_network<Scalar>(text, input, registry);
  } catch (const ShapeError& e) {
    throw ShapeError(what + ": " + e.what());
  } catch (const ArgumentError& e) {
    throw ArgumentError(what + ": " + e.what());
  }
}

}  // namespace detail

/// M2's trunk of a validated spec: input_shape -> a vector of features that
/// q(y|x) and q(z|x) read. ArgumentError or ShapeError naming "M2
/// trunk_network" when its text does not build or does not end in a vector.
template <typename Scalar>
SequentialT<Scalar> make_label_conditioned_trunk(
    const LabelConditionedSpec& spec,
    const ModuleRegistry<Scalar>& registry = model_module_registry<Scalar>()) {
  if (spec.trunk_network.empty())
    return make_mlp<Scalar>(spec.inputs, spec.encoder_hidden, spec.activation, spec.activation);
  const std::string what = "M2 trunk_network " + detail::quoted_text(spec.trunk_network);
  auto network = detail::parse_named_network<Scalar>(spec.trunk_network, spec.trunk_input_shape(),
                                                     what, registry);
  if (!network->output_shape().is_vector())
    throw ShapeError(what +
                     ": expected a network ending in a vector (the features q(y|x) and "
                     "q(z|x) read), got " +
                     network->output_shape().text());
  return std::move(*network);
}

/// M2's image decoder of a validated spec: [z; one-hot y] -> `inputs`
/// Bernoulli logits. ArgumentError or ShapeError naming "M2
/// decoder_network" when its text does not build or gives another count.
template <typename Scalar>
SequentialT<Scalar> make_label_conditioned_decoder(
    const LabelConditionedSpec& spec,
    const ModuleRegistry<Scalar>& registry = model_module_registry<Scalar>()) {
  if (spec.decoder_network.empty()) {
    std::vector<Index> sizes = spec.decoder_hidden;
    sizes.push_back(spec.inputs);
    return make_mlp<Scalar>(spec.latent + spec.classes, sizes, spec.activation,
                            Activation::Identity);
  }
  const std::string what = "M2 decoder_network " + detail::quoted_text(spec.decoder_network);
  auto network = detail::parse_named_network<Scalar>(
      spec.decoder_network, Shape::vector(spec.latent + spec.classes), what, registry);
  if (network->output_shape().features() != spec.inputs)
    throw ShapeError(what + ": expected " + std::to_string(spec.inputs) +
                     " outputs (the inputs), got " + network->output_shape().text());
  return std::move(*network);
}

}  // namespace scvae
