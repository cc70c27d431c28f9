// Run under `mpirun -np 2`: 2 ranks x 1 thread train to the same bits as
// 1 process x 2 threads (the reference, trained inside rank 0), for an MLP
// VAE and a masked two-task SC-VAE; reruns give the same bits; a run resumed
// from rank 0's checkpoint equals an uninterrupted one; the ranks' sums and
// the start-up check.

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "mpi_main.hpp"
#include "scvae/distributed.hpp"
#include "scvae/scvae.hpp"

namespace scvae {
namespace {

using testing::world;
namespace fs = std::filesystem;

struct TrainingRun {
  Vector<float> parameters;
  Vector<float> first_moment;
  std::vector<double> losses;  ///< train loss and test loss, epoch after epoch
};

ModelSpec vae_spec() { return VAE(36, {12}, 2, 1).spec(); }

/// An image task and a label task seen for one sample in three (the others
/// masked): the masked loss sums and counts must cross the ranks exactly.
ModelSpec two_task_spec() {
  ModelSpec spec;
  spec.inputs = 36;
  spec.encoder_hidden = {12};
  spec.latent = 2;
  spec.tasks.push_back({"image", 36, {12}, LikelihoodSpec::bernoulli()});
  spec.tasks.push_back({"label", 3, {}, LikelihoodSpec::categorical(3), 2.0});
  return spec;
}

std::vector<std::uint8_t> one_in_three(Index n) {
  std::vector<std::uint8_t> labelled(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) labelled[static_cast<std::size_t>(i)] = i % 3 == 0;
  return labelled;
}

struct RunSetup {
  ModelSpec spec;
  std::uint64_t seed = 42;
  Index epochs = 3;
  RankGroup* group = nullptr;  ///< nullptr: this process alone
  int threads = 1;
  Precision precision = Precision::Fp32;
  Index first_epoch = 0;
  std::string checkpoint;  ///< where rank 0 saves each epoch (empty: nowhere)
  std::string resume;      ///< the checkpoint rank 0 resumes from (empty: none)
};

std::unique_ptr<BatchSource<float>> make_source(const ModelSpec& spec, const Dataset& data) {
  if (spec.tasks.size() == 1) return std::make_unique<AutoencoderSource<float>>(data);
  return std::make_unique<PartlyLabelledSource<float>>(data, one_in_three(data.size()));
}

TrainingRun train(const RunSetup& s) {
  // 150 samples in batches of 32: the last batch (22) is one chunk, which
  // only rank 0 computes.
  const Dataset train_data = testing::make_images(150, 5);
  const Dataset test_data = testing::make_images(40, 6);
  const auto source = make_source(s.spec, train_data);
  const auto test_source = make_source(s.spec, test_data);
  SCVAET<float> model(s.spec, s.seed + (s.group ? static_cast<std::uint64_t>(s.group->rank()) : 0));
  model.set_rank_group(s.group);
  Adam adam(AdamOptions{3e-3});
  TrainerOptions options;
  options.epochs = s.epochs;
  options.batch_size = 32;
  options.seed = s.seed;
  options.threads = s.threads;
  options.precision = s.precision;
  options.warmup_epochs = 2;
  Index first_epoch = 0;
  if (!s.resume.empty() && (!s.group || s.group->is_first()))
    first_epoch = load_training_checkpoint(s.resume, model, adam);
  if (s.group) {
    check_same_training_setup(*s.group, training_setup(model, source->size(), options));
    // Each rank initialised from its own seed above: rank 0's state wins.
    broadcast_training_state(*s.group, model, adam, first_epoch);
  }
  options.first_epoch = first_epoch;
  Trainer trainer(model, adam, options);
  TrainingRun run;
  trainer.add_callback(std::make_unique<EpochCallback>([&](EpochReport& r) {
    Rng rng(s.seed + 1000);
    run.losses.push_back(r.train_loss);
    run.losses.push_back(evaluate_loss(model, *test_source, 16, rng).total);
    return false;
  }));
  if (!s.checkpoint.empty() && (!s.group || s.group->is_first()))
    trainer.add_callback(
        std::make_unique<CheckpointEveryEpoch<SCVAET<float>, Adam>>(s.checkpoint, model, adam));
  trainer.fit(*source);
  run.parameters = model.parameters();
  run.first_moment = adam.first_moment();
  return run;
}

/// Rank 0's reference run, trained there with one thread per rank and
/// given to every rank.
TrainingRun reference(RunSetup s) {
  s.group = nullptr;
  s.threads = world().size();
  TrainingRun run;
  if (world().is_first()) run = train(s);
  Vector<float> parameters = run.parameters, moment = run.first_moment;
  detail::broadcast_vector(world(), parameters);
  detail::broadcast_vector(world(), moment);
  std::vector<double> losses = run.losses;
  losses.resize(static_cast<std::size_t>(2 * s.epochs));
  world().broadcast_from_first(losses.data(), losses.size());
  return {parameters, moment, losses};
}

void expect_same_bits(const TrainingRun& a, const TrainingRun& b) {
  EXPECT_TRUE(testing::bit_identical(a.parameters, b.parameters));
  EXPECT_TRUE(testing::bit_identical(a.first_moment, b.first_moment));
  EXPECT_EQ(a.losses, b.losses);
}

class Distributed : public ::testing::TestWithParam<const char*> {
 protected:
  RunSetup run_setup() const {
    RunSetup s;
    s.spec = std::string(GetParam()) == "vae" ? vae_spec() : two_task_spec();
    s.group = &world();
    return s;
  }
};

TEST_P(Distributed, RanksWithOneThreadGiveTheBitsOfOneProcessWithThatManyThreads) {
  const RunSetup s = run_setup();
  const TrainingRun ranks = train(s);
  const TrainingRun one_process = reference(s);
  ASSERT_EQ(ranks.losses.size(), 6u);
  expect_same_bits(ranks, one_process);
  // Guards against comparing runs that ignore the ranks: one process with
  // one thread sums the chunks' gradients otherwise.
  RunSetup alone = s;
  alone.group = nullptr;
  EXPECT_FALSE(testing::bit_identical(train(alone).parameters, ranks.parameters));
}

// bf16 products sum each chunk from zero and add it onto the sum so far, as
// float ones do, so the ranks' chain gives one process's bits in bf16 too.
TEST_P(Distributed, RanksInBf16GiveTheBitsOfOneProcessInBf16) {
  RunSetup s = run_setup();
  s.precision = Precision::Bf16;
  const TrainingRun ranks = train(s);
  expect_same_bits(ranks, reference(s));
  RunSetup fp32 = s;
  fp32.precision = Precision::Fp32;
  EXPECT_FALSE(testing::bit_identical(ranks.parameters, train(fp32).parameters));
}

TEST_P(Distributed, RerunsGiveTheSameBits) {
  const RunSetup s = run_setup();
  expect_same_bits(train(s), train(s));
}

TEST_P(Distributed, ResumingFromRankZerosCheckpointEqualsAnUninterruptedRun) {
  testing::TempDir dir("scvae_distributed_test");
  // Rank 0 names the folder: the ranks' own temporary names differ.
  std::string folder = dir.path.string();
  world().broadcast_from_first(folder);
  RunSetup s = run_setup();
  const TrainingRun uninterrupted = train(s);
  RunSetup first = s;
  first.epochs = 2;
  first.checkpoint = (fs::path(folder) / "two_epochs.scvae").string();
  train(first);
  RunSetup rest = s;
  rest.epochs = 1;
  rest.resume = first.checkpoint;
  const TrainingRun resumed = train(rest);
  EXPECT_TRUE(testing::bit_identical(resumed.parameters, uninterrupted.parameters));
  EXPECT_TRUE(testing::bit_identical(resumed.first_moment, uninterrupted.first_moment));
  ASSERT_EQ(resumed.losses.size(), 2u);
  EXPECT_EQ(resumed.losses[0], uninterrupted.losses[4]);
  EXPECT_EQ(resumed.losses[1], uninterrupted.losses[5]);
}

TEST_P(Distributed, OneStepsLossAndGradientAreTheBitsOfOneProcessWithAllTheThreads) {
  const RunSetup s = run_setup();
  const Dataset data = testing::make_images(80, 5);
  const auto source = make_source(s.spec, data);
  Batch<float> batch;
  source->fill(data.identity_order(), 0, data.size(), batch);
  Matrix<float> eps(s.spec.latent, data.size());
  Rng rng(3);
  rng.fill_normal(eps);
  for (const int threads : {1, 2}) {
    SCOPED_TRACE(std::to_string(threads) + " thread(s) per rank");
    SCVAET<float> ranks(s.spec, 7), one(s.spec, 7);
    ranks.set_rank_group(&world());
    ranks.set_threads(threads);
    one.set_threads(threads * world().size());
    const LossParts a = ranks.loss_and_gradient(batch.x, task_batches(batch), eps);
    const LossParts b = one.loss_and_gradient(batch.x, task_batches(batch), eps);
    EXPECT_EQ(a.total, b.total);
    EXPECT_EQ(a.kl_sum, b.kl_sum);
    EXPECT_EQ(a.task_count, b.task_count);
    EXPECT_TRUE(ranks.gradients_finite());
    // == rather than bits: a part no chunk before this rank's ran may
    // arrive as +0 where one process has -0.
    for (Index i = 0; i < ranks.gradients().size(); ++i)
      if (ranks.gradients()[i] != one.gradients()[i]) {
        ADD_FAILURE() << "gradient " << i << " of " << ranks.gradients().size() << ": "
                      << ranks.gradients()[i] << " vs " << one.gradients()[i];
        break;
      }
    const LossParts c = ranks.loss(batch.x, task_batches(batch), eps);
    EXPECT_EQ(c.total, b.total);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, Distributed, ::testing::Values("vae", "two_task"));

TEST(MpiRankGroup, SumsEveryRanksValuesForAnyLength) {
  const int ranks = world().size();
  for (const std::size_t count : {0u, 1u, 7u, 1000u}) {
    std::vector<double> values(count);
    for (std::size_t i = 0; i < count; ++i) values[i] = static_cast<double>(i) * (world().rank() + 1);
    world().sum_in_rank_order(values.data(), count);
    for (std::size_t i = 0; i < count; ++i)
      EXPECT_EQ(values[i], static_cast<double>(i) * ranks * (ranks + 1) / 2) << i;
  }
}

TEST(TrainingSetupCheck, AMismatchNamesWhatDiffersAndTheRanks) {
  TrainingSetup setup;
  setup.seed = 1;
  setup.architecture = "vae";
  EXPECT_NO_THROW(check_same_training_setup(world(), setup));
  setup.seed = 1 + static_cast<std::uint64_t>(world().rank());
  try {
    check_same_training_setup(world(), setup);
    ADD_FAILURE() << "no RankMismatchError";
  } catch (const RankMismatchError& e) {
    EXPECT_STREQ(e.what(), "the seed differs between ranks: rank 0 has '1', rank 1 has '2'");
  }
  setup.seed = 1;
  if (world().rank() == 1) setup.architecture = "another";
  try {
    check_same_training_setup(world(), setup);
    ADD_FAILURE() << "no RankMismatchError";
  } catch (const RankMismatchError& e) {
    EXPECT_STREQ(e.what(),
                 "the architecture differs between ranks: rank 0 has 'vae', rank 1 has 'another'");
  }
  // A host without AVX512_BF16 falls back to fp32: caught before the first step.
  setup.architecture = "vae";
  if (world().rank() == 1) setup.precision = "bf16";
  try {
    check_same_training_setup(world(), setup);
    ADD_FAILURE() << "no RankMismatchError";
  } catch (const RankMismatchError& e) {
    EXPECT_STREQ(e.what(),
                 "the precision differs between ranks: rank 0 has 'fp32', rank 1 has 'bf16'");
  }
}

}  // namespace
}  // namespace scvae
