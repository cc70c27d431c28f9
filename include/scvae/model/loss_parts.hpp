#pragma once
// The loss of a batch and its parts, as sums that combine exactly across
// batches, chunks and threads.

#include "scvae/core/task_array.hpp"
#include "scvae/core/types.hpp"

namespace scvae {

/// The loss of one batch and its parts.
struct LossParts {
  double total = 0.0;          ///< Mean over samples of the weighted, masked loss with beta * KL.
  double kl = 0.0;             ///< Mean KL per sample.
  TaskArray<double> task_nll;  ///< Per task: mean NLL over its unmasked samples.
  // Sums, so that parts of several batches combine exactly.
  Index samples = 0;
  double total_sum = 0.0;
  double kl_sum = 0.0;
  TaskArray<double> task_nll_sum;
  TaskArray<Index> task_count;

  /// Adds another batch's sums and recomputes the means.
  void merge(const LossParts& other) {
    if (task_nll_sum.empty()) {
      task_nll_sum.assign(other.task_nll_sum.size(), 0.0);
      task_count.assign(other.task_count.size(), 0);
    }
    samples += other.samples;
    total_sum += other.total_sum;
    kl_sum += other.kl_sum;
    for (std::size_t t = 0; t < task_nll_sum.size(); ++t) {
      task_nll_sum[t] += other.task_nll_sum[t];
      task_count[t] += other.task_count[t];
    }
    finish();
  }

  void finish() {
    const double n = samples > 0 ? static_cast<double>(samples) : 1.0;
    total = total_sum / n;
    kl = kl_sum / n;
    task_nll.resize(task_nll_sum.size());
    for (std::size_t t = 0; t < task_nll_sum.size(); ++t)
      task_nll[t] = task_count[t] > 0 ? task_nll_sum[t] / static_cast<double>(task_count[t]) : 0.0;
  }
};

}  // namespace scvae
