#pragma once
// What a model is given for one task of a batch: its targets and which of
// them are present.

#include <optional>

#include "scvae/core/types.hpp"

namespace scvae {

/// A batch's target for one task, with an optional per-sample mask of 0/1
/// (0 = target missing, e.g. an unlabelled image). Targets are features x n;
/// class labels are a 1 x n row of class indices.
template <typename Scalar>
struct TaskBatch {
  explicit TaskBatch(const ConstMatrixRef<Scalar>& target_) : target(target_) {}
  TaskBatch(const ConstMatrixRef<Scalar>& target_, const ConstRowVectorRef<Scalar>& mask_)
      : target(target_), mask(mask_) {}

  ConstMatrixRef<Scalar> target;
  std::optional<ConstRowVectorRef<Scalar>> mask;
};

}  // namespace scvae
