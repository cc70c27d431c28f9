// Issue 19, item 1: a non-finite model is never saved. The trainer checks the
// parameters after every update and stops naming the epoch and step; the
// checkpoint of the last good epoch stays; the evaluators throw instead of
// returning NaN.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "../eval/eval_support.hpp"
#include "../test_support.hpp"
#include "scvae/eval/iwae.hpp"
#include "scvae/eval/loss.hpp"
#include "scvae/optim/adam.hpp"
#include "scvae/train/checkpointing.hpp"
#include "scvae/train/trainer.hpp"

namespace scvae {
namespace {

namespace fs = std::filesystem;

std::vector<unsigned char> checkpoint_bytes(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}

// One step per epoch, so that the step which breaks the parameters is the
// last of its epoch: without the check after the update, the epoch would end
// and its checkpoint would be written from a model of NaN and infinity.
TEST(NonFiniteModel, TrainerStopsAfterTheUpdateAndKeepsTheLastFiniteCheckpoint) {
  for (const int threads : {1, 2}) {
    testing::TempDir dir("scvae_non_finite");
    const std::string path = (dir.path / "run.scvae").string();
    const Dataset data = testing::make_images(64);
    AutoencoderSource<float> source(data);
    VAET<float> vae(36, {16}, 2, 3);
    Adam adam(AdamOptions{1e-3});
    TrainerOptions options;
    options.epochs = 3;
    options.batch_size = 64;
    options.threads = threads;
    Trainer trainer(vae, adam, options);
    // 1e39 is infinite in float: the gradient is finite, the update is not.
    trainer.set_learning_rate_schedule([](long epoch) { return epoch < 1 ? 1e-3 : 1e39; });
    trainer.add_callback(
        std::make_unique<CheckpointEveryEpoch<VAET<float>, Adam>>(path, vae, adam));
    Vector<float> saved;
    trainer.add_callback(std::make_unique<EpochCallback>([&](EpochReport&) {
      saved = vae.parameters();
      return false;
    }));
    std::vector<unsigned char> checkpoint;
    std::string message;
    try {
      trainer.fit(source);
      ADD_FAILURE() << "expected a NumericalError";
    } catch (const NumericalError& e) {
      message = e.what();
    }
    EXPECT_NE(message.find("parameters are not finite after the update at epoch 2, step 1"),
              std::string::npos)
        << message;
    VAET<float> restored(36, {16}, 2, 99);
    Adam restored_adam;
    EXPECT_EQ(load_training_checkpoint(path, restored, restored_adam), 1);
    EXPECT_TRUE(restored.parameters().allFinite());
    EXPECT_TRUE(testing::bit_identical(restored.parameters(), saved));
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 1);
  }
}

TEST(NonFiniteModel, CheckpointEveryEpochRefusesANonFiniteModel) {
  testing::TempDir dir("scvae_non_finite");
  const std::string path = (dir.path / "run.scvae").string();
  VAET<float> vae(36, {16}, 2, 3);
  Adam adam;
  CheckpointEveryEpoch<VAET<float>, Adam> callback(path, vae, adam);
  EpochReport report;
  report.epoch = 1;
  callback.on_epoch_end(report);
  const auto good = checkpoint_bytes(path);
  vae.parameters()(5) = std::numeric_limits<float>::quiet_NaN();
  report.epoch = 2;
  EXPECT_THROW(callback.on_epoch_end(report), NumericalError);
  EXPECT_EQ(checkpoint_bytes(path), good);
}

TEST(NonFiniteModel, EvaluatorsThrowInsteadOfReturningNaN) {
  using namespace eval_testing;
  const Dataset data = make_data();
  ImageLabelSource<double> source(data, labelled_flags(data.size()));
  SCVAET<double> model(image_label_spec(), 3);
  model.parameters()(0) = std::numeric_limits<double>::quiet_NaN();
  Rng rng(1);
  try {
    evaluate_loss(model, source, 10, rng);
    ADD_FAILURE() << "evaluate_loss returned";
  } catch (const NumericalError& e) {
    EXPECT_NE(std::string(e.what()).find("samples 0 to 9"), std::string::npos) << e.what();
  }
  EXPECT_THROW(evaluate_loss(model, source, 10, rng, 1.0, true), NumericalError);
  EXPECT_THROW(evaluate_iwae(model, source, 5, 10, rng), NumericalError);
}

}  // namespace
}  // namespace scvae
