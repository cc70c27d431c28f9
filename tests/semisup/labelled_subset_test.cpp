#include "scvae/semisup/labelled_subset.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "../test_support.hpp"

namespace scvae {
namespace {

TEST(LabelledSubset, TakesEqualSharesOfEachClassFromTheSeed) {
  const Dataset data = testing::make_images(300);  // 100 of each of 3 classes
  const std::vector<std::uint8_t> labelled = stratified_labelled_subset(data, 31, 9);
  std::map<int, int> per_class;
  for (std::size_t i = 0; i < labelled.size(); ++i)
    if (labelled[i]) ++per_class[data.labels()[i]];
  EXPECT_EQ(per_class[0], 11);  // the remainder to the first class
  EXPECT_EQ(per_class[1], 10);
  EXPECT_EQ(per_class[2], 10);
  EXPECT_EQ(stratified_labelled_subset(data, 31, 9), labelled);
  EXPECT_NE(stratified_labelled_subset(data, 31, 10), labelled);
}

TEST(LabelledSubset, IsTheFirstOfEachClassInTheSeedsPermutation) {
  // The selection the examples made before it moved here (so results stay
  // comparable): per class, the first ones in Rng(seed).permutation(size).
  const Dataset data = testing::make_images(60);
  const std::vector<std::uint8_t> labelled = stratified_labelled_subset(data, 6, 42);
  Rng rng(42);
  std::map<int, int> taken;
  std::vector<std::uint8_t> expected(60, 0);
  for (Index i : rng.permutation(60)) {
    const int c = data.labels()[static_cast<std::size_t>(i)];
    if (taken[c] < 2) {
      ++taken[c];
      expected[static_cast<std::size_t>(i)] = 1;
    }
  }
  EXPECT_EQ(labelled, expected);
}

TEST(LabelledSubset, AClassThatRunsOutLeavesItsShareToTheOthers) {
  std::vector<std::uint8_t> pixels(10 * 4, 0), labels = {0, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  const Dataset data(2, 2, pixels, labels, 2, "lopsided");
  const auto labelled = stratified_labelled_subset(data, 6, 1);
  EXPECT_EQ(labelled[0], 1);
  EXPECT_EQ(std::count(labelled.begin(), labelled.end(), 1), 6);
}

TEST(LabelledSubset, RefusesCountsOutsideTheDataAndUnlabelledData) {
  const Dataset data = testing::make_images(30);
  EXPECT_THROW(stratified_labelled_subset(data, 31, 1), ArgumentError);
  EXPECT_THROW(stratified_labelled_subset(data, -1, 1), ArgumentError);
  const Dataset unlabelled(6, 6, data.pixels());
  EXPECT_THROW(stratified_labelled_subset(unlabelled, 1, 1), ArgumentError);
  EXPECT_EQ(labelled_indices({0, 1, 0, 1, 1}), (std::vector<Index>{1, 3, 4}));
}

TEST(DefaultLabelWeight, IsTenOverTheLabelledFractionUpToTheCap) {
  EXPECT_DOUBLE_EQ(default_label_weight(1000, 60000), 50.0);
  EXPECT_DOUBLE_EQ(default_label_weight(30000, 60000), 20.0);
  EXPECT_DOUBLE_EQ(default_label_weight(60000, 60000), 10.0);
  EXPECT_THROW(default_label_weight(0, 10), ArgumentError);
}

TEST(OversamplingOrder, StartsEveryBatchWithItsShareOfLabelledSamples) {
  const std::vector<Index> labelled = {3, 17, 40};
  const OversamplingOrder order(labelled, 8, 0.25);
  Rng rng(5);
  const std::vector<Index> epoch = order(rng, 0, 50);
  ASSERT_EQ(epoch.size(), 50u);
  const std::set<Index> is_labelled(labelled.begin(), labelled.end());
  for (std::size_t begin = 0; begin < epoch.size(); begin += 8) {
    EXPECT_TRUE(is_labelled.count(epoch[begin]) && is_labelled.count(epoch[begin + 1]))
        << "batch at " << begin;
  }
  for (Index i : epoch) EXPECT_TRUE(i >= 0 && i < 50);
  Rng again(5);
  EXPECT_EQ(order(again, 0, 50), epoch);
  Rng other(6);
  EXPECT_NE(order(other, 0, 50), epoch);
}

TEST(OversamplingOrder, WithShareZeroIsAPermutation) {
  const OversamplingOrder order({1, 2}, 4, 0.0);
  Rng rng(3);
  std::vector<Index> epoch = order(rng, 0, 20);
  std::sort(epoch.begin(), epoch.end());
  for (Index i = 0; i < 20; ++i) EXPECT_EQ(epoch[static_cast<std::size_t>(i)], i);
  EXPECT_THROW(OversamplingOrder({1}, 0, 0.5), ArgumentError);
  EXPECT_THROW(OversamplingOrder({1}, 4, 1.5), ArgumentError);
  Rng r(1);
  EXPECT_THROW(OversamplingOrder({25}, 4, 0.5)(r, 0, 20), ArgumentError);
}

}  // namespace
}  // namespace scvae
