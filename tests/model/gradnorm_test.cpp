#include "scvae/model/gradnorm.hpp"

#include "../test_support.hpp"
#include "balance_fixture.hpp"
#include "scvae/io/load_model.hpp"
#include "scvae/model/scvae.hpp"
#include "scvae/model/spec_parse.hpp"
#include "scvae/optim/adam.hpp"
#include "scvae/train/checkpointing.hpp"

namespace scvae {
namespace {

// balance_fixture.hpp's model under GradNorm; its third task has a fixed
// variance.
ModelSpec gradnorm_spec(int tasks) {
  return testing::balance_test_spec(TaskBalance::GradNorm, tasks, LikelihoodSpec::gaussian(0.5));
}

// The first of this file's batch seeds.
constexpr std::uint64_t kGradNormBatchSeed = 41;

// Learned weights away from 1 and first losses already measured, so that
// exp(a_t) != 1 and r_t != 1 are exercised.
void set_gradnorm_state(SCVAET<double>& model) {
  const Index tasks = model.task_count();
  for (Index t = 0; t < tasks; ++t) {
    model.parameters()(model.balance_offset() + t) = 0.3 - 0.4 * static_cast<double>(t);
    model.parameters()(model.balance_offset() + tasks + t) = 0.5 + static_cast<double>(t);
  }
}

// The model loss at the current weights: every parameter but the a_t (whose
// gradient is GradNorm's, not the loss's) against central differences.
GradientCheckResult check_loss_except_learned_weights(SCVAET<double>& model,
                                                      const testing::BalanceBatch& batch) {
  const auto targets = batch.targets();
  const double beta = 0.6;
  model.loss_and_gradient(batch.x, targets, batch.eps, beta);
  const Index offset = model.balance_offset(), tasks = model.task_count();
  const Index rest = model.parameter_count() - offset - tasks;
  auto without_weights = [&](const Vector<double>& all) {
    Vector<double> kept(offset + rest);
    kept << all.head(offset), all.tail(rest);
    return kept;
  };
  const Vector<double> full = model.parameters();
  const Vector<double> analytic = without_weights(model.gradients());
  auto loss = [&](const Vector<double>& kept) {
    model.parameters().head(offset) = kept.head(offset);
    model.parameters().tail(rest) = kept.tail(rest);
    return model.loss(batch.x, targets, batch.eps, beta).total;
  };
  const GradientCheckResult result = check_gradient(loss, without_weights(full), analytic);
  model.parameters() = full;
  return result;
}

TEST(GradNorm, ModelLossAtFixedWeightsMatchesFiniteDifferences) {
  for (const int threads : {1, 3}) {
    SCOPED_TRACE(std::to_string(threads) + " thread(s)");
    SCVAET<double> model(gradnorm_spec(3), 5);
    model.set_threads(threads);
    set_gradnorm_state(model);
    const testing::BalanceBatch batch(48, 3, kGradNormBatchSeed);
    testing::expect_gradient_ok(check_loss_except_learned_weights(model, batch));
    // The L_t(0) are state: the loss does not read them.
    for (Index t = 0; t < 3; ++t)
      EXPECT_EQ(model.gradients()(model.balance_offset() + 3 + t), 0.0);
  }
}

// G_t against the norm of central differences of task t's weighed batch-mean
// NLL at the latent code, computed from the public inference calls alone.
TEST(GradNorm, GradientNormsAreThoseOfEachTaskAtTheLatentCode) {
  SCVAET<double> model(gradnorm_spec(3), 5);
  set_gradnorm_state(model);
  const testing::BalanceBatch batch(6, 3, kGradNormBatchSeed);
  const auto targets = batch.targets();
  model.loss_and_gradient(batch.x, targets, batch.eps, 0.6);
  Matrix<double> mu, logvar;
  model.encode(batch.x, mu, logvar);
  const Matrix<double> z = mu.array() + (0.5 * logvar.array()).exp() * batch.eps.array();
  const std::vector<double> learned = model.task_balance_weights();
  for (Index t = 0; t < 3; ++t) {
    const auto u = static_cast<std::size_t>(t);
    const Matrix<double> code = model.task(t).input == DecoderInput::Mean ? mu : z;
    const double factor = model.task(t).weight * learned[u] / 6.0;
    auto task_loss = [&](const Matrix<double>& at) {
      RowVector<double> nll;
      const Matrix<double> target = targets[u].target;
      Matrix<double> safe_target = target;
      if (t == 1) safe_target = safe_target.cwiseMax(0.0);  // masked labels are -1
      model.task_nll(t, at, safe_target, nll);
      if (targets[u].mask) nll = nll.cwiseProduct(*targets[u].mask);
      return factor * nll.sum();
    };
    Matrix<double> numeric(code.rows(), code.cols());
    for (Index i = 0; i < code.size(); ++i) {
      Matrix<double> up = code, down = code;
      up(i) += 1e-6;
      down(i) -= 1e-6;
      numeric(i) = (task_loss(up) - task_loss(down)) / 2e-6;
    }
    EXPECT_NEAR(model.gradnorm_status().gradient_norm[u], numeric.norm(), 1e-7 * numeric.norm())
        << model.task(t).name;
  }
}

// dL_grad/da through the model: each a_t moves G_t (recomputed by a whole
// training step) while the targets G*_t stay those of the unperturbed step.
TEST(GradNorm, LearnedWeightGradientIsThatOfTheGradientNormLoss) {
  for (const int tasks : {2, 3}) {
    SCOPED_TRACE(std::to_string(tasks) + " tasks");
    SCVAET<double> model(gradnorm_spec(tasks), 5);
    set_gradnorm_state(model);
    const testing::BalanceBatch batch(7, tasks, kGradNormBatchSeed);
    const auto targets = batch.targets();
    model.loss_and_gradient(batch.x, targets, batch.eps, 0.6);
    const GradNormStatus at_point = model.gradnorm_status();
    const Index offset = model.balance_offset();
    const Vector<double> analytic = model.gradients().segment(offset, tasks);
    const Vector<double> parameters = model.parameters();
    auto gradnorm_loss = [&](const Vector<double>& a) {
      model.parameters().segment(offset, tasks) = a;
      model.loss_and_gradient(batch.x, targets, batch.eps, 0.6);
      double loss = 0.0;
      for (std::size_t t = 0; t < at_point.target_norm.size(); ++t)
        loss += std::abs(model.gradnorm_status().gradient_norm[t] - at_point.target_norm[t]);
      return loss;
    };
    testing::expect_gradient_ok(
        check_gradient(gradnorm_loss, parameters.segment(offset, tasks), analytic));
    model.parameters() = parameters;
    EXPECT_EQ(analytic(0), 0.0);  // the first task's weight is fixed
    for (Index t = 1; t < tasks; ++t) EXPECT_NE(analytic(t), 0.0);
    EXPECT_NEAR(at_point.loss, gradnorm_loss(parameters.segment(offset, tasks)), 1e-12);
  }
}

// r_t and the targets, from the first losses the test set.
TEST(GradNorm, TargetsFollowTheRelativeTrainingRates) {
  ModelSpec spec = gradnorm_spec(3);
  spec.gradnorm_alpha = 0.8;
  SCVAET<double> model(spec, 5);
  set_gradnorm_state(model);
  const testing::BalanceBatch batch(7, 3, kGradNormBatchSeed);
  const LossParts parts = model.loss_and_gradient(batch.x, batch.targets(), batch.eps, 0.6);
  const GradNormStatus& status = model.gradnorm_status();
  double ratio_sum = 0.0, norm_sum = 0.0;
  for (std::size_t t = 0; t < 3; ++t) {
    const double initial = model.parameters()(model.balance_offset() + 3 + static_cast<Index>(t));
    EXPECT_DOUBLE_EQ(status.loss_ratio[t], parts.task_nll[t] / initial);
    ratio_sum += status.loss_ratio[t];
    norm_sum += status.gradient_norm[t];
  }
  for (std::size_t t = 0; t < 3; ++t)
    EXPECT_NEAR(status.target_norm[t],
                norm_sum / 3.0 * std::pow(status.loss_ratio[t] / (ratio_sum / 3.0), 0.8), 1e-12);
}

// At a_t = 0 the weights are the hand-set ones: the first step's gradient is
// the unbalanced model's, bit for bit, and it records each L_t(0).
TEST(GradNorm, FirstStepIsTheUnbalancedOneAndRecordsTheFirstLosses) {
  ModelSpec none = gradnorm_spec(3);
  none.balance = TaskBalance::None;
  SCVAET<double> plain(none, 9), balanced(gradnorm_spec(3), 9);
  ASSERT_EQ(balanced.parameter_count(), plain.parameter_count() + 6);
  EXPECT_EQ(balanced.balance_offset(), plain.parameter_count());
  EXPECT_EQ(balanced.task_balance_weights(), std::vector<double>(3, 1.0));
  const testing::BalanceBatch batch(7, 3, kGradNormBatchSeed);
  const LossParts want = plain.loss_and_gradient(batch.x, batch.targets(), batch.eps, 0.6);
  const LossParts got = balanced.loss_and_gradient(batch.x, batch.targets(), batch.eps, 0.6);
  EXPECT_EQ(got.total, want.total);
  EXPECT_TRUE(balanced.gradients().head(plain.parameter_count()) == plain.gradients());
  for (Index t = 0; t < 3; ++t)
    EXPECT_EQ(balanced.parameters()(balanced.balance_offset() + 3 + t),
              got.task_nll[static_cast<std::size_t>(t)]);
  // A second step keeps them.
  const Vector<double> first = balanced.parameters();
  balanced.loss_and_gradient(batch.x, batch.targets(), 0.5 * batch.eps, 0.6);
  EXPECT_TRUE(balanced.parameters() == first);
}

// A task with no target in the batch: no G_t, no gradient for its a_t, and
// its L_t(0) waits for a batch that has one.
TEST(GradNorm, TaskWithNoTargetIsLeftOut) {
  SCVAET<double> model(gradnorm_spec(3), 5);
  testing::BalanceBatch batch(7, 3, kGradNormBatchSeed);
  batch.label_mask.setZero();
  batch.labels.setConstant(-1.0);
  model.loss_and_gradient(batch.x, batch.targets(), batch.eps, 0.6);
  EXPECT_EQ(model.gradnorm_status().gradient_norm[1], 0.0);
  EXPECT_EQ(model.gradients()(model.balance_offset() + 1), 0.0);
  EXPECT_NE(model.gradients()(model.balance_offset() + 2), 0.0);
  EXPECT_EQ(model.parameters()(model.balance_offset() + 3 + 1), 0.0);
  EXPECT_NE(model.parameters()(model.balance_offset() + 3 + 2), 0.0);
}

// Trains a float model with Adam, reading every target from one batch.
struct GradNormRun {
  explicit GradNormRun(int threads)
      : model(gradnorm_spec(3), 4), batch(64, 3, kGradNormBatchSeed) {
    model.set_threads(threads);
    x = batch.x.cast<float>();
    labels = batch.labels.cast<float>();
    measurement = batch.measurement.cast<float>();
    label_mask = batch.label_mask.cast<float>();
    measurement_mask = batch.measurement_mask.cast<float>();
  }
  void train(int steps, std::uint64_t seed) {
    const std::vector<TaskBatch<float>> targets{TaskBatch<float>(x),
                                                TaskBatch<float>(labels, label_mask),
                                                TaskBatch<float>(measurement, measurement_mask)};
    Rng rng(seed);
    for (int step = 0; step < steps; ++step) {
      model.loss_and_gradient(x, targets, rng);
      adam.step(model.parameters(), model.gradients());
    }
  }
  SCVAE model;
  Adam adam{AdamOptions{0.05}};
  testing::BalanceBatch batch;
  Matrix<float> x, labels, measurement;
  RowVector<float> label_mask, measurement_mask;
};

TEST(GradNorm, SameSeedAndThreadsSameBits) {
  for (const int threads : {1, 3}) {
    GradNormRun first(threads), second(threads);
    first.train(6, 3);
    second.train(6, 3);
    EXPECT_TRUE(testing::bit_identical(first.model.parameters(), second.model.parameters()))
        << threads << " thread(s)";
    EXPECT_NE(first.model.task_balance_weights()[1], 1.0) << "the a_t moved";
    EXPECT_EQ(first.model.task_balance_weights()[0], 1.0);
  }
}

// The first losses and the a_t are parameters: a run resumed from a
// training checkpoint continues bit for bit as the straight run.
TEST(GradNorm, ResumedRunIsBitIdentical) {
  testing::TempDir dir("scvae_gradnorm_resume");
  const std::string path = (dir.path / "run.scvae").string();
  GradNormRun straight(2);
  straight.train(4, 3);
  straight.train(4, 8);
  GradNormRun first(2);
  first.train(4, 3);
  save_training_checkpoint(path, first.model, first.adam, 1);
  GradNormRun resumed(2);
  resumed.model.parameters().setZero();
  EXPECT_EQ(load_training_checkpoint(path, resumed.model, resumed.adam), 1);
  resumed.train(4, 8);
  EXPECT_TRUE(testing::bit_identical(resumed.model.parameters(), straight.model.parameters()));
}

TEST(GradNorm, CheckpointAndArchitectureLineRoundTrip) {
  testing::TempDir dir("scvae_gradnorm_checkpoint");
  const std::string path = (dir.path / "model.scvae").string();
  GradNormRun trained(1);
  trained.train(5, 3);
  const std::string line = trained.model.architecture();
  EXPECT_NE(line.find("; balance=gradnorm"), std::string::npos) << line;
  const ModelSpec parsed = parse_model_spec(line);
  EXPECT_EQ(parsed.balance, TaskBalance::GradNorm);
  EXPECT_EQ(parsed.architecture(), line);
  EXPECT_EQ(detail::described_parameter_count(parsed, line),
            static_cast<std::uint64_t>(trained.model.parameter_count()));
  EXPECT_THROW(parse_model_spec(line + "; balance=uncertainty"), FormatError);
  save_model(path, trained.model);
  SCVAE loaded = load_model<float>(path);
  EXPECT_EQ(loaded.spec().balance, TaskBalance::GradNorm);
  EXPECT_TRUE(testing::bit_identical(loaded.parameters(), trained.model.parameters()));
  EXPECT_EQ(loaded.task_balance_weights(), trained.model.task_balance_weights());
}

// The default alpha is 0 (examples/RESULTS-balance.md): every target G*_t is
// the mean gradient norm, whatever the training rates, and a spec read back
// from its architecture line gets it too.
TEST(GradNorm, DefaultAlphaAsksForEqualGradientNorms) {
  EXPECT_EQ(ModelSpec{}.gradnorm_alpha, 0.0);
  SCVAET<double> model(gradnorm_spec(3), 5);
  EXPECT_EQ(parse_model_spec(model.architecture()).gradnorm_alpha, 0.0);
  set_gradnorm_state(model);
  const testing::BalanceBatch batch(7, 3, kGradNormBatchSeed);
  model.loss_and_gradient(batch.x, batch.targets(), batch.eps, 0.6);
  const GradNormStatus& status = model.gradnorm_status();
  const double mean_norm =
      (status.gradient_norm[0] + status.gradient_norm[1] + status.gradient_norm[2]) / 3.0;
  EXPECT_NE(status.loss_ratio[1], status.loss_ratio[2]);  // alpha > 0 would part the targets
  for (std::size_t t = 0; t < 3; ++t) EXPECT_DOUBLE_EQ(status.target_norm[t], mean_norm);
}

TEST(GradNorm, AlphaMustBeFiniteAndNotNegative) {
  ModelSpec spec = gradnorm_spec(2);
  spec.gradnorm_alpha = -0.5;
  EXPECT_THROW(SCVAE(spec, 1), ArgumentError);
  spec.gradnorm_alpha = HUGE_VAL;
  EXPECT_THROW(SCVAE(spec, 1), ArgumentError);
}

}  // namespace
}  // namespace scvae
