#pragma once
// The learned uncertainty weights of ModelSpec::balance (Kendall, Gal and
// Cipolla 2018, "Multi-task learning using uncertainty to weigh losses").
// Task t's term in the summed loss of a batch is
//   sum over samples i with a target of  exp(-s_t) * w_t * nll_ti + s_t / 2,
// divided by the batch size like every other term. The s_t / 2 regulariser is
// counted once per sample that has the task's target, not once per batch:
// the NLL it balances is a sum over those samples only, so a task masked in
// most samples is not pulled towards a large s_t (a small weight) by samples
// it never saw, and a batch with no target for the task leaves s_t alone.
// With one target per sample this is the paper's per-sample form.

#include <cmath>

#include "scvae/core/types.hpp"

namespace scvae::detail {

/// The factor of each of task t's per-sample NLLs: w_t * exp(-s_t).
inline double balanced_task_weight(double weight, double log_variance) {
  return weight * std::exp(-log_variance);
}

/// Task t's term of the summed loss, from its NLL sum and target count.
inline double balanced_task_term(double weight, double log_variance, double nll_sum,
                                 Index count) {
  return balanced_task_weight(weight, log_variance) * nll_sum +
         0.5 * log_variance * static_cast<double>(count);
}

/// d/ds_t of balanced_task_term.
inline double balanced_task_term_gradient(double weight, double log_variance, double nll_sum,
                                          Index count) {
  return -balanced_task_weight(weight, log_variance) * nll_sum + 0.5 * static_cast<double>(count);
}

}  // namespace scvae::detail
