#include "scvae/nn/mlp.hpp"

#include "../test_support.hpp"

namespace scvae {
namespace {

TEST(Mlp, GradientMatchesFiniteDifferences) {
  const Index n = 4;
  for (Activation hidden : {Activation::ReLU, Activation::Tanh, Activation::Softplus}) {
    ParameterLayout layout;
    MlpT<double> mlp({5, 7, 6, 3}, hidden, Activation::Sigmoid, layout);
    ASSERT_EQ(mlp.parameter_count(), layout.total());
    Vector<double> values(layout.total());
    Rng rng(17);
    mlp.initialize(values.data(), rng);
    const Matrix<double> x = testing::random_matrix(5, n, 19);
    const Matrix<double> projection = testing::random_matrix(3, n, 23);
    const Index p = layout.total();
    Vector<double> point(p + x.size());
    point << values, Eigen::Map<const Vector<double>>(x.data(), x.size());
    typename MlpT<double>::Workspace ws;
    auto loss = [&](const Vector<double>& flat) {
      Matrix<double> input = Eigen::Map<const Matrix<double>>(flat.data() + p, 5, n);
      typename MlpT<double>::Workspace local;
      return (mlp.forward(flat.data(), input, local).array() * projection.array()).sum();
    };
    mlp.forward(values.data(), x, ws);
    Vector<double> gradients = Vector<double>::Zero(p);
    Matrix<double> input_gradient(5, n);
    MatrixRef<double> input_gradient_ref(input_gradient);
    mlp.backward(values.data(), gradients.data(), x, projection, ws, &input_gradient_ref);
    Vector<double> analytic(point.size());
    analytic << gradients, Eigen::Map<const Vector<double>>(input_gradient.data(), x.size());
    SCOPED_TRACE(activation_name(hidden));
    testing::expect_gradient_ok(check_gradient(loss, point, analytic));
  }
}

TEST(Mlp, RejectsTooFewSizesAndWrongInput) {
  ParameterLayout layout;
  EXPECT_THROW(MlpT<double>({5}, Activation::ReLU, Activation::Identity, layout), ArgumentError);
  EXPECT_THROW(MlpT<double>({5, 0, 2}, Activation::ReLU, Activation::Identity, layout),
               ArgumentError);
  MlpT<double> mlp({3, 2}, Activation::ReLU, Activation::Identity, layout);
  Vector<double> values = Vector<double>::Zero(layout.total());
  typename MlpT<double>::Workspace ws;
  Matrix<double> x(4, 1);
  EXPECT_THROW(mlp.forward(values.data(), x, ws), ShapeError);
}

}  // namespace
}  // namespace scvae
