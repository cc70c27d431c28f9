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
#include "scvae/model/label_conditioned_vae.hpp"
#include "scvae/model/spec.hpp"
#include "scvae/nn/activation.hpp"
#include "scvae/prob/likelihood.hpp"

namespace scvae {

/// The most parameters a parsed architecture may describe (64 GiB of floats).
inline constexpr std::uint64_t kMaxSpecParameters = std::uint64_t{1} << 34;

/// The first word of a ModelSpec's architecture and of a LabelConditionedSpec's.
inline constexpr const char* kModelArchitectureKind = "scvae-v1";
inline constexpr const char* kLabelConditionedArchitectureKind = "scvae-m2-v1";

namespace detail {

/// The architecture as a message quotes it: escaped, and cut after 200 bytes
/// so that a corrupted checkpoint cannot fill the terminal.
inline std::string quoted_architecture(const std::string& text) {
  constexpr std::size_t kShown = 200;
  if (text.size() <= kShown) return "\"" + printable(text) + "\"";
  return "\"" + printable(text.substr(0, kShown)) + "\"... (" + std::to_string(text.size()) +
         " bytes)";
}

/// The first word of an architecture (up to the first space), e.g. "scvae-v1".
inline std::string architecture_kind(const std::string& text) {
  return text.substr(0, text.find(' '));
}

/// Reads an architecture left to right; every failure names the field.
class ArchitectureScanner {
 public:
  ArchitectureScanner(const std::string& text, const char* kind) : text_(text), kind_(kind) {}

  std::size_t position() const { return position_; }
  bool at_end() const { return position_ == text_.size(); }

  [[noreturn]] void fail(const std::string& field, const std::string& expected) const {
    fail_at(position_, field, expected);
  }
  /// For a field that parsed but does not fit what came before it.
  [[noreturn]] void fail_at(std::size_t position, const std::string& field,
                            const std::string& expected) const {
    std::ostringstream out;
    out << kind_ << " architecture " << quoted_architecture(text_) << ": " << field << " at byte "
        << position << ": expected " << expected << ", got " << got(position);
    throw FormatError(out.str());
  }
  /// ArgumentError: "<what> more than the 17179869184 (2^34) parameters ...".
  [[noreturn]] void too_large(const std::string& what) const {
    std::ostringstream out;
    out << kind_ << " architecture " << quoted_architecture(text_) << ": " << what
        << " more than the " << kMaxSpecParameters << " (2^34) parameters this version builds";
    throw ArgumentError(out.str());
  }

  bool try_literal(const std::string& literal) {
    if (text_.compare(position_, literal.size(), literal) != 0) return false;
    position_ += literal.size();
    return true;
  }
  void literal(const std::string& literal, const std::string& field) {
    if (!try_literal(literal)) fail(field, "\"" + printable(literal) + "\"");
  }

  /// A positive decimal size without sign or leading zero, at most
  /// kMaxSpecParameters (every unit of a layer has a bias at least).
  Index size(const std::string& field) {
    const std::size_t start = position_;
    if (start >= text_.size() || text_[start] < '1' || text_[start] > '9')
      fail(field, "a positive size (digits, no sign or leading zero)");
    std::uint64_t value = 0;
    bool over = false;
    while (position_ < text_.size() && text_[position_] >= '0' && text_[position_] <= '9') {
      if (!over) {
        value = value * 10 + static_cast<std::uint64_t>(text_[position_] - '0');
        over = value > kMaxSpecParameters;
      }
      ++position_;
    }
    if (over)
      too_large(field + " at byte " + std::to_string(start) + ": a size of " +
                std::to_string(position_ - start) + " digits describes");
    return static_cast<Index>(value);
  }

  /// size ("-" size)*, at least `minimum` sizes.
  std::vector<Index> sizes(const std::string& field, std::size_t minimum) {
    std::vector<Index> out{size(field)};
    while (try_literal("-")) out.push_back(size(field));
    if (out.size() < minimum) {
      std::ostringstream expected;
      expected << "at least " << minimum << " sizes joined by '-'";
      fail(field, expected.str());
    }
    return out;
  }

  Activation activation(const std::string& field) {
    for (Activation a :
         {Activation::Identity, Activation::ReLU, Activation::Tanh, Activation::Sigmoid,
          Activation::Softplus, Activation::LeakyReLU, Activation::ELU}) {
      // A whole word only: "relu" must not match the start of "relux".
      const std::string name = activation_name(a);
      if (text_.compare(position_, name.size(), name) == 0) {
        const std::size_t after = position_ + name.size();
        if (after == text_.size() || text_[after] == ' ' || text_[after] == ';') {
          position_ = after;
          return a;
        }
      }
    }
    fail(field, "an activation (identity, relu, tanh, sigmoid, softplus, leaky_relu or elu)");
  }

  /// The text up to (not including) the next `delimiter`, non-empty.
  std::string until(const std::string& delimiter, const std::string& field) {
    const std::size_t end = text_.find(delimiter, position_);
    if (end == std::string::npos || end == position_)
      fail(field, "a non-empty " + field + " followed by \"" + delimiter + "\"");
    std::string out = text_.substr(position_, end - position_);
    position_ = end;
    return out;
  }

 private:
  std::string got(std::size_t position) const {
    if (position >= text_.size()) return "the end of the text";
    constexpr std::size_t kShown = 24;
    const std::string rest = text_.substr(position, kShown);
    return "\"" + printable(rest) + (text_.size() - position > kShown ? "\"..." : "\"");
  }

  const std::string& text_;
  const char* kind_;
  std::size_t position_ = 0;
};

/// Adds up the parameters of dense layers, refusing more than
/// kMaxSpecParameters before any product can overflow.
class ParameterTally {
 public:
  explicit ParameterTally(ArchitectureScanner& scanner) : scanner_(scanner) {}

  /// Weights and biases of an inputs x outputs dense layer.
  void dense(Index inputs, Index outputs) {
    const auto in = static_cast<std::uint64_t>(inputs), out = static_cast<std::uint64_t>(outputs);
    if (out == 0) return;  // no layer; validate() refuses such a spec
    // in, out <= 2^35 (a sum of two sizes at most): (in + 1) * out is checked by division.
    if (in + 1 > kMaxSpecParameters / out) exceed();
    add((in + 1) * out);
  }
  /// A chain sizes[0] -> sizes[1] -> ... of dense layers.
  void chain(const std::vector<Index>& sizes) {
    for (std::size_t i = 0; i + 1 < sizes.size(); ++i) dense(sizes[i], sizes[i + 1]);
  }
  void add(std::uint64_t count) {
    if (count > kMaxSpecParameters - total_) exceed();
    total_ += count;
  }
  std::uint64_t total() const { return total_; }

 private:
  [[noreturn]] void exceed() const { scanner_.too_large("the model it describes has"); }

  ArchitectureScanner& scanner_;
  std::uint64_t total_ = 0;
};

/// bernoulli | gaussian(variance=V) | gaussian(learned variance) | categorical(K).
inline LikelihoodSpec parse_likelihood(ArchitectureScanner& in, const std::string& field) {
  if (in.try_literal("bernoulli")) return LikelihoodSpec::bernoulli();
  if (in.try_literal("gaussian(learned variance)"))
    return LikelihoodSpec::gaussian_learned_variance();
  if (in.try_literal("categorical(")) {
    const Index classes = in.size(field + " classes");
    if (classes < 2) in.fail(field + " classes", "at least 2 classes");
    in.literal(")", field);
    return LikelihoodSpec::categorical(classes);
  }
  if (in.try_literal("gaussian(variance=")) {
    const std::size_t variance_at = in.position();
    const std::string text = in.until(")", field + " variance");
    std::istringstream stream(text);
    stream.imbue(std::locale::classic());
    double variance = 0;
    stream >> variance;
    // The canonical form is what LikelihoodSpec::name() prints: reprinting
    // refuses "1.0", "+1", "1e0", trailing text and inexact digits at once.
    const LikelihoodSpec spec = LikelihoodSpec::gaussian(variance);
    if (stream.fail() || !(variance > 0) || !std::isfinite(variance) ||
        spec.name() != "gaussian(variance=" + text + ")")
      in.fail_at(variance_at, field + " variance",
                 "a positive finite variance written as architecture() writes it (e.g. 1, 0.5, "
                 "1e-05)");
    in.literal(")", field);
    return spec;
  }
  in.fail(field,
          "a likelihood: bernoulli, gaussian(variance=V), gaussian(learned variance) or "
          "categorical(K)");
}

}  // namespace detail

namespace detail {

/// The parameters of the model a spec describes, counted from its sizes in
/// 64 bits: ArgumentError (quoting `architecture`) past
/// kMaxSpecParameters, before a product can overflow. The models'
/// parameter_count() must agree (tested), so that a checkpoint's count can be
/// checked against its architecture before the model is built.
inline std::uint64_t described_parameter_count(const ModelSpec& spec,
                                               const std::string& architecture) {
  ArchitectureScanner in(architecture, kModelArchitectureKind);
  ParameterTally tally(in);
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
  return tally.total();
}

inline std::uint64_t described_parameter_count(const LabelConditionedSpec& spec,
                                               const std::string& architecture) {
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

/// The ModelSpec whose architecture() is `architecture`:
///   scvae-v1 encoder=I-H...-L ACT; task NAME decoder=L-H...-O ACT LIKELIHOOD[ from-mean]...
/// Task weights come back as 1 and the initialization as HeGlorot. A task
/// name runs up to the first " decoder=", so a name containing that text does
/// not round-trip. Throws FormatError on malformed text and ArgumentError on a
/// model of more than kMaxSpecParameters parameters.
inline ModelSpec parse_model_spec(const std::string& architecture) {
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
    const std::size_t likelihood_at = in.position();
    task.likelihood = detail::parse_likelihood(in, field + " likelihood");
    if (task.likelihood.kind == LikelihoodSpec::Kind::Categorical &&
        task.likelihood.classes != task.outputs)
      in.fail_at(likelihood_at, field + " likelihood",
                 "as many classes as decoder outputs (" + std::to_string(task.outputs) + ")");
    if (in.try_literal(" from-mean")) task.input = DecoderInput::Mean;
    spec.tasks.push_back(std::move(task));
  } while (!in.at_end());
  detail::described_parameter_count(spec, architecture);
  spec.validate();  // a backstop: nothing above lets through what it refuses
  return spec;
}

/// The LabelConditionedSpec whose architecture() is `architecture`:
///   scvae-m2-v1 encoder=I-H... latent=L[|y] classes=K classifier=H-C...-K
///   decoder=L+K-D...-I ACT bernoulli
/// The label and entropy weights come back as 50 and 0, the initialization as
/// HeGlorot. Throws as parse_model_spec does.
inline LabelConditionedSpec parse_label_conditioned_spec(const std::string& architecture) {
  detail::ArchitectureScanner in(architecture, kLabelConditionedArchitectureKind);
  LabelConditionedSpec spec;
  in.literal(std::string(kLabelConditionedArchitectureKind) + " encoder=", "the kind");
  const std::vector<Index> trunk =
      in.sizes("encoder sizes (the inputs and at least one hidden layer)", 2);
  spec.inputs = trunk.front();
  spec.encoder_hidden.assign(trunk.begin() + 1, trunk.end());
  in.literal(" latent=", "encoder sizes");
  spec.latent = in.size("latent size");
  spec.latent_reads_label = in.try_literal("|y");
  in.literal(" classes=", "latent size");
  const std::size_t classes_at = in.position();
  spec.classes = in.size("classes");
  if (spec.classes < 2) in.fail_at(classes_at, "classes", "at least 2 classes");
  in.literal(" classifier=", "classes");
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
