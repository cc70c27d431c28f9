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

// A deferred backward plus parameter_gradient() per layer gives the
// accumulating backward's gradients, for the whole batch or summed over two
// halves of it (as the model's threads do), and the same input gradient.
TEST(Mlp, DeferredParameterGradientsEqualTheAccumulatingBackward) {
  const Index n = 6;
  ParameterLayout layout;
  MlpT<double> mlp({5, 7, 6, 3}, Activation::Softplus, Activation::Tanh, layout);
  Vector<double> values(layout.total());
  Rng rng(17);
  mlp.initialize(values.data(), rng);
  const Matrix<double> x = testing::random_matrix(5, n, 19);
  const Matrix<double> upstream = testing::random_matrix(3, n, 23);

  typename MlpT<double>::Workspace ws;
  mlp.forward(values.data(), x, ws);
  Vector<double> expected = Vector<double>::Zero(layout.total());
  Matrix<double> expected_input_gradient(5, n);
  MatrixRef<double> expected_ref(expected_input_gradient);
  mlp.backward(values.data(), expected.data(), x, upstream, ws, &expected_ref);

  // Whole batch: gradients may be null in a deferred backward.
  mlp.forward(values.data(), x, ws);
  Matrix<double> input_gradient(5, n);
  MatrixRef<double> input_ref(input_gradient);
  mlp.backward(values.data(), nullptr, x, upstream, ws, &input_ref, false,
               ParameterGradients::Defer);
  EXPECT_TRUE(input_gradient.isApprox(expected_input_gradient, 1e-14));
  Vector<double> deferred = Vector<double>::Constant(layout.total(), 7.0);  // overwritten
  for (std::size_t l = 0; l < mlp.layers().size(); ++l)
    mlp.parameter_gradient(l, deferred.data(), x, ws, false);
  EXPECT_TRUE(deferred.isApprox(expected, 1e-14));

  // Two halves: the first written, the second added.
  Vector<double> halves = Vector<double>::Constant(layout.total(), 7.0);
  for (int half = 0; half < 2; ++half) {
    const auto cols = x.middleCols(half * 3, 3);
    typename MlpT<double>::Workspace part;
    mlp.forward(values.data(), cols, part);
    mlp.backward(values.data(), nullptr, cols, upstream.middleCols(half * 3, 3), part, nullptr,
                 false, ParameterGradients::Defer);
    for (std::size_t l = 0; l < mlp.layers().size(); ++l)
      mlp.parameter_gradient(l, halves.data(), cols, part, half > 0);
  }
  EXPECT_TRUE(halves.isApprox(expected, 1e-14));
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
