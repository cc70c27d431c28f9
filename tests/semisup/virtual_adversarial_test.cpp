#include "scvae/semisup/virtual_adversarial.hpp"

#include "scvae/model/scvae.hpp"
#include "scvae/optim/adam.hpp"
#include "scvae/semisup/label_head_classifier.hpp"
#include "scvae/train/trainer.hpp"
#include "support.hpp"

namespace scvae {
namespace {

using Classifier = LabelHeadClassifier<SCVAET<double>>;

TEST(VirtualAdversarial, PerturbsEachInputByEpsilonTowardsTheLargestChangeClamped) {
  SCVAET<double> model(testing::image_label_spec(), 3);
  Classifier classifier(model, 1);
  VirtualAdversarialOptions options;
  options.epsilon = 0.5;
  options.xi = 1e-3;
  VirtualAdversarialTraining<Classifier> vat(classifier, options);
  const Matrix<double> x = Matrix<double>::Constant(36, 4, 0.5);  // far from the bounds
  Rng rng(1);
  Matrix<double> adversarial, targets;
  vat.adversarial_inputs(x, rng, adversarial, targets);
  for (Index j = 0; j < 4; ++j) EXPECT_NEAR((adversarial.col(j) - x.col(j)).norm(), 0.5, 1e-9);
  // Near the bounds, the perturbed image stays in [0, 1].
  const Matrix<double> edge = testing::random_uniform(36, 4, 2).array().round();
  options.epsilon = 5.0;
  VirtualAdversarialTraining<Classifier> big(classifier, options);
  big.adversarial_inputs(edge, rng, adversarial, targets);
  EXPECT_GE(adversarial.minCoeff(), 0.0);
  EXPECT_LE(adversarial.maxCoeff(), 1.0);
  EXPECT_GT((adversarial - edge).norm(), 0.1);
  // The perturbation raises the cross-entropy against the clean prediction
  // more than a random one of the same norm.
  auto ce = [&](const Matrix<double>& input) {
    Matrix<double> q, clean;
    classifier.class_probabilities(x, clean);
    classifier.class_probabilities(input, q);
    return -(clean.array() * q.array().log()).sum();
  };
  vat.adversarial_inputs(x, rng, adversarial, targets);
  Matrix<double> random = testing::random_matrix(36, 4, 9);
  for (Index j = 0; j < 4; ++j) random.col(j) = x.col(j) + 0.5 * random.col(j).normalized();
  EXPECT_GT(ce(adversarial), ce(random));
}

class CountingStep : public GradientCallback<double> {
 public:
  void on_gradient(GradientStep<double>& step) override {
    ++calls;
    columns += step.size();
  }
  Index calls = 0, columns = 0;
};

TEST(VirtualAdversarial, AddsItsTermToTheTrainersGradientEachStep) {
  const Dataset data = testing::make_images(40);
  std::vector<std::uint8_t> labelled(40, 0);
  labelled[0] = labelled[1] = labelled[2] = 1;
  const PartlyLabelledSource<double> source(data, labelled);
  auto run = [&](double weight) {
    SCVAET<double> model(testing::image_label_spec(), 3);
    AdamT<double> adam;
    TrainerOptions options;
    options.epochs = 2;
    options.batch_size = 16;
    Trainer trainer(model, adam, options);
    Classifier classifier(model, 1);
    VirtualAdversarialOptions vat_options;
    vat_options.weight = weight;
    VirtualAdversarialTraining<Classifier> vat(classifier, vat_options);
    CountingStep counter;
    trainer.add_callback(vat);
    trainer.add_callback(counter);
    const TrainResult result = trainer.fit(source);
    EXPECT_EQ(counter.calls, 6);  // 3 steps (16, 16, 8) in each of 2 epochs
    EXPECT_EQ(counter.columns, 80);
    return std::make_pair(result.history.front().train_loss, Vector<double>(model.parameters()));
  };
  const auto off = run(0.0);
  const auto on = run(3.0);
  const auto again = run(3.0);
  EXPECT_GT(on.first, off.first);  // the term is part of the loss reported
  EXPECT_NE(on.second, off.second);
  EXPECT_EQ(on.second, again.second);  // seeded: the same run twice
}

TEST(VirtualAdversarial, RefusesBadOptions) {
  SCVAET<double> model(testing::image_label_spec(), 3);
  Classifier classifier(model, 1);
  for (auto change : {+[](VirtualAdversarialOptions& o) { o.epsilon = -1; },
                      +[](VirtualAdversarialOptions& o) { o.xi = 0; },
                      +[](VirtualAdversarialOptions& o) { o.weight = std::nan(""); },
                      +[](VirtualAdversarialOptions& o) { o.input_min = 2; }}) {
    VirtualAdversarialOptions options;
    change(options);
    EXPECT_THROW((VirtualAdversarialTraining<Classifier>(classifier, options)), ArgumentError);
  }
}

}  // namespace
}  // namespace scvae
