#include "scvae/train/parameter_averaging.hpp"

#include "../test_support.hpp"
#include "scvae/train/checkpointing.hpp"
#include "scvae/train/epoch_callback.hpp"
#include "scvae/train/trainer.hpp"
#include "scvae/train/validation.hpp"

namespace scvae {
namespace {

TrainerOptions averaging_options(Index epochs) {
  TrainerOptions o;
  o.epochs = epochs;
  o.batch_size = 32;
  o.seed = 11;
  return o;
}

// Records the parameters the callbacks after the average see at each epoch's end.
struct Seen {
  std::vector<Vector<float>> parameters;
};

TEST(AverageParameters, EpochEndsSeeTheAverageAndTrainingGoesOnFromTheTrainingParameters) {
  const Dataset data = testing::make_images(96);  // 3 steps an epoch
  AutoencoderSource<float> source(data);
  // By hand: the average of the parameters after every step.
  VAET<float> reference(36, {8}, 2, 3);
  Adam reference_adam;
  Trainer by_hand(reference, reference_adam, averaging_options(2));
  ParameterAverage average(0.9);
  std::vector<Vector<float>> expected_average, expected_training;
  struct Update : Callback {
    Update(ParameterAverage& a, VAET<float>& m) : average(a), model(m) {}
    bool on_batch_end(const BatchReport&) override {
      average.update(model.parameters());
      return false;
    }
    ParameterAverage& average;
    VAET<float>& model;
  } update(average, reference);
  by_hand.add_callback(update);
  by_hand.add_callback(std::make_unique<EpochCallback>([&](EpochReport&) {
    expected_average.push_back(average.average());
    expected_training.push_back(reference.parameters());
    return false;
  }));
  by_hand.fit(source);

  VAET<float> model(36, {8}, 2, 3);
  const float* storage = model.parameters().data();
  Adam adam;
  Trainer trainer(model, adam, averaging_options(2));
  AverageParameters<VAET<float>> averaging(model, 0.9);
  trainer.add_callback(averaging);
  Seen seen;
  trainer.add_callback(std::make_unique<EpochCallback>([&](EpochReport&) {
    EXPECT_TRUE(averaging.model_holds_average());
    seen.parameters.push_back(model.parameters());
    return false;
  }));
  trainer.fit(source);
  ASSERT_EQ(seen.parameters.size(), 2u);
  EXPECT_TRUE(testing::bit_identical(seen.parameters[0], expected_average[0]));
  EXPECT_TRUE(testing::bit_identical(seen.parameters[1], expected_average[1]));
  // The second epoch trained on from the training parameters, not the average.
  EXPECT_TRUE(testing::bit_identical(averaging.average().average(), expected_training[1]));
  EXPECT_TRUE(testing::bit_identical(model.parameters(), expected_average[1]));
  EXPECT_EQ(model.parameters().data(), storage);  // swapped in place
}

// fit(train, validation) scores the model the checkpoint holds: the average,
// and a callback added before the averaging one sees the average too.
TEST(AverageParameters, ValidationAndEveryEpochEndSeeTheAverage) {
  const Dataset data = testing::make_images(96);
  AutoencoderSource<float> source(data);
  const Dataset held_out = testing::make_images(40, 9);
  AutoencoderSource<float> validation(held_out);
  VAET<float> model(36, {8}, 2, 3);
  Adam adam;
  Trainer trainer(model, adam, averaging_options(2));
  AverageParameters<VAET<float>> averaging(model, 0.9);
  int epoch_ends = 0;
  trainer.add_callback(std::make_unique<EpochCallback>([&](EpochReport&) {
    EXPECT_TRUE(averaging.model_holds_average()) << "a callback added first";
    ++epoch_ends;
    return false;
  }));
  trainer.add_callback(averaging);
  const TrainResult result = trainer.fit(source, validation);
  ASSERT_EQ(epoch_ends, 2);
  ASSERT_TRUE(averaging.model_holds_average());
  EpochReport again;
  report_validation(model, validation, 32, 11, again);
  const double reported = result.history.back().get("validation_loss");
  EXPECT_EQ(reported, again.get("validation_loss")) << "validation scored the average";
  // The training parameters score differently: the check can fail.
  VAET<float> training = model;
  training.parameters() = averaging.average().average();
  EpochReport of_training;
  report_validation(training, validation, 32, 11, of_training);
  EXPECT_NE(reported, of_training.get("validation_loss"));
}

TEST(AverageParameters, AResumedRunIsBitIdenticalToAnUninterruptedOne) {
  testing::TempDir dir("scvae_parameter_averaging_test");
  const std::string path = (dir.path / "run.scvae").string();
  const Dataset data = testing::make_images(100);
  AutoencoderSource<float> source(data);
  auto run = [&](Index epochs, VAET<float>& model, Adam& adam, bool resume) {
    Trainer trainer(model, adam, averaging_options(epochs));
    AverageParameters<VAET<float>> averaging(model, 0.8);
    trainer.add_callback(averaging);
    trainer.add_callback(
        std::make_unique<CheckpointEveryEpoch<VAET<float>, Adam>>(path, trainer));
    if (resume) resume_training(path, trainer);
    trainer.fit(source);
    return averaging.average().average();
  };
  VAET<float> straight(36, {8}, 2, 3);
  Adam straight_adam;
  const Vector<float> straight_training = run(4, straight, straight_adam, false);
  const std::string straight_file = path + ".straight";
  std::filesystem::rename(path, straight_file);

  VAET<float> first(36, {8}, 2, 3);
  Adam first_adam;
  run(2, first, first_adam, false);
  VAET<float> resumed(36, {8}, 2, 99);
  Adam resumed_adam;
  const Vector<float> resumed_training = run(2, resumed, resumed_adam, true);
  EXPECT_TRUE(testing::bit_identical(resumed.parameters(), straight.parameters()));
  EXPECT_TRUE(testing::bit_identical(resumed_training, straight_training));
  // The checkpoints' parameters are the average, byte for byte the same.
  CheckpointExtras a, b;
  const Vector<float> pa = load_checkpoint<float>(path, straight.architecture(), &a);
  const Vector<float> pb = load_checkpoint<float>(straight_file, straight.architecture(), &b);
  EXPECT_TRUE(testing::bit_identical(pa, pb));
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(a.contains("average.training_parameters"));
}

TEST(AverageParameters, RefusesACheckpointWithAnotherDecayOrSize) {
  testing::TempDir dir("scvae_parameter_averaging_test");
  const std::string path = (dir.path / "run.scvae").string();
  const Dataset data = testing::make_images(64);
  AutoencoderSource<float> source(data);
  {
    VAET<float> model(36, {8}, 2, 3);
    Adam adam;
    Trainer trainer(model, adam, averaging_options(1));
    AverageParameters<VAET<float>> averaging(model, 0.8);
    trainer.add_callback(averaging);
    trainer.add_callback(std::make_unique<CheckpointEveryEpoch<VAET<float>, Adam>>(path, trainer));
    trainer.fit(source);
  }
  VAET<float> model(36, {8}, 2, 3);
  const Vector<float> before = model.parameters();
  Adam adam;
  Trainer trainer(model, adam, averaging_options(1));
  AverageParameters<VAET<float>> averaging(model, 0.9);
  trainer.add_callback(averaging);
  EXPECT_THROW(resume_training(path, trainer), CheckpointError);
  EXPECT_EQ(model.parameters(), before);
}

// The average is in the model before any epoch end, so the order of the
// checkpoint and averaging callbacks does not matter; a save in the middle
// of an epoch (the model holding the training parameters) is refused.
TEST(AverageParameters, TheCheckpointHoldsTheAverageInEitherOrder) {
  testing::TempDir dir("scvae_parameter_averaging_test");
  const Dataset data = testing::make_images(64);
  AutoencoderSource<float> source(data);
  const auto train = [&](bool checkpoint_first, const std::string& name) {
    VAET<float> model(36, {8}, 2, 3);
    Adam adam;
    Trainer trainer(model, adam, averaging_options(1));
    AverageParameters<VAET<float>> averaging(model, 0.8);
    const std::string path = (dir.path / name).string();
    if (!checkpoint_first) trainer.add_callback(averaging);
    trainer.add_callback(std::make_unique<CheckpointEveryEpoch<VAET<float>, Adam>>(path, trainer));
    if (checkpoint_first) trainer.add_callback(averaging);
    trainer.fit(source);
    return testing::read_file(path);
  };
  EXPECT_EQ(train(true, "first.scvae"), train(false, "after.scvae"));

  VAET<float> model(36, {8}, 2, 3);
  AverageParameters<VAET<float>> averaging(model, 0.8);
  averaging.on_batch_end(BatchReport{});
  CheckpointExtras extras;
  const std::string refused =
      testing::thrown_message<ArgumentError>([&] { averaging.save_state(extras); });
  EXPECT_NE(refused.find("in the middle of an epoch"), std::string::npos) << refused;
}

}  // namespace
}  // namespace scvae
