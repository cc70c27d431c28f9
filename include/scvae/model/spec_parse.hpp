#pragma once
// The inverse of ModelSpec::architecture() and
// LabelConditionedSpec::architecture(): a checkpoint records only that line,
// so these rebuild the spec of the model that wrote it (io/load_model.hpp).
//
// Strict: the text must be exactly what architecture() writes for the spec
// it describes (one space between fields, no leading zeros or signs, the
// shortest exact form of a Gaussian variance, nothing after the last field),
// so parse(text).architecture() == text for every text accepted. Malformed
// text is a FormatError that quotes it (escaped) and names the field; a
// well-formed text describing more than kMaxSpecParameters parameters
// is an ArgumentError, thrown before anything that size is allocated.
//
// What the line does not record comes back with its default: task weights
// (1), the initialization (HeGlorot; it matters only before training), and
// M2's label and entropy weights (50 and 0).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <locale>
#include <sstream>
#include <string>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/model/architecture_scanner.hpp"
#include "scvae/model/label_conditioned_networks.hpp"
#include "scvae/model/label_conditioned_vae.hpp"
#include "scvae/model/spec.hpp"
#include "scvae/model/spec_networks.hpp"
#include "scvae/nn/activation.hpp"
#include "scvae/nn/shape.hpp"
#include "scvae/prob/likelihood.hpp"

namespace scvae {

namespace detail {

/// The parameters of the model a spec describes, counted from its sizes in
/// 64 bits: ArgumentError (quoting `architecture`) past
/// kMaxSpecParameters, before a product can overflow. The models'
/// parameter_count() must agree (tested), so that a checkpoint's count can be
/// checked against its architecture before the model is built.
inline std::uint64_t described_parameter_count(const ModelSpec& spec,
                                               const std::string& architecture) {
  const bool shorthand = spec.as_shorthand().has_value();
  ArchitectureScanner in(architecture,
                         shorthand ? kModelArchitectureKind : kModelNetworkArchitectureKind);
  ParameterTally tally(in);
  if (!shorthand) {
    // Module text has no closed-form count: the networks are built (their
    // parameters are not allocated) with the registry a model would use.
    tally.add(built_parameter_count<float>(spec, model_module_registry<float>()));
    return tally.total();
  }
  std::vector<Index> encoder{spec.inputs};
  encoder.insert(encoder.end(), spec.encoder_hidden.begin(), spec.encoder_hidden.end());
  tally.chain(encoder);
  tally.dense(encoder.back(), 2 * spec.latent);  // the Gaussian head: mu and logvar
  for (const TaskSpec& task : spec.tasks) {
    std::vector<Index> decoder{spec.latent};
    decoder.insert(decoder.end(), task.hidden.begin(), task.hidden.end());
    decoder.push_back(task.outputs);
    tally.chain(decoder);
    if (task.likelihood.kind == LikelihoodSpec::Kind::GaussianLearnedVariance)
      tally.add(static_cast<std::uint64_t>(task.outputs));  // a log-variance per output
  }
  if (spec.balance == TaskBalance::Uncertainty)
    tally.add(static_cast<std::uint64_t>(spec.tasks.size()));  // a log-variance s_t per task
  if (spec.balance == TaskBalance::GradNorm)
    tally.add(2 * static_cast<std::uint64_t>(spec.tasks.size()));  // a_t and L_t(0) per task
  return tally.total();
}

/// The parameters of a scvae-m2-v2 spec into `tally`: module text has no
/// closed-form count, so the networks are built (their parameters are not
/// allocated) with Scalar's registry of this thread.
template <typename Scalar>
void tally_built_label_conditioned(const LabelConditionedSpec& spec, ParameterTally& tally) {
  const SequentialT<Scalar> trunk = make_label_conditioned_trunk<Scalar>(spec);
  tally.add(static_cast<std::uint64_t>(trunk.parameter_count()));
  tally.dense(trunk.outputs() + (spec.latent_reads_label ? spec.classes : 0), 2 * spec.latent);
  std::vector<Index> classifier{trunk.outputs()};
  classifier.insert(classifier.end(), spec.classifier_hidden.begin(), spec.classifier_hidden.end());
  classifier.push_back(spec.classes);
  tally.chain(classifier);
  tally.add(
      static_cast<std::uint64_t>(make_label_conditioned_decoder<Scalar>(spec).parameter_count()));
}

inline std::uint64_t described_parameter_count(const LabelConditionedSpec& spec,
                                               const std::string& architecture) {
  if (spec.has_network_text()) {
    ArchitectureScanner in(architecture, kLabelConditionedNetworkArchitectureKind);
    ParameterTally tally(in);
    tally_built_label_conditioned<float>(spec, tally);
    return tally.total();
  }
  ArchitectureScanner in(architecture, kLabelConditionedArchitectureKind);
  ParameterTally tally(in);
  std::vector<Index> trunk{spec.inputs};
  trunk.insert(trunk.end(), spec.encoder_hidden.begin(), spec.encoder_hidden.end());
  tally.chain(trunk);
  tally.dense(trunk.back() + (spec.latent_reads_label ? spec.classes : 0), 2 * spec.latent);
  std::vector<Index> classifier{trunk.back()};
  classifier.insert(classifier.end(), spec.classifier_hidden.begin(), spec.classifier_hidden.end());
  classifier.push_back(spec.classes);
  tally.chain(classifier);
  std::vector<Index> decoder{spec.latent + spec.classes};
  decoder.insert(decoder.end(), spec.decoder_hidden.begin(), spec.decoder_hidden.end());
  decoder.push_back(spec.inputs);
  tally.chain(decoder);
  return tally.total();
}

}  // namespace detail

namespace detail {

/// The task fields both lines end with: the likelihood, checked against the
/// outputs, and " from-mean" when the decoder reads the mean.
inline void parse_task_tail(ArchitectureScanner& in, const std::string& field, TaskSpec& task) {
  const std::size_t likelihood_at = in.position();
  task.likelihood = parse_likelihood(in, field + " likelihood");
  if (task.likelihood.kind == LikelihoodSpec::Kind::Categorical &&
      task.likelihood.classes != task.outputs)
    in.fail_at(likelihood_at, field + " likelihood",
               "as many classes as decoder outputs (" + std::to_string(task.outputs) + ")");
  if (in.try_literal(" from-mean")) task.input = DecoderInput::Mean;
}

/// "; class-prior=NAME" with the name of one of the tasks, followed by the
/// end of the line or its balance.
inline void parse_class_prior(ArchitectureScanner& in, ModelSpec& spec) {
  const std::size_t at = in.position();
  if (!in.try_literal("; class-prior=")) return;
  const std::string& text = in.text();
  const std::size_t name_at = in.position();
  for (const TaskSpec& task : spec.tasks) {
    const std::size_t end = name_at + task.name.size();
    if (text.compare(name_at, task.name.size(), task.name) != 0) continue;
    if (end != text.size() && text.compare(end, 10, "; balance=") != 0) continue;
    in.try_literal(task.name);
    spec.class_prior = task.name;
    return;
  }
  in.fail_at(at + 14, "class prior", "the name of a task, then the end or \"; balance=\"");
}

/// After a task: true at the end of the line, after an optional
/// "; class-prior=NAME" (a scvae-v2 line's) and an optional
/// "; balance=uncertainty" or "; balance=gradnorm" (which must end it);
/// false when a task follows.
inline bool parse_line_end(ArchitectureScanner& in, ModelSpec& spec, bool network_line) {
  if (network_line) parse_class_prior(in, spec);
  for (const TaskBalance balance : {TaskBalance::Uncertainty, TaskBalance::GradNorm})
    if (in.try_literal(std::string("; balance=") + task_balance_name(balance))) {
      spec.balance = balance;
      if (!in.at_end()) in.fail("the end of the text after the balance", "nothing more");
      return true;
    }
  return in.at_end();
}

/// scvae-v2 input=SHAPE latent=L encoder=NETWORK; task NAME outputs=O
/// decoder=NETWORK LIKELIHOOD[ from-mean]... (see ModelSpec::architecture()).
/// The modules are not built: their names need the registry of the build.
inline ModelSpec parse_network_model_spec(const std::string& architecture) {
  ArchitectureScanner in(architecture, kModelNetworkArchitectureKind);
  ModelSpec spec;
  in.literal(std::string(kModelNetworkArchitectureKind) + " input=", "the kind");
  const Shape shape = in.shape("input shape");
  spec.inputs = shape.features();
  spec.input_shape = shape;
  in.literal(" latent=", "input shape");
  spec.latent = in.size("latent size");
  in.literal(" encoder=", "latent size");
  spec.encoder_network = in.network("encoder network");
  do {
    const std::string field = "task " + std::to_string(spec.tasks.size());
    in.literal("; task ", field);
    TaskSpec task;
    const std::size_t name_at = in.position();
    task.name = in.until(" outputs=", field + " name");
    for (const TaskSpec& earlier : spec.tasks)
      if (earlier.name == task.name)
        in.fail_at(name_at, field + " name", "a name no earlier task has");
    in.literal(" outputs=", field);
    task.outputs = in.size(field + " outputs");
    in.literal(" decoder=", field + " outputs");
    task.network = in.network(field + " decoder network");
    in.literal(" ", field + " decoder network");
    parse_task_tail(in, field, task);
    spec.tasks.push_back(std::move(task));
  } while (!detail::parse_line_end(in, spec, true));
  // One model, one line: what the v1 line describes must be written so. A
  // class prior needs a centres read-out, which no v1 line has: validate()
  // names what such a line lacks.
  if (spec.class_prior.empty() && spec.as_shorthand())
    in.fail_at(0, "the kind",
               "scvae-v1 (this model's networks are the hidden-size shorthand's, which "
               "architecture() writes as a scvae-v1 line)");
  spec.validate();
  return spec;
}

}  // namespace detail

/// The ModelSpec whose architecture() is `architecture`, either line:
///   scvae-v1 encoder=I-H...-L ACT; task NAME decoder=L-H...-O ACT LIKELIHOOD[ from-mean]...
///   scvae-v2 input=SHAPE latent=L encoder=NETWORK; task NAME outputs=O
///   decoder=NETWORK LIKELIHOOD[ from-mean]...
/// A v2 line's networks are checked as text only (nn/parse.hpp's grammar, in
/// canonical form); their modules are looked up when the model is built.
/// Either line may end with "; balance=uncertainty" or "; balance=gradnorm"
/// (ModelSpec::balance; without it, None; gradnorm_alpha comes back as 0).
/// Task weights come back as 1 and the initialization as HeGlorot. A task
/// name runs up to the first " decoder=" (v1) or " outputs=" (v2), so a name
/// containing that text does not round-trip. Throws FormatError on malformed text and ArgumentError on a
/// model of more than kMaxSpecParameters parameters.
inline ModelSpec parse_model_spec(const std::string& architecture) {
  if (detail::architecture_kind(architecture) == kModelNetworkArchitectureKind)
    return detail::parse_network_model_spec(architecture);
  detail::ArchitectureScanner in(architecture, kModelArchitectureKind);
  ModelSpec spec;
  in.literal(std::string(kModelArchitectureKind) + " encoder=", "the kind");
  const std::vector<Index> encoder = in.sizes("encoder sizes", 2);
  spec.inputs = encoder.front();
  spec.latent = encoder.back();
  spec.encoder_hidden.assign(encoder.begin() + 1, encoder.end() - 1);
  in.literal(" ", "encoder sizes");
  spec.activation = in.activation("encoder activation");
  do {
    const std::string field = "task " + std::to_string(spec.tasks.size());
    in.literal("; task ", field);
    TaskSpec task;
    const std::size_t name_at = in.position();
    task.name = in.until(" decoder=", field + " name");
    for (const TaskSpec& earlier : spec.tasks)
      if (earlier.name == task.name)
        in.fail_at(name_at, field + " name", "a name no earlier task has");
    in.literal(" decoder=", field);
    const std::size_t sizes_at = in.position();
    const std::vector<Index> decoder = in.sizes(field + " decoder sizes", 2);
    if (decoder.front() != spec.latent)
      in.fail_at(sizes_at, field + " decoder sizes",
                 "the latent size " + std::to_string(spec.latent) + " first");
    task.outputs = decoder.back();
    task.hidden.assign(decoder.begin() + 1, decoder.end() - 1);
    in.literal(" ", field + " decoder sizes");
    task.activation = in.activation(field + " activation");
    in.literal(" ", field + " activation");
    detail::parse_task_tail(in, field, task);
    spec.tasks.push_back(std::move(task));
  } while (!detail::parse_line_end(in, spec, false));
  detail::described_parameter_count(spec, architecture);
  spec.validate();  // a backstop: nothing above lets through what it refuses
  return spec;
}

namespace detail {

/// Both M2 lines' middle, " latent=L[|y] classes=K classifier=", after the
/// part called `before`.
inline void read_m2_latent_and_classes(ArchitectureScanner& in, const std::string& before,
                                       LabelConditionedSpec& spec) {
  in.literal(" latent=", before);
  spec.latent = in.size("latent size");
  spec.latent_reads_label = in.try_literal("|y");
  in.literal(" classes=", "latent size");
  const std::size_t classes_at = in.position();
  spec.classes = in.size("classes");
  if (spec.classes < 2) in.fail_at(classes_at, "classes", "at least 2 classes");
  in.literal(" classifier=", "classes");
}

/// scvae-m2-v2 input=SHAPE trunk=NETWORK latent=L[|y] classes=K
/// classifier=C...-K decoder=NETWORK ACT bernoulli (see
/// LabelConditionedSpec::architecture()). The modules are not built here.
inline LabelConditionedSpec parse_network_label_conditioned_spec(const std::string& architecture) {
  ArchitectureScanner in(architecture, kLabelConditionedNetworkArchitectureKind);
  LabelConditionedSpec spec;
  spec.encoder_hidden.clear();
  spec.decoder_hidden.clear();
  in.literal(std::string(kLabelConditionedNetworkArchitectureKind) + " input=", "the kind");
  const Shape shape = in.shape("input shape");
  spec.inputs = shape.features();
  if (!shape.is_vector()) spec.input_shape = shape;
  in.literal(" trunk=", "input shape");
  spec.trunk_network = in.network("trunk network");
  read_m2_latent_and_classes(in, "trunk network", spec);
  const std::size_t classifier_at = in.position();
  const std::vector<Index> classifier = in.sizes("classifier sizes", 1);
  if (classifier.back() != spec.classes)
    in.fail_at(classifier_at, "classifier sizes",
               "the " + std::to_string(spec.classes) + " classes last");
  spec.classifier_hidden.assign(classifier.begin(), classifier.end() - 1);
  in.literal(" decoder=", "classifier sizes");
  spec.decoder_network = in.network("decoder network");
  in.literal(" ", "decoder network");
  spec.activation = in.activation("activation");
  in.literal(" bernoulli", "likelihood (M2's image decoder is bernoulli)");
  if (!in.at_end()) in.fail("the end of the text after the likelihood", "nothing more");
  spec.validate();
  return spec;
}

}  // namespace detail

/// The LabelConditionedSpec whose architecture() is `architecture`, either line:
///   scvae-m2-v1 encoder=I-H... latent=L[|y] classes=K classifier=H-C...-K
///   decoder=L+K-D...-I ACT bernoulli
///   scvae-m2-v2 input=SHAPE trunk=NETWORK latent=L[|y] classes=K
///   classifier=C...-K decoder=NETWORK ACT bernoulli
/// A v2 line's networks come back as trunk_network and decoder_network (its
/// modules are looked up when the model is built). The label and entropy
/// weights come back as 50 and 0, the initialization as HeGlorot. Throws as
/// parse_model_spec does.
inline LabelConditionedSpec parse_label_conditioned_spec(const std::string& architecture) {
  if (detail::architecture_kind(architecture) == kLabelConditionedNetworkArchitectureKind)
    return detail::parse_network_label_conditioned_spec(architecture);
  detail::ArchitectureScanner in(architecture, kLabelConditionedArchitectureKind);
  LabelConditionedSpec spec;
  in.literal(std::string(kLabelConditionedArchitectureKind) + " encoder=", "the kind");
  const std::vector<Index> trunk =
      in.sizes("encoder sizes (the inputs and at least one hidden layer)", 2);
  spec.inputs = trunk.front();
  spec.encoder_hidden.assign(trunk.begin() + 1, trunk.end());
  detail::read_m2_latent_and_classes(in, "encoder sizes", spec);
  const std::size_t classifier_at = in.position();
  const std::vector<Index> classifier = in.sizes("classifier sizes", 2);
  if (classifier.front() != trunk.back() || classifier.back() != spec.classes)
    in.fail_at(classifier_at, "classifier sizes",
               "the last encoder size " + std::to_string(trunk.back()) + " first and the " +
                   std::to_string(spec.classes) + " classes last");
  spec.classifier_hidden.assign(classifier.begin() + 1, classifier.end() - 1);
  in.literal(" decoder=", "classifier sizes");
  const std::size_t decoder_at = in.position();
  const Index decoder_latent = in.size("decoder latent size");
  in.literal("+", "decoder latent size");
  const Index decoder_classes = in.size("decoder classes");
  in.literal("-", "decoder classes");
  const std::vector<Index> decoder = in.sizes("decoder sizes", 1);
  if (decoder_latent != spec.latent || decoder_classes != spec.classes ||
      decoder.back() != spec.inputs)
    in.fail_at(decoder_at, "decoder sizes",
               std::to_string(spec.latent) + "+" + std::to_string(spec.classes) +
                   " (latent+classes) first and the " + std::to_string(spec.inputs) +
                   " inputs last");
  spec.decoder_hidden.assign(decoder.begin(), decoder.end() - 1);
  in.literal(" ", "decoder sizes");
  spec.activation = in.activation("activation");
  in.literal(" bernoulli", "likelihood (M2's image decoder is bernoulli)");
  if (!in.at_end()) in.fail("the end of the text after the likelihood", "nothing more");
  detail::described_parameter_count(spec, architecture);
  spec.validate();
  return spec;
}

}  // namespace scvae
