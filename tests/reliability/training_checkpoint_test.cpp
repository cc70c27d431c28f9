// load_training_checkpoint against checkpoints whose checksum is valid but
// whose training state is not: a count that is NaN, negative, fractional or
// too large for an integer, optimizer state of the wrong size, a missing
// moment. Each is a CheckpointError, and the model and optimizer are left
// exactly as they were.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

#include "../test_support.hpp"
#include "scvae/scvae.hpp"

namespace scvae {
namespace {

namespace fs = std::filesystem;

/// A valid training checkpoint's extras for `vae` after a few Adam steps.
CheckpointExtras valid_extras(const VAET<float>& vae) {
  CheckpointExtras extras;
  extras.set_scalar("epochs_done", 3);
  extras.set_scalar("adam.step", 12);
  extras.set_vector("adam.first_moment", Vector<float>::Constant(vae.parameters().size(), 0.01f));
  extras.set_vector("adam.second_moment", Vector<float>::Constant(vae.parameters().size(), 0.02f));
  return extras;
}

TEST(TrainingCheckpoint, ValidStateLoads) {
  testing::TempDir dir("scvae_training_checkpoint_test");
  const std::string path = (dir.path / "ok.scvae").string();
  VAET<float> source(9, {4}, 2, 1);
  save_model(path, source, valid_extras(source));
  VAET<float> vae(9, {4}, 2, 2);
  Adam adam;
  EXPECT_EQ(load_training_checkpoint(path, vae, adam), 3);
  EXPECT_TRUE(testing::bit_identical(vae.parameters(), source.parameters()));
  EXPECT_EQ(adam.step_count(), 12);
}

TEST(TrainingCheckpoint, MalformedStateIsACheckpointErrorAndChangesNothing) {
  testing::TempDir dir("scvae_training_checkpoint_test");
  const std::string path = (dir.path / "bad.scvae").string();
  VAET<float> source(9, {4}, 2, 1);
  const Index n = source.parameters().size();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  struct Case {
    const char* name;
    void (*damage)(CheckpointExtras&, Index, double);
    const char* word;
  };
  const Case cases[] = {
      {"epochs NaN", [](CheckpointExtras& e, Index, double q) { e.set_scalar("epochs_done", q); },
       "epochs_done"},
      {"epochs negative",
       [](CheckpointExtras& e, Index, double) { e.set_scalar("epochs_done", -1); }, "epochs_done"},
      {"epochs huge",
       [](CheckpointExtras& e, Index, double) { e.set_scalar("epochs_done", 1e300); },
       "epochs_done"},
      {"epochs fractional",
       [](CheckpointExtras& e, Index, double) { e.set_scalar("epochs_done", 2.5); }, "epochs_done"},
      {"epochs as a list",
       [](CheckpointExtras& e, Index, double) {
         e.set_values("epochs_done", {1, 2});
       },
       "epochs_done"},
      {"step infinite",
       [](CheckpointExtras& e, Index, double) {
         e.set_scalar("adam.step", std::numeric_limits<double>::infinity());
       },
       "adam.step"},
      {"first moment too short",
       [](CheckpointExtras& e, Index size, double) {
         e.set_vector("adam.first_moment", Vector<float>::Zero(size - 1));
       },
       "adam.first_moment"},
      {"second moment too long",
       [](CheckpointExtras& e, Index size, double) {
         e.set_vector("adam.second_moment", Vector<float>::Zero(size + 5));
       },
       "adam.second_moment"},
      {"second moment missing",
       [](CheckpointExtras& e, Index, double) { e.erase("adam.second_moment"); },
       "adam.second_moment"},
      {"moment stored as bytes",
       [](CheckpointExtras& e, Index, double) {
         e.set_bytes("adam.first_moment", {1, 2, 3});
       },
       "adam.first_moment"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CheckpointExtras extras = valid_extras(source);
    c.damage(extras, n, nan);
    save_model(path, source, extras);
    VAET<float> vae(9, {4}, 2, 2);
    const Vector<float> before = vae.parameters();
    Adam adam;
    try {
      load_training_checkpoint(path, vae, adam);
      ADD_FAILURE() << "no exception";
    } catch (const CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find(c.word), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a CheckpointError: " << e.what();
    }
    EXPECT_TRUE(testing::bit_identical(vae.parameters(), before)) << "the model was changed";
    EXPECT_EQ(adam.step_count(), 0) << "the optimizer was changed";
  }
}

TEST(TrainingCheckpoint, SgdWithoutMomentumStoresAnEmptyBuffer) {
  testing::TempDir dir("scvae_training_checkpoint_test");
  const std::string path = (dir.path / "sgd.scvae").string();
  VAET<float> vae(9, {4}, 2, 1);
  Sgd sgd(SgdOptions{0.1});
  Rng rng(3);
  Matrix<float> x = Matrix<float>::Constant(9, 4, 0.5f);
  vae.loss_and_gradient(x, rng);
  sgd.step(vae.parameters(), vae.gradients());
  save_training_checkpoint(path, vae, sgd, 1);
  VAET<float> other(9, {4}, 2, 2);
  Sgd other_sgd(SgdOptions{0.1});
  EXPECT_EQ(load_training_checkpoint(path, other, other_sgd), 1);
  EXPECT_TRUE(testing::bit_identical(other.parameters(), vae.parameters()));
  EXPECT_EQ(other_sgd.step_count(), 1);
}

TEST(TrainingCheckpoint, CallerExtrasRoundTripAndTheirErrorsChangeNothing) {
  testing::TempDir dir("scvae_training_checkpoint_test");
  const std::string path = (dir.path / "own.scvae").string();
  VAET<float> source(9, {4}, 2, 1);
  Adam source_adam;
  Rng rng(3);
  Matrix<float> x = Matrix<float>::Constant(9, 4, 0.5f);
  source.loss_and_gradient(x, rng);
  source_adam.step(source.parameters(), source.gradients());
  CheckpointExtras own;
  own.set_vector("mine.average", Vector<float>::Constant(source.parameters().size(), 0.25f));
  save_training_checkpoint(path, source, source_adam, 4, own);

  // The hook sees the caller's entries beside the library's own.
  VAET<float> vae(9, {4}, 2, 2);
  Adam adam;
  Vector<float> average;
  EXPECT_EQ(load_training_checkpoint(path, vae, adam,
                                     [&](const CheckpointExtras& extras) {
                                       EXPECT_TRUE(extras.contains("adam.step"));
                                       average = extras.vector<float>("mine.average");
                                     }),
            4);
  EXPECT_EQ(average, Vector<float>::Constant(source.parameters().size(), 0.25f));
  EXPECT_TRUE(testing::bit_identical(vae.parameters(), source.parameters()));
  EXPECT_EQ(adam.step_count(), 1);

  // A hook that rejects its state (here: reads an entry that is not there)
  // leaves model and optimizer as they were, and the error names the file.
  VAET<float> other(9, {4}, 2, 2);
  const Vector<float> before = other.parameters();
  Adam other_adam;
  try {
    load_training_checkpoint(path, other, other_adam, [](const CheckpointExtras& extras) {
      extras.vector<float>("mine.missing");
    });
    ADD_FAILURE() << "no exception";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("mine.missing"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(testing::bit_identical(other.parameters(), before));
  EXPECT_EQ(other_adam.step_count(), 0);
}

TEST(TrainingCheckpoint, CheckpointEveryEpochWritesTheCallersExtras) {
  testing::TempDir dir("scvae_training_checkpoint_test");
  const std::string path = (dir.path / "every.scvae").string();
  VAET<float> vae(9, {4}, 2, 1);
  Adam adam;
  CheckpointEveryEpoch<VAET<float>, Adam> callback(
      path, vae, adam, [](CheckpointExtras& extras) { extras.set_scalar("mine.count", 7); });
  EpochReport report;
  report.epoch = 2;
  EXPECT_FALSE(callback.on_epoch_end(report));
  VAET<float> loaded(9, {4}, 2, 2);
  Adam loaded_adam;
  double count = 0.0;
  EXPECT_EQ(load_training_checkpoint(path, loaded, loaded_adam,
                                     [&](const CheckpointExtras& extras) {
                                       count = checkpoint_count(extras, "mine.count");
                                     }),
            2);
  EXPECT_EQ(count, 7.0);
}

}  // namespace
}  // namespace scvae
