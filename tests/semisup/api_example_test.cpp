// The semisup example of docs/API.md, compiled and run (change both together).
#include "../test_support.hpp"
#include "support.hpp"

namespace scvae {
namespace {

TEST(ApiDocs, Semisup) {
  testing::TempDir dir("scvae_semisup_api");
  const Dataset train = testing::make_images(120);
  const std::uint64_t seed = 1;
  SCVAE model(testing::image_label_spec(), seed);
  Adam adam;
  TrainerOptions options;
  options.epochs = 3;
  const std::string path = (dir.path / "run.scvae").string();

  const std::vector<std::uint8_t> labelled = scvae::stratified_labelled_subset(train, 12, seed);
  scvae::PartlyLabelledSource<float> source(train, labelled, scvae::LabelTargets::Probabilities);
  scvae::Trainer trainer(model, adam, options);  // model: an SC-VAE with tasks image, label
  trainer.set_order(scvae::OversamplingOrder(scvae::labelled_indices(labelled), 128, 0.25));
  scvae::LabelHeadClassifier<scvae::SCVAE> classifier(model, 1);
  trainer.add_callback(std::make_unique<scvae::AverageParameters<scvae::SCVAE>>(model, 0.999));
  trainer.add_callback(std::make_unique<scvae::VirtualAdversarialTraining<decltype(classifier)>>(
      classifier, scvae::VirtualAdversarialOptions{}));
  trainer.add_callback(std::make_unique<scvae::PseudoLabels<decltype(classifier)>>(
      classifier, source, scvae::PseudoLabelOptions{}));
  trainer.add_callback(std::make_unique<scvae::CheckpointEveryEpoch<scvae::SCVAE, scvae::Adam>>(
      path, trainer));
  const TrainResult result = trainer.fit(source);
  EXPECT_EQ(result.epochs_run, 3);
  EXPECT_TRUE(result.history.back().has("pseudo_labels"));
  EXPECT_EQ(load_training_checkpoint(path, model, adam), 3);
}

}  // namespace
}  // namespace scvae
