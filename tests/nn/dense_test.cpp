#include "scvae/nn/dense.hpp"
#include "scvae/nn/dense_layer.hpp"

#include "../test_support.hpp"

namespace scvae {
namespace {

TEST(DenseLayer, ForwardByHand) {
  ParameterLayout layout;
  DenseLayerT<double> dense(2, 2, Activation::ReLU, layout);
  ASSERT_EQ(layout.total(), 6);
  Vector<double> values(6);
  // W = [1 2; 3 -4] column-major, then b = [0.5, -1].
  values << 1, 3, 2, -4, 0.5, -1;
  Matrix<double> x(2, 2);
  x << 1, 0, 1, 2;
  Matrix<double> y(2, 2);
  dense.forward(values.data(), x, y);
  // Column 0: W*[1,1] + b = [3.5, -2] -> relu [3.5, 0]; column 1: [4.5, -9] -> [4.5, 0].
  EXPECT_DOUBLE_EQ(y(0, 0), 3.5);
  EXPECT_DOUBLE_EQ(y(1, 0), 0.0);
  EXPECT_DOUBLE_EQ(y(0, 1), 4.5);
  EXPECT_DOUBLE_EQ(y(1, 1), 0.0);
}

class DenseGradient : public ::testing::TestWithParam<Activation> {};

TEST_P(DenseGradient, ParametersAndInputMatchFiniteDifferences) {
  const Index in = 5, out = 4, n = 3;
  ParameterLayout layout;
  DenseLayerT<double> dense(in, out, GetParam(), layout);
  Vector<double> values(layout.total());
  Rng rng(3);
  dense.initialize(values.data(), rng);
  dense.bias(values.data()) = testing::random_matrix(out, 1, 5, 0.3);
  const Matrix<double> x = testing::random_matrix(in, n, 9);
  const Matrix<double> projection = testing::random_matrix(out, n, 13);

  // One flat point: the parameters followed by the input.
  const Index p = layout.total();
  Vector<double> point(p + x.size());
  point << values, Eigen::Map<const Vector<double>>(x.data(), x.size());
  auto loss = [&](const Vector<double>& flat) {
    Matrix<double> input = Eigen::Map<const Matrix<double>>(flat.data() + p, in, n);
    Matrix<double> y(out, n);
    dense.forward(flat.data(), input, y);
    return (y.array() * projection.array()).sum();
  };

  Matrix<double> y(out, n);
  dense.forward(values.data(), x, y);
  Matrix<double> delta = projection;
  Vector<double> gradients = Vector<double>::Zero(p);
  Matrix<double> input_gradient(in, n);
  MatrixRef<double> input_gradient_ref(input_gradient);
  dense.backward(values.data(), gradients.data(), x, y, delta, &input_gradient_ref);
  Vector<double> analytic(point.size());
  analytic << gradients, Eigen::Map<const Vector<double>>(input_gradient.data(), x.size());
  testing::expect_gradient_ok(check_gradient(loss, point, analytic));
}

INSTANTIATE_TEST_SUITE_P(All, DenseGradient,
                         ::testing::Values(Activation::Identity, Activation::ReLU, Activation::Tanh,
                                           Activation::Sigmoid, Activation::Softplus),
                         [](const auto& info) { return std::string(activation_name(info.param)); });

TEST(DenseLayer, BackwardAccumulatesParameterGradients) {
  ParameterLayout layout;
  DenseLayerT<double> dense(3, 2, Activation::Identity, layout);
  Vector<double> values = Vector<double>::Ones(layout.total());
  const Matrix<double> x = testing::random_matrix(3, 4, 1);
  Matrix<double> y(2, 4);
  dense.forward(values.data(), x, y);
  Vector<double> once = Vector<double>::Zero(layout.total());
  Matrix<double> delta = Matrix<double>::Ones(2, 4);
  dense.backward(values.data(), once.data(), x, y, delta);
  Vector<double> twice = once;
  delta.setOnes();
  dense.backward(values.data(), twice.data(), x, y, delta);
  EXPECT_TRUE(twice.isApprox(2.0 * once));
}

TEST(DenseLayer, DeferredParameterGradientEqualsTheAccumulatingBackward) {
  for (Activation activation : {Activation::ReLU, Activation::Sigmoid}) {
    ParameterLayout layout;
    DenseLayerT<double> dense(3, 4, activation, layout);
    Vector<double> values(layout.total());
    Rng rng(3);
    dense.initialize(values.data(), rng, Initialization::PyTorch);
    const Matrix<double> x = testing::random_matrix(3, 5, 1);
    const Matrix<double> upstream = testing::random_matrix(4, 5, 2);
    Matrix<double> y(4, 5);
    dense.forward(values.data(), x, y);
    Vector<double> expected = Vector<double>::Zero(layout.total());
    Matrix<double> delta = upstream, expected_dx(3, 5);
    MatrixRef<double> expected_ref(expected_dx);
    dense.backward(values.data(), expected.data(), x, y, delta, &expected_ref);

    Matrix<double> deferred_delta = upstream, dx(3, 5);
    MatrixRef<double> dx_ref(dx);
    dense.backward(values.data(), nullptr, x, y, deferred_delta, &dx_ref, false,
                   ParameterGradients::Defer);
    EXPECT_TRUE(dx.isApprox(expected_dx, 1e-14));
    Vector<double> gradients = Vector<double>::Constant(layout.total(), -3.0);
    dense.parameter_gradient(gradients.data(), x, deferred_delta, false);  // written
    EXPECT_TRUE(gradients.isApprox(expected, 1e-14));
    dense.parameter_gradient(gradients.data(), x, deferred_delta, true);  // added
    EXPECT_TRUE(gradients.isApprox(2.0 * expected, 1e-14));
    EXPECT_THROW(dense.parameter_gradient(gradients.data(), x, deferred_delta.topRows(3), false),
                 ShapeError);
  }
}

TEST(DenseLayer, ShapeAndSizeErrors) {
  ParameterLayout layout;
  EXPECT_THROW(DenseLayerT<double>(0, 2, Activation::ReLU, layout), ArgumentError);
  EXPECT_THROW(DenseLayerT<double>(2, 0, Activation::ReLU, layout), ArgumentError);
  DenseLayerT<double> dense(3, 2, Activation::ReLU, layout);
  Vector<double> values = Vector<double>::Zero(layout.total());
  Matrix<double> wrong_rows(4, 2), y(2, 2);
  try {
    dense.forward(values.data(), wrong_rows, y);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("expected 3 rows, got 4"), std::string::npos) << e.what();
  }
  Matrix<double> x(3, 2), wrong_out(2, 3);
  EXPECT_THROW(dense.forward(values.data(), x, wrong_out), ShapeError);
}

TEST(DenseLayer, InitialisationIsSeededAndScaled) {
  ParameterLayout layout;
  DenseLayerT<double> relu(400, 300, Activation::ReLU, layout);
  DenseLayerT<double> tanh(400, 300, Activation::Tanh, layout);
  Vector<double> a(layout.total()), b(layout.total());
  Rng rng_a(42), rng_b(42);
  relu.initialize(a.data(), rng_a);
  tanh.initialize(a.data(), rng_a);
  relu.initialize(b.data(), rng_b);
  tanh.initialize(b.data(), rng_b);
  EXPECT_EQ(a, b);
  // Uniform(-l, l) has variance l^2 / 3: He 2/fan_in, Glorot 2/(fan_in+fan_out).
  const auto variance = [](const auto& w) { return w.array().square().mean(); };
  EXPECT_NEAR(variance(relu.weights(a.data())), 2.0 / 400, 0.1 * 2.0 / 400);
  EXPECT_NEAR(variance(tanh.weights(a.data())), 2.0 / 700, 0.1 * 2.0 / 700);
  EXPECT_TRUE(relu.bias(a.data()).isZero());
}

TEST(DenseLayer, PyTorchInitialisationMatchesTorchNnLinear) {
  ParameterLayout layout;
  DenseLayerT<double> dense(400, 300, Activation::ReLU, layout);
  Vector<double> values(layout.total());
  Rng rng(42);
  dense.initialize(values.data(), rng, Initialization::PyTorch);
  const double limit = 1.0 / std::sqrt(400.0);
  EXPECT_LE(values.cwiseAbs().maxCoeff(), limit);
  // U(-l, l) has variance l^2 / 3, for the weights and the bias alike.
  EXPECT_NEAR(dense.weights(values.data()).array().square().mean(), limit * limit / 3,
              0.05 * limit * limit / 3);
  EXPECT_NEAR(dense.bias(values.data()).array().square().mean(), limit * limit / 3,
              0.3 * limit * limit / 3);
}

// A large layer's weight gradient comes in column blocks so that threads can
// share one layer; together they must be the whole gradient, bit for bit (the
// whole one is what check_module checks), in every size a model uses.
TEST(Dense, GradientPartsTileTheSliceAndGiveTheWholeGradientsBits) {
  struct Case {
    Index inputs, outputs, columns;
  };
  // M2's trunk and decoder, the VAE's, one with a ragged last block, and
  // chunk widths that are not multiples of any kernel's tile.
  for (const Case& c : {Case{784, 600, 64}, Case{600, 784, 517}, Case{784, 400, 64},
                        Case{400, 784, 33}, Case{1000, 300, 7}, Case{30, 600, 100}}) {
    const DenseT<float> dense(Shape::vector(c.inputs), c.outputs);
    SCOPED_TRACE(std::to_string(c.inputs) + " -> " + std::to_string(c.outputs) + " on " +
                 std::to_string(c.columns) + " columns");
    Index next = 0;
    for (Index p = 0; p < dense.gradient_part_count(); ++p) {
      const GradientPart part = dense.gradient_part(p);
      EXPECT_EQ(part.offset, next);
      EXPECT_EQ(part.offset % (16 * c.outputs), 0);
      next += part.size;
    }
    EXPECT_EQ(next, dense.parameter_count());
    if (c.inputs * c.outputs >= 2 * 65536) {
      EXPECT_GT(dense.gradient_part_count(), 1);
    }

    const Matrix<float> x = testing::random_matrix(c.inputs, c.columns, 1).cast<float>();
    const Matrix<float> delta = testing::random_matrix(c.outputs, c.columns, 2).cast<float>();
    for (GradientWrite write : {GradientWrite::Overwrite, GradientWrite::Add}) {
      const Vector<float> start = testing::random_matrix(dense.parameter_count(), 1, 3).cast<float>();
      Vector<float> whole = start, parts = start;
      dense.parameter_gradient(x, delta, whole.data(), write, nullptr);
      // Last part first: no part may reach outside its own block.
      for (Index p = dense.gradient_part_count(); p-- > 0;)
        dense.part_gradient(p, x, delta, parts.data(), write, nullptr);
      EXPECT_TRUE(parts == whole) << "largest difference "
                                  << (parts - whole).cwiseAbs().maxCoeff();
    }
  }
}

TEST(Dense, SmallLayersAreOnePartAndBadPartsAreRefused) {
  const DenseT<double> dense(Shape::vector(40), 400);
  EXPECT_EQ(dense.gradient_part_count(), 1);
  const GradientPart part = dense.gradient_part(0);
  EXPECT_EQ(part.offset, 0);
  EXPECT_EQ(part.size, dense.parameter_count());
  Matrix<double> x(40, 2), delta(400, 2);
  Vector<double> gradient(dense.parameter_count());
  try {
    dense.part_gradient(1, x, delta, gradient.data(), GradientWrite::Overwrite, nullptr);
    FAIL() << "expected ArgumentError";
  } catch (const ArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("expected 0 to 0, got 1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace scvae
