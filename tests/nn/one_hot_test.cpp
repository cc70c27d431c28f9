// AppendOneHotT: [h; class] -> [h; onehot(class)], its gradients (the
// features' through the harness, the class row's 0), its checks of the class
// values and of its input shape, and the module inside a network as M2's
// q(z|x,y) and p(x|z,y) use it.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "scvae/nn/dense.hpp"
#include "scvae/nn/elementwise.hpp"
#include "scvae/nn/gaussian_head.hpp"
#include "scvae/nn/one_hot.hpp"
#include "scvae/nn/sequential.hpp"
#include "scvae/util/gradient_check.hpp"
#include "scvae/util/module_check.hpp"

namespace scvae {
namespace {

/// `features` N(0, 1) rows over `classes` and a last row of valid classes.
Matrix<double> input_with_classes(Index features, Index columns, Index classes) {
  Matrix<double> x(features + 1, columns);
  Rng rng(7);
  rng.fill_normal(x);
  for (Index j = 0; j < columns; ++j) x(features, j) = static_cast<double>((j * 2 + 1) % classes);
  return x;
}

TEST(AppendOneHot, ShapesAndToken) {
  const AppendOneHotT<double> module(Shape::vector(5), 10);
  EXPECT_EQ(module.features(), 4);
  EXPECT_EQ(module.output_shape(), Shape::vector(14));
  EXPECT_EQ(module.parameter_count(), 0);
  EXPECT_EQ(module.token(), "onehot(10)");
  EXPECT_EQ(module.clone()->token(), "onehot(10)");
}

TEST(AppendOneHot, Forward) {
  const AppendOneHotT<float> module(Shape::vector(3), 4);
  Matrix<float> x(3, 3), y(6, 3);
  x << 1, 2, 3,         //
      4, 5, 6,          //
      3, 0, 1;          // the classes
  y.setConstant(7.0f);  // every value must be written
  module.forward(nullptr, x, y, nullptr);
  Matrix<float> expected(6, 3);
  expected << 1, 2, 3,  //
      4, 5, 6,          //
      0, 1, 0,          //
      0, 0, 1,          //
      0, 0, 0,          //
      1, 0, 0;
  EXPECT_EQ(y, expected);
}

TEST(AppendOneHot, OnlyTheClass) {
  // No features: the output is the one-hot alone (a prior p(z|y), say).
  const AppendOneHotT<double> module(Shape::vector(1), 3);
  Matrix<double> x(1, 2), y(3, 2);
  x << 2, 0;
  module.forward(nullptr, x, y, nullptr);
  Matrix<double> expected(3, 2);
  expected << 0, 1, 0, 0, 1, 0;
  EXPECT_EQ(y, expected);
}

TEST(AppendOneHot, GradientCheck) {
  // The class row is not continuous: the harness holds it fixed, checks that
  // its gradient is 0, and checks the feature rows by finite differences.
  const AppendOneHotT<double> module(Shape::vector(5), 3);
  ModuleCheckOptions options;
  options.columns = 4;
  options.input = input_with_classes(4, 4, 3);
  options.constant_input_rows = {4};
  const ModuleCheckResult result = check_module(module, options);
  EXPECT_TRUE(result.passed()) << result.describe();
  EXPECT_TRUE(result.constant_rows_have_zero_gradient);
}

TEST(AppendOneHot, RefusesABadClass) {
  const AppendOneHotT<double> module(Shape::vector(3), 10);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const double bad : {-1.0, 10.0, 2.5, nan, std::numeric_limits<double>::infinity()}) {
    Matrix<double> x = Matrix<double>::Zero(3, 3), y(12, 3);
    x(2, 1) = bad;
    try {
      module.forward(nullptr, x, y, nullptr);
      ADD_FAILURE() << "class " << bad << " was accepted";
    } catch (const ArgumentError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("column 1"), std::string::npos) << message;
      EXPECT_NE(message.find("[0, 10)"), std::string::npos) << message;
    }
  }
  Matrix<double> x = Matrix<double>::Zero(3, 1), y(12, 1);
  x(2, 0) = 9.0;
  EXPECT_NO_THROW(module.forward(nullptr, x, y, nullptr));
}

TEST(AppendOneHot, RefusesBadShapes) {
  EXPECT_THROW(AppendOneHotT<double>(Shape(1, 2, 2), 3), ShapeError);
  EXPECT_THROW(AppendOneHotT<double>(Shape::vector(3), 0), ArgumentError);
  EXPECT_THROW(AppendOneHotT<double>(Shape::vector(3), std::numeric_limits<Index>::max()),
               ArgumentError);
  const AppendOneHotT<double> module(Shape::vector(3), 2);
  Matrix<double> x = Matrix<double>::Zero(3, 2), y(5, 3);
  EXPECT_THROW(module.forward(nullptr, x, y, nullptr), ShapeError);
}

TEST(AppendOneHot, InsideANetworkAsM2Uses) {
  // q(z|x,y): [h; y] -> gaussian([h; onehot(y)]); p(x|z,y): [z; y] -> dense ...
  SequentialT<double> latent(Shape::vector(6));
  latent.add<AppendOneHotT>(3).add<GaussianHeadT>(2);
  EXPECT_EQ(latent.token(), "[onehot(3) gaussian(2)]");
  SequentialT<double> decoder(Shape::vector(3));
  decoder.add<AppendOneHotT>(3).add<DenseT>(5).add<ReLUT>().add<DenseT>(4);
  for (const SequentialT<double>* net : {&latent, &decoder}) {
    ModuleCheckOptions options;
    options.input = input_with_classes(net->inputs() - 1, 3, 3);
    options.check_input = false;
    const ModuleCheckResult result = check_module(*net, options);
    EXPECT_TRUE(result.passed()) << net->token() << ": " << result.describe();
  }
}

}  // namespace
}  // namespace scvae
