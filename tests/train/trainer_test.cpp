#include "scvae/train/trainer.hpp"

#include <filesystem>
#include <fstream>

#include "../test_support.hpp"
#include "scvae/optim/adam.hpp"
#include "scvae/train/checkpointing.hpp"
#include "scvae/train/early_stopping.hpp"
#include "scvae/train/epoch_callback.hpp"
#include "scvae/train/metrics_writer.hpp"
#include "scvae/model/scvae.hpp"

namespace scvae {
namespace {

TrainerOptions small_options(Index epochs, int threads = 1) {
  TrainerOptions options;
  options.epochs = epochs;
  options.batch_size = 64;  // 300 = 4 * 64 + 44: the last batch is partial
  options.seed = 7;
  options.threads = threads;
  return options;
}

TEST(Trainer, TrainingLowersTheLoss) {
  const Dataset data = testing::make_images();
  AutoencoderSource<float> source(data);
  VAET<float> vae(36, {16}, 2, 3);
  Adam adam(AdamOptions{3e-3});
  Trainer trainer(vae, adam, small_options(15));
  const TrainResult result = trainer.fit(source);
  ASSERT_EQ(result.history.size(), 15u);
  EXPECT_LT(result.history.back().train_loss, 0.8 * result.history.front().train_loss);
}

TEST(Trainer, SameSeedAndThreadsGiveBitIdenticalRuns) {
  const Dataset data = testing::make_images();
  AutoencoderSource<float> source(data);
  auto run = [&](int threads) {
    VAET<float> vae(36, {16}, 2, 3);
    Adam adam;
    Trainer trainer(vae, adam, small_options(3, threads));
    std::vector<double> losses;
    for (const auto& r : trainer.fit(source).history) losses.push_back(r.train_loss);
    return std::make_pair(losses, Vector<float>(vae.parameters()));
  };
  for (int threads : {1, 2}) {
    const auto a = run(threads);
    const auto b = run(threads);
    EXPECT_EQ(a.first, b.first) << threads << " thread(s)";
    EXPECT_EQ(a.second, b.second) << threads << " thread(s)";
  }
}

TEST(Trainer, ResumingFromACheckpointIsBitIdentical) {
  testing::TempDir dir("scvae_trainer_test");
  const std::string path = (dir.path / "run.scvae").string();
  const Dataset data = testing::make_images();
  AutoencoderSource<float> source(data);

  VAET<float> straight(36, {16}, 2, 3);
  Adam straight_adam;
  Trainer(straight, straight_adam, small_options(4)).fit(source);

  VAET<float> first(36, {16}, 2, 3);
  Adam first_adam;
  Trainer first_trainer(first, first_adam, small_options(2));
  first_trainer.add_callback(
      std::make_unique<CheckpointEveryEpoch<VAET<float>, Adam>>(path, first, first_adam));
  first_trainer.fit(source);

  VAET<float> resumed(36, {16}, 2, 99);  // other initial weights: all must come from the file
  Adam resumed_adam;
  const Index done = load_training_checkpoint(path, resumed, resumed_adam);
  EXPECT_EQ(done, 2);
  TrainerOptions options = small_options(2);
  options.first_epoch = done;
  Trainer(resumed, resumed_adam, options).fit(source);
  EXPECT_EQ(resumed.parameters(), straight.parameters());
}

TEST(Trainer, NonFiniteLossStopsWithNumericalErrorNamingEpochAndStep) {
  const Dataset data = testing::make_images();
  AutoencoderSource<float> source(data);
  VAET<float> vae(36, {16}, 2, 3);
  Adam adam(AdamOptions{1e30});
  Trainer trainer(vae, adam, small_options(5));
  try {
    trainer.fit(source);
    FAIL() << "expected NumericalError";
  } catch (const NumericalError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("epoch "), std::string::npos) << message;
    EXPECT_NE(message.find("step "), std::string::npos) << message;
  }
  EXPECT_TRUE(vae.parameters().allFinite());  // the bad update never landed
}

TEST(Trainer, CallbacksStopEarlyAndMetricsAreWrittenPerEpoch) {
  testing::TempDir dir("scvae_trainer_test");
  const std::string path = (dir.path / "metrics.jsonl").string();
  const Dataset data = testing::make_images();
  AutoencoderSource<float> source(data);
  VAET<float> vae(36, {16}, 2, 3);
  Adam adam;
  Trainer trainer(vae, adam, small_options(20));
  double fake = 10.0;
  // A validation metric that stops improving after epoch 2.
  trainer.add_callback(std::make_unique<EpochCallback>([&](EpochReport& r) {
    fake = r.epoch <= 2 ? fake - 1.0 : fake + 1.0;
    r.set("val_loss", fake);
    return false;
  }));
  trainer.add_callback(std::make_unique<EarlyStopping>("val_loss", 2));
  trainer.add_callback(std::make_unique<MetricsWriter>(path));
  const TrainResult result = trainer.fit(source);
  EXPECT_TRUE(result.stopped_early);
  EXPECT_EQ(result.epochs_run, 4);
  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    EXPECT_NE(line.find("\"epoch\": " + std::to_string(lines)), std::string::npos) << line;
    EXPECT_NE(line.find("\"train_seconds\": "), std::string::npos) << line;
    EXPECT_NE(line.find("\"val_loss\": "), std::string::npos) << line;
  }
  EXPECT_EQ(lines, 4);
}

// An image task with a Gaussian likelihood and a label task: the validation
// metrics of both kinds, equal to the evaluators' on the trained model; the
// training itself is the same bits as without validation data.
TEST(Trainer, ValidationDataAddsItsMetricsAndLeavesTrainingAlone) {
  const Dataset data = testing::make_images();
  const Dataset held = testing::make_images(90, 9);
  ImageLabelSource<float> source(data), validation(held);
  ModelSpec spec = VAE::make_spec(36, {16}, 2);
  spec.tasks[0].name = "image";
  spec.tasks[0].likelihood = LikelihoodSpec::gaussian(0.1);
  TaskSpec label;
  label.name = "label";
  label.outputs = 3;
  label.hidden = {8};
  label.likelihood = LikelihoodSpec::categorical(3);
  spec.tasks.push_back(label);
  auto train = [&](bool validate) {
    SCVAE model(spec, 3);
    Adam adam;
    Trainer trainer(model, adam, small_options(2));
    const TrainResult result = validate ? trainer.fit(source, validation) : trainer.fit(source);
    return std::make_pair(result, Vector<float>(model.parameters()));
  };
  const auto [plain, plain_parameters] = train(false);
  const auto [checked, checked_parameters] = train(true);
  EXPECT_EQ(plain_parameters, checked_parameters);
  EXPECT_FALSE(plain.history.back().has("validation_loss"));
  const EpochReport& last = checked.history.back();
  for (const char* key : {"validation_loss", "validation_kl", "validation_image_nll",
                          "validation_image_rmse", "validation_image_mae",
                          "validation_label_nll", "validation_label_accuracy"})
    EXPECT_TRUE(last.has(key) && std::isfinite(last.get(key))) << key;
  EXPECT_FALSE(last.has("validation_image_accuracy"));
  SCVAE model(spec, 3);
  model.parameters() = checked_parameters;
  EXPECT_EQ(last.get("validation_label_accuracy"), accuracy(model, 1, validation, 64));
  const RegressionResult error = evaluate_regression(model, 0, validation, 64);
  EXPECT_EQ(last.get("validation_image_rmse"), error.rmse);
  EXPECT_EQ(last.get("validation_image_mae"), error.mae);
  EXPECT_GT(error.rmse, error.mae * 0.999);  // RMSE >= MAE
  EXPECT_EQ(error.values, 90 * 36);
  EXPECT_THROW(evaluate_regression(model, 1, validation, 64), ArgumentError);
}

// restore_best: training ends on the parameters of the best epoch (2 here).
TEST(Trainer, EarlyStoppingRestoresTheBestParameters) {
  const Dataset data = testing::make_images();
  AutoencoderSource<float> source(data);
  VAET<float> vae(36, {16}, 2, 3);
  Adam adam;
  Trainer trainer(vae, adam, small_options(4));
  const double scores[] = {3.0, 1.0, 2.0, 1.5};
  std::vector<Vector<float>> after_epoch;
  trainer.add_callback(std::make_unique<EpochCallback>([&](EpochReport& r) {
    r.set("score", scores[r.epoch - 1]);
    after_epoch.push_back(vae.parameters());
    return false;
  }));
  EarlyStopping stopping("score", 10);
  stopping.restore_best(vae);
  trainer.add_callback(stopping);
  trainer.fit(source);
  ASSERT_EQ(after_epoch.size(), 4u);
  EXPECT_EQ(stopping.best_epoch(), 2);
  EXPECT_NE(after_epoch[3], after_epoch[1]);
  EXPECT_EQ(vae.parameters(), after_epoch[1]);
}

TEST(Trainer, RejectsBadOptionsAndMismatchedData) {
  const Dataset data = testing::make_images();
  VAET<float> vae(36, {16}, 2, 3);
  Adam adam;
  TrainerOptions options;
  options.batch_size = 0;
  EXPECT_THROW((Trainer<VAET<float>, Adam>(vae, adam, options)), ArgumentError);
  options = TrainerOptions{};
  options.threads = 0;
  EXPECT_THROW((Trainer<VAET<float>, Adam>(vae, adam, options)), ArgumentError);
  ImageLabelSource<float> two_tasks(data);
  Trainer trainer(vae, adam, small_options(1));
  EXPECT_THROW(trainer.fit(two_tasks), ShapeError);
}

}  // namespace
}  // namespace scvae
