#include "scvae/model/label_conditioned_vae.hpp"

#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "../test_support.hpp"
#include "scvae/data/batch_source.hpp"
#include "scvae/eval/loss.hpp"
#include "scvae/io/checkpoint.hpp"
#include "scvae/optim/adam.hpp"
#include "scvae/train/trainer.hpp"
#include "scvae/util/gradient_check.hpp"

namespace scvae {
namespace {

LabelConditionedSpec small_spec(double entropy_weight, std::vector<Index> classifier_hidden = {},
                                bool latent_reads_label = false) {
  LabelConditionedSpec spec;
  spec.latent_reads_label = latent_reads_label;
  spec.classifier_hidden = std::move(classifier_hidden);
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

// (entropy weight, hidden layers of the classifier, q(z|x,y))
class LabelConditionedGradient
    : public ::testing::TestWithParam<std::tuple<double, std::vector<Index>, bool>> {};

// The whole loss (labelled and unlabelled samples, the marginal over classes,
// the entropy term when its weight is not 0) against finite differences.
TEST_P(LabelConditionedGradient, MatchesFiniteDifferences) {
  // Seed 4: with seed 3, a sample's first classifier layer is all zero, so
  // the second's pre-activation is its zero initial bias, a ReLU kink where
  // finite differences take half the slope.
  LabelConditionedVAET<double> model(
      small_spec(std::get<0>(GetParam()), std::get<1>(GetParam()), std::get<2>(GetParam())), 4);
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

INSTANTIATE_TEST_SUITE_P(EntropyWeightsAndClassifiers, LabelConditionedGradient,
                         ::testing::Values(std::make_tuple(0.0, std::vector<Index>{}, false),
                                           std::make_tuple(1.0, std::vector<Index>{}, false),
                                           std::make_tuple(0.0, std::vector<Index>{5}, false),
                                           std::make_tuple(1.0, std::vector<Index>{5, 4}, false),
                                           std::make_tuple(0.0, std::vector<Index>{}, true),
                                           std::make_tuple(1.0, std::vector<Index>{5}, true)));

// The unlabelled loss is the q(y|x)-weighted mean of the labelled losses
// without their label term: the marginal the classifier learns from.
class LabelConditionedMarginal : public ::testing::TestWithParam<bool> {};

TEST_P(LabelConditionedMarginal, UnlabelledLossIsTheMarginalOverClasses) {
  LabelConditionedSpec spec = small_spec(0.0, {}, GetParam());
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

INSTANTIATE_TEST_SUITE_P(LatentReadsLabel, LabelConditionedMarginal, ::testing::Bool());

// With q(z|x,y) the code depends on the class it is asked for; without, not.
TEST(LabelConditionedVAE, LatentReadsTheLabelOnlyWhenAsked) {
  for (const bool reads : {false, true}) {
    const LabelConditionedVAET<double> model(small_spec(0.0, {}, reads), 5);
    const Batch batch(2);
    RowVector<double> zeros = RowVector<double>::Zero(2), ones = RowVector<double>::Ones(2);
    Matrix<double> mu0, logvar0, mu1, logvar1, mu, logvar;
    model.encode(batch.x, zeros, mu0, logvar0);
    model.encode(batch.x, ones, mu1, logvar1);
    EXPECT_EQ((mu0 - mu1).norm() > 0.0, reads);
    model.encode(batch.x, mu, logvar);  // the most probable class, when it matters
    EXPECT_EQ(mu.rows(), 3);
    RowVector<double> bad = zeros;
    bad(1) = 4.0;
    EXPECT_THROW(model.encode(batch.x, bad, mu, logvar), ArgumentError);
  }
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

// The evidence-weighted prediction is q(y|x) exp(-R - KL) at each class's
// mean code, normalised: recomputed here from encode(), decode() and
// class_probabilities(), with and without q(z|x,y).
class LabelConditionedEvidence : public ::testing::TestWithParam<bool> {};

TEST_P(LabelConditionedEvidence, WeighsTheClassifierByTheDecodersEvidence) {
  const bool reads = GetParam();
  const LabelConditionedVAET<double> model(small_spec(0.0, {}, reads), 5);
  const Batch batch(5);
  const Index K = 4, n = 5;
  Matrix<double> q, combined;
  model.class_probabilities(batch.x, q);
  model.evidence_weighted_class_probabilities(batch.x, combined);
  ASSERT_EQ(combined.rows(), K);
  ASSERT_EQ(combined.cols(), n);
  Matrix<double> expected(K, n);
  for (Index k = 0; k < K; ++k) {
    const RowVector<double> label = RowVector<double>::Constant(n, static_cast<double>(k));
    Matrix<double> mu, logvar, p;
    model.encode(batch.x, label, mu, logvar);
    model.decode(mu, label, p);
    for (Index j = 0; j < n; ++j) {
      const auto x = batch.x.col(j).array();
      const double r =
          -(x * p.col(j).array().log() + (1.0 - x) * (1.0 - p.col(j).array()).log()).sum();
      const double kl = 0.5 * (mu.col(j).array().square() + logvar.col(j).array().exp() - 1.0 -
                               logvar.col(j).array())
                                  .sum();
      expected(k, j) = q(k, j) * std::exp(-r - kl);
    }
  }
  for (Index j = 0; j < n; ++j) {
    expected.col(j) /= expected.col(j).sum();
    EXPECT_NEAR(combined.col(j).sum(), 1.0, 1e-12);
  }
  EXPECT_LT((combined - expected).cwiseAbs().maxCoeff(), 1e-9);
  EXPECT_GT((combined - q).cwiseAbs().maxCoeff(), 1e-3);  // the decoder has a say
  EXPECT_THROW(model.evidence_weighted_class_probabilities(batch.x.topRows(6), combined),
               ShapeError);
  Matrix<double> not_binary = batch.x;
  not_binary(2, 1) = -0.5;
  EXPECT_THROW(model.evidence_weighted_class_probabilities(not_binary, combined), ArgumentError);
}

INSTANTIATE_TEST_SUITE_P(LatentReadsLabel, LabelConditionedEvidence, ::testing::Bool());

// Soft targets for the consistency term: fixed distributions, one per column.
Matrix<double> soft_targets(Index classes, Index n) {
  Matrix<double> t(classes, n);
  Rng rng(17);
  for (Index i = 0; i < t.size(); ++i) t(i) = 0.1 + rng.uniform();
  for (Index j = 0; j < n; ++j) t.col(j) /= t.col(j).sum();
  return t;
}

// The consistency term's parameter gradient is added to what gradients()
// held (the step's ELBO gradient), and matches finite differences.
TEST(LabelConditionedVAE, ClassifierLossGradientMatchesFiniteDifferences) {
  LabelConditionedVAET<double> model(small_spec(0.0, {5}), 3);
  const Batch batch(6);
  const Matrix<double> targets = soft_targets(4, 6);
  const double weight = 1.7;
  Vector<double> before(model.parameter_count());
  for (Index i = 0; i < before.size(); ++i) before(i) = 0.01 * static_cast<double>(i % 7);
  model.gradients() = before;
  const double term = model.add_classifier_loss_and_gradient(batch.x, targets, weight);
  const Vector<double> analytic = model.gradients() - before;
  Matrix<double> dx;
  auto loss = [&](const Vector<double>& flat) {
    model.parameters() = flat;
    Matrix<double> q;
    model.class_probabilities(batch.x, q);
    return weight * -(targets.array() * q.array().log()).sum() / 6.0;
  };
  EXPECT_NEAR(term, loss(model.parameters()), 1e-12 * term);
  testing::expect_gradient_ok(check_gradient(loss, model.parameters(), analytic));
  // The encoder's latent head gets no gradient from the classifier; the trunk does.
  EXPECT_GT(analytic.norm(), 0.0);
}

// d/dx of the classifier's cross-entropy against fixed targets.
TEST(LabelConditionedVAE, ClassifierInputGradientMatchesFiniteDifferences) {
  LabelConditionedVAET<double> model(small_spec(0.0, {5}), 4);
  const Batch batch(5);
  const Matrix<double> targets = soft_targets(4, 5);
  const Vector<double> parameters = model.parameters();
  Matrix<double> dx;
  model.classifier_input_gradient(batch.x, targets, dx);
  ASSERT_EQ(dx.rows(), 7);
  ASSERT_EQ(dx.cols(), 5);
  EXPECT_EQ(model.parameters(), parameters);
  EXPECT_EQ(model.gradients().norm(), 0.0);  // untouched
  const Vector<double> x0 = batch.x.reshaped();
  auto loss = [&](const Vector<double>& flat) {
    const Matrix<double> x = flat.reshaped(7, 5);
    Matrix<double> q;
    model.class_probabilities(x, q);
    return -(targets.array() * q.array().log()).sum();
  };
  testing::expect_gradient_ok(check_gradient(loss, x0, dx.reshaped()));
}

// Each image moves by epsilon in the direction that (to first order) changes
// the prediction the most: one power-iteration step, so on the batch it
// changes the predictions more than random directions of the same length do.
TEST(LabelConditionedVAE, VirtualAdversarialMovesEachImageByEpsilonAgainstItsPrediction) {
  LabelConditionedVAET<double> model(small_spec(0.0), 6);
  const Batch batch(8);
  const double epsilon = 1e-2;
  Rng rng(21);
  Matrix<double> adversarial, targets, q;
  model.virtual_adversarial(batch.x, epsilon, 1e-3, rng, adversarial, targets);
  model.class_probabilities(batch.x, q);
  EXPECT_EQ(targets, q);
  auto divergence = [&](const Matrix<double>& x) {
    Matrix<double> p;
    model.class_probabilities(x, p);
    return (q.array() * (q.array() / p.array()).log()).sum();
  };
  for (Index j = 0; j < 8; ++j)
    EXPECT_NEAR((adversarial.col(j) - batch.x.col(j)).norm(), epsilon, 1e-12);
  Rng other(5);
  double random_divergence = 0.0;
  const int draws = 20;
  for (int draw = 0; draw < draws; ++draw) {
    Matrix<double> random = batch.x;
    for (Index j = 0; j < 8; ++j) {
      Vector<double> d(7);
      for (Index i = 0; i < 7; ++i) d(i) = other.normal();
      random.col(j) += (epsilon / d.norm()) * d;
    }
    random_divergence += divergence(random) / draws;
  }
  EXPECT_GT(divergence(adversarial), 2.0 * random_divergence);
  // Same generator state, same images.
  Rng again(21);
  Matrix<double> repeat, repeat_targets;
  model.virtual_adversarial(batch.x, epsilon, 1e-3, again, repeat, repeat_targets);
  EXPECT_EQ(repeat, adversarial);
  EXPECT_THROW(model.virtual_adversarial(batch.x, -1.0, 1e-3, rng, repeat, repeat_targets),
               ArgumentError);
  EXPECT_THROW(model.virtual_adversarial(batch.x, epsilon, 0.0, rng, repeat, repeat_targets),
               ArgumentError);
  EXPECT_THROW(model.add_classifier_loss_and_gradient(batch.x, targets.topRows(3), 1.0),
               ShapeError);
  Matrix<double> bad = targets;
  bad(0, 0) += 0.5;  // no longer a distribution
  EXPECT_THROW(model.add_classifier_loss_and_gradient(batch.x, bad, 1.0), ArgumentError);
  EXPECT_THROW(
      model.add_classifier_loss_and_gradient(batch.x.leftCols(0), targets.leftCols(0), 1.0),
      ShapeError);
}

// The versioned checkpoint format takes the M2 model as it is: a round trip
// restores every parameter, and a model with other layers is refused.
TEST(LabelConditionedVAE, SavesAndLoadsThroughTheCheckpointFormat) {
  testing::TempDir dir("scvae_m2_checkpoint");
  const std::string path = (dir.path / "m2.scvae").string();
  const LabelConditionedVAET<double> saved(small_spec(0.0, {5}, true), 3);
  save_model(path, saved);
  LabelConditionedVAET<double> loaded(small_spec(0.0, {5}, true), 9);
  ASSERT_NE(loaded.parameters(), saved.parameters());
  load_model(path, loaded);
  EXPECT_EQ(loaded.parameters(), saved.parameters());
  LabelConditionedVAET<double> other(small_spec(0.0, {5}, false), 9);
  EXPECT_THROW(load_model(path, other), CheckpointError);
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
  spec = small_spec(0.0, {3, 0});
  EXPECT_THROW(LabelConditionedVAET<double>(spec, 1), ArgumentError);
}

// ---------------------------------------------------------------- threads and the Trainer

// The executor splits a batch over threads; each thread computes whole
// layers' parameter gradients over every chunk, so the sums only regroup.
TEST(LabelConditionedVAE, ThreadsGiveTheSingleThreadLossAndGradient) {
  for (bool per_class_z : {false, true}) {
    LabelConditionedVAET<double> single(small_spec(0.5, {4}, per_class_z), 4);
    const Batch batch(50);
    const LabelConditionedLoss expected =
        single.loss_and_gradient(batch.x, batch.labels, batch.mask, batch.eps, 0.7);
    for (int threads : {2, 3}) {
      LabelConditionedVAET<double> model(small_spec(0.5, {4}, per_class_z), 4);
      model.set_threads(threads);
      model.gradients().setConstant(3.0);  // stale values must not survive
      const LabelConditionedLoss parts =
          model.loss_and_gradient(batch.x, batch.labels, batch.mask, batch.eps, 0.7);
      EXPECT_NEAR(parts.total, expected.total, 1e-12) << threads << " threads";
      EXPECT_NEAR(parts.kl, expected.kl, 1e-12);
      EXPECT_EQ(parts.labelled, expected.labelled);
      EXPECT_TRUE(model.gradients().isApprox(single.gradients(), 1e-12)) << threads << " threads";
      EXPECT_TRUE(model.gradients_finite());
    }
  }
}

Dataset labelled_images(Index count) {
  Rng rng(5);
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(16 * count));
  for (auto& p : pixels) p = static_cast<std::uint8_t>(rng.uniform_index(256));
  std::vector<std::uint8_t> labels(static_cast<std::size_t>(count));
  for (auto& l : labels) l = static_cast<std::uint8_t>(rng.uniform_index(3));
  return Dataset(4, 4, std::move(pixels), std::move(labels), 3, "m2 test images");
}

LabelConditionedSpec image_spec() {
  LabelConditionedSpec spec;
  spec.inputs = 16;
  spec.encoder_hidden = {12};
  spec.latent = 2;
  spec.classes = 3;
  spec.decoder_hidden = {10};
  spec.latent_reads_label = true;
  spec.label_weight = 5.0;
  return spec;
}

// M2 meets the model contract: the Trainer trains it on an image-label
// source (a third of the labels present), on threads, the same bits for a
// seed and thread count, and evaluate_loss reads its two tasks.
TEST(LabelConditionedVAE, TrainsThroughTheTrainerOnThreads) {
  const Dataset data = labelled_images(96);
  std::vector<std::uint8_t> labelled(96);
  for (std::size_t i = 0; i < labelled.size(); ++i) labelled[i] = i % 3 == 0;
  const ImageLabelSource<float> source(data, labelled);
  auto train = [&](int threads) {
    LabelConditionedVAET<float> model(image_spec(), 2);
    AdamT<float> adam(AdamOptions{});
    adam.reset(model.parameter_count());
    TrainerOptions options;
    options.epochs = 3;
    options.batch_size = 48;
    options.threads = threads;
    Trainer<LabelConditionedVAET<float>, AdamT<float>> trainer(model, adam, options);
    const TrainResult result = trainer.fit(source);
    EXPECT_EQ(result.epochs_run, 3);
    EXPECT_LT(result.history.back().train_loss, result.history.front().train_loss);
    return model;
  };
  LabelConditionedVAET<float> one = train(1);
  LabelConditionedVAET<float> two = train(2);
  LabelConditionedVAET<float> again = train(2);
  EXPECT_EQ(two.parameters(), again.parameters());
  EXPECT_TRUE(two.parameters().isApprox(one.parameters(), 1e-3));
  Rng rng(7);
  const LossParts parts = evaluate_loss(two, source, 32, rng);
  EXPECT_EQ(parts.samples, 96);
  EXPECT_EQ(parts.task_count[1], 32);  // the labelled third
  EXPECT_TRUE(std::isfinite(parts.total));
}

}  // namespace
}  // namespace scvae
