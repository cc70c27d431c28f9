#include "scvae/semisup/pseudo_labels.hpp"

#include "scvae/io/checkpoint_extras.hpp"
#include "support.hpp"

namespace scvae {
namespace {

// Predicts class (i % 3) with probability `confidence` for every sample i
// of a batch taken in order, the rest spread evenly.
struct FixedClassifier {
  using Scalar = float;
  float confidence = 0.95f;
  Index next = 0;
  void class_probabilities(const ConstMatrixRef<float>& x, Matrix<float>& q) {
    q.setConstant(3, x.cols(), (1.0f - confidence) / 2);
    for (Index j = 0; j < x.cols(); ++j) q((next + j) % 3, j) = confidence;
    next += x.cols();
  }
};

std::vector<std::uint8_t> first_three(Index n) {
  std::vector<std::uint8_t> labelled(static_cast<std::size_t>(n), 0);
  labelled[0] = labelled[1] = labelled[2] = 1;
  return labelled;
}

TEST(PseudoLabels, LabelsConfidentPredictionsOfUnlabelledSamplesFromTheirEpoch) {
  const Dataset data = testing::make_images(12);
  PartlyLabelledSource<float> source(data, first_three(12), LabelTargets::Classes);
  FixedClassifier classifier;
  PseudoLabelOptions options;
  options.from_epoch = 2;
  options.average = 0.0;
  options.batch_size = 5;
  PseudoLabels<FixedClassifier> pseudo(classifier, source, options);
  EpochReport first;
  first.epoch = 1;
  pseudo.on_epoch_end(first);
  EXPECT_FALSE(first.has("pseudo_labels"));
  EpochReport second;
  second.epoch = 2;
  pseudo.on_epoch_end(second);
  EXPECT_EQ(second.get("pseudo_labels"), 9.0);
  for (Index i = 3; i < 12; ++i) {
    EXPECT_EQ(source.label_mask()[static_cast<std::size_t>(i)], 1);
    EXPECT_EQ(source.label_targets()(0, i), static_cast<float>(i % 3));
  }
  EXPECT_DOUBLE_EQ(pseudo.accuracy(data.labels()), 1.0);  // make_images labels i % 3
  classifier.confidence = 0.5f;  // below the threshold: masked again
  classifier.next = 0;
  EXPECT_EQ(pseudo.relabel(), 0);
  EXPECT_EQ(source.label_mask()[5], 0);
  EXPECT_EQ(source.label_mask()[1], 1);  // a true label stays
}

TEST(PseudoLabels, SoftTargetsAreTheAveragedPredictions) {
  const Dataset data = testing::make_images(6);
  PartlyLabelledSource<float> source(data, first_three(6), LabelTargets::Probabilities);
  FixedClassifier classifier;
  PseudoLabelOptions options;
  options.average = 0.5;
  options.threshold = 0.6;
  PseudoLabels<FixedClassifier> pseudo(classifier, source, options);
  pseudo.relabel();  // bias-corrected: the first average is the prediction
  EXPECT_NEAR(source.label_targets()(0, 3), 0.95f, 1e-6);
  classifier.confidence = 0.35f;  // average (0.5 * 0.95 + 0.35) / 1.5 = 0.55: below 0.6
  classifier.next = 0;
  EXPECT_EQ(pseudo.relabel(), 0);
  classifier.confidence = 0.95f;
  classifier.next = 0;
  EXPECT_EQ(pseudo.relabel(), 3);  // (0.125 * 0.95 + 0.25 * 0.35 + 0.5 * 0.95) / 0.875 = 0.78
  EXPECT_NEAR(source.label_targets()(0, 3), (0.125 * 0.95 + 0.25 * 0.35 + 0.5 * 0.95) / 0.875,
              1e-5);
}

TEST(PseudoLabels, StateComesBackFromCheckpointExtrasAndIsCheckedAgainstTheSubset) {
  const Dataset data = testing::make_images(9);
  PartlyLabelledSource<float> source(data, first_three(9), LabelTargets::Probabilities);
  FixedClassifier classifier;
  PseudoLabelOptions options;
  PseudoLabels<FixedClassifier> pseudo(classifier, source, options);
  pseudo.relabel();
  CheckpointExtras extras;
  pseudo.save_state(extras);

  PartlyLabelledSource<float> fresh(data, first_three(9), LabelTargets::Probabilities);
  PseudoLabels<FixedClassifier> resumed(classifier, fresh, options);
  resumed.restore_state(extras);
  EXPECT_EQ(fresh.label_targets(), source.label_targets());
  EXPECT_EQ(fresh.label_mask(), source.label_mask());
  CheckpointExtras again;
  resumed.save_state(again);
  EXPECT_TRUE(again == extras);  // the averages too

  std::vector<std::uint8_t> other(9, 0);
  other[4] = 1;
  PartlyLabelledSource<float> other_subset(data, other, LabelTargets::Probabilities);
  PseudoLabels<FixedClassifier> wrong(classifier, other_subset, options);
  EXPECT_THROW(wrong.restore_state(extras), ArgumentError);
  EXPECT_EQ(other_subset.label_mask()[5], 0);  // unchanged
}

}  // namespace
}  // namespace scvae
