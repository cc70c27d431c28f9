#include "scvae/semisup/label_only_baseline.hpp"

#include "scvae/nn/mlp.hpp"
#include "scvae/nn/parse.hpp"
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

// The MLP is now a network of modules: it must start from the parameters
// the MlpT it replaces drew, so that a seed's baseline keeps its figures.
TEST(LabelOnlyClassifier, TheMlpStartsFromTheParametersOfTheMlpItReplaced) {
  for (const Initialization scheme : {Initialization::PyTorch, Initialization::HeGlorot}) {
    ParameterLayout layout;
    const MlpT<double> mlp({36, 5, 3}, Activation::ReLU, Activation::Identity, layout);
    Vector<double> expected = Vector<double>::Zero(layout.total());
    Rng rng(4);
    mlp.initialize(expected.data(), rng, scheme);
    const LabelOnlyClassifierT<double> model(36, 5, 3, 4, scheme);
    EXPECT_EQ(model.parameters(), expected);
  }
}

// The conv trunk of a semi-supervised model as the baseline's network:
// stride 2 and padding 1, several channels, an odd image size.
TEST(LabelOnlyClassifier, AConvTrunksGradientMatchesFiniteDifferences) {
  LabelOnlyClassifierT<double> model(
      *parse_network<double>("[conv2d(2,3,2,1) relu conv2d(3,2,1,0) relu flatten dense(3)]",
                             Shape(1, 7, 7)),
      3, 5);
  const Matrix<double> x = testing::random_uniform(49, 4, 8);
  Matrix<double> y(1, 4);
  y << 2, 0, 1, 2;
  const std::vector<TaskBatch<double>> tasks = {TaskBatch<double>(y)};
  Rng rng(1);
  const Vector<double> analytic = [&] {
    model.loss_and_gradient(x, tasks, rng, 1.0);
    return Vector<double>(model.gradients());
  }();
  auto f = [&](const Vector<double>& p) {
    model.parameters() = p;
    return model.loss_and_gradient(x, tasks, rng, 1.0).total;
  };
  ASSERT_GT(analytic.norm(), 0.0);
  testing::expect_gradient_ok(check_gradient(f, model.parameters(), analytic));
}

TEST(LabelOnlyClassifier, RefusesANetworkWithoutOneOutputPerClass) {
  try {
    LabelOnlyClassifierT<float> model(*parse_network<float>("[dense(4)]", Shape::vector(9)), 3, 1);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("4 outputs, expected one per class (3)"),
              std::string::npos)
        << e.what();
  }
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
