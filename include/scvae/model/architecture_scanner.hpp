#pragma once
// What the architecture-line parsers (model/spec_parse.hpp) share: the kinds
// of line, the limit on the parameters a line may describe, a scanner that
// reads a line left to right and names the field of every failure, a tally
// of parameters that refuses an overflow, and the likelihood field.

#include <cmath>
#include <cstdint>
#include <locale>
#include <sstream>
#include <string>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/model/network_text.hpp"
#include "scvae/nn/activation.hpp"
#include "scvae/nn/shape.hpp"
#include "scvae/prob/likelihood.hpp"

namespace scvae {

/// The most parameters a parsed architecture may describe (64 GiB of floats).
inline constexpr std::uint64_t kMaxSpecParameters = std::uint64_t{1} << 34;

/// The first word of a ModelSpec's architecture and of a LabelConditionedSpec's.
inline constexpr const char* kModelArchitectureKind = "scvae-v1";
/// The first word of a ModelSpec's architecture when the hidden-size line
/// cannot describe it: its networks are written as module text.
inline constexpr const char* kModelNetworkArchitectureKind = "scvae-v2";
inline constexpr const char* kLabelConditionedArchitectureKind = "scvae-m2-v1";
/// The first word of a LabelConditionedSpec's architecture when a network is
/// module text (LabelConditionedSpec::trunk_network, decoder_network).
inline constexpr const char* kLabelConditionedNetworkArchitectureKind = "scvae-m2-v2";

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
  const std::string& text() const { return text_; }

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

 /// A network's text "[ ... ]" up to its matching ']', which must be in the
  /// canonical form (detail::canonical_network_text) architecture() writes.
  /// Module names are not looked up: that needs the registry of the build.
  std::string network(const std::string& field) {
    const std::size_t start = position_;
    if (start >= text_.size() || text_[start] != '[') fail(field, "'[' opening a network");
    std::size_t depth = 0, end = start;
    for (; end < text_.size(); ++end) {
      if (text_[end] == '[') ++depth;
      if (text_[end] == ']' && --depth == 0) break;
    }
    if (end == text_.size()) fail(field, "a network whose brackets close");
    const std::string network_text = text_.substr(start, end + 1 - start);
    std::string canonical;
    try {
      canonical = canonical_network_text(network_text, field);
    } catch (const ArgumentError& e) {
      fail(field, std::string("a network of modules (") + e.what() + ")");
    }
    if (canonical != network_text)
      fail(field, "a network written as architecture() writes it (one space between modules, "
                  "none inside the brackets)");
    position_ = end + 1;
    return network_text;
  }

  /// A sample shape as Shape::text() writes it: "N" or "CxHxW" (not N x 1 x 1).
  Shape shape(const std::string& field) {
    const std::size_t start = position_;
    const Index first = size(field);
    if (!try_literal("x")) return Shape::vector(first);
    const Index height = size(field);
    literal("x", field);
    const Index width = size(field);
    const Shape shape(first, height, width);
    if (shape.is_vector()) fail_at(start, field, "a vector shape written as its size alone");
    try {
      check_shape_sizes(field, shape);
    } catch (const ArgumentError&) {
      fail_at(start, field, "a shape of at most 2^40 features");
    }
    return shape;
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
}  // namespace scvae
