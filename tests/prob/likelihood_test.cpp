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

// Columns of non-negative values summing to 1: soft class targets.
Matrix<double> random_probabilities(Index classes, Index n, std::uint64_t seed) {
  Matrix<double> t = testing::random_uniform(classes, n, seed);
  for (Index j = 0; j < n; ++j) t.col(j) /= t.col(j).sum();
  return t;
}

TEST(Categorical, ProbabilityTargetsGradientMatchesFiniteDifferences) {
  CategoricalT<double> categorical(4);
  Matrix<double> target = random_probabilities(4, 5, 11);
  target.col(2) << 0, 1, 0, 0;  // a one-hot column and one with a zero
  target.col(3) << 0.5, 0, 0.25, 0.25;
  check_likelihood_gradient(categorical, testing::random_matrix(4, 5, 8, 2.0), target,
                            Vector<double>());
}

TEST(Categorical, ProbabilityTargetsValueByHandAndOneHotEqualsClassIndex) {
  CategoricalT<double> categorical(3);
  Matrix<double> logits(3, 2), soft(3, 2), indices(1, 2);
  logits << 1.0, 0.5, 2.0, -1.0, 3.0, 2.0;
  soft << 0.2, 0, 0.3, 1, 0.5, 0;
  indices << 2, 1;
  const RowVector<double> scale = (RowVector<double>(2) << 0.7, 1.3).finished();
  RowVector<double> nll(2);
  Matrix<double> gradient(3, 2);
  MatrixRef<double> gradient_ref(gradient);
  categorical.evaluate(nullptr, nullptr, logits, soft, scale, nll, &gradient_ref);
  const double log_sum = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  EXPECT_NEAR(nll(0), log_sum - (0.2 * 1.0 + 0.3 * 2.0 + 0.5 * 3.0), 1e-14);
  for (Index k = 0; k < 3; ++k)
    EXPECT_NEAR(gradient(k, 0), 0.7 * (std::exp(logits(k, 0) - log_sum) - soft(k, 0)), 1e-15);
  // A one-hot column scores as its class index, value and gradient.
  Matrix<double> soft_one_hot(3, 2), index_gradient(3, 2);
  soft_one_hot << 0, 0, 0, 1, 1, 0;
  RowVector<double> index_nll(2);
  MatrixRef<double> index_gradient_ref(index_gradient);
  categorical.evaluate(nullptr, nullptr, logits, soft_one_hot, scale, nll, &gradient_ref);
  categorical.evaluate(nullptr, nullptr, logits, indices, scale, index_nll, &index_gradient_ref);
  EXPECT_NEAR((nll - index_nll).norm(), 0.0, 1e-14);
  EXPECT_NEAR((gradient - index_gradient).norm(), 0.0, 1e-15);
}

template <typename Scalar>
void expect_soft_targets_finite_for_huge_logits() {
  CategoricalT<Scalar> categorical(3);
  Matrix<Scalar> logits(3, 2), target(3, 2);
  logits << Scalar(1000), Scalar(-1000), Scalar(-1000), Scalar(0), Scalar(0), Scalar(1000);
  target << Scalar(1), Scalar(0.5), Scalar(0), Scalar(0), Scalar(0), Scalar(0.5);
  RowVector<Scalar> nll(2);
  Matrix<Scalar> gradient(3, 2);
  MatrixRef<Scalar> gradient_ref(gradient);
  categorical.evaluate(nullptr, nullptr, logits, target, RowVector<Scalar>::Ones(2), nll,
                       &gradient_ref);
  EXPECT_EQ(nll(0), Scalar(0));
  // Half the mass on a class 2000 below the best: 0.5 * 2000, exactly (in
  // either type logsumexp rounds to 1000, the best logit).
  EXPECT_EQ(nll(1), Scalar(1000));
  EXPECT_TRUE(gradient.allFinite());
  EXPECT_EQ(gradient(0, 1), Scalar(-0.5));
  EXPECT_EQ(gradient(2, 1), Scalar(0.5));
}

TEST(Categorical, ProbabilityTargetsExactForHugeLogits) {
  expect_soft_targets_finite_for_huge_logits<float>();
  expect_soft_targets_finite_for_huge_logits<double>();
}

TEST(Categorical, RejectsBadProbabilitiesUnlessMasked) {
  CategoricalT<double> categorical(3);
  Matrix<double> target(3, 3);
  target << 0.2, 0.5, 1, 0.3, 0.6, 0, 0.5, 0, 0;  // column 1 sums to 1.1
  try {
    categorical.validate_target(target, std::nullopt, 3);
    FAIL() << "expected ArgumentError";
  } catch (const ArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("summing to 1) in column 1, got min 0"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("sum 1.1"), std::string::npos) << e.what();
  }
  RowVector<double> mask(3);
  mask << 1, 0, 1;
  EXPECT_NO_THROW(categorical.validate_target(target, ConstRowVectorRef<double>(mask), 3));
  // A masked column is not inspected and scores 0 with no gradient, even as NaN.
  target.col(1).setConstant(std::nan(""));
  EXPECT_NO_THROW(categorical.validate_target(target, ConstRowVectorRef<double>(mask), 3));
  RowVector<double> nll(3);
  Matrix<double> gradient(3, 3);
  MatrixRef<double> gradient_ref(gradient);
  categorical.evaluate(nullptr, nullptr, testing::random_matrix(3, 3, 4), target,
                       RowVector<double>::Ones(3), nll, &gradient_ref);
  EXPECT_EQ(nll(1), 0.0);
  EXPECT_EQ(gradient.col(1).norm(), 0.0);
  EXPECT_TRUE(nll.allFinite());
  EXPECT_THROW(categorical.validate_target(target, std::nullopt, 3), ArgumentError);
  target.col(1) << -0.5, 1.0, 0.5;  // sums to 1 with a negative entry
  EXPECT_THROW(categorical.validate_target(target, std::nullopt, 3), ArgumentError);
  target.col(1) << std::numeric_limits<double>::infinity(), 0, 0;
  EXPECT_THROW(categorical.validate_target(target, std::nullopt, 3), ArgumentError);
  // Within the tolerance of float rounding in float; far outside it in double.
  Matrix<float> nearly(3, 1);
  nearly << 0.3f, 0.3f, 0.4001f;
  EXPECT_NO_THROW(CategoricalT<float>(3).validate_target(nearly, std::nullopt, 3));
  EXPECT_THROW(categorical.validate_target(nearly.cast<double>(), std::nullopt, 3), ArgumentError);
  // Rows: 1 (indices) or the class count (probabilities), nothing else.
  try {
    categorical.validate_target(Matrix<double>::Zero(2, 3), std::nullopt, 3);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("expected 1 row (class indices) or 3 rows (class "
                                         "probabilities), got 2"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace scvae
