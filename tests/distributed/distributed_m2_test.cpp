// Run under `mpirun -np 2` (and 3): M2 (LabelConditionedVAE), whose chunks
// are balanced by cost (an unlabelled image is decoded once per class), on
// R ranks x T threads gives the bits of one process with R*T threads: one
// step's loss and gradient, the loss alone, and three epochs of training
// with an oversampled labelled subset, evaluated every epoch (its loss
// through Model::loss's chunks, its accuracies split across the ranks).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../test_support.hpp"
#include "mpi_main.hpp"
#include "scvae/distributed.hpp"
#include "scvae/scvae.hpp"

namespace scvae {
namespace {

using testing::world;

LabelConditionedSpec m2_spec() {
  LabelConditionedSpec spec;
  spec.inputs = 36;
  spec.encoder_hidden = {12};
  spec.latent = 2;
  spec.classes = 3;
  spec.classifier_hidden = {6};
  spec.decoder_hidden = {12};
  spec.latent_reads_label = true;
  spec.label_weight = 5.0;
  spec.entropy_weight = 0.5;
  return spec;
}

/// One image in four labelled: the unlabelled ones cost about seven times
/// as much (3 classes + 0.5 against 1.5), so the cost-balanced bounds are
/// far from equal chunks.
std::vector<std::uint8_t> one_in_four(Index n) {
  std::vector<std::uint8_t> labelled(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) labelled[static_cast<std::size_t>(i)] = i % 4 == 0;
  return labelled;
}

TEST(DistributedM2, OneStepsLossAndGradientAreTheBitsOfOneProcessWithAllTheThreads) {
  // 120 samples: up to 7 chunks of at least 16 (3 ranks x 2 threads = 6).
  const Dataset data = testing::make_images(120, 5);
  // Labelled first, as an oversampled batch has them, then one in four.
  std::vector<std::uint8_t> labelled = one_in_four(data.size());
  for (std::size_t i = 0; i < 30; ++i) labelled[i] = 1;
  const PartlyLabelledSource<float> source(data, labelled);
  Batch<float> batch;
  source.fill(data.identity_order(), 0, data.size(), batch);
  Matrix<float> eps(m2_spec().latent, data.size());
  Rng rng(3);
  rng.fill_normal(eps);
  for (const int threads : {1, 2}) {
    SCOPED_TRACE(std::to_string(threads) + " thread(s) per rank");
    LabelConditionedVAE ranks(m2_spec(), 7), one(m2_spec(), 7);
    ranks.set_rank_group(&world());
    EXPECT_EQ(ranks.rank_group(), &world());
    ranks.set_threads(threads);
    one.set_threads(threads * world().size());
    ranks.gradients().setConstant(3.0);  // stale values must not survive
    const LossParts a = ranks.loss_and_gradient(batch.x, task_batches(batch), eps, 0.7);
    const LossParts b = one.loss_and_gradient(batch.x, task_batches(batch), eps, 0.7);
    EXPECT_EQ(a.total, b.total);
    EXPECT_EQ(a.kl_sum, b.kl_sum);
    EXPECT_EQ(a.task_nll_sum, b.task_nll_sum);
    EXPECT_EQ(a.task_count, b.task_count);
    EXPECT_EQ(a.task_count[1], b.task_count[1]);
    EXPECT_TRUE(ranks.gradients_finite());
    // Every chunk runs every part of M2, so even the zeros' signs agree.
    EXPECT_TRUE(testing::bit_identical(ranks.gradients(), one.gradients()));
    const LossParts c = ranks.loss(batch.x, task_batches(batch), eps, 0.7);
    EXPECT_EQ(c.total, b.total);
    EXPECT_EQ(c.task_nll_sum, b.task_nll_sum);
  }
}

struct TrainingRun {
  Vector<float> parameters;
  Vector<float> first_moment;
  std::vector<double> metrics;  ///< train loss, test loss and two accuracies, epoch after epoch
};

/// Three epochs of M2 on 150 images (a quarter labelled, oversampled to a
/// third of each batch) in batches of 64 (up to 4 chunks: on 3 ranks x 2
/// threads the last rank has none); the last batch (22) is one chunk, which
/// only rank 0 computes. With a group every rank starts from its own
/// seed and takes rank 0's state.
TrainingRun train(RankGroup* group, int threads) {
  const Dataset train_data = testing::make_images(150, 5);
  const Dataset test_data = testing::make_images(50, 6);
  const std::vector<std::uint8_t> labelled = one_in_four(train_data.size());
  const PartlyLabelledSource<float> source(train_data, labelled);
  const ImageLabelSource<float> test_source(test_data);
  LabelConditionedVAE model(m2_spec(),
                            42 + (group ? static_cast<std::uint64_t>(group->rank()) : 0));
  model.set_rank_group(group);
  Adam adam(AdamOptions{3e-3});
  TrainerOptions options;
  options.epochs = 3;
  options.batch_size = 64;
  options.seed = 42;
  options.threads = threads;
  if (group) {
    Index first_epoch = 0;
    check_same_training_setup(*group, training_setup(model, source.size(), options));
    broadcast_training_state(*group, model, adam, first_epoch);
  }
  Trainer trainer(model, adam, options);
  trainer.set_order(OversamplingOrder(labelled_indices(labelled), options.batch_size, 1.0 / 3));
  TrainingRun run;
  trainer.add_callback(std::make_unique<EpochCallback>([&](EpochReport& r) {
    Rng rng(1000);
    run.metrics.push_back(r.train_loss);
    run.metrics.push_back(evaluate_loss(model, test_source, 16, rng).total);
    run.metrics.push_back(evaluate_accuracy(model, 1, test_source, 16).accuracy);
    run.metrics.push_back(
        evaluate_accuracy(model, 1, test_source, 16, [&](const Matrix<float>& x, Matrix<float>& q) {
          model.class_probabilities(x, q);
        }).accuracy);
    return false;
  }));
  trainer.fit(source);
  run.parameters = model.parameters();
  run.first_moment = adam.first_moment();
  return run;
}

TEST(DistributedM2, RanksGiveTheTrainingBitsOfOneProcessWithAllTheThreads) {
  for (const int threads : {1, 2}) {
    SCOPED_TRACE(std::to_string(threads) + " thread(s) per rank");
    const TrainingRun ranks = train(&world(), threads);
    // The reference, trained in rank 0 alone and given to every rank.
    TrainingRun one_process;
    if (world().is_first()) one_process = train(nullptr, threads * world().size());
    detail::broadcast_vector(world(), one_process.parameters);
    detail::broadcast_vector(world(), one_process.first_moment);
    one_process.metrics.resize(ranks.metrics.size());
    world().broadcast_from_first(one_process.metrics.data(), one_process.metrics.size());
    ASSERT_EQ(ranks.metrics.size(), 12u);
    EXPECT_TRUE(testing::bit_identical(ranks.parameters, one_process.parameters));
    EXPECT_TRUE(testing::bit_identical(ranks.first_moment, one_process.first_moment));
    EXPECT_EQ(ranks.metrics, one_process.metrics);
    // Reruns give the same bits.
    EXPECT_TRUE(testing::bit_identical(train(&world(), threads).parameters, ranks.parameters));
    // Guards against comparing runs that ignore the ranks: one process with
    // `threads` threads cuts the batches into other chunks.
    EXPECT_FALSE(testing::bit_identical(train(nullptr, threads).parameters, ranks.parameters));
  }
}

}  // namespace
}  // namespace scvae
