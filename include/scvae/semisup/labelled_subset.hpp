#pragma once
// The labelled part of a semi-supervised training set: which samples keep
// their label (stratified, from a seed), the label task's default weight,
// and an epoch order that oversamples the labelled samples (a Trainer's
// set_order).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "scvae/core/error.hpp"
#include "scvae/core/random.hpp"
#include "scvae/data/dataset.hpp"
#include "scvae/model/label_weight.hpp"

namespace scvae {

/// `count` samples of a labelled data set that keep their label (1) while
/// the rest are treated as unlabelled (0), as balanced over the classes as
/// the data allow: the first ones of each class in the order
/// Rng(seed).permutation(size), taken round robin over the classes (equal
/// shares, the remainder to the first classes; a class that runs out leaves
/// its share to the others). The same seed gives the same subset.
/// ArgumentError for a data set without labels or a count outside [0, size].
inline std::vector<std::uint8_t> stratified_labelled_subset(const Dataset& data, Index count,
                                                            std::uint64_t seed) {
  if (!data.has_labels())
    throw ArgumentError(data.name() + ": a labelled subset needs labels, the data set has none");
  if (count < 0 || count > data.size())
    throw ArgumentError(data.name() + ": labelled subset: expected at most the " +
                        std::to_string(data.size()) + " samples, got " + std::to_string(count));
  const int classes = data.num_classes();
  Rng rng(seed);
  const std::vector<Index> order = rng.permutation(data.size());
  std::vector<std::vector<Index>> by_class(static_cast<std::size_t>(classes));
  for (Index i : order) by_class[data.labels()[static_cast<std::size_t>(i)]].push_back(i);
  std::vector<std::uint8_t> labelled(static_cast<std::size_t>(data.size()), 0);
  Index taken = 0;
  std::vector<std::size_t> next(static_cast<std::size_t>(classes), 0);
  while (taken < count) {
    for (int c = 0; c < classes && taken < count; ++c) {
      auto& pool = by_class[static_cast<std::size_t>(c)];
      auto& k = next[static_cast<std::size_t>(c)];
      if (k < pool.size()) {
        labelled[static_cast<std::size_t>(pool[k++])] = 1;
        ++taken;
      }
    }
  }
  return labelled;
}

/// The indices i with labelled[i] != 0, ascending.
inline std::vector<Index> labelled_indices(const std::vector<std::uint8_t>& labelled) {
  std::vector<Index> indices;
  for (std::size_t i = 0; i < labelled.size(); ++i)
    if (labelled[i]) indices.push_back(static_cast<Index>(i));
  return indices;
}

/// An epoch order in which every batch of `batch_size` samples starts with
/// round(share * batch_size) labelled samples (cycling through them in a
/// fresh shuffle each time they run out) followed by samples of a shuffle of
/// all of them: the labelled samples are oversampled without changing the
/// epoch's length. A Trainer's OrderFunction (set_order), drawing only from
/// the generator it is given.
class OversamplingOrder {
 public:
  OversamplingOrder(std::vector<Index> labelled_indices, Index batch_size, double share)
      : labelled_(std::move(labelled_indices)), batch_size_(batch_size), share_(share) {
    if (batch_size < 1)
      throw ArgumentError("oversampling order: batch size: expected at least 1, got " +
                          std::to_string(batch_size));
    if (!(share >= 0.0 && share <= 1.0))
      throw ArgumentError("oversampling order: labelled share: expected a value in [0, 1], got " +
                          std::to_string(share));
  }

  std::vector<Index> operator()(Rng& rng, Index /*epoch*/, Index size) const {
    const std::vector<Index> all = rng.permutation(size);
    std::vector<Index> labelled = labelled_;
    for (Index i : labelled)
      if (i < 0 || i >= size)
        throw ArgumentError("oversampling order: labelled sample " + std::to_string(i) +
                            " is not below the " + std::to_string(size) + " samples");
    rng.shuffle(labelled);
    const Index per_batch = std::min<Index>(
        batch_size_, static_cast<Index>(std::lround(share_ * static_cast<double>(batch_size_))));
    std::vector<Index> order;
    order.reserve(static_cast<std::size_t>(size));
    std::size_t next_all = 0, next_labelled = 0;
    while (static_cast<Index>(order.size()) < size) {
      const Index room = std::min<Index>(batch_size_, size - static_cast<Index>(order.size()));
      const Index from_labelled = labelled.empty() ? 0 : std::min(per_batch, room);
      for (Index k = 0; k < from_labelled; ++k) {
        if (next_labelled == labelled.size()) {
          rng.shuffle(labelled);
          next_labelled = 0;
        }
        order.push_back(labelled[next_labelled++]);
      }
      for (Index k = from_labelled; k < room; ++k) order.push_back(all[next_all++]);
    }
    return order;
  }

 private:
  std::vector<Index> labelled_;
  Index batch_size_;
  double share_;
};

}  // namespace scvae
