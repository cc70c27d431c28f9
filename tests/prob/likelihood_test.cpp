#include "scvae/prob/make_likelihood.hpp"

#include "../test_support.hpp"

namespace scvae {
namespace {

// Checks d/d(output, parameters) of sum_i scale_i * nll_i.
void check_likelihood_gradient(const LikelihoodT<double>& likelihood, const Matrix<double>& output,
                               const Matrix<double>& target, Vector<double> parameters) {
  const Index n = output.cols();
  const Index size = output.size();
  const RowVector<double> scale = testing::random_uniform(1, n, 99).array() + 0.5;
  const Index p = parameters.size();
  Vector<double> point(size + p);
  point << Eigen::Map<const Vector<double>>(output.data(), size), parameters;
  auto loss = [&](const Vector<double>& flat) {
    const Matrix<double> out = Eigen::Map<const Matrix<double>>(flat.data(), output.rows(), n);
    RowVector<double> nll(n);
    likelihood.evaluate(flat.data() + size, nullptr, out, target, scale, nll, nullptr);
    return (nll.array() * scale.array()).sum();
  };
  RowVector<double> nll(n);
  Matrix<double> output_gradient(output.rows(), n);
  MatrixRef<double> output_gradient_ref(output_gradient);
  Vector<double> parameter_gradient = Vector<double>::Zero(p);
  likelihood.evaluate(parameters.data(), parameter_gradient.data(), output, target, scale, nll,
                      &output_gradient_ref);
  Vector<double> analytic(size + p);
  analytic << Eigen::Map<const Vector<double>>(output_gradient.data(), size), parameter_gradient;
  testing::expect_gradient_ok(check_gradient(loss, point, analytic));
}

TEST(Bernoulli, GradientMatchesFiniteDifferences) {
  BernoulliT<double> bernoulli;
  check_likelihood_gradient(bernoulli, testing::random_matrix(5, 4, 1, 3.0),
                            testing::random_uniform(5, 4, 2), Vector<double>());
}

TEST(Bernoulli, ExactAndFiniteForHugeLogits) {
  BernoulliT<double> bernoulli;
  Matrix<double> logits(4, 1);
  logits << 1000.0, -1000.0, 1000.0, -1000.0;
  Matrix<double> target(4, 1);
  target << 1.0, 0.0, 0.0, 1.0;
  const RowVector<double> scale = RowVector<double>::Ones(1);
  RowVector<double> nll(1);
  Matrix<double> gradient(4, 1);
  MatrixRef<double> gradient_ref(gradient);
  bernoulli.evaluate(nullptr, nullptr, logits, target, scale, nll, &gradient_ref);
  // Right with certainty costs 0; wrong with certainty costs |logit| = 1000 each.
  EXPECT_DOUBLE_EQ(nll(0), 2000.0);
  EXPECT_TRUE(gradient.allFinite());
  EXPECT_DOUBLE_EQ(gradient(0), 0.0);
  EXPECT_DOUBLE_EQ(gradient(1), 0.0);
  EXPECT_DOUBLE_EQ(gradient(2), 1.0);
  EXPECT_DOUBLE_EQ(gradient(3), -1.0);

  BernoulliT<float> bernoulli_float;
  Matrix<float> logits_f = logits.cast<float>();
  Matrix<float> target_f = target.cast<float>();
  RowVector<float> nll_f(1);
  bernoulli_float.evaluate(nullptr, nullptr, logits_f, target_f, RowVector<float>::Ones(1), nll_f,
                           nullptr);
  EXPECT_FLOAT_EQ(nll_f(0), 2000.0f);
}

TEST(Bernoulli, ValueByHandAndMean) {
  BernoulliT<double> bernoulli;
  Matrix<double> logit(1, 1), target(1, 1);
  logit << 0.3;
  target << 0.25;
  RowVector<double> nll(1);
  bernoulli.evaluate(nullptr, nullptr, logit, target, RowVector<double>::Ones(1), nll, nullptr);
  const double p = 1.0 / (1.0 + std::exp(-0.3));
  EXPECT_NEAR(nll(0), -(0.25 * std::log(p) + 0.75 * std::log(1 - p)), 1e-15);
  Matrix<double> mean(1, 1);
  bernoulli.mean(logit, mean);
  EXPECT_NEAR(mean(0, 0), p, 1e-15);
}

TEST(Bernoulli, RejectsTargetsOutsideUnitInterval) {
  BernoulliT<double> bernoulli;
  Matrix<double> target(2, 1);
  target << 0.5, 1.5;
  EXPECT_THROW(bernoulli.validate_target(target, std::nullopt, 2), ArgumentError);
  EXPECT_THROW(bernoulli.validate_target(target, std::nullopt, 3), ShapeError);
}

TEST(Gaussian, FixedVarianceGradientAndValue) {
  GaussianT<double> gaussian(0.5);
  check_likelihood_gradient(gaussian, testing::random_matrix(3, 4, 3),
                            testing::random_matrix(3, 4, 4), Vector<double>());
  Matrix<double> mean(1, 1), target(1, 1);
  mean << 1.0;
  target << 2.0;
  RowVector<double> nll(1);
  gaussian.evaluate(nullptr, nullptr, mean, target, RowVector<double>::Ones(1), nll, nullptr);
  EXPECT_NEAR(nll(0), 0.5 * 1.0 / 0.5 + 0.5 * std::log(2 * M_PI * 0.5), 1e-14);
  EXPECT_THROW(GaussianT<double>(0.0), ArgumentError);
}

TEST(Gaussian, LearnedLogVarianceGradient) {
  GaussianLearnedVarianceT<double> gaussian(3);
  ASSERT_EQ(gaussian.parameter_count(), 3);
  check_likelihood_gradient(gaussian, testing::random_matrix(3, 5, 5),
                            testing::random_matrix(3, 5, 6), testing::random_matrix(3, 1, 7, 0.5));
}

TEST(Categorical, GradientMatchesFiniteDifferences) {
  CategoricalT<double> categorical(4);
  Matrix<double> target(1, 5);
  target << 0, 3, 1, 2, 3;
  check_likelihood_gradient(categorical, testing::random_matrix(4, 5, 8, 2.0), target,
                            Vector<double>());
}

TEST(Categorical, ValueByHandAndStability) {
  CategoricalT<double> categorical(3);
  Matrix<double> logits(3, 2), target(1, 2);
  logits << 1.0, 1000.0, 2.0, 0.0, 3.0, -1000.0;
  target << 2, 0;
  RowVector<double> nll(2);
  categorical.evaluate(nullptr, nullptr, logits, target, RowVector<double>::Ones(2), nll, nullptr);
  EXPECT_NEAR(nll(0), std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0, 1e-14);
  EXPECT_DOUBLE_EQ(nll(1), 0.0);
  Matrix<double> probabilities(3, 2);
  categorical.mean(logits, probabilities);
  EXPECT_NEAR(probabilities.col(0).sum(), 1.0, 1e-15);
}

TEST(Categorical, RejectsBadClassesUnlessMasked) {
  CategoricalT<double> categorical(3);
  Matrix<double> target(1, 3);
  target << 0, 3, 1;
  try {
    categorical.validate_target(target, std::nullopt, 3);
    FAIL() << "expected ArgumentError";
  } catch (const ArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("[0, 3), got 3"), std::string::npos) << e.what();
  }
  RowVector<double> mask(3);
  mask << 1, 0, 1;
  EXPECT_NO_THROW(categorical.validate_target(target, ConstRowVectorRef<double>(mask), 3));
  target << 0, 1.5, 1;
  EXPECT_THROW(categorical.validate_target(target, std::nullopt, 3), ArgumentError);
  Matrix<double> two_rows(2, 3);
  EXPECT_THROW(categorical.validate_target(two_rows, std::nullopt, 3), ShapeError);
  EXPECT_THROW(CategoricalT<double>(1), ArgumentError);
  EXPECT_THROW(make_likelihood<double>(LikelihoodSpec::categorical(10), 7), ArgumentError);
}

}  // namespace
}  // namespace scvae
