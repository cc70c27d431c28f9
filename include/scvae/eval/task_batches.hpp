#pragma once
// The model's view of a Batch: one TaskBatch per task, referring to the
// batch's own buffers (no copies).

#include <vector>

#include "scvae/data/batch_source.hpp"
#include "scvae/model/scvae.hpp"

namespace scvae {

template <typename Scalar>
std::vector<TaskBatch<Scalar>> task_batches(const Batch<Scalar>& batch) {
  std::vector<TaskBatch<Scalar>> views;
  views.reserve(batch.target_is_input.size());
  for (std::size_t t = 0; t < batch.target_is_input.size(); ++t) {
    if (batch.has_mask(t))
      views.emplace_back(batch.target(t), batch.masks[t]);
    else
      views.emplace_back(batch.target(t));
  }
  return views;
}

}  // namespace scvae
