// ReshapeT and FlattenT: shapes, the copy both ways, the gradient harness
// alone and inside a network, and the refusal of a shape of another size.

#include <gtest/gtest.h>

#include <string>

#include "scvae/nn/dense.hpp"
#include "scvae/nn/elementwise.hpp"
#include "scvae/nn/reshape.hpp"
#include "scvae/nn/sequential.hpp"
#include "scvae/util/module_check.hpp"

namespace scvae {
namespace {

TEST(Reshape, ShapesAndToken) {
  const ReshapeT<double> reshape(Shape::vector(12), Shape(3, 2, 2));
  EXPECT_EQ(reshape.input_shape(), Shape::vector(12));
  EXPECT_EQ(reshape.output_shape(), Shape(3, 2, 2));
  EXPECT_EQ(reshape.parameter_count(), 0);
  EXPECT_EQ(reshape.token(), "reshape(3x2x2)");
  EXPECT_EQ(ReshapeT<double>(Shape(3, 2, 2), Shape::vector(12)).token(), "reshape(12)");
  EXPECT_EQ(reshape.clone()->token(), "reshape(3x2x2)");
}

TEST(Reshape, ForwardKeepsTheValuesInOrder) {
  const ReshapeT<float> reshape(Shape(2, 2, 3), Shape(3, 4, 1));
  Matrix<float> x(12, 2), y(12, 2);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(i);
  reshape.forward(nullptr, x, y, nullptr);
  EXPECT_EQ(y, x);
}

TEST(Reshape, GradientCheck) {
  const ReshapeT<double> reshape(Shape(2, 3, 2), Shape(4, 3, 1));
  const ModuleCheckResult result = check_module(reshape);
  EXPECT_TRUE(result.passed()) << result.describe();
}

TEST(Reshape, RefusesAnotherFeatureCount) {
  try {
    ReshapeT<double>(Shape(1, 28, 28), Shape(64, 7, 7));
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("1x28x28"), std::string::npos) << message;
    EXPECT_NE(message.find("64x7x7"), std::string::npos) << message;
  }
  EXPECT_THROW(ReshapeT<double>(Shape::vector(4), Shape(0, 2, 2)), ArgumentError);
}

TEST(Reshape, RefusesAWrongBatch) {
  const ReshapeT<double> reshape(Shape::vector(4), Shape(1, 2, 2));
  Matrix<double> x(5, 2), y(4, 2);
  x.setZero();
  EXPECT_THROW(reshape.forward(nullptr, x, y, nullptr), ShapeError);
}

TEST(Flatten, ShapesTokenAndGradient) {
  const FlattenT<double> flatten(Shape(2, 3, 2));
  EXPECT_EQ(flatten.output_shape(), Shape::vector(12));
  EXPECT_EQ(flatten.token(), "flatten");
  const ModuleCheckResult result = check_module(flatten);
  EXPECT_TRUE(result.passed()) << result.describe();
  EXPECT_THROW(FlattenT<double>(Shape(2, -1, 2)), ArgumentError);
}

TEST(Flatten, GradientIsAddedWhenAsked) {
  const FlattenT<double> flatten(Shape(1, 2, 2));
  Matrix<double> x = Matrix<double>::Zero(4, 1), y(4, 1), dy = Matrix<double>::Ones(4, 1);
  Matrix<double> dx = Matrix<double>::Constant(4, 1, 2.0);
  flatten.forward(nullptr, x, y, nullptr);
  MatrixRef<double> dx_ref(dx);
  flatten.backward(nullptr, x, y, dy, {&dx_ref, GradientWrite::Add}, nullptr);
  EXPECT_EQ(dx, Matrix<double>::Constant(4, 1, 3.0));
  flatten.backward(nullptr, x, y, dy, {&dx_ref, GradientWrite::Overwrite}, nullptr);
  EXPECT_EQ(dx, Matrix<double>::Ones(4, 1));
}

TEST(Reshape, InsideANetwork) {
  // A dense layer's output read as an image, flattened again for the next one.
  SequentialT<double> net(Shape(1, 3, 3));
  net.add<FlattenT>().add<DenseT>(8).add<TanhT>();
  net.add(std::make_unique<ReshapeT<double>>(net.output_shape(), Shape(2, 2, 2)));
  net.add<ReLUT>().add<FlattenT>().add<DenseT>(3);
  EXPECT_EQ(net.token(), "[flatten dense(8) tanh reshape(2x2x2) relu flatten dense(3)]");
  const ModuleCheckResult result = check_module(net);
  EXPECT_TRUE(result.passed()) << result.describe();
}

}  // namespace
}  // namespace scvae
