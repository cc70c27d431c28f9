#include "scvae/semisup/label_only_baseline.hpp"

#include "scvae/optim/adam.hpp"
#include "scvae/train/trainer.hpp"
#include "scvae/util/gradient_check.hpp"
#include "support.hpp"

namespace scvae {
namespace {

TEST(LabelledSubsetSource, HoldsOnlyTheLabelledSamples) {
  const Dataset data = testing::make_images(12);
  std::vector<std::uint8_t> labelled(12, 0);
  labelled[2] = labelled[7] = labelled[11] = 1;
  const LabelledSubsetSource<float> source(data, labelled);
  ASSERT_EQ(source.size(), 3);
  Batch<float> batch;
  source.fill({2, 0}, 0, 2, batch);
  Matrix<float> expected;
  data.batch({11, 2}, 0, 2, expected);
  EXPECT_EQ(batch.x, expected);
  EXPECT_EQ(batch.targets[0](0, 0), static_cast<float>(data.labels()[11]));
  EXPECT_EQ(batch.targets[0](0, 1), static_cast<float>(data.labels()[2]));
  EXPECT_FALSE(batch.has_mask(0));
  EXPECT_THROW(LabelledSubsetSource<float>(data, {1}), ShapeError);
}

TEST(LabelOnlyClassifier, GradientMatchesFiniteDifferences) {
  LabelOnlyClassifierT<double> model(36, 5, 3, 4);
  const Matrix<double> x = testing::random_uniform(36, 6, 3);
  Matrix<double> y(1, 6);
  y << 0, 1, 2, 2, 1, 0;
  const std::vector<TaskBatch<double>> tasks = {TaskBatch<double>(y)};
  Rng rng(1);
  const double loss = model.loss_and_gradient(x, tasks, rng, 1.0).total;
  const Vector<double> analytic = model.gradients();
  auto f = [&](const Vector<double>& p) {
    model.parameters() = p;
    return model.loss_and_gradient(x, tasks, rng, 1.0).total;
  };
  EXPECT_NEAR(f(model.parameters()), loss, 1e-12);
  testing::expect_gradient_ok(check_gradient(f, model.parameters(), analytic));
}

TEST(LabelOnlyClassifier, TheTrainerTeachesItTheLabelledImages) {
  const Dataset data = testing::make_images(300);
  std::vector<std::uint8_t> labelled(300, 0);
  for (Index i = 0; i < 300; i += 10) labelled[static_cast<std::size_t>(i)] = 1;
  const LabelledSubsetSource<float> source(data, labelled);
  LabelOnlyClassifier model(36, 16, 3, 1);
  const double before = model.accuracy(data);
  Adam adam(AdamOptions{1e-2});
  TrainerOptions options;
  options.epochs = 30;
  options.batch_size = 8;
  Trainer trainer(model, adam, options);
  trainer.fit(source);
  EXPECT_GT(model.accuracy(data), 0.9);
  EXPECT_LT(before, 0.7);
}

}  // namespace
}  // namespace scvae
