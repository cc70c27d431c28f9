// parse_module and parse_network: every module's token parses back to the
// same module (token, parameter count, forward bits), networks nest, a user
// module joins through the registry, and malformed or hostile text is refused
// with an error that says where and what was expected.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "scvae/nn/dense.hpp"
#include "scvae/nn/elementwise.hpp"
#include "scvae/nn/gaussian_head.hpp"
#include "scvae/nn/one_hot.hpp"
#include "scvae/nn/parse.hpp"
#include "scvae/nn/reshape.hpp"
#include "scvae/nn/sequential.hpp"
#include "scvae/util/module_check.hpp"

namespace scvae {
namespace {

/// Whether `a` and `b` are the same module: same token, parameters, shapes,
/// and the same output bits for the same parameters and input.
template <typename Scalar>
void expect_same_module(const ModuleT<Scalar>& a, const ModuleT<Scalar>& b,
                        const Matrix<Scalar>* input = nullptr) {
  SCOPED_TRACE(a.token());
  ASSERT_EQ(a.token(), b.token());
  ASSERT_EQ(a.parameter_count(), b.parameter_count());
  ASSERT_EQ(a.input_shape(), b.input_shape());
  ASSERT_EQ(a.output_shape(), b.output_shape());
  ASSERT_EQ(a.gradient_part_count(), b.gradient_part_count());
  Rng rng(5);
  Vector<Scalar> p(a.parameter_count());
  a.initialize(p.data(), rng, {});
  Matrix<Scalar> x(a.inputs(), 3);
  if (input != nullptr)
    x = *input;
  else
    rng.fill_normal(x);
  Matrix<Scalar> ya(a.outputs(), 3), yb(b.outputs(), 3);
  auto wa = a.make_workspace(), wb = b.make_workspace();
  a.prepare(wa.get(), 3);
  b.prepare(wb.get(), 3);
  a.forward(p.data(), x, ya, wa.get());
  b.forward(p.data(), x, yb, wb.get());
  EXPECT_EQ(ya, yb);
}

/// parse_module(token()) of `module` is `module` again.
template <typename Scalar>
void expect_round_trip(const ModuleT<Scalar>& module, const Matrix<Scalar>* input = nullptr) {
  const ModulePtr<Scalar> parsed = parse_module<Scalar>(module.token(), module.input_shape());
  expect_same_module(module, *parsed, input);
}

TEST(Parse, EveryModuleRoundTrips) {
  expect_round_trip(DenseT<float>(Shape(1, 4, 4), 7));
  expect_round_trip(GaussianHeadT<float>(Shape::vector(9), 3));
  for (Activation a :
       {Activation::Identity, Activation::ReLU, Activation::Tanh, Activation::Sigmoid,
        Activation::Softplus, Activation::LeakyReLU, Activation::ELU})
    expect_round_trip(ElementwiseT<float>(Shape(2, 3, 1), a));
  expect_round_trip(FlattenT<float>(Shape(2, 3, 4)));
  expect_round_trip(ReshapeT<float>(Shape::vector(24), Shape(2, 3, 4)));
  expect_round_trip(ReshapeT<float>(Shape(2, 3, 4), Shape::vector(24)));
  Matrix<float> classes = Matrix<float>::Zero(6, 3);
  classes.row(5) << 0, 3, 1;
  expect_round_trip(AppendOneHotT<float>(Shape::vector(6), 4), &classes);
  expect_round_trip(SequentialT<float>(Shape::vector(3)));  // "[]"
}

TEST(Parse, NestedNetworksRoundTrip) {
  SequentialT<float> inner(Shape::vector(16));
  inner.add<DenseT>(8).add<TanhT>();
  SequentialT<float> net(Shape(1, 4, 4));
  net.add<FlattenT>().add(inner.clone()).add<DenseT>(12).add<ELUT>();
  net.add(std::make_unique<ReshapeT<float>>(Shape::vector(12), Shape(3, 2, 2)));
  net.add<SigmoidT>().add<FlattenT>().add<GaussianHeadT>(2);
  const std::string token =
      "[flatten [dense(8) tanh] dense(12) elu reshape(3x2x2) sigmoid flatten gaussian(2)]";
  EXPECT_EQ(net.token(), token);
  expect_round_trip(net);
  const auto parsed = parse_network<float>(token, Shape(1, 4, 4));
  expect_same_module<float>(net, *parsed);
  EXPECT_EQ(parsed->size(), 8u);
}

TEST(Parse, TheIssuesExample) {
  const auto net =
      parse_network<float>("[dense(400) relu [dense(3) tanh] gaussian(20)]", Shape::vector(784));
  EXPECT_EQ(net->token(), "[dense(400) relu [dense(3) tanh] gaussian(20)]");
  EXPECT_EQ(net->outputs(), 40);
  EXPECT_EQ(net->parameter_count(), 784 * 400 + 400 + 400 * 3 + 3 + 3 * 40 + 40);
}

TEST(Parse, WhitespaceBetweenModulesAndAround) {
  const auto net = parse_network<float>("  [ dense(4)\t relu\n[ tanh ] ]\n", Shape::vector(3));
  EXPECT_EQ(net->token(), "[dense(4) relu [tanh]]");
}

TEST(Parse, ParsedNetworkPassesTheGradientCheck) {
  const auto net = parse_network<double>(
      "[onehot(3) dense(5) softplus [dense(4) leaky_relu] gaussian(2)]", Shape::vector(4));
  ModuleCheckOptions options;
  options.input = Matrix<double>::Zero(4, 3);
  options.input->topRows(3).setRandom();
  options.input->row(3) << 2, 0, 1;
  options.check_input = false;
  const ModuleCheckResult result = check_module(*net, options);
  EXPECT_TRUE(result.passed()) << result.describe();
}

/// The message of the scvae::Error that `parse` throws ("" if none).
template <typename E = Error, typename F>
std::string error_of(F&& parse) {
  try {
    parse();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error was thrown";
  return "";
}

std::string network_error(const std::string& text, const Shape& input = Shape::vector(8)) {
  return error_of<ArgumentError>([&] { parse_network<float>(text, input); });
}

TEST(Parse, UnknownNameListsTheKnownOnes) {
  const std::string message = network_error("[dense(4) conv(3)]");
  EXPECT_NE(message.find("'conv'"), std::string::npos) << message;
  EXPECT_NE(message.find("character 10"), std::string::npos) << message;
  for (const char* known : {"dense", "elu", "flatten", "gaussian", "identity", "leaky_relu",
                            "onehot", "relu", "reshape", "sigmoid", "softplus", "tanh"})
    EXPECT_NE(message.find(known), std::string::npos) << known << " in " << message;
}

TEST(Parse, BadArgumentsSayWhichTokenAndWhat) {
  struct Case {
    const char* text;
    const char* expected;  ///< A part of the message.
  };
  for (const Case& c : std::vector<Case>{
           {"[dense(0)]", "dense(0): expected a positive integer"},
           {"[dense(-3)]", "dense(-3): expected a positive integer"},
           {"[dense(+3)]", "dense(+3)"},
           {"[dense(03)]", "dense(03)"},
           {"[dense(3.5)]", "dense(3.5)"},
           {"[dense(99999999999999999999)]", "dense(99999999999999999999)"},
           {"[dense(1099511627777)]", "dense(1099511627777)"},  // 2^40 + 1
           {"[dense(1099511627776)]", "at most 2^40 parameters"},
           {"[dense()]", "an argument inside dense()"},
           {"[dense(4]", "')' closing dense("},
           {"[dense(4 4)]", "')' closing dense("},
           {"[relu(2)]", "relu: expected no arguments"},
           {"[gaussian(x)]", "gaussian(x)"},
           {"[reshape(2x4)]", "expected a shape CxHxW or a size N"},
           {"[reshape(2xx3)]", "reshape(): expected a positive integer"},
           {"[onehot(0)]", "onehot(0)"},
       }) {
    const std::string message = network_error(c.text);
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.text << ": " << message;
  }
}

TEST(Parse, IsStrict) {
  for (const char* text :
       {"", "   ", "dense(4)", "[dense(4)", "[dense(4)]]", "[dense(4)] relu", "[dense(4)]x",
        "[dense(4)relu]", "[dense(4)[relu]]", "[[relu]relu]", "[dense(4)(5)]", "[dense (4)]",
        "[Dense(4)]", "[4]", "[,]", "[dense(4)\x1b[2J]"}) {
    SCOPED_TRACE(detail::printable(text));
    EXPECT_THROW(parse_network<float>(text, Shape::vector(8)), ArgumentError);
  }
  EXPECT_THROW(parse_module<float>("relu tanh", Shape::vector(8)), ArgumentError);
  EXPECT_THROW(parse_module<float>("relu]", Shape::vector(8)), ArgumentError);
  EXPECT_THROW(parse_network<float>(std::string("[relu]\0", 7), Shape::vector(8)), ArgumentError);
  // A control character in the text is escaped in the message.
  const std::string message = network_error("[dense(4)\x1b[2J]");
  EXPECT_EQ(message.find('\x1b'), std::string::npos) << message;
}

TEST(Parse, ShapeErrorsNameTheShapes) {
  const std::string message = error_of<ShapeError>(
      [] { parse_network<float>("[dense(12) reshape(64x7x7)]", Shape::vector(8)); });
  EXPECT_NE(message.find("64x7x7"), std::string::npos) << message;
  EXPECT_NE(message.find("12"), std::string::npos) << message;
  EXPECT_THROW(parse_network<float>("[onehot(3)]", Shape(1, 2, 2)), ShapeError);
}

TEST(Parse, NestingIsLimited) {
  auto nested = [](int depth) {
    return std::string(static_cast<std::size_t>(depth), '[') + "relu" +
           std::string(static_cast<std::size_t>(depth), ']');
  };
  EXPECT_NO_THROW(parse_network<float>(nested(kMaxArchitectureDepth), Shape::vector(2)));
  const std::string message = network_error(nested(kMaxArchitectureDepth + 1), Shape::vector(2));
  EXPECT_NE(message.find("nested at most 64"), std::string::npos) << message;
  // Far deeper than any stack would take, refused all the same.
  EXPECT_THROW(parse_network<float>(nested(1000000), Shape::vector(2)), ArgumentError);
}

TEST(Parse, ModuleAndParameterCountsAreLimited) {
  std::string many = "[";
  for (Index i = 0; i <= kMaxArchitectureModules; ++i) many += "relu ";
  many += "]";
  const std::string message = network_error(many, Shape::vector(2));
  EXPECT_NE(message.find("at most " + std::to_string(kMaxArchitectureModules) + " modules"),
            std::string::npos)
      << message;
  // Each layer fits, together they would not.
  const std::string wide = "[dense(1000000) dense(1000000) dense(1000000)]";
  EXPECT_NE(network_error(wide, Shape::vector(1)).find("at most 2^40 parameters"),
            std::string::npos);
}

/// A user's module: y = 2 x, token "twice" or "twice(k)" for y = 2^k x.
template <typename Scalar>
class TwiceT : public ModuleT<Scalar> {
 public:
  TwiceT(const Shape& input, Index power) : ModuleT<Scalar>(input, input), power_(power) {}
  std::string token() const override {
    return power_ == 1 ? "twice" : "twice(" + std::to_string(power_) + ")";
  }
  std::unique_ptr<ModuleT<Scalar>> clone() const override {
    return std::make_unique<TwiceT>(*this);
  }
  void forward(const Scalar*, const ConstMatrixRef<Scalar>& x, MatrixRef<Scalar> y,
               ModuleWorkspace*) const override {
    y = factor() * x;
  }
  void backward(const Scalar*, const ConstMatrixRef<Scalar>&, const ConstMatrixRef<Scalar>&,
                MatrixRef<Scalar> dy, InputGradient<Scalar> dx, ModuleWorkspace*) const override {
    if (!dx.wanted()) return;
    if (dx.write == GradientWrite::Add)
      *dx.matrix += factor() * dy;
    else
      *dx.matrix = factor() * dy;
  }

 private:
  Scalar factor() const { return static_cast<Scalar>(Index(1) << power_); }
  Index power_;
};

ModulePtr<double> make_twice(const std::string& arguments, const Shape& input) {
  const Index power = arguments.empty() ? 1 : parse_size_argument("twice", arguments);
  if (power > 10) throw ArgumentError("twice(" + arguments + "): expected a power up to 10");
  return std::make_unique<TwiceT<double>>(input, power);
}

TEST(ModuleRegistry, AUserModuleByName) {
  ModuleRegistry<double>& registry = ModuleRegistry<double>::instance();
  if (!registry.contains("twice")) registry.add("twice", make_twice);
  const auto names = registry.names();
  EXPECT_NE(std::find(names.begin(), names.end(), "twice"), names.end());
  EXPECT_FALSE(ModuleRegistry<float>::instance().contains("twice")) << "one registry per scalar";

  const std::string token = "[dense(4) twice relu [twice(3)] gaussian(1)]";
  const auto net = parse_network<double>(token, Shape::vector(3));
  EXPECT_EQ(net->token(), token);
  expect_same_module<double>(*net, *parse_network<double>(net->token(), Shape::vector(3)));
  const ModuleCheckResult result = check_module(*net);
  EXPECT_TRUE(result.passed()) << result.describe();
  // The user's errors come through with the position.
  const std::string message =
      error_of<ArgumentError>([] { parse_network<double>("[twice(11)]", Shape::vector(3)); });
  EXPECT_NE(message.find("expected a power up to 10"), std::string::npos) << message;
  EXPECT_NE(message.find("character 1"), std::string::npos) << message;
}

TEST(ModuleRegistry, ANameIsTakenOnceAndMustBeValid) {
  ModuleRegistry<double> registry;  // a private one: the library's modules and nothing else
  EXPECT_TRUE(registry.contains("dense"));
  EXPECT_FALSE(registry.contains("twice"));
  EXPECT_THROW(registry.add("dense", make_twice), ArgumentError);
  for (const char* bad : {"", "3d", "two words", "a(b)", "[x]", "x-y"})
    EXPECT_THROW(registry.add(bad, make_twice), ArgumentError) << bad;
  EXPECT_THROW(registry.add("nothing", ModuleRegistry<double>::Factory()), ArgumentError);
  registry.add("twice", make_twice);
  EXPECT_NO_THROW(parse_network<double>("[twice]", Shape::vector(2), registry));
  const ModuleRegistry<double> plain;
  EXPECT_THROW(parse_network<double>("[twice]", Shape::vector(2), plain), ArgumentError);
}

TEST(ModuleRegistry, AFactoryMustBuildOnTheInputShape) {
  ModuleRegistry<double> registry;
  registry.add("liar", [](const std::string&, const Shape&) -> ModulePtr<double> {
    return std::make_unique<ElementwiseT<double>>(Shape::vector(99), Activation::ReLU);
  });
  registry.add("nothing",
               [](const std::string&, const Shape&) -> ModulePtr<double> { return nullptr; });
  EXPECT_THROW(parse_network<double>("[liar]", Shape::vector(2), registry), ShapeError);
  EXPECT_THROW(parse_network<double>("[nothing]", Shape::vector(2), registry), ArgumentError);
}

}  // namespace
}  // namespace scvae
