// The "Writing your own module" listing of docs/modules.md, compiled and run.
// The code between the two "listing" marker lines below must stay identical
// to the listing in docs/modules.md (the block after its
// "<!-- listing: tests/docs/modules_example_test.cpp -->" line): the test
// ListingMatchesTheDocs compares them, so change both together.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

// listing begin
#include <algorithm>
#include <memory>
#include <string>

#include "scvae/nn/parse.hpp"
#include "scvae/util/module_check.hpp"

// y = a .* x: one learned scale per feature, for any input shape.
template <typename Scalar>
class ScaleT : public scvae::ModuleT<Scalar> {
 public:
  using Base = scvae::ModuleT<Scalar>;
  explicit ScaleT(const scvae::Shape& input) : Base(input, input) {}

  std::string token() const override { return "scale"; }
  std::unique_ptr<Base> clone() const override { return std::make_unique<ScaleT>(*this); }
  scvae::Index parameter_count() const override { return this->inputs(); }
  void initialize(Scalar* a, scvae::Rng&, const scvae::InitOptions&) const override {
    std::fill(a, a + this->inputs(), Scalar(1));  // start as the identity
  }
  void forward(const Scalar* a, const scvae::ConstMatrixRef<Scalar>& x, scvae::MatrixRef<Scalar> y,
               scvae::ModuleWorkspace*) const override {
    y = scale(a).asDiagonal() * x;
  }
  void backward(const Scalar* a, const scvae::ConstMatrixRef<Scalar>&,
                const scvae::ConstMatrixRef<Scalar>&, scvae::MatrixRef<Scalar> dy,
                scvae::InputGradient<Scalar> dx, scvae::ModuleWorkspace*) const override {
    if (!dx.wanted()) return;  // dL/dx = a .* dL/dy
    if (dx.write == scvae::GradientWrite::Add)
      *dx.matrix += scale(a).asDiagonal() * dy;
    else
      *dx.matrix = scale(a).asDiagonal() * dy;
  }
  void parameter_gradient(const scvae::ConstMatrixRef<Scalar>& x,
                          const scvae::ConstMatrixRef<Scalar>& dy, Scalar* da,
                          scvae::GradientWrite write, scvae::ModuleWorkspace*) const override {
    scvae::VectorMap<Scalar> gradient(da, this->inputs());  // dL/da = sum_j x_j .* dL/dy_j
    if (write == scvae::GradientWrite::Overwrite) gradient.setZero();
    gradient += x.cwiseProduct(dy).rowwise().sum();
  }

 private:
  scvae::ConstVectorMap<Scalar> scale(const Scalar* a) const { return {a, this->inputs()}; }
};

// Check it with the harness, give it a name, and use it in architecture text.
std::unique_ptr<scvae::SequentialT<float>> scale_example() {
  const ScaleT<double> scale(scvae::Shape(2, 3, 3));
  const scvae::ModuleCheckResult check = scvae::check_module(scale);
  if (!check.passed()) throw std::runtime_error(check.describe());

  scvae::ModuleRegistry<float>::instance().add(
      "scale", [](const std::string& arguments, const scvae::Shape& input) {
        scvae::expect_no_arguments("scale", arguments);
        return scvae::ModulePtr<float>(std::make_unique<ScaleT<float>>(input));
      });
  return scvae::parse_network<float>("[scale flatten dense(400) relu gaussian(20)]",
                                     scvae::Shape(1, 28, 28));
}
// listing end

namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The text between the line holding `begin` and the next line starting with
/// `end`, each line with its newline.
std::string between(const std::string& text, const std::string& begin, const std::string& end) {
  const std::size_t marker = text.find(begin);
  if (marker == std::string::npos) return "<no " + begin + ">";
  const std::size_t start = text.find('\n', marker + begin.size()) + 1;
  const std::size_t stop = text.find("\n" + end, start - 1);
  if (stop == std::string::npos) return "<no " + end + ">";
  return text.substr(start, stop + 1 - start);
}

TEST(ModulesDocs, ListingMatchesTheDocs) {
  const fs::path here = fs::path(__FILE__);
  const std::string source = read_text(here);
  const std::string docs = read_text(here.parent_path() / ".." / ".." / "docs" / "modules.md");
  const std::string in_test = between(source, "// listing begin", "// listing end");
  const std::string in_docs =
      between(docs, "<!-- listing: tests/docs/modules_example_test.cpp -->\n```cpp", "```");
  EXPECT_GT(in_test.size(), 500u);
  EXPECT_EQ(in_docs, in_test) << "docs/modules.md's listing and this file's differ";
}

TEST(ModulesDocs, TheExampleRuns) {
  const auto encoder = scale_example();
  EXPECT_EQ(encoder->token(), "[scale flatten dense(400) relu gaussian(20)]");
  EXPECT_EQ(encoder->parameter_count(), 784 + 784 * 400 + 400 + 400 * 40 + 40);
  EXPECT_EQ(encoder->outputs(), 40);
  // Its scale starts as the identity: the network reads the image unchanged.
  scvae::Vector<float> parameters(encoder->parameter_count());
  scvae::Rng rng(1);
  encoder->initialize(parameters.data(), rng, {});
  EXPECT_EQ(parameters.head(784), scvae::Vector<float>::Ones(784));
}

TEST(ModulesDocs, TheHarnessCatchesABrokenScale) {
  // The listing's check must be able to fail: a scale whose parameter
  // gradient is off by a factor does not pass.
  struct Broken : ScaleT<double> {
    using ScaleT<double>::ScaleT;
    void parameter_gradient(const scvae::ConstMatrixRef<double>& x,
                            const scvae::ConstMatrixRef<double>& dy, double* da,
                            scvae::GradientWrite write, scvae::ModuleWorkspace* ws) const override {
      ScaleT<double>::parameter_gradient(x, 1.01 * dy, da, write, ws);
    }
  };
  EXPECT_FALSE(scvae::check_module(Broken(scvae::Shape::vector(4))).passed());
  EXPECT_TRUE(scvae::check_module(ScaleT<double>(scvae::Shape::vector(4))).passed());
}

}  // namespace
