// Run under `mpirun -np 2` (and 3): evaluation split across the ranks of a
// model's rank group (eval/rank_shards.hpp). evaluate_iwae, accuracy,
// evaluate_regression and predictive_accuracy on the ranks give, on every
// rank, the bits of the same call in one process (the model without its
// group), and leave the Rng where one process leaves it; each rank fills
// only its share of the batches, also with a pool of threads on every
// rank. evaluate_loss on R ranks x 1 thread gives
// the bits of one process with R threads (Model::loss splits its chunks).

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "../test_support.hpp"
#include "mpi_main.hpp"
#include "scvae/distributed.hpp"
#include "scvae/scvae.hpp"

namespace scvae {
namespace {

using testing::world;

/// An image (the input), its class (masked for one sample in three) and two
/// real values from the image's halves (masked for one sample in five).
/// Counts its fill() calls.
class ThreeTaskSource final : public BatchSource<float> {
 public:
  explicit ThreeTaskSource(const Dataset& data) : data_(data) {}
  Index size() const override { return data_.size(); }
  Index task_count() const override { return 3; }
  Index fills() const { return fills_; }

  void fill(const std::vector<Index>& order, Index begin, Index end,
            Batch<float>& batch) const override {
    ++fills_;
    const Index n = end - begin;
    batch.targets.resize(3);
    batch.masks.resize(3);
    batch.target_is_input = {true, false, false};
    data_.batch(order, begin, end, batch.x);
    data_.label_batch(order, begin, end, batch.targets[1]);
    batch.targets[2].resize(2, n);
    batch.masks[1].resize(n);
    batch.masks[2].resize(n);
    const Index half = batch.x.rows() / 2;
    for (Index j = 0; j < n; ++j) {
      const Index sample = order[static_cast<std::size_t>(begin + j)];
      batch.targets[2](0, j) = batch.x.col(j).head(half).mean() * 4.0f - 1.0f;
      batch.targets[2](1, j) = batch.x.col(j).tail(half).mean() * 4.0f - 1.0f;
      batch.masks[1](j) = sample % 3 == 1 ? 0.0f : 1.0f;
      batch.masks[2](j) = sample % 5 == 2 ? 0.0f : 1.0f;
    }
  }

 private:
  const Dataset& data_;
  mutable Index fills_ = 0;
};

ModelSpec three_task_spec() {
  ModelSpec spec;
  spec.inputs = 36;
  spec.encoder_hidden = {12};
  spec.latent = 3;
  spec.tasks.push_back({"image", 36, {12}, LikelihoodSpec::bernoulli()});
  spec.tasks.push_back({"label", 3, {8}, LikelihoodSpec::categorical(3)});
  spec.tasks.push_back({"value", 2, {8}, LikelihoodSpec::gaussian()});
  return spec;
}

// 150 samples in batches of 16: 10 batches, the last of 6; on 2 ranks 5
// each, on 3 ranks 3, 3 and 4.
constexpr Index kSamples = 150;
constexpr Index kBatch = 16;
constexpr Index kBatches = 10;

class DistributedEvaluation : public ::testing::Test {
 protected:
  DistributedEvaluation() : data_(testing::make_images(kSamples, 9)), source_(data_) {
    distributed_.set_rank_group(&world());
    alone_.set_rank_group(nullptr);
  }

  /// The batches rank r computes: its slice of kBatches.
  static Index own_batches() {
    const Index r = world().rank(), ranks = world().size();
    return kBatches * (r + 1) / ranks - kBatches * r / ranks;
  }

  Dataset data_;
  ThreeTaskSource source_;
  SCVAE distributed_{three_task_spec(), 7};
  SCVAE alone_{three_task_spec(), 7};  ///< the same parameters, in this process alone
};

TEST_F(DistributedEvaluation, IwaeHasTheBitsOfOneProcessAndLeavesTheRngWhereItDoes) {
  ASSERT_GT(world().size(), 1);
  for (const std::vector<Index>& tasks : {std::vector<Index>{}, std::vector<Index>{0}}) {
    Rng ranks_rng(11), alone_rng(11);
    const Index fills_before = source_.fills();
    const IwaeResult ranks = evaluate_iwae(distributed_, source_, 5, kBatch, ranks_rng, tasks);
    EXPECT_EQ(source_.fills() - fills_before, own_batches());
    const IwaeResult alone = evaluate_iwae(alone_, source_, 5, kBatch, alone_rng, tasks);
    EXPECT_EQ(ranks.nll, alone.nll);
    EXPECT_EQ(ranks.elbo_loss, alone.elbo_loss);
    EXPECT_EQ(ranks.samples, kSamples);
    EXPECT_EQ(ranks_rng.normal(), alone_rng.normal());
  }
}

TEST_F(DistributedEvaluation, AccuracyCountsEverySampleOnceAcrossTheRanks) {
  const Index fills_before = source_.fills();
  const AccuracyResult ranks = evaluate_accuracy(distributed_, 1, source_, kBatch);
  EXPECT_EQ(source_.fills() - fills_before, own_batches());
  const AccuracyResult alone = evaluate_accuracy(alone_, 1, source_, kBatch);
  EXPECT_EQ(ranks.correct, alone.correct);
  EXPECT_EQ(ranks.total, alone.total);
  EXPECT_EQ(ranks.total, kSamples - kSamples / 3);  // one in three masked
  EXPECT_EQ(ranks.accuracy, alone.accuracy);
}

TEST_F(DistributedEvaluation, RegressionHasTheBitsOfOneProcess) {
  const Index fills_before = source_.fills();
  const RegressionResult ranks = evaluate_regression(distributed_, 2, source_, kBatch);
  // Its share, and the first batch for the targets' rows.
  EXPECT_EQ(source_.fills() - fills_before, own_batches() + 1);
  const RegressionResult alone = evaluate_regression(alone_, 2, source_, kBatch);
  EXPECT_EQ(ranks.rmse, alone.rmse);
  EXPECT_EQ(ranks.mae, alone.mae);
  EXPECT_EQ(ranks.values, alone.values);
  EXPECT_EQ(ranks.values, 2 * (kSamples - kSamples / 5));  // one in five masked
}

TEST_F(DistributedEvaluation, PredictiveAccuracyHasTheBitsOfOneProcess) {
  Rng ranks_rng(13), alone_rng(13);
  const double ranks = predictive_accuracy(distributed_, 1, data_, 4, ranks_rng, kBatch);
  const double alone = predictive_accuracy(alone_, 1, data_, 4, alone_rng, kBatch);
  EXPECT_EQ(ranks, alone);
  EXPECT_EQ(ranks_rng.normal(), alone_rng.normal());
}

// Each rank's block split again across the threads of a pool
// (eval/evaluation_threads.hpp): 5 batches on 2 threads as 2 and 3, 3 as 1
// and 2, 4 as 2 and 2.
TEST_F(DistributedEvaluation, APoolOnEveryRankKeepsTheBitsOfOneThreadInOneProcess) {
  ThreadPool pool(2);
  Rng ranks_rng(11), alone_rng(11);
  const Index fills_before = source_.fills();
  const IwaeResult ranks = evaluate_iwae(distributed_, source_, 5, kBatch, ranks_rng, {}, &pool);
  EXPECT_EQ(source_.fills() - fills_before, own_batches());
  const IwaeResult alone = evaluate_iwae(alone_, source_, 5, kBatch, alone_rng);
  EXPECT_EQ(ranks.nll, alone.nll);
  EXPECT_EQ(ranks.elbo_loss, alone.elbo_loss);
  EXPECT_EQ(ranks_rng.normal(), alone_rng.normal());

  const AccuracyResult ranks_accuracy = evaluate_accuracy(distributed_, 1, source_, kBatch, &pool);
  const AccuracyResult alone_accuracy = evaluate_accuracy(alone_, 1, source_, kBatch);
  EXPECT_EQ(ranks_accuracy.correct, alone_accuracy.correct);
  EXPECT_EQ(ranks_accuracy.total, alone_accuracy.total);

  const RegressionResult ranks_errors =
      evaluate_regression(distributed_, 2, source_, kBatch, &pool);
  const RegressionResult alone_errors = evaluate_regression(alone_, 2, source_, kBatch);
  EXPECT_EQ(ranks_errors.rmse, alone_errors.rmse);
  EXPECT_EQ(ranks_errors.mae, alone_errors.mae);

  Rng ranks_draws(13), alone_draws(13);
  EXPECT_EQ(predictive_accuracy(distributed_, 1, data_, 4, ranks_draws, kBatch, &pool),
            predictive_accuracy(alone_, 1, data_, 4, alone_draws, kBatch));
  EXPECT_EQ(ranks_draws.normal(), alone_draws.normal());
}

TEST_F(DistributedEvaluation, LossOnRanksOfOneThreadHasTheBitsOfOneProcessWithThatManyThreads) {
  alone_.set_threads(world().size());
  // Batches of 64: every batch has a chunk (of at least 16 samples) per rank.
  Rng ranks_rng(17), alone_rng(17);
  const LossParts ranks = evaluate_loss(distributed_, source_, 64, ranks_rng);
  const LossParts alone = evaluate_loss(alone_, source_, 64, alone_rng);
  EXPECT_EQ(ranks.total, alone.total);
  EXPECT_EQ(ranks.kl, alone.kl);
  ASSERT_EQ(ranks.task_nll.size(), alone.task_nll.size());
  for (std::size_t t = 0; t < ranks.task_nll.size(); ++t)
    EXPECT_EQ(ranks.task_nll[t], alone.task_nll[t]) << "task " << t;
}

TEST_F(DistributedEvaluation, ValidationMetricsHaveTheBitsOfOneProcessWithAllTheThreads) {
  alone_.set_threads(world().size());
  EpochReport ranks, alone;
  report_validation(distributed_, source_, 64, 5, ranks);
  report_validation(alone_, source_, 64, 5, alone);
  ASSERT_FALSE(alone.metrics.empty());
  EXPECT_EQ(ranks.metrics, alone.metrics);
}

}  // namespace
}  // namespace scvae
