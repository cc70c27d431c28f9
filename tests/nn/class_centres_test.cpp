#include "scvae/nn/class_centres.hpp"

#include <gtest/gtest.h>
#include "scvae/nn/parse.hpp"
#include "scvae/util/module_check.hpp"

namespace scvae {
namespace {

TEST(ClassCentres, GradientsMatchFiniteDifferences) {
  for (Index classes : {2, 5}) {
    SCOPED_TRACE(classes);
    const ClassCentresT<double> centres(Shape::vector(4), classes);
    const ModuleCheckResult result = check_module(centres);
    EXPECT_TRUE(result.passed()) << result.describe();
  }
}

TEST(ClassCentres, LogitsAreMinusHalfTheSquaredDistanceToEachCentre) {
  const ClassCentresT<double> module(Shape::vector(2), 3);
  EXPECT_EQ(module.parameter_count(), 6);
  EXPECT_EQ(module.token(), "centres(3)");
  // Centres (0, 0), (1, 0) and (0, 2), one per column.
  const std::vector<double> parameters{0, 0, 1, 0, 0, 2};
  Matrix<double> x(2, 2);
  // clang-format off
  x << 1, 0,
       1, 2;
  // clang-format on
  Matrix<double> out(3, 2);
  module.forward(parameters.data(), x, out, nullptr);
  Matrix<double> expected(3, 2);
  // clang-format off
  expected << -1.0, -2.0,
              -0.5, -2.5,
              -1.0,  0.0;
  // clang-format on
  EXPECT_TRUE(out.isApprox(expected, 1e-15)) << out;
}

TEST(ClassCentres, ParsesFromItsTokenAndRefusesWhatCannotBeBuilt) {
  const ModulePtr<float> parsed = parse_module<float>("centres(10)", Shape::vector(20));
  EXPECT_EQ(parsed->token(), "centres(10)");
  EXPECT_EQ(parsed->outputs(), 10);
  EXPECT_EQ(parsed->parameter_count(), 200);
  EXPECT_THROW(parse_module<float>("centres(0)", Shape::vector(3)), ArgumentError);
  EXPECT_THROW(parse_module<float>("centres", Shape::vector(3)), ArgumentError);
  EXPECT_THROW(parse_module<float>("centres(3)", Shape(1, 2, 2)), ShapeError);
  // 2^21 inputs x 2^20 classes would be 2^41 parameters: refused before counting them.
  EXPECT_THROW(ClassCentres(Shape::vector(Index(1) << 21), Index(1) << 20), ArgumentError);
}

TEST(ClassCentres, InitialCentresAreStandardNormalDraws) {
  const ClassCentresT<double> module(Shape::vector(50), 40);
  std::vector<double> values(static_cast<std::size_t>(module.parameter_count()));
  Rng rng(3);
  module.initialize(values.data(), rng, InitOptions{});
  const Eigen::Map<const Vector<double>> v(values.data(), module.parameter_count());
  const double mean = v.mean();
  const double variance = (v.array() - mean).square().mean();
  EXPECT_NEAR(mean, 0.0, 0.1);
  EXPECT_NEAR(variance, 1.0, 0.1);
}

}  // namespace
}  // namespace scvae
