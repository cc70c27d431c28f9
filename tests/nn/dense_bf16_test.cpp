// A dense layer under Precision::Bf16: its three products against double
// sums of the bf16-rounded operands (the stated bound: float summation of k
// exact products, (k + 2) 2^-24 times the sum of their magnitudes), against
// the unrounded operands (the rounding itself, 2^-8 relative), its gradient
// parts against the whole, and its refusals.

#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "../test_support.hpp"
#include "scvae/scvae.hpp"

namespace scvae {
namespace {

float rounded_to_bf16(float x) { return detail::to_float(detail::to_bf16(x)); }

Matrix<float> random_floats(Index rows, Index cols, std::uint64_t seed) {
  return testing::random_matrix(rows, cols, seed).cast<float>();
}

/// Checks got(i, j) against sum_p a(i, p) b(p, j) (+ bias(i)), summed in
/// double over the bf16-rounded operands, and against the unrounded ones.
void expect_product_within_bounds(const Matrix<float>& got, const Matrix<float>& a,
                                  const Matrix<float>& b, const Vector<float>* bias,
                                  const char* what) {
  SCOPED_TRACE(what);
  const double unit = std::ldexp(1.0, -24);
  const Index k = a.cols();
  for (Index j = 0; j < got.cols(); ++j) {
    for (Index i = 0; i < got.rows(); ++i) {
      double rounded = 0.0, exact = 0.0, rounded_magnitude = 0.0, magnitude = 0.0;
      for (Index p = 0; p < k; ++p) {
        const double term = double(rounded_to_bf16(a(i, p))) * rounded_to_bf16(b(p, j));
        rounded += term;
        rounded_magnitude += std::abs(term);
        exact += double(a(i, p)) * b(p, j);
        magnitude += std::abs(double(a(i, p)) * b(p, j));
      }
      if (bias != nullptr) {
        rounded += (*bias)(i);
        exact += (*bias)(i);
        rounded_magnitude += std::abs((*bias)(i));
        magnitude += std::abs((*bias)(i));
      }
      ASSERT_LE(std::abs(got(i, j) - rounded), double(k + 2) * unit * rounded_magnitude)
          << "(" << i << ", " << j << ")";
      ASSERT_LE(std::abs(got(i, j) - exact), std::ldexp(1.0, -8) * magnitude)
          << "(" << i << ", " << j << ")";
    }
  }
}

struct Bf16DensePass {
  Matrix<float> output, input_gradient, weight_gradient;
  Vector<float> bias_gradient;
};

/// forward, backward and parameter_gradient of `dense` (Identity) on x with
/// the output gradient delta.
Bf16DensePass run_dense(const DenseT<float>& dense, const Vector<float>& parameters,
                        const Matrix<float>& x, Matrix<float> delta) {
  auto workspace = dense.make_workspace();
  dense.prepare(workspace.get(), x.cols());
  Bf16DensePass pass;
  pass.output.resize(dense.outputs(), x.cols());
  dense.forward(parameters.data(), x, pass.output, workspace.get());
  pass.input_gradient.resize(dense.inputs(), x.cols());
  MatrixRef<float> input_gradient(pass.input_gradient);
  MatrixRef<float> delta_ref(delta);
  dense.backward(parameters.data(), x, pass.output, delta_ref,
                 {&input_gradient, GradientWrite::Overwrite}, workspace.get());
  Vector<float> gradient(dense.parameter_count());
  dense.parameter_gradient(x, delta, gradient.data(), GradientWrite::Overwrite, workspace.get());
  pass.weight_gradient = dense.weights(gradient.data());
  pass.bias_gradient = dense.bias(gradient.data());
  return pass;
}

// Odd sizes everywhere: every packed operand ends in a half-empty pair.
TEST(Bf16Dense, ProductsWithinTheStatedBoundOfDoubleSums) {
  DenseT<float> dense(Shape::vector(37), 19);
  dense.set_precision(Precision::Bf16);
  EXPECT_EQ(dense.precision(), Precision::Bf16);
  const Vector<float> parameters = random_floats(dense.parameter_count(), 1, 1).col(0);
  const Matrix<float> x = random_floats(37, 13, 2);
  const Matrix<float> delta = random_floats(19, 13, 3);
  const Bf16DensePass pass = run_dense(dense, parameters, x, delta);
  const Matrix<float> w = dense.weights(parameters.data());
  const Vector<float> b = dense.bias(parameters.data());
  expect_product_within_bounds(pass.output, w, x, &b, "W x + b");
  expect_product_within_bounds(pass.input_gradient, w.transpose(), delta, nullptr, "W^T D");
  expect_product_within_bounds(pass.weight_gradient, delta, x.transpose(), nullptr, "D X^T");
  // The bias gradient stays float: the row sums of D, as in fp32.
  EXPECT_TRUE(pass.bias_gradient.isApprox(delta.rowwise().sum(), 1e-6f));
}

TEST(Bf16Dense, DiffersFromFp32OnlyByTheRounding) {
  DenseT<float> dense(Shape::vector(40), 24);
  const Vector<float> parameters = random_floats(dense.parameter_count(), 1, 4).col(0);
  const Matrix<float> x = random_floats(40, 16, 5);
  const Matrix<float> delta = random_floats(24, 16, 6);
  const Bf16DensePass fp32 = run_dense(dense, parameters, x, delta);
  dense.set_precision(Precision::Bf16);
  const Bf16DensePass bf16 = run_dense(dense, parameters, x, delta);
  EXPECT_FALSE(bf16.output == fp32.output);  // the bf16 path did run
  EXPECT_LT((bf16.output - fp32.output).cwiseAbs().maxCoeff(), 0.1f);
  dense.set_precision(Precision::Fp32);  // and can be left again
  EXPECT_TRUE(run_dense(dense, parameters, x, delta).output == fp32.output);
}

// A layer large enough to split its weight gradient into column blocks: the
// parts, run in any order on one workspace, give the whole gradient's bits.
TEST(Bf16Dense, GradientPartsGiveTheWholeGradientsBits) {
  DenseT<float> dense(Shape::vector(500), 400);
  ASSERT_GT(dense.gradient_part_count(), 1);
  dense.set_precision(Precision::Bf16);
  const Vector<float> parameters = random_floats(dense.parameter_count(), 1, 7).col(0);
  const Matrix<float> x = random_floats(500, 33, 8);
  Matrix<float> delta = random_floats(400, 33, 9);
  const Bf16DensePass whole = run_dense(dense, parameters, x, delta);

  auto workspace = dense.make_workspace();
  Matrix<float> output(400, 33);
  dense.forward(parameters.data(), x, output, workspace.get());
  MatrixRef<float> delta_ref(delta);
  dense.backward(parameters.data(), x, output, delta_ref, {}, workspace.get());
  Vector<float> gradient = Vector<float>::Constant(dense.parameter_count(), 7.0f);
  for (Index part = dense.gradient_part_count(); part-- > 0;)
    dense.part_gradient(part, x, delta, gradient.data(), GradientWrite::Overwrite, workspace.get());
  EXPECT_TRUE(Matrix<float>(dense.weights(gradient.data())) == whole.weight_gradient);
  EXPECT_TRUE(Vector<float>(dense.bias(gradient.data())) == whole.bias_gradient);
}

TEST(Bf16Dense, RefusesADoubleLayerAndAMissingWorkspace) {
  DenseT<double> twin(Shape::vector(4), 3);
  EXPECT_THROW(twin.set_precision(Precision::Bf16), ArgumentError);
  twin.set_precision(Precision::Fp32);

  DenseT<float> dense(Shape::vector(4), 3);
  dense.set_precision(Precision::Bf16);
  const Vector<float> parameters = Vector<float>::Zero(dense.parameter_count());
  const Matrix<float> x = Matrix<float>::Ones(4, 2);
  Matrix<float> y(3, 2);
  try {
    dense.forward(parameters.data(), x, y, nullptr);
    FAIL() << "no error without a workspace";
  } catch (const ArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("workspace"), std::string::npos) << e.what();
  }
}

TEST(Bf16Dense, PrecisionNamesParseAndRefuseOthers) {
  EXPECT_EQ(parse_precision("fp32", "--precision"), Precision::Fp32);
  EXPECT_EQ(parse_precision("bf16", "--precision"), Precision::Bf16);
  try {
    parse_precision("fp16", "--precision");
    FAIL() << "fp16 accepted";
  } catch (const ArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("--precision"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fp16"), std::string::npos) << e.what();
  }
  std::string note;
  EXPECT_EQ(resolve_precision(Precision::Fp32, note), Precision::Fp32);
  EXPECT_TRUE(note.empty());
  const Precision chosen = resolve_precision(Precision::Bf16, note);
  EXPECT_EQ(chosen, detail::cpu_has_bf16() ? Precision::Bf16 : Precision::Fp32);
  // Empty where bf16 runs, and runs fast (tests/core/precision_test.cpp has every case).
  const bool fast = detail::cpu_has_bf16() && detail::bf16_speed_against_float() >= 1.0;
  EXPECT_EQ(note.empty(), fast) << note;
}

}  // namespace
}  // namespace scvae
