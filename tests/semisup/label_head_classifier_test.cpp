#include "scvae/semisup/label_head_classifier.hpp"

#include "scvae/model/scvae.hpp"
#include "scvae/util/gradient_check.hpp"
#include "support.hpp"

namespace scvae {
namespace {

Matrix<double> soft_targets(Index n, std::uint64_t seed) {
  Matrix<double> t = testing::random_uniform(3, n, seed).array() + 0.1;
  for (Index j = 0; j < n; ++j) t.col(j) /= t.col(j).sum();
  return t;
}

TEST(LabelHeadClassifier, ParameterGradientMatchesFiniteDifferences) {
  SCVAET<double> model(testing::image_label_spec(), 3);
  LabelHeadClassifier<SCVAET<double>> classifier(model, 1);
  const Matrix<double> x = testing::random_uniform(36, 5, 11);
  const Matrix<double> targets = soft_targets(5, 12);
  const double weight = 1.7;
  model.gradients().setConstant(0.25);  // the term is added to what is there
  const double term = classifier.add_classifier_loss_and_gradient(x, targets, weight);
  const Vector<double> analytic = model.gradients().array() - 0.25;
  auto loss = [&](const Vector<double>& p) {
    model.parameters() = p;
    Matrix<double> q;
    classifier.class_probabilities(x, q);
    return -weight * (targets.array() * q.array().log()).sum() / 5.0;
  };
  EXPECT_NEAR(term, loss(model.parameters()), 1e-12);
  testing::expect_gradient_ok(check_gradient(loss, model.parameters(), analytic));
}

TEST(LabelHeadClassifier, InputGradientMatchesFiniteDifferences) {
  SCVAET<double> model(testing::image_label_spec(0), 4);  // a linear head too
  LabelHeadClassifier<SCVAET<double>> classifier(model, 1);
  const Matrix<double> x = testing::random_uniform(36, 4, 21);
  const Matrix<double> targets = soft_targets(4, 22);
  const Vector<double> before = model.gradients();
  Matrix<double> dx;
  classifier.classifier_input_gradient(x, targets, dx);
  EXPECT_EQ(model.gradients(), before);
  auto loss = [&](const Vector<double>& flat) {
    const Matrix<double> input = flat.reshaped(36, 4);
    Matrix<double> q;
    classifier.class_probabilities(input, q);
    return -(targets.array() * q.array().log()).sum();
  };
  testing::expect_gradient_ok(
      check_gradient(loss, Vector<double>(x.reshaped()), Vector<double>(dx.reshaped())));
}

TEST(LabelHeadClassifier, PredictsAtThePosteriorMeanAndRefusesOtherTasks) {
  SCVAET<double> model(testing::image_label_spec(), 3);
  LabelHeadClassifier<SCVAET<double>> classifier(model, 1);
  const Matrix<double> x = testing::random_uniform(36, 3, 5);
  Matrix<double> q, mu, logvar, expected;
  classifier.class_probabilities(x, q);
  model.encode(x, mu, logvar);
  model.predict(1, mu, expected);
  EXPECT_TRUE(q.isApprox(expected, 1e-12));
  EXPECT_EQ(classifier.classes(), 3);
  EXPECT_THROW((LabelHeadClassifier<SCVAET<double>>(model, 0)), ArgumentError);
  EXPECT_THROW((LabelHeadClassifier<SCVAET<double>>(model, 2)), ArgumentError);
}

// Blocks of kPredictionBlock columns on the model's threads: the same bits
// for any thread count, and each block what it gives alone.
template <typename Scalar>
void expect_same_bits_on_any_thread_count() {
  SCVAET<Scalar> model(testing::image_label_spec(), 3);
  LabelHeadClassifier<SCVAET<Scalar>> classifier(model, 1);
  const Index n = 3 * LabelHeadClassifier<SCVAET<Scalar>>::kPredictionBlock + 17;
  const Matrix<Scalar> x = testing::random_uniform(36, n, 6).template cast<Scalar>();
  Matrix<Scalar> one, block;
  classifier.class_probabilities(x, one);
  ASSERT_EQ(one.cols(), n);
  for (int threads : {2, 3, 4}) {
    model.set_threads(threads);
    Matrix<Scalar> q;
    classifier.class_probabilities(x, q);
    EXPECT_EQ(q, one) << threads << " threads";
  }
  const Index last = 3 * LabelHeadClassifier<SCVAET<Scalar>>::kPredictionBlock;
  classifier.class_probabilities(x.rightCols(n - last), block);
  EXPECT_EQ(block, one.rightCols(n - last));
  Matrix<Scalar> mu, logvar, expected;
  model.encode(x, mu, logvar);
  model.predict(1, mu, expected);
  EXPECT_TRUE(one.isApprox(expected, Scalar(1e-5)));
}

TEST(LabelHeadClassifier, PredictsTheSameBitsOnAnyThreadCount) {
  expect_same_bits_on_any_thread_count<double>();
  expect_same_bits_on_any_thread_count<float>();
}

}  // namespace
}  // namespace scvae
