// Convolutions under Precision::Bf16: each of the three passes against the
// double module run on the bf16-rounded operands (the bias stays float),
// within (depth + 2) 2^-24 times the same pass run on the operands'
// magnitudes, where depth bounds the number of float additions behind one
// value (the module's inputs plus outputs). A wrong packing or a wrong
// operand would miss by the size of the values themselves.

#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "../test_support.hpp"
#include "scvae/scvae.hpp"

namespace scvae {
namespace {

Matrix<double> rounded_bf16(const Matrix<double>& m) {
  return m.unaryExpr([](double v) {
    return double(detail::to_float(detail::to_bf16(static_cast<float>(v))));
  });
}

struct ConvPasses {
  Matrix<double> output, input_gradient;
  Vector<double> parameter_gradient;
};

template <typename Scalar>
ConvPasses run_passes(const ModuleT<Scalar>& module, const Vector<double>& parameters,
                      const Matrix<double>& x, const Matrix<double>& dy) {
  const Vector<Scalar> p = parameters.cast<Scalar>();
  const Matrix<Scalar> input = x.cast<Scalar>();
  Matrix<Scalar> output_gradient = dy.cast<Scalar>();
  auto workspace = module.make_workspace();
  module.prepare(workspace.get(), x.cols());
  Matrix<Scalar> y(module.outputs(), x.cols()), dx(module.inputs(), x.cols());
  module.forward(p.data(), input, y, workspace.get());
  MatrixRef<Scalar> dx_ref(dx);
  MatrixRef<Scalar> dy_ref(output_gradient);
  module.backward(p.data(), input, y, dy_ref, {&dx_ref, GradientWrite::Overwrite},
                  workspace.get());
  Vector<Scalar> g(module.parameter_count());
  module.parameter_gradient(input, output_gradient, g.data(), GradientWrite::Overwrite,
                            workspace.get());
  return {y.template cast<double>(), dx.template cast<double>(), g.template cast<double>()};
}

template <typename Module>
void expect_bf16_passes_within_bound(const Module& as_float, const ModuleT<double>& as_double,
                                     Index bias_count, Index samples) {
  SCOPED_TRACE(as_float.token());
  Module bf16 = as_float;
  bf16.set_precision(Precision::Bf16);
  const Index weights = as_float.parameter_count() - bias_count;
  Vector<double> parameters = testing::random_matrix(as_float.parameter_count(), 1, 1).col(0);
  const Matrix<double> x = testing::random_matrix(as_float.inputs(), samples, 2);
  const Matrix<double> dy = testing::random_matrix(as_float.outputs(), samples, 3);
  const ConvPasses got = run_passes<float>(bf16, parameters, x, dy);

  Vector<double> rounded = parameters;
  rounded.head(weights) = rounded_bf16(parameters.head(weights));
  const ConvPasses want = run_passes<double>(as_double, rounded, rounded_bf16(x), rounded_bf16(dy));
  Vector<double> magnitudes = rounded.cwiseAbs();
  const ConvPasses size = run_passes<double>(as_double, magnitudes, rounded_bf16(x).cwiseAbs(),
                                             rounded_bf16(dy).cwiseAbs());

  const double unit = std::ldexp(1.0, -24);
  const double depth = static_cast<double>(as_float.inputs() + as_float.outputs() + 2);
  auto expect_within = [&](const auto& g, const auto& w, const auto& s, const char* what) {
    const auto error = (g - w).array().abs();
    const auto bound = depth * unit * s.array().abs() + 1e-30;
    EXPECT_TRUE((error <= bound).all())
        << what << ": largest error over bound " << (error / bound).maxCoeff();
  };
  expect_within(got.output, want.output, size.output, "forward");
  expect_within(got.input_gradient, want.input_gradient, size.input_gradient, "input gradient");
  expect_within(got.parameter_gradient.head(weights), want.parameter_gradient.head(weights),
                size.parameter_gradient.head(weights), "filter gradient");
  // The bf16 path did run: fp32 differs.
  const ConvPasses fp32 = run_passes<float>(as_float, parameters, x, dy);
  EXPECT_FALSE(fp32.output == got.output);
}

// Stride 1 and 2, padding 0 and 1, odd sizes, several channels (odd patch
// sizes leave a half-empty pair), and more samples than one block.
TEST(Bf16Conv, PassesWithinTheStatedBoundOfDoubleOnRoundedOperands) {
  for (const Index stride : {1, 2}) {
    for (const Index padding : {0, 1}) {
      const Shape in(3, 7, 6);
      expect_bf16_passes_within_bound(Conv2dT<float>(in, 5, 3, stride, padding),
                                      Conv2dT<double>(in, 5, 3, stride, padding), 5, 4);
      const Shape small(4, 4, 3);
      expect_bf16_passes_within_bound(
          ConvTranspose2dT<float>(small, 3, 3, stride, padding, stride - 1),
          ConvTranspose2dT<double>(small, 3, 3, stride, padding, stride - 1), 3, 4);
    }
  }
  expect_bf16_passes_within_bound(Conv2dT<float>(Shape(1, 28, 28), 8, 4, 2, 1),
                                  Conv2dT<double>(Shape(1, 28, 28), 8, 4, 2, 1), 8, 33);
}

TEST(Bf16Conv, ADoubleConvolutionRefusesBf16) {
  Conv2dT<double> conv(Shape(1, 5, 5), 2, 3);
  EXPECT_THROW(conv.set_precision(Precision::Bf16), ArgumentError);
  ConvTranspose2dT<double> transposed(Shape(2, 3, 3), 1, 3);
  EXPECT_THROW(transposed.set_precision(Precision::Bf16), ArgumentError);
}

}  // namespace
}  // namespace scvae
