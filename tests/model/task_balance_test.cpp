#include "scvae/model/task_balance.hpp"

#include "../test_support.hpp"
#include "balance_fixture.hpp"
#include "scvae/model/scvae.hpp"
#include "scvae/model/spec_parse.hpp"

namespace scvae {
namespace {

// balance_fixture.hpp's model with learned uncertainty weights; its third
// task learns its variance.
ModelSpec balanced_spec(int tasks) {
  return testing::balance_test_spec(TaskBalance::Uncertainty, tasks,
                                    LikelihoodSpec::gaussian_learned_variance());
}

// The first of this file's batch seeds.
constexpr std::uint64_t kUncertaintyBatchSeed = 31;

// Moves every s_t away from 0 so that exp(-s_t) != 1 is exercised.
void set_log_variances(SCVAET<double>& model) {
  for (Index t = 0; t < model.task_count(); ++t)
    model.parameters()(model.balance_offset() + t) = 0.4 - 0.5 * static_cast<double>(t);
}

GradientCheckResult check_whole_loss(SCVAET<double>& model,
                                     const testing::BalanceBatch& batch) {
  const auto targets = batch.targets();
  const double beta = 0.6;
  model.loss_and_gradient(batch.x, targets, batch.eps, beta);
  const Vector<double> analytic = model.gradients();
  auto loss = [&](const Vector<double>& flat) {
    model.parameters() = flat;
    return model.loss(batch.x, targets, batch.eps, beta).total;
  };
  const Vector<double> point = model.parameters();
  const GradientCheckResult result = check_gradient(loss, point, analytic);
  model.parameters() = point;
  model.loss_and_gradient(batch.x, targets, batch.eps, beta);
  return result;
}

TEST(TaskBalance, MaskedTwoTaskGradientIncludingLogVariances) {
  SCVAET<double> model(balanced_spec(2), 5);
  set_log_variances(model);
  const testing::BalanceBatch batch(6, 2, kUncertaintyBatchSeed);
  testing::expect_gradient_ok(check_whole_loss(model, batch));
  for (Index t = 0; t < 2; ++t) EXPECT_NE(model.gradients()(model.balance_offset() + t), 0.0);
}

TEST(TaskBalance, MaskedThreeTaskGradientIncludingLogVariances) {
  SCVAET<double> model(balanced_spec(3), 5);
  set_log_variances(model);
  const testing::BalanceBatch batch(7, 3, kUncertaintyBatchSeed);
  testing::expect_gradient_ok(check_whole_loss(model, batch));
}

// A task with no target in the batch: its s_t gets no gradient (the s_t/2
// term counts only samples with a target) and the rest still checks.
TEST(TaskBalance, TaskWithNoTargetInTheBatchLeavesItsLogVarianceAlone) {
  SCVAET<double> model(balanced_spec(3), 5);
  set_log_variances(model);
  testing::BalanceBatch batch(7, 3, kUncertaintyBatchSeed);
  batch.mask_every_label();
  testing::expect_gradient_ok(check_whole_loss(model, batch));
  EXPECT_EQ(model.gradients()(model.balance_offset() + 1), 0.0);
  EXPECT_NE(model.gradients()(model.balance_offset() + 2), 0.0);
}

// Three chunks, the first of which has no label: each chunk's d/ds_t part is
// summed by the executor.
TEST(TaskBalance, ThreeThreadsMatchFiniteDifferences) {
  SCVAET<double> model(balanced_spec(3), 5);
  model.set_threads(3);
  set_log_variances(model);
  testing::BalanceBatch batch(48, 3, kUncertaintyBatchSeed);
  for (Index i = 0; i < 16; ++i) {
    batch.label_mask(i) = 0.0;
    batch.labels(0, i) = -1.0;
  }
  testing::expect_gradient_ok(check_whole_loss(model, batch));
}

TEST(TaskBalance, TotalIsTheBalancedObjectiveAndTaskNllsStayUnweighted) {
  SCVAET<double> model(balanced_spec(3), 5);
  set_log_variances(model);
  const testing::BalanceBatch batch(7, 3, kUncertaintyBatchSeed);
  const double beta = 0.6;
  const LossParts parts = model.loss(batch.x, batch.targets(), batch.eps, beta);
  double expected = beta * parts.kl_sum;
  for (Index t = 0; t < 3; ++t) {
    const auto u = static_cast<std::size_t>(t);
    const double s = model.parameters()(model.balance_offset() + t);
    expected += std::exp(-s) * model.task(t).weight * parts.task_nll_sum[u] +
                0.5 * s * static_cast<double>(parts.task_count[u]);
    EXPECT_DOUBLE_EQ(parts.task_nll[u], parts.task_nll_sum[u] / parts.task_count[u]);
    EXPECT_DOUBLE_EQ(model.task_balance_weights()[u], std::exp(-s));
  }
  EXPECT_NEAR(parts.total, expected / 7.0, 1e-12);
}

// Balance adds s_t after every other parameter and draws nothing: the other
// parameters start as the unbalanced model's, and the weights start at 1.
TEST(TaskBalance, AddsOneParameterPerTaskAfterTheOthers) {
  ModelSpec none = balanced_spec(3);
  none.balance = TaskBalance::None;
  const SCVAE plain(none, 9);
  const SCVAE balanced(balanced_spec(3), 9);
  ASSERT_EQ(balanced.parameter_count(), plain.parameter_count() + 3);
  EXPECT_EQ(plain.balance_offset(), -1);
  EXPECT_EQ(balanced.balance_offset(), plain.parameter_count());
  EXPECT_TRUE(testing::bit_identical(balanced.parameters().head(plain.parameter_count()),
                                     plain.parameters()));
  EXPECT_EQ(balanced.task_balance_weights(), std::vector<double>(3, 1.0));
  EXPECT_EQ(plain.task_balance_weights(), std::vector<double>(3, 1.0));
}

// A seed and a thread count fix every bit, the s_t included.
TEST(TaskBalance, SameSeedAndThreadsSameBits) {
  auto train = [](int threads) {
    SCVAE model(balanced_spec(3), 4);
    model.set_threads(threads);
    const testing::BalanceBatch batch(64, 3, kUncertaintyBatchSeed);
    const Matrix<float> x = batch.x.cast<float>(), labels = batch.labels.cast<float>(),
                        measurement = batch.measurement.cast<float>();
    const RowVector<float> label_mask = batch.label_mask.cast<float>(),
                           measurement_mask = batch.measurement_mask.cast<float>();
    const std::vector<TaskBatch<float>> targets{TaskBatch<float>(x),
                                                TaskBatch<float>(labels, label_mask),
                                                TaskBatch<float>(measurement, measurement_mask)};
    Rng rng(3);
    for (int step = 0; step < 5; ++step) {
      model.loss_and_gradient(x, targets, rng);
      model.parameters() -= 0.01f * model.gradients();
    }
    return Vector<float>(model.parameters());
  };
  for (const int threads : {1, 3}) {
    const Vector<float> first = train(threads);
    EXPECT_TRUE(testing::bit_identical(first, train(threads))) << threads << " thread(s)";
  }
}

TEST(TaskBalance, ArchitectureLineCarriesTheBalance) {
  for (const bool networks : {false, true}) {
    ModelSpec spec = balanced_spec(2);
    if (networks) {
      spec.encoder_hidden.clear();
      spec.encoder_network = "[dense(7) tanh dense(7) relu gaussian(3)]";
    }
    const std::string line = spec.architecture();
    SCOPED_TRACE(line);
    EXPECT_NE(line.find("; balance=uncertainty"), std::string::npos);
    const ModelSpec parsed = parse_model_spec(line);
    EXPECT_EQ(parsed.balance, TaskBalance::Uncertainty);
    EXPECT_EQ(parsed.architecture(), line);
    EXPECT_EQ(detail::described_parameter_count(parsed, line),
              static_cast<std::uint64_t>(SCVAE(parsed).parameter_count()));
    spec.balance = TaskBalance::None;
    EXPECT_EQ(spec.architecture().find("balance"), std::string::npos);
    EXPECT_EQ(parse_model_spec(spec.architecture()).balance, TaskBalance::None);
    EXPECT_THROW(parse_model_spec(line + "; task x"), FormatError);
    EXPECT_THROW(parse_model_spec(spec.architecture() + "; balance=pcgrad"), FormatError);
  }
}

}  // namespace
}  // namespace scvae
