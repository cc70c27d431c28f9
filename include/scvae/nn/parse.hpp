#pragma once
// Builds modules from their architecture tokens, so that a network can be
// written as text and rebuilt from a checkpoint: for every module m,
// parse_module(m.token(), m.input_shape()) is m again (same token, parameter
// layout and forward pass).
//
// Grammar (whitespace = spaces, tabs, newlines):
//
//   text      := ws? module ws?                 parse_module
//              | ws? network ws?                parse_network
//   network   := '[' ws? ( module ( ws module )* ws? )? ']'
//   module    := network | name | name '(' arguments ')'
//   name      := [A-Za-z_] [A-Za-z0-9_]*        at most 64 characters
//   arguments := one or more printable ASCII characters other than
//                whitespace, '(', ')', '[' and ']'
//
// Each module of a network is built on the output shape of the one before it
// (the first on the network's input shape). Modules by name:
//
//   dense(N)             DenseT, N outputs
//   gaussian(N)          GaussianHeadT, N latent dimensions (2N outputs)
//   identity relu tanh sigmoid softplus leaky_relu elu
//                        the activations (ElementwiseT)
//   flatten              FlattenT
//   reshape(CxHxW)       ReshapeT to C x H x W; reshape(N) to a vector of N
//   onehot(K)            AppendOneHotT, K classes
//   centres(K)           ClassCentresT, K classes read by distance
//   conv2d(O,K,S,P)      Conv2dT, O output channels, kernel K, stride S,
//                        padding P (each N or HxW; S and P may be left off)
//   conv_transpose2d(O,K,S,P,Q)
//                        ConvTranspose2dT, likewise, output padding Q
//   [ ... ]              SequentialT of the modules inside
//
// Sizes are written in decimal digits with no sign or leading zero, from 1 to
// 2^40. ModuleRegistry<Scalar>::instance().add(name, factory) adds a module
// of one's own (one registry per scalar type).
//
// The text may come from a checkpoint file, so it is read as hostile: any
// malformed text is an ArgumentError (a ShapeError when a module does not fit
// its input) that says where and what was expected, networks nest at most
// kMaxArchitectureDepth deep (no stack overflow), a text holds at most
// kMaxArchitectureModules modules and a network at most
// kMaxArchitectureParameters parameters (no overflow of a count).

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "scvae/nn/class_centres.hpp"
#include "scvae/nn/conv2d.hpp"
#include "scvae/nn/conv_transpose2d.hpp"
#include "scvae/nn/dense.hpp"
#include "scvae/nn/elementwise.hpp"
#include "scvae/nn/gaussian_head.hpp"
#include "scvae/nn/module.hpp"
#include "scvae/nn/one_hot.hpp"
#include "scvae/nn/reshape.hpp"
#include "scvae/nn/sequential.hpp"
#include "scvae/util/parse.hpp"

namespace scvae {

inline constexpr int kMaxArchitectureDepth = 64;
inline constexpr Index kMaxArchitectureModules = 4096;
inline constexpr Index kMaxArchitectureParameters = Index(1) << 40;

/// The size in a module's arguments, e.g. "400" of dense(400): decimal digits,
/// no sign or leading zero, in [1, 2^40]. ArgumentError naming `name` otherwise.
inline Index parse_size_argument(const std::string& name, const std::string& arguments) {
  const std::string what = name + "(" + detail::printable(arguments) + ")";
  const bool digits =
      !arguments.empty() && arguments.size() <= 13 && arguments[0] != '0' &&
      std::all_of(arguments.begin(), arguments.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits)
    throw ArgumentError(what +
                        ": expected a positive integer in digits (no sign or leading zero), got " +
                        detail::quoted_text(arguments));
  return parse_integer<Index>(what, arguments, 1, Index(1) << 40);
}

/// The shape in reshape(64x7x7) or reshape(784): three sizes joined by 'x',
/// or one for a vector.
inline Shape parse_shape_argument(const std::string& name, const std::string& arguments) {
  std::vector<std::string> parts(1);
  for (const char c : arguments) {
    if (c == 'x')
      parts.emplace_back();
    else
      parts.back() += c;
  }
  if (parts.size() != 1 && parts.size() != 3)
    throw ArgumentError(name + "(" + detail::printable(arguments) +
                        "): expected a shape CxHxW or a size N, got " +
                        detail::quoted_text(arguments));
  if (parts.size() == 1) return Shape::vector(parse_size_argument(name, parts[0]));
  return Shape(parse_size_argument(name, parts[0]), parse_size_argument(name, parts[1]),
               parse_size_argument(name, parts[2]));
}

/// ArgumentError unless a module written without arguments ("relu") was.
inline void expect_no_arguments(const std::string& name, const std::string& arguments) {
  if (!arguments.empty())
    throw ArgumentError(name + ": expected no arguments, got " + detail::quoted_text(arguments));
}

/// The modules parse_module knows by name, and how to build each from its
/// arguments (the text between the parentheses, empty without them) and its
/// input shape. Safe to use from several threads.
template <typename Scalar>
class ModuleRegistry {
 public:
  using Factory =
      std::function<ModulePtr<Scalar>(const std::string& arguments, const Shape& input)>;

  /// The registry parse_module and parse_network use unless handed another.
  static ModuleRegistry& instance() {
    static ModuleRegistry registry;
    return registry;
  }

  /// A registry of the library's modules; add() one's own.
  ModuleRegistry() { add_builtins(); }
  ModuleRegistry(const ModuleRegistry&) = delete;
  ModuleRegistry& operator=(const ModuleRegistry&) = delete;

  /// ArgumentError if the name is not a valid name (see the grammar) or is
  /// taken: a checkpoint's text must mean one thing.
  void add(const std::string& name, Factory factory) {
    if (!valid_name(name))
      throw ArgumentError(
          "module registry: expected a name of letters, digits and '_' (not first a "
          "digit, at most 64), got " +
          detail::quoted_text(name));
    if (!factory)
      throw ArgumentError("module registry: expected a factory for " + name + ", got none");
    const std::lock_guard<std::mutex> lock(mutex_);
    if (!factories_.emplace(name, std::move(factory)).second)
      throw ArgumentError("module registry: " + name + " is registered already");
  }

  bool contains(const std::string& name) const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return factories_.count(name) > 0;
  }

  /// The registered names, sorted.
  std::vector<std::string> names() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> out;
    for (const auto& entry : factories_) out.push_back(entry.first);
    return out;
  }

  /// The module `name` with `arguments` on `input`. ArgumentError listing the
  /// known names if `name` is unknown; ShapeError if the factory's module
  /// does not read `input`.
  ModulePtr<Scalar> make(const std::string& name, const std::string& arguments,
                         const Shape& input) const {
    Factory factory;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      const auto found = factories_.find(name);
      if (found != factories_.end()) factory = found->second;
    }
    if (!factory) {
      std::string known;
      for (const std::string& n : names()) known += (known.empty() ? "" : ", ") + n;
      throw ArgumentError("architecture: unknown module " + detail::quoted_text(name) +
                          "; expected one of " + known + ", or [ ... ] for a network");
    }
    ModulePtr<Scalar> module = factory(arguments, input);
    const std::string what = name + (arguments.empty() ? "" : "(" + arguments + ")");
    if (!module)
      throw ArgumentError("architecture: the factory of " + name + " returned no module");
    if (module->input_shape() != input)
      throw ShapeError("architecture: " + what + " was built for input " +
                       module->input_shape().text() + ", expected " + input.text());
    detail::check_shape_sizes("architecture: " + what + " output shape", module->output_shape());
    const Index count = module->parameter_count();
    if (count < 0 || count > kMaxArchitectureParameters)
      throw ArgumentError("architecture: " + what + ": expected at most 2^40 parameters, got " +
                          std::to_string(count));
    return module;
  }

  static bool valid_name(const std::string& name) {
    if (name.empty() || name.size() > 64 || is_digit(name[0])) return false;
    return std::all_of(name.begin(), name.end(), is_name_char);
  }
  static bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
  }

 private:
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  /// ArgumentError unless a layer of `outputs` units on `input` has at most
  /// 2^40 parameters, checked before DenseT multiplies the sizes.
  static void check_dense_size(const std::string& what, const Shape& input, Index outputs) {
    if (input.features() + 1 > kMaxArchitectureParameters / outputs)
      throw ArgumentError(what + ": expected at most 2^40 parameters, got " +
                          std::to_string(outputs) + " x (" + std::to_string(input.features()) +
                          " + 1)");
  }

  void add_builtins() {
    add("dense", [](const std::string& arguments, const Shape& input) -> ModulePtr<Scalar> {
      const Index n = parse_size_argument("dense", arguments);
      check_dense_size("dense(" + arguments + ")", input, n);
      return std::make_unique<DenseT<Scalar>>(input, n);
    });
    add("gaussian", [](const std::string& arguments, const Shape& input) -> ModulePtr<Scalar> {
      const Index n = parse_size_argument("gaussian", arguments);
      check_dense_size("gaussian(" + arguments + ")", input, 2 * n);
      return std::make_unique<GaussianHeadT<Scalar>>(input, n);
    });
    for (Activation a :
         {Activation::Identity, Activation::ReLU, Activation::Tanh, Activation::Sigmoid,
          Activation::Softplus, Activation::LeakyReLU, Activation::ELU}) {
      const std::string name = activation_name(a);
      add(name, [a, name](const std::string& arguments, const Shape& input) -> ModulePtr<Scalar> {
        expect_no_arguments(name, arguments);
        return std::make_unique<ElementwiseT<Scalar>>(input, a);
      });
    }
    add("flatten", [](const std::string& arguments, const Shape& input) -> ModulePtr<Scalar> {
      expect_no_arguments("flatten", arguments);
      return std::make_unique<FlattenT<Scalar>>(input);
    });
    add("reshape", [](const std::string& arguments, const Shape& input) -> ModulePtr<Scalar> {
      return std::make_unique<ReshapeT<Scalar>>(input, parse_shape_argument("reshape", arguments));
    });
    add("onehot", [](const std::string& arguments, const Shape& input) -> ModulePtr<Scalar> {
      return std::make_unique<AppendOneHotT<Scalar>>(input,
                                                     parse_size_argument("onehot", arguments));
    });
    add("centres", [](const std::string& arguments, const Shape& input) -> ModulePtr<Scalar> {
      return std::make_unique<ClassCentresT<Scalar>>(input,
                                                     parse_size_argument("centres", arguments));
    });
    add("conv2d", [](const std::string& arguments, const Shape& input) -> ModulePtr<Scalar> {
      return std::make_unique<Conv2dT<Scalar>>(
          input, detail::parse_conv_arguments("conv2d", arguments, false));
    });
    add("conv_transpose2d",
        [](const std::string& arguments, const Shape& input) -> ModulePtr<Scalar> {
          return std::make_unique<ConvTranspose2dT<Scalar>>(
              input, detail::parse_conv_arguments("conv_transpose2d", arguments, true));
        });
  }

  mutable std::mutex mutex_;
  std::map<std::string, Factory> factories_;
};

namespace detail {

template <typename Scalar>
class ArchitectureParser {
 public:
  ArchitectureParser(const std::string& text, const ModuleRegistry<Scalar>& registry)
      : text_(text), registry_(registry) {}

  ModulePtr<Scalar> whole_module(const Shape& input) {
    skip_space();
    ModulePtr<Scalar> module = next_module(input, 0);
    finish();
    return module;
  }

  std::unique_ptr<SequentialT<Scalar>> whole_network(const Shape& input) {
    skip_space();
    if (at_end() || peek() != '[') fail("'[' opening a network");
    std::unique_ptr<SequentialT<Scalar>> network = next_network(input, 0);
    finish();
    return network;
  }

 private:
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

  void skip_space() {
    while (!at_end() && is_space(peek())) ++pos_;
  }

  void finish() {
    skip_space();
    if (!at_end()) fail("the end of the text");
  }

  /// ArgumentError "architecture, character 12 ('junk...'): expected X".
  [[noreturn]] void fail(const std::string& expected) const { fail_at(pos_, expected); }
  [[noreturn]] void fail_at(std::size_t at, const std::string& expected) const {
    const std::string got =
        at >= text_.size() ? "the end of the text" : quoted_text(text_.substr(at, 24));
    throw ArgumentError("architecture, character " + std::to_string(at) + ": expected " + expected +
                        ", got " + got);
  }

  void count_module(std::size_t start) {
    if (++modules_ > kMaxArchitectureModules)
      fail_at(start, "at most " + std::to_string(kMaxArchitectureModules) + " modules");
  }

  ModulePtr<Scalar> next_module(const Shape& input, int depth) {
    if (at_end()) fail("a module");
    if (peek() == '[') return next_network(input, depth);
    const std::size_t start = pos_;
    while (!at_end() && ModuleRegistry<Scalar>::is_name_char(peek())) ++pos_;
    const std::string name = text_.substr(start, pos_ - start);
    if (!ModuleRegistry<Scalar>::valid_name(name))
      fail_at(start, "a module name (letters, digits, '_') or '['");
    std::string arguments;
    if (!at_end() && peek() == '(') {
      const std::size_t open = ++pos_;
      while (!at_end() && is_argument_char(peek())) ++pos_;
      if (at_end() || peek() != ')') fail("')' closing " + name + "(");
      arguments = text_.substr(open, pos_ - open);
      if (arguments.empty()) fail_at(open, "an argument inside " + name + "()");
      ++pos_;
    }
    count_module(start);
    try {
      return registry_.make(name, arguments, input);
    } catch (const ShapeError& e) {
      throw ShapeError(where(start) + e.what());
    } catch (const ArgumentError& e) {
      throw ArgumentError(where(start) + e.what());
    }
  }

  std::unique_ptr<SequentialT<Scalar>> next_network(const Shape& input, int depth) {
    const std::size_t start = pos_;
    if (depth >= kMaxArchitectureDepth)
      fail_at(start, "networks nested at most " + std::to_string(kMaxArchitectureDepth) + " deep");
    count_module(start);
    ++pos_;  // '['
    skip_space();
    auto network = std::make_unique<SequentialT<Scalar>>(input);
    while (true) {
      if (at_end()) fail("']' closing the network opened at character " + std::to_string(start));
      if (peek() == ']') {
        ++pos_;
        return network;
      }
      const std::size_t module_start = pos_;
      ModulePtr<Scalar> module = next_module(network->output_shape(), depth + 1);
      if (module->parameter_count() > kMaxArchitectureParameters - network->parameter_count())
        fail_at(module_start, "a network of at most 2^40 parameters");
      network->add(std::move(module));
      if (at_end() || peek() == ']') continue;
      if (!is_space(peek())) fail("a space or ']' after a module");
      skip_space();
    }
  }

  static bool is_argument_char(char c) {
    return c > ' ' && c < 0x7f && c != '(' && c != ')' && c != '[' && c != ']';
  }

  static std::string where(std::size_t at) {
    return "architecture, character " + std::to_string(at) + ": ";
  }

  const std::string& text_;
  const ModuleRegistry<Scalar>& registry_;
  std::size_t pos_ = 0;
  Index modules_ = 0;
};

}  // namespace detail

/// The module that `token` names, on `input`: "dense(400)", "relu",
/// "[dense(400) relu gaussian(20)]", ... ArgumentError or ShapeError for text
/// that is not one module of the grammar above, whole.
template <typename Scalar>
ModulePtr<Scalar> parse_module(
    const std::string& token, const Shape& input,
    const ModuleRegistry<Scalar>& registry = ModuleRegistry<Scalar>::instance()) {
  return detail::ArchitectureParser<Scalar>(token, registry).whole_module(input);
}

/// The network that `text` ("[ ... ]") names, on `input`.
template <typename Scalar>
std::unique_ptr<SequentialT<Scalar>> parse_network(
    const std::string& text, const Shape& input,
    const ModuleRegistry<Scalar>& registry = ModuleRegistry<Scalar>::instance()) {
  return detail::ArchitectureParser<Scalar>(text, registry).whole_network(input);
}

}  // namespace scvae
