#include "scvae/model/label_conditioned_vae.hpp"

#include <gtest/gtest.h>

#include "../test_support.hpp"
#include "scvae/util/gradient_check.hpp"

namespace scvae {
namespace {

LabelConditionedSpec small_spec(double entropy_weight) {
  LabelConditionedSpec spec;
  spec.inputs = 7;
  spec.encoder_hidden = {6};
  spec.latent = 3;
  spec.classes = 4;
  spec.decoder_hidden = {5};
  spec.label_weight = 2.5;
  spec.entropy_weight = entropy_weight;
  return spec;
}

struct Batch {
  explicit Batch(Index n) : x(7, n), labels(n), mask(n), eps(3, n) {
    Rng rng(11);
    for (Index i = 0; i < x.size(); ++i) x(i) = rng.uniform();
    for (Index i = 0; i < eps.size(); ++i) eps(i) = rng.normal();
    for (Index j = 0; j < n; ++j) {
      mask(j) = j % 3 == 0 ? 1.0 : 0.0;  // a third labelled
      labels(j) = mask(j) == 1.0 ? static_cast<double>(j % 4) : -1.0;
    }
  }
  Matrix<double> x;
  RowVector<double> labels, mask;
  Matrix<double> eps;
};

class LabelConditionedGradient : public ::testing::TestWithParam<double> {};

// The whole loss (labelled and unlabelled samples, the marginal over classes,
// the entropy term when its weight is not 0) against finite differences.
TEST_P(LabelConditionedGradient, MatchesFiniteDifferences) {
  LabelConditionedVAET<double> model(small_spec(GetParam()), 3);
  const Batch batch(9);
  const double beta = 0.7;
  const LabelConditionedLoss parts =
      model.loss_and_gradient(batch.x, batch.labels, batch.mask, batch.eps, beta);
  EXPECT_EQ(parts.labelled, 3);
  EXPECT_GT(parts.label_nll, 0.0);
  const Vector<double> analytic = model.gradients();
  auto loss = [&](const Vector<double>& flat) {
    model.parameters() = flat;
    return model.loss(batch.x, batch.labels, batch.mask, batch.eps, beta).total;
  };
  testing::expect_gradient_ok(check_gradient(loss, model.parameters(), analytic));
  EXPECT_GT(analytic.norm(), 0.0);
}

INSTANTIATE_TEST_SUITE_P(EntropyWeights, LabelConditionedGradient, ::testing::Values(0.0, 1.0));

// The unlabelled loss is the q(y|x)-weighted mean of the labelled losses
// without their label term: the marginal the classifier learns from.
TEST(LabelConditionedVAE, UnlabelledLossIsTheMarginalOverClasses) {
  LabelConditionedSpec spec = small_spec(0.0);
  LabelConditionedVAET<double> model(spec, 5);
  const Batch batch(1);
  const RowVector<double> unlabelled = RowVector<double>::Zero(1);
  const double marginal = model.loss(batch.x, batch.labels, unlabelled, batch.eps, 1.0).total;
  Matrix<double> q;
  model.class_probabilities(batch.x, q);
  double expected = 0.0;
  for (Index k = 0; k < spec.classes; ++k) {
    RowVector<double> label(1);
    label(0) = static_cast<double>(k);
    const LabelConditionedLoss parts =
        model.loss(batch.x, label, RowVector<double>::Ones(1), batch.eps, 1.0);
    expected += q(k, 0) * (parts.reconstruction + parts.kl);
  }
  EXPECT_NEAR(marginal, expected, 1e-9 * std::abs(expected));
  EXPECT_NEAR(q.col(0).sum(), 1.0, 1e-12);
}

TEST(LabelConditionedVAE, DecodesEveryClassFromOneCode) {
  const LabelConditionedVAET<double> model(small_spec(0.0), 5);
  Matrix<double> z = Matrix<double>::Zero(3, 4);
  RowVector<double> labels(4);
  labels << 0, 1, 2, 3;
  Matrix<double> pixels;
  model.decode(z, labels, pixels);
  ASSERT_EQ(pixels.rows(), 7);
  ASSERT_EQ(pixels.cols(), 4);
  EXPECT_TRUE((pixels.array() > 0.0).all() && (pixels.array() < 1.0).all());
  EXPECT_GT((pixels.col(0) - pixels.col(1)).norm(), 0.0);  // the label reaches the decoder
}

TEST(LabelConditionedVAE, RejectsBadInputWithClearErrors) {
  LabelConditionedVAET<double> model(small_spec(0.0), 5);
  Batch batch(4);
  RowVector<double> labels = batch.labels;
  labels(0) = 4.0;  // labelled sample 0 with a class out of range
  EXPECT_THROW(model.loss(batch.x, labels, batch.mask, batch.eps), ArgumentError);
  labels(0) = 1.5;
  EXPECT_THROW(model.loss(batch.x, labels, batch.mask, batch.eps), ArgumentError);
  RowVector<double> mask = batch.mask;
  mask(1) = 0.5;
  EXPECT_THROW(model.loss(batch.x, batch.labels, mask, batch.eps), ArgumentError);
  Matrix<double> x = batch.x;
  x(0, 0) = 1.5;  // not a Bernoulli target
  EXPECT_THROW(model.loss(x, batch.labels, batch.mask, batch.eps), ArgumentError);
  EXPECT_THROW(model.loss(batch.x.leftCols(3), batch.labels, batch.mask, batch.eps.leftCols(3)),
               ShapeError);
  LabelConditionedSpec spec = small_spec(0.0);
  spec.encoder_hidden.clear();
  EXPECT_THROW(LabelConditionedVAET<double>(spec, 1), ArgumentError);
  spec = small_spec(-1.0);
  EXPECT_THROW(LabelConditionedVAET<double>(spec, 1), ArgumentError);
}

}  // namespace
}  // namespace scvae
