#include "scvae/data/batch_source.hpp"

#include "../test_support.hpp"

namespace scvae {
namespace {

std::vector<std::uint8_t> every_third(Index n) {
  std::vector<std::uint8_t> labelled(static_cast<std::size_t>(n), 0);
  for (Index i = 0; i < n; i += 3) labelled[static_cast<std::size_t>(i)] = 1;
  return labelled;
}

TEST(PartlyLabelledSource, MasksTheUnlabelledAndNeverReadsTheirLabels) {
  const Dataset data = testing::make_images(30);
  // The same images with other labels for the unlabelled samples only.
  std::vector<std::uint8_t> other_labels = data.labels();
  for (std::size_t i = 0; i < other_labels.size(); ++i)
    if (i % 3 != 0) other_labels[i] = static_cast<std::uint8_t>((other_labels[i] + 1) % 3);
  const Dataset relabelled(6, 6, data.pixels(), other_labels, 3, "relabelled");
  const PartlyLabelledSource<float> source(data, every_third(30));
  const PartlyLabelledSource<float> same(relabelled, every_third(30));
  const std::vector<Index> order = data.identity_order();
  Batch<float> a, b;
  source.fill(order, 0, 30, a);
  same.fill(order, 0, 30, b);
  EXPECT_EQ(a.targets[1], b.targets[1]);
  EXPECT_EQ(a.masks[1], b.masks[1]);
  for (Index j = 0; j < 30; ++j) {
    EXPECT_EQ(a.masks[1](j), j % 3 == 0 ? 1.0f : 0.0f);
    if (j % 3 == 0) {
      EXPECT_EQ(a.targets[1](0, j), static_cast<float>(data.labels()[j]));
    }
  }
  EXPECT_TRUE(a.target_is_input[0]);
  EXPECT_EQ(a.x.cols(), 30);
}

TEST(PartlyLabelledSource, ProbabilityTargetsAreSmoothedOneHots) {
  const Dataset data = testing::make_images(9);
  const PartlyLabelledSource<float> source(data, every_third(9), LabelTargets::Probabilities, 0.3);
  Batch<float> batch;
  source.fill({3, 4}, 0, 2, batch);
  ASSERT_EQ(batch.targets[1].rows(), 3);
  const int label = data.labels()[3];
  for (int c = 0; c < 3; ++c)
    EXPECT_FLOAT_EQ(batch.targets[1](c, 0), c == label ? 0.8f : 0.1f);
  EXPECT_EQ(batch.masks[1](1), 0.0f);
}

TEST(PartlyLabelledSource, PseudoLabelsUnmaskOnlyUnlabelledSamples) {
  const Dataset data = testing::make_images(9);
  PartlyLabelledSource<float> source(data, every_third(9), LabelTargets::Probabilities);
  source.set_pseudo_label(4, Vector<float>::Constant(3, 1.0f / 3));
  Batch<float> batch;
  source.fill({4}, 0, 1, batch);
  EXPECT_EQ(batch.masks[1](0), 1.0f);
  EXPECT_FLOAT_EQ(batch.targets[1](2, 0), 1.0f / 3);
  source.clear_pseudo_label(4);
  source.fill({4}, 0, 1, batch);
  EXPECT_EQ(batch.masks[1](0), 0.0f);
  EXPECT_THROW(source.set_pseudo_label(3, Vector<float>::Zero(3)), ArgumentError);
  EXPECT_THROW(source.set_pseudo_label(4, Vector<float>::Zero(1)), ShapeError);
  EXPECT_THROW(PartlyLabelledSource<float>(data, {1, 0}), ShapeError);
  EXPECT_THROW(PartlyLabelledSource<float>(data, every_third(9), LabelTargets::Classes, 0.1),
               ArgumentError);
}

}  // namespace
}  // namespace scvae
