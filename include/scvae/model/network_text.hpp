#pragma once
// A network's architecture text ("[dense(400) relu gaussian(20)]", the
// grammar of nn/parse.hpp) read for its structure only, without building a
// module: a ModelSpec holds its networks as such text, and checking it,
// writing it in one canonical form and telling whether it is the network a
// hidden-size shorthand expands to must not need the module registry (a
// user's module may be registered only when the model is built).

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"
#include "scvae/core/types.hpp"
#include "scvae/nn/activation.hpp"
#include "scvae/nn/parse.hpp"
#include "scvae/nn/shape.hpp"

namespace scvae {
namespace detail {

/// The canonical form of a network's text: the same modules with one space
/// between two of them and none inside the brackets, e.g.
/// "[ dense(400)  relu ]" -> "[dense(400) relu]". This is the form
/// SequentialT::token() writes. ArgumentError "<what>, character N: expected
/// X, got Y" for text that is not one network of the grammar, whole; the
/// nesting and module limits are parse_network's.
inline std::string canonical_network_text(const std::string& text, const std::string& what) {
  auto fail = [&](std::size_t at, const std::string& expected) {
    const std::string got =
        at >= text.size() ? "the end of the text" : quoted_text(text.substr(at, 24));
    throw ArgumentError(what + ", character " + std::to_string(at) + ": expected " + expected +
                        ", got " + got);
  };
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  auto is_argument_char = [](char c) {
    return c > ' ' && c < 0x7f && c != '(' && c != ')' && c != '[' && c != ']';
  };
  std::size_t pos = 0;
  auto skip_space = [&] {
    while (pos < text.size() && is_space(text[pos])) ++pos;
  };
  skip_space();
  if (pos >= text.size() || text[pos] != '[') fail(pos, "'[' opening a network");
  std::string out;
  int depth = 0;
  Index modules = 0;
  // After '[' or a module: what may follow. A module needs a space before it
  // unless it is the first of its network.
  bool first_in_network = true;
  while (true) {
    if (pos >= text.size()) fail(pos, "']' closing a network");
    const char c = text[pos];
    if (c == ']') {
      if (depth == 0) fail(pos, "a module");
      out += ']';
      ++pos;
      first_in_network = false;
      if (--depth == 0) break;
    } else {
      if (!first_in_network) out += ' ';
      if (++modules > kMaxArchitectureModules)
        fail(pos, "at most " + std::to_string(kMaxArchitectureModules) + " modules");
      if (c == '[') {
        if (++depth > kMaxArchitectureDepth)
          fail(pos, "networks nested at most " + std::to_string(kMaxArchitectureDepth) + " deep");
        out += '[';
        ++pos;
        first_in_network = true;
        skip_space();
        continue;
      }
      const std::size_t start = pos;
      while (pos < text.size() && ModuleRegistry<float>::is_name_char(text[pos])) ++pos;
      const std::string name = text.substr(start, pos - start);
      if (!ModuleRegistry<float>::valid_name(name))
        fail(start, "a module name (letters, digits, '_') or '['");
      out += name;
      if (pos < text.size() && text[pos] == '(') {
        const std::size_t open = ++pos;
        while (pos < text.size() && is_argument_char(text[pos])) ++pos;
        if (pos >= text.size() || text[pos] != ')') fail(pos, "')' closing " + name + "(");
        if (pos == open) fail(open, "an argument inside " + name + "()");
        out += text.substr(open - 1, pos - open + 2);
        ++pos;
      }
      first_in_network = false;
    }
    if (pos < text.size() && text[pos] != ']' && !is_space(text[pos]))
      fail(pos, "a space or ']' after a module");
    skip_space();
  }
  skip_space();
  if (pos != text.size()) fail(pos, "the end of the text");
  return out;
}

/// The network the hidden-size shorthand builds (make_mlp): a dense layer
/// per size, each but the last followed by `hidden` (none for identity), the
/// last module being `last_module` (e.g. "gaussian(20)" or "dense(784)").
inline std::string mlp_network_text(const std::vector<Index>& hidden_sizes, Activation hidden,
                                    const std::string& last_module) {
  std::string out = "[";
  for (const Index size : hidden_sizes) {
    out += "dense(" + std::to_string(size) + ") ";
    if (hidden != Activation::Identity) out += std::string(activation_name(hidden)) + " ";
  }
  return out + last_module + "]";
}

/// What a hidden-size shorthand needs to write a network: its hidden sizes
/// and activation.
struct MlpShorthand {
  std::vector<Index> hidden;
  Activation activation = Activation::ReLU;
};

/// The shorthand that expands to `canonical` (a canonical network text)
/// with `last_module` last, if there is one. A network without hidden layers
/// is read with relu, the default.
inline std::optional<MlpShorthand> mlp_shorthand_of(const std::string& canonical,
                                                    const std::string& last_module) {
  MlpShorthand shorthand;
  if (canonical.size() < 2 || canonical.front() != '[' || canonical.back() != ']')
    return std::nullopt;
  const std::string inner = canonical.substr(1, canonical.size() - 2);
  if (inner.find('[') != std::string::npos) return std::nullopt;
  std::vector<std::string> modules(1);
  for (const char c : inner) {
    if (c == ' ')
      modules.emplace_back();
    else
      modules.back() += c;
  }
  bool activation_seen = false;
  for (std::size_t i = 0; i + 1 < modules.size(); ++i) {
    const std::string& module = modules[i];
    const std::string dense = "dense(";
    if (module.compare(0, dense.size(), dense) == 0 && module.back() == ')') {
      try {
        shorthand.hidden.push_back(
            parse_size_argument("dense", module.substr(dense.size(), module.size() - 7)));
      } catch (const ArgumentError&) {
        return std::nullopt;
      }
    } else if (!activation_seen) {
      for (Activation a : {Activation::ReLU, Activation::Tanh, Activation::Sigmoid,
                           Activation::Softplus, Activation::LeakyReLU, Activation::ELU})
        if (module == activation_name(a)) {
          shorthand.activation = a;
          activation_seen = true;
        }
      if (!activation_seen) return std::nullopt;
    }
  }
  if (!activation_seen && !shorthand.hidden.empty()) shorthand.activation = Activation::Identity;
  // The candidate must give back exactly the text: same order, an activation
  // after every hidden layer and nothing else.
  if (mlp_network_text(shorthand.hidden, shorthand.activation, last_module) != canonical)
    return std::nullopt;
  return shorthand;
}

/// A spec's input_shape: sizes that fit, `inputs` features, and only with
/// the network text that reads it (`network`, called `network_name`; the
/// hidden-size `mlp_name` reads a vector). ArgumentError prefixed by `what`.
inline void check_spec_input_shape(const std::string& what, const Shape& shape, Index inputs,
                                   const std::string& network, const std::string& network_name,
                                   const std::string& mlp_name) {
  check_shape_sizes(what, shape);
  if (shape.features() != inputs)
    throw ArgumentError(what + ": expected " + std::to_string(inputs) +
                        " features (the inputs), got " + shape.text());
  if (network.empty())
    throw ArgumentError(what + ": only " + network_name + " reads a shape; the hidden-size " +
                        mlp_name + " reads a vector of inputs");
}

}  // namespace detail
}  // namespace scvae
