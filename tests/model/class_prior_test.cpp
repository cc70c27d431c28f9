// The SC-VAE with a class prior (ModelSpec::class_prior, model/class_prior.hpp):
// the KL against the mixture, its gradient through the whole loss on one and
// several threads, the spec's rules and architecture line, the prior's
// density and draws, and IWAE with it.

#include "scvae/model/class_prior.hpp"

#include "../eval/eval_support.hpp"
#include "../test_support.hpp"
#include "scvae/data/batch_source.hpp"
#include "scvae/eval/iwae.hpp"
#include "scvae/io/load_model.hpp"
#include "scvae/model/scvae.hpp"
#include "scvae/model/spec_parse.hpp"

namespace scvae {
namespace {

constexpr Index kClasses = 4;

ModelSpec class_prior_spec() {
  ModelSpec spec;
  spec.inputs = 6;
  spec.encoder_hidden = {7};
  spec.latent = 3;
  spec.tasks.push_back(
      {"x", 6, {5}, LikelihoodSpec::gaussian(1.0), 1.0, Activation::Tanh, DecoderInput::Sample});
  spec.tasks.push_back({"label",
                        kClasses,
                        {},
                        LikelihoodSpec::categorical(kClasses),
                        2.5,
                        Activation::ReLU,
                        DecoderInput::Mean,
                        "[centres(4)]"});
  spec.class_prior = "label";
  return spec;
}

// Every second sample unlabelled (its label -1, never to be read).
struct ClassBatch {
  explicit ClassBatch(Index n)
      : x(testing::random_matrix(6, n, 41)),
        labels(1, n),
        mask(1, n),
        eps(testing::random_matrix(3, n, 42)) {
    for (Index i = 0; i < n; ++i) {
      mask(i) = i % 2 == 0 ? 0.0 : 1.0;
      labels(0, i) = mask(i) == 0.0 ? -1.0 : static_cast<double>(i % kClasses);
    }
  }
  std::vector<TaskBatch<double>> targets() const {
    return {TaskBatch<double>(x), TaskBatch<double>(labels, mask)};
  }
  Matrix<double> x, labels;
  RowVector<double> mask;
  Matrix<double> eps;
};

GradientCheckResult whole_loss_check(SCVAET<double>& model, const Matrix<double>& x,
                                     const std::vector<TaskBatch<double>>& targets,
                                     const Matrix<double>& eps, double beta) {
  model.loss_and_gradient(x, targets, eps, beta);
  const Vector<double> analytic = model.gradients();
  EXPECT_GT(analytic.norm(), 0.0);
  auto loss = [&](const Vector<double>& flat) {
    model.parameters() = flat;
    return model.loss(x, targets, eps, beta).total;
  };
  return check_gradient(loss, model.parameters(), analytic);
}

TEST(ClassPrior, WholeLossMatchesFiniteDifferences) {
  SCVAET<double> model(class_prior_spec(), 5);
  const ClassBatch batch(8);
  testing::expect_gradient_ok(whole_loss_check(model, batch.x, batch.targets(), batch.eps, 0.6));
}

// Class probabilities as targets (soft labels) weigh the components by them.
TEST(ClassPrior, SoftLabelsMatchFiniteDifferences) {
  SCVAET<double> model(class_prior_spec(), 6);
  const ClassBatch batch(6);
  Matrix<double> soft = testing::random_uniform(kClasses, 6, 43).array() + 0.1;
  for (Index j = 0; j < soft.cols(); ++j) soft.col(j) /= soft.col(j).sum();
  const std::vector<TaskBatch<double>> targets{TaskBatch<double>(batch.x),
                                               TaskBatch<double>(soft, batch.mask)};
  testing::expect_gradient_ok(whole_loss_check(model, batch.x, targets, batch.eps, 1.0));
}

// Chunk 0 of three holds no label: the read-out does not run there, and the
// centres' gradient is the prior's alone.
TEST(ClassPrior, ThreeThreadsMatchFiniteDifferencesWithAnUnlabelledChunk) {
  SCVAET<double> model(class_prior_spec(), 5);
  model.set_threads(3);
  ClassBatch batch(48);
  for (Index i = 0; i < 16; ++i) {
    batch.mask(i) = 0.0;
    batch.labels(0, i) = -1.0;
  }
  testing::expect_gradient_ok(whole_loss_check(model, batch.x, batch.targets(), batch.eps, 0.6));
}

TEST(ClassPrior, ThreadsAgreeAndRepeatBitForBit) {
  SCVAET<double> model(class_prior_spec(), 5);
  const ClassBatch batch(40);
  const auto targets = batch.targets();
  const LossParts one = model.loss_and_gradient(batch.x, targets, batch.eps, 0.6);
  const Vector<double> single = model.gradients();
  model.set_threads(2);
  const LossParts two = model.loss_and_gradient(batch.x, targets, batch.eps, 0.6);
  const Vector<double> first = model.gradients();
  EXPECT_NEAR(one.total, two.total, 1e-12);
  EXPECT_TRUE(first.isApprox(single, 1e-12));
  model.loss_and_gradient(batch.x, targets, batch.eps, 0.6);
  EXPECT_EQ(model.gradients(), first);
}

// The KL sum against the formulas of model/class_prior.hpp, written out.
TEST(ClassPrior, KlIsTheMixtureBoundForUnlabelledAndTheComponentForLabelled) {
  const SCVAET<double> model(class_prior_spec(), 7);
  SCVAET<double> copy = model;
  const ClassBatch batch(6);
  const LossParts parts = copy.loss(batch.x, batch.targets(), batch.eps, 1.0);
  Matrix<double> mu, logvar;
  model.encode(batch.x, mu, logvar);
  const Matrix<double> c = model.class_centres();
  double expected = 0.0;
  for (Index j = 0; j < 6; ++j) {
    double spread = 0.0;
    for (Index d = 0; d < 3; ++d) spread += 0.5 * (std::exp(logvar(d, j)) - 1.0 - logvar(d, j));
    double term;
    if (batch.mask(j) == 1.0) {
      term = 0.5 * (mu.col(j) - c.col(static_cast<Index>(batch.labels(0, j)))).squaredNorm();
    } else {
      double sum = 0.0;
      for (Index k = 0; k < kClasses; ++k)
        sum += std::exp(-0.5 * (mu.col(j) - c.col(k)).squaredNorm());
      term = -std::log(sum);
    }
    expected += spread + term + std::log(static_cast<double>(kClasses));
  }
  EXPECT_NEAR(parts.kl_sum, expected, 1e-10);
}

TEST(ClassPrior, SpecNamesACategoricalTaskReadByCentresFromTheMean) {
  EXPECT_NO_THROW(class_prior_spec().validate());
  ModelSpec unknown = class_prior_spec();
  unknown.class_prior = "colour";
  EXPECT_THROW(unknown.validate(), ArgumentError);
  ModelSpec sampled = class_prior_spec();
  sampled.tasks[1].input = DecoderInput::Sample;
  EXPECT_THROW(sampled.validate(), ArgumentError);
  ModelSpec dense = class_prior_spec();
  dense.tasks[1].network = "[dense(4)]";
  try {
    dense.validate();
    ADD_FAILURE() << "a dense read-out was accepted";
  } catch (const ArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("[centres(4)]"), std::string::npos) << e.what();
  }
  ModelSpec values = class_prior_spec();
  values.class_prior = "x";
  EXPECT_THROW(values.validate(), ArgumentError);
}

TEST(ClassPrior, ArchitectureLineRoundTripsAndNamesATask) {
  ModelSpec spec = class_prior_spec();
  for (const TaskBalance balance : {TaskBalance::None, TaskBalance::GradNorm}) {
    spec.balance = balance;
    const std::string line = spec.architecture();
    EXPECT_NE(line.find("; class-prior=label"), std::string::npos) << line;
    EXPECT_EQ(parse_model_spec(line).architecture(), line);
    EXPECT_EQ(parse_model_spec(line).class_prior, "label");
  }
  spec.balance = TaskBalance::None;
  std::string line = spec.architecture();
  const std::string renamed = line.substr(0, line.find("; class-prior=")) + "; class-prior=colour";
  EXPECT_THROW(parse_model_spec(renamed), FormatError);
  EXPECT_THROW(parse_model_spec(line + "; task y"), FormatError);
  // A line naming a prior over a dense read-out says what the prior needs.
  std::string dense_line = line;
  dense_line.replace(dense_line.find("[centres(4)]"), 12, "[dense(4)]");
  try {
    parse_model_spec(dense_line);
    ADD_FAILURE() << "a class prior over a dense read-out was accepted";
  } catch (const ArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("[centres(4)]"), std::string::npos) << e.what();
  }
  ModelSpec plain = spec;
  plain.class_prior.clear();
  EXPECT_EQ(plain.architecture().find("class-prior"), std::string::npos);
  EXPECT_EQ(SCVAET<double>(plain, 3).parameter_count(), SCVAET<double>(spec, 3).parameter_count());
}

TEST(ClassPrior, LogPriorIsTheMixtureDensityAndDrawsComeFromEachClass) {
  const SCVAET<double> model(class_prior_spec(), 8);
  const Matrix<double> c = model.class_centres();
  const Matrix<double> z = testing::random_matrix(3, 5, 44);
  RowVector<double> log_p(5);
  model.log_prior(z, log_p);
  for (Index j = 0; j < 5; ++j) {
    double sum = 0.0;
    for (Index k = 0; k < kClasses; ++k)
      sum += std::exp(-0.5 * (z.col(j) - c.col(k)).squaredNorm());
    EXPECT_NEAR(log_p(j), std::log(sum / kClasses), 1e-12);
  }
  Matrix<double> draws(3, 8), noise(3, 8);
  Rng a(9), b(9);
  model.sample_prior(a, draws);
  b.fill_normal(noise);
  for (Index j = 0; j < 8; ++j)
    EXPECT_TRUE((draws.col(j) - noise.col(j)).isApprox(c.col(j % kClasses), 1e-12)) << j;
  ModelSpec plain = class_prior_spec();
  plain.class_prior.clear();
  const SCVAET<double> standard(plain, 8);
  standard.log_prior(z, log_p);
  EXPECT_NEAR(log_p(1), -0.5 * z.col(1).squaredNorm(), 1e-12);
}

// Centres at 0 make the mixture N(0, I): IWAE then agrees with the same
// parameters under the standard prior, and moves once the centres do.
TEST(ClassPrior, IwaeUsesTheMixtureAsThePrior) {
  ModelSpec spec = eval_testing::image_label_spec();
  spec.tasks[1].hidden.clear();
  spec.tasks[1].network = "[centres(3)]";
  spec.tasks[1].input = DecoderInput::Mean;
  ModelSpec plain_spec = spec;
  spec.class_prior = "label";
  SCVAET<double> with_prior(spec, 5);
  SCVAET<double> plain(plain_spec, 5);
  const Index centres = with_prior.decoder(1).offset();
  with_prior.parameters().segment(centres, 3 * 3).setZero();
  plain.parameters() = with_prior.parameters();
  const Dataset data = eval_testing::make_data();
  const ImageLabelSource<double> source(data, eval_testing::labelled_flags(data.size()));
  for (const std::vector<Index>& tasks : {std::vector<Index>{0}, std::vector<Index>{}}) {
    Rng a(3), b(3);
    const double standard = evaluate_iwae(plain, source, 5, 10, b, tasks).nll;
    EXPECT_NEAR(evaluate_iwae(with_prior, source, 5, 10, a, tasks).nll, standard, 1e-9);
    with_prior.parameters().segment(centres, 3 * 3).setConstant(1.5);
    Rng c(3);
    EXPECT_GT(std::abs(evaluate_iwae(with_prior, source, 5, 10, c, tasks).nll - standard), 1e-3);
    with_prior.parameters().segment(centres, 3 * 3).setZero();
  }
}

TEST(ClassPrior, ACheckpointLoadsWithItsPrior) {
  SCVAET<double> model(class_prior_spec(), 5);
  const ClassBatch batch(6);
  model.loss_and_gradient(batch.x, batch.targets(), batch.eps, 1.0);
  model.parameters() -= 0.1 * model.gradients();
  testing::TempDir dir;
  const std::string path = (dir.path / "prior.scvae").string();
  save_model(path, model);
  const SCVAET<double> loaded = load_model<double>(path);
  EXPECT_TRUE(loaded.has_class_prior());
  EXPECT_EQ(loaded.architecture(), model.architecture());
  EXPECT_EQ(loaded.parameters(), model.parameters());
  // Task weights are not in a checkpoint (they come back as 1): compare the parts.
  SCVAET<double> copy = loaded;
  const LossParts reloaded = copy.loss(batch.x, batch.targets(), batch.eps, 1.0);
  const LossParts saved = model.loss(batch.x, batch.targets(), batch.eps, 1.0);
  EXPECT_EQ(reloaded.kl_sum, saved.kl_sum);
  EXPECT_EQ(reloaded.task_nll_sum, saved.task_nll_sum);
}

}  // namespace
}  // namespace scvae
