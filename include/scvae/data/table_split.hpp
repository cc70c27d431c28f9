#pragma once
// A train/test split of TableData from a seed: shuffled, or stratified by a
// target so that each class keeps its share of the test part (within one
// sample). Samples whose stratification target is missing form a group of
// their own and are spread the same way.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "scvae/core/random.hpp"
#include "scvae/data/table_data.hpp"

namespace scvae {

/// How split_table chooses the test samples.
struct SplitKind {
  std::string stratify_by{};  ///< A categorical or one-row binary target; empty: shuffled.

  static SplitKind shuffled() { return SplitKind{}; }
  static SplitKind stratified(std::string target) { return SplitKind{std::move(target)}; }
};

template <typename Scalar>
struct TableSplitT {
  TableDataT<Scalar> train;
  TableDataT<Scalar> test;
  std::vector<Index> train_rows;  ///< Rows of the data set, in the order of `train`.
  std::vector<Index> test_rows;
};

using TableSplit = TableSplitT<float>;

namespace detail {

/// Group of each sample: its class, or `groups - 1` where the target is missing.
template <typename Scalar>
std::vector<Index> split_groups(const TableDataT<Scalar>& data, const std::string& name,
                                Index& groups) {
  const TableTargetT<Scalar>& target = data.target(data.target_index(name));
  if (target.kind == TargetKind::Real || target.values.rows() != 1)
    throw ArgumentError(data.source() + ": target \"" + name +
                        "\": a stratified split needs a categorical or one-row binary target, "
                        "got a " + std::string(target_kind_name(target.kind)) + " one with " +
                        std::to_string(target.values.rows()) + " rows");
  const Index classes = target.kind == TargetKind::Categorical ? target.classes() : 2;
  groups = classes + 1;
  std::vector<Index> group(static_cast<std::size_t>(data.samples()));
  for (Index j = 0; j < data.samples(); ++j)
    group[static_cast<std::size_t>(j)] = target.mask(j) == Scalar(0)
                                             ? classes
                                             : static_cast<Index>(target.values(0, j));
  return group;
}

}  // namespace detail

/// Splits `data` into a training and a test part, round(samples * fraction)
/// test samples; the same seed gives the same split. Each part keeps the
/// samples in the data set's order. ArgumentError for a fraction outside
/// (0, 1) or one that leaves a part empty, or an unknown or real-valued
/// stratification target.
template <typename Scalar>
TableSplitT<Scalar> split_table(const TableDataT<Scalar>& data, double test_fraction,
                                std::uint64_t seed, const SplitKind& kind = SplitKind::shuffled()) {
  const Index n = data.samples();
  const auto test_count = static_cast<Index>(std::llround(static_cast<double>(n) * test_fraction));
  if (!(test_fraction > 0.0 && test_fraction < 1.0) || test_count < 1 || test_count >= n)
    throw ArgumentError(data.source() + ": test fraction " + std::to_string(test_fraction) +
                        " of " + std::to_string(n) + " samples leaves a part empty; expected a "
                        "fraction in (0, 1) giving at least one sample to each part");
  Index groups = 1;
  const std::vector<Index> group = kind.stratify_by.empty()
                                       ? std::vector<Index>(static_cast<std::size_t>(n), 0)
                                       : detail::split_groups(data, kind.stratify_by, groups);
  // Members of each group in a seeded random order.
  std::vector<std::vector<Index>> members(static_cast<std::size_t>(groups));
  Rng rng(seed);
  for (const Index i : rng.permutation(n))
    members[static_cast<std::size_t>(group[static_cast<std::size_t>(i)])].push_back(i);
  // Largest remainders: each group gets floor(exact share) test samples, and
  // the ones left go to the groups with the largest fractional parts, so
  // every group is within one sample of its exact share.
  std::vector<Index> quota(members.size());
  std::vector<std::pair<double, std::size_t>> remainders;
  Index assigned = 0;
  for (std::size_t g = 0; g < members.size(); ++g) {
    const double exact = static_cast<double>(members[g].size()) * static_cast<double>(test_count) /
                         static_cast<double>(n);
    quota[g] = static_cast<Index>(std::floor(exact));
    assigned += quota[g];
    remainders.emplace_back(exact - std::floor(exact), g);
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t k = 0; assigned < test_count && k < remainders.size(); ++k, ++assigned)
    ++quota[remainders[k].second];

  std::vector<std::uint8_t> in_test(static_cast<std::size_t>(n), 0);
  for (std::size_t g = 0; g < members.size(); ++g)
    for (Index k = 0; k < quota[g]; ++k)
      in_test[static_cast<std::size_t>(members[g][static_cast<std::size_t>(k)])] = 1;
  TableSplitT<Scalar> split;
  for (Index i = 0; i < n; ++i)
    (in_test[static_cast<std::size_t>(i)] ? split.test_rows : split.train_rows).push_back(i);
  split.train = data.subset(split.train_rows);
  split.test = data.subset(split.test_rows);
  return split;
}

}  // namespace scvae
