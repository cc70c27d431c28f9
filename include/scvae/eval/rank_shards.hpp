#pragma once
// Evaluation across the ranks of a training job (exec/rank_group.hpp): the
// evaluators that run a model's forward pass batch by batch in one thread
// (evaluate_iwae, evaluate_accuracy and accuracy, evaluate_regression,
// predictive_accuracy) split their batches across the ranks of the model's
// rank group. Each rank computes a contiguous block of whole batches and
// keeps its samples' terms; the terms then cross the ranks (each rank fills
// its own samples and zeros elsewhere, and the sum in rank order gives every
// rank every term, since x + 0 is x) and every rank adds them in sample
// order, as one process does. So the result on every rank has the bits of
// the same call in one process, whatever the rank count. A rank draws the
// noise of the batches it skips too (without decoding it), so its Rng ends
// where one process's does. Counts (correct, total) are summed exactly.
// (evaluate_loss needs none of this: Model::loss itself computes each rank's
// chunks of a batch and sums them in chunk order, as training does.)
//
// Every rank of the group must make the same evaluation calls.

#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

#include "scvae/core/random.hpp"
#include "scvae/core/slices.hpp"
#include "scvae/core/types.hpp"
#include "scvae/exec/rank_group.hpp"

namespace scvae {

namespace detail {

template <typename Model, typename = void>
struct has_rank_group : std::false_type {};
template <typename Model>
struct has_rank_group<Model, std::void_t<decltype(std::declval<const Model&>().rank_group())>>
    : std::true_type {};

}  // namespace detail

/// The ranks an evaluation of `model` is split across: the model's rank
/// group (SCVAET::set_rank_group, LabelConditionedVAET::set_rank_group), or
/// nullptr for a model in one process or one without rank_group().
template <typename Model>
RankGroup* evaluation_rank_group(const Model& model) {
  if constexpr (detail::has_rank_group<Model>::value)
    return model.rank_group();
  else
    return nullptr;
}

/// Which batches of an evaluation this rank computes: of `batches` batches,
/// the contiguous block [first, end) of rank r (slice r of the ranks), or
/// all of them without a group (or with a group of one rank).
class EvaluationShards {
 public:
  EvaluationShards(RankGroup* group, Index batches)
      : group_(group != nullptr && group->size() > 1 ? group : nullptr), end_(batches) {
    if (group_ == nullptr) return;
    first_ = detail::slice_begin(batches, group_->rank(), group_->size(), 1);
    end_ = detail::slice_begin(batches, group_->rank() + 1, group_->size(), 1);
  }

  /// Whether the batches are split across ranks (else this rank runs all).
  bool split() const { return group_ != nullptr; }
  /// Whether this rank computes batch b.
  bool runs(Index b) const { return b >= first_ && b < end_; }
  /// This rank's batches: [first(), end()).
  Index first() const { return first_; }
  Index end() const { return end_; }

  /// For a batch another rank computes: takes the `draws` noise matrices of
  /// rows x cols that computing it would take from `rng`, into `scratch`,
  /// so that the Rng reaches the next batch where one process's does.
  template <typename Scalar>
  void skip_draws(Rng& rng, Matrix<Scalar>& scratch, Index rows, Index cols,
                  Index draws) const {
    scratch.resize(rows, cols);
    for (Index draw = 0; draw < draws; ++draw) rng.fill_normal(scratch);
  }

  /// Replaces values[0, count) on every rank by the sum over the ranks, in
  /// rank order: each rank's own terms where the others hold zeros. Nothing
  /// when not split.
  void gather(double* values, std::size_t count) const {
    if (group_ != nullptr) group_->sum_in_rank_order(values, count);
  }
  void gather(std::vector<double>& values) const { gather(values.data(), values.size()); }

 private:
  RankGroup* group_;
  Index first_ = 0;
  Index end_;
};

/// The number of batches of batch_size over `size` samples.
inline Index evaluation_batches(Index size, Index batch_size) {
  return (size + batch_size - 1) / batch_size;
}

}  // namespace scvae
