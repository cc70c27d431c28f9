#include "scvae/nn/activation.hpp"

#include "../test_support.hpp"

namespace scvae {
namespace {

class ActivationGradient : public ::testing::TestWithParam<Activation> {};

TEST_P(ActivationGradient, MatchesFiniteDifferences) {
  const Activation activation = GetParam();
  const Matrix<double> weights = testing::random_matrix(4, 3, 11);
  const Vector<double> zero_bias = Vector<double>::Zero(4);
  auto loss = [&](const Vector<double>& flat) {
    Matrix<double> y = Eigen::Map<const Matrix<double>>(flat.data(), 4, 3);
    add_bias_and_activate(activation, y, zero_bias);
    return (y.array() * weights.array()).sum();
  };
  // Keep away from ReLU's kink at 0, where no derivative exists.
  Matrix<double> x = testing::random_matrix(4, 3, 7, 2.0);
  x = (x.array().abs() < 0.05).select(0.3, x);
  Matrix<double> y = x;
  add_bias_and_activate(activation, y, zero_bias);
  Matrix<double> delta(4, 3);
  activation_backward(activation, y, weights, delta);
  const Vector<double> point = Eigen::Map<const Vector<double>>(x.data(), x.size());
  const Vector<double> analytic = Eigen::Map<const Vector<double>>(delta.data(), delta.size());
  testing::expect_gradient_ok(check_gradient(loss, point, analytic));
}

INSTANTIATE_TEST_SUITE_P(All, ActivationGradient,
                         ::testing::Values(Activation::Identity, Activation::ReLU, Activation::Tanh,
                                           Activation::Sigmoid, Activation::Softplus),
                         [](const auto& info) { return std::string(activation_name(info.param)); });

TEST(Activation, ValuesByHand) {
  Matrix<double> y(1, 3);
  y << -1.0, 0.0, 2.0;
  const Vector<double> bias = Vector<double>::Constant(1, 0.5);
  Matrix<double> relu = y;
  add_bias_and_activate(Activation::ReLU, relu, bias);
  EXPECT_DOUBLE_EQ(relu(0, 0), 0.0);
  EXPECT_DOUBLE_EQ(relu(0, 1), 0.5);
  EXPECT_DOUBLE_EQ(relu(0, 2), 2.5);
  Matrix<double> softplus(1, 2);
  softplus << -1000.0, 1000.0;
  add_bias_and_activate(Activation::Softplus, softplus, Vector<double>::Zero(1));
  EXPECT_DOUBLE_EQ(softplus(0, 0), 0.0);
  EXPECT_DOUBLE_EQ(softplus(0, 1), 1000.0);
  Matrix<double> sigmoid(1, 1);
  sigmoid << 0.0;
  add_bias_and_activate(Activation::Sigmoid, sigmoid, Vector<double>::Zero(1));
  EXPECT_DOUBLE_EQ(sigmoid(0, 0), 0.5);
}

TEST(Activation, NamesRoundTripAndUnknownThrows) {
  for (Activation a : {Activation::Identity, Activation::ReLU, Activation::Tanh,
                       Activation::Sigmoid, Activation::Softplus})
    EXPECT_EQ(activation_from_name(activation_name(a)), a);
  EXPECT_THROW(activation_from_name("gelu"), Error);
}

}  // namespace
}  // namespace scvae
