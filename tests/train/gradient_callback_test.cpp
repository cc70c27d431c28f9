#include "scvae/train/gradient_callback.hpp"

#include <limits>

#include "../test_support.hpp"
#include "scvae/optim/sgd.hpp"
#include "scvae/train/checkpointing.hpp"
#include "scvae/train/trainer.hpp"

namespace scvae {
namespace {

TrainerOptions options(Index epochs) {
  TrainerOptions o;
  o.epochs = epochs;
  o.batch_size = 64;
  o.seed = 3;
  return o;
}

// Scales the gradient, sees the batch and the samples it holds.
class ScaleGradient : public GradientCallback<float> {
 public:
  explicit ScaleGradient(float factor) : factor_(factor) {}
  void on_gradient(GradientStep<float>& step) override {
    step.gradients *= factor_;
    step.loss += 1.0;
    for (Index j = 0; j < step.size(); ++j) seen.push_back(step.sample(j));
    epochs.push_back(step.epoch);
    EXPECT_EQ(step.tasks.size(), 1u);
    EXPECT_EQ(step.batch.x.cols(), step.size());
  }
  std::vector<Index> seen, epochs;

 private:
  float factor_;
};

TEST(GradientCallback, ChangesTheGradientBeforeTheUpdateAndAddsToTheLoss) {
  const Dataset data = testing::make_images(100);
  AutoencoderSource<float> source(data);
  // SGD without momentum: halving the gradient is halving the step.
  VAET<float> plain(36, {8}, 2, 3), halved(36, {8}, 2, 3);
  Sgd sgd_plain(SgdOptions{0.02}), sgd_halved(SgdOptions{0.01});
  const double plain_loss = Trainer(plain, sgd_plain, options(1)).fit(source).history[0].train_loss;
  Sgd sgd_scaled(SgdOptions{0.02});
  VAET<float> scaled(36, {8}, 2, 3);
  Trainer trainer(scaled, sgd_scaled, options(1));
  ScaleGradient half(0.5f);
  trainer.add_callback(half);
  const double scaled_loss = trainer.fit(source).history[0].train_loss;
  Trainer(halved, sgd_halved, options(1)).fit(source);
  EXPECT_TRUE(scaled.parameters().isApprox(halved.parameters(), 1e-5f));
  EXPECT_FALSE(scaled.parameters().isApprox(plain.parameters(), 1e-3f));
  EXPECT_GT(scaled_loss, plain_loss + 0.5);  // + 1 per step, less what halving cost
  std::vector<Index> seen = half.seen;
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, data.identity_order());  // every sample once
  EXPECT_EQ(half.epochs, (std::vector<Index>{0, 0}));
}

TEST(GradientCallback, ANonFiniteGradientItMakesIsCaughtBeforeTheUpdate) {
  const Dataset data = testing::make_images(64);
  AutoencoderSource<float> source(data);
  VAET<float> vae(36, {8}, 2, 3);
  const Vector<float> before = vae.parameters();
  Sgd sgd;
  Trainer trainer(vae, sgd, options(1));
  ScaleGradient poison(std::numeric_limits<float>::infinity());
  trainer.add_callback(poison);
  EXPECT_THROW(trainer.fit(source), NumericalError);
  EXPECT_EQ(vae.parameters(), before);
}

// A callback with state: counts the steps, and a resumed run goes on counting.
class StepCounter : public Callback {
 public:
  bool on_batch_end(const BatchReport&) override {
    ++steps;
    return false;
  }
  void save_state(CheckpointExtras& extras) const override {
    extras.set_scalar("counter.steps", static_cast<double>(steps));
  }
  void restore_state(const CheckpointExtras& extras) override {
    if (extras.contains("counter.steps"))
      steps = static_cast<Index>(checkpoint_count(extras, "counter.steps"));
  }
  Index steps = 0;
};

TEST(CallbackState, RidesAlongInTrainingCheckpointsAndComesBackOnResume) {
  testing::TempDir dir("scvae_gradient_callback_test");
  const std::string path = (dir.path / "run.scvae").string();
  const Dataset data = testing::make_images(100);
  AutoencoderSource<float> source(data);
  {
    VAET<float> vae(36, {8}, 2, 3);
    Adam adam;
    Trainer trainer(vae, adam, options(2));
    StepCounter counter;
    trainer.add_callback(counter);
    trainer.add_callback(std::make_unique<CheckpointEveryEpoch<VAET<float>, Adam>>(path, trainer));
    trainer.fit(source);
    EXPECT_EQ(counter.steps, 4);
  }
  VAET<float> vae(36, {8}, 2, 99);
  Adam adam;
  Trainer trainer(vae, adam, options(1));
  StepCounter counter;
  trainer.add_callback(counter);
  EXPECT_EQ(resume_training(path, trainer), 2);
  EXPECT_EQ(counter.steps, 4);
  EXPECT_EQ(trainer.options().first_epoch, 2);
  const TrainResult result = trainer.fit(source);
  EXPECT_EQ(result.history[0].epoch, 3);
  EXPECT_EQ(counter.steps, 6);
}

// A callback whose restore refuses the entry: nothing of the run changes.
class Refuses : public Callback {
 public:
  void restore_state(const CheckpointExtras&) override { throw ArgumentError("not this run's"); }
};

TEST(CallbackState, ARefusedEntryLeavesTheModelAsItWas) {
  testing::TempDir dir("scvae_gradient_callback_test");
  const std::string path = (dir.path / "run.scvae").string();
  const Dataset data = testing::make_images(64);
  AutoencoderSource<float> source(data);
  VAET<float> saved(36, {8}, 2, 3);
  Adam adam;
  save_training_checkpoint(path, saved, adam, 1);
  VAET<float> vae(36, {8}, 2, 99);
  const Vector<float> before = vae.parameters();
  Trainer trainer(vae, adam, options(1));
  Refuses refuses;
  trainer.add_callback(refuses);
  EXPECT_THROW(resume_training(path, trainer), CheckpointError);
  EXPECT_EQ(vae.parameters(), before);
  EXPECT_EQ(trainer.options().first_epoch, 0);
}

}  // namespace
}  // namespace scvae
